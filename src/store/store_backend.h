/* Private to src/store/: what a backend (store_sqlite.c, store_pg.c) implements behind store.h.
 * store.c owns the public entry points: it checks the arguments, generates ids and timestamps,
 * zeroes the outputs and picks the statements, so a backend only runs statements. Nothing
 * outside src/store/ includes this. */
#ifndef STREAMD_STORE_STORE_BACKEND_H
#define STREAMD_STORE_STORE_BACKEND_H

#include "store/store.h"
#include "store/store_internal.h"
#include "store/statements.h"
#include "store/store_query.h"
#include "store/store_rows.h"
#include "store/store_webhooks.h"

#include <stddef.h>
#include <stdint.h>

/* Every backend's store starts with this, so store.c can find the operations. */
struct store {
    const struct store_backend *backend;
    store_auth_changed_t auth_changed; /* store_watch_auth's; set before serving */
    void *auth_opaque;
    store_outbox_changed_t outbox_changed; /* store_watch_outbox's; set before serving */
    void *outbox_opaque;
};

/* A transaction in progress: the backend's connection that runs it, opaque to store.c. */
typedef struct store_tx store_tx_t;

/* The statements of one transaction, run through tx_write / tx_read_all on tx. Returns a
 * store_status_t: anything but STORE_OK rolls the transaction back. */
typedef int (*store_tx_body_t)(store_t *store, store_tx_t *tx, void *opaque);

/* Fills a statement's parameters from args (store_rows.h's binders); NULL binds nothing. */
typedef void (*store_binder_t)(store_params_t *params, const void *args);

/* A backend runs the statements of statements.h; store.c owns every call of store.h and says
 * which statements it takes. Arguments are checked by store.c. Each returns a store_status_t
 * and logs unexpected failures. */
typedef struct store_backend {
    void (*close)(store_t *store);
    /* The database in words for logs, with no password. */
    void (*describe)(store_t *store, char *out, size_t size);
    /* Runs an INSERT, UPDATE or DELETE; *changed (may be NULL) gets the rows it changed. */
    int (*write)(store_t *store, stmt_id_t id, store_binder_t bind, const void *args,
                 int64_t *changed);
    /* Reads the first row into a zeroed out; STORE_NOT_FOUND when there is none. */
    int (*read_one)(store_t *store, stmt_id_t id, store_binder_t bind, const void *args,
                    const store_row_type_t *type, void *out);
    /* Appends every row to set (freed and empty on failure). */
    int (*read_all)(store_t *store, stmt_id_t id, store_binder_t bind, const void *args,
                    const store_row_type_t *type, store_rows_t *set);
    /* The first column of the first row, an integer. */
    int (*read_number)(store_t *store, stmt_id_t id, int64_t *out);
    /* Runs body in one transaction: committed when it returns STORE_OK (then the commit's
     * status is returned), rolled back otherwise (then body's status is returned). */
    int (*transact)(store_t *store, store_tx_body_t body, void *opaque);
    /* write and read_all inside a transaction, on its connection. */
    int (*tx_write)(store_tx_t *tx, stmt_id_t id, store_binder_t bind, const void *args,
                    int64_t *changed);
    int (*tx_read_all)(store_tx_t *tx, stmt_id_t id, store_binder_t bind, const void *args,
                       const store_row_type_t *type, store_rows_t *set);
    /* Other nodes learn of a key or user change (NULL: the backend serves one node only). */
    void (*announce_auth)(store_t *store);
    /* Starts telling store->auth_changed of the changes other nodes announce (NULL: none). */
    int (*watch_auth)(store_t *store);
    /* A page of list's rows appended to set (freed and empty on failure); out_total may be
     * NULL. q is not NULL but is otherwise unchecked: the planner refuses a malformed one. */
    int (*list)(store_t *store, store_query_list_t list, const store_query_t *q, store_rows_t *set,
                int64_t *out_total);
} store_backend_t;

/* Opens the SQLite backend on url (a path or a file: URL). NULL with a message in err. */
store_t *store_sqlite_open(const char *url, char *err, size_t err_size);

/* Opens the PostgreSQL backend on a postgres:// or postgresql:// URL (libpq's). NULL with a
 * message in err. */
store_t *store_pg_open(const char *url, char *err, size_t err_size);

#endif
