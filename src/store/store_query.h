/* Private to src/store/: the list planner every backend shares. It turns a store_query_t (GET
 * /stream, GET /session) into the SQL of one page and of the total count, plus the values their
 * placeholders take, in order. The SQL is built from fixed fragments only: API field names are
 * looked up in a table of column expressions, and every value is a bound parameter. The planner
 * does no I/O; any thread may call it. Nothing outside src/store/ includes this. */
#ifndef STREAMD_STORE_STORE_QUERY_H
#define STREAMD_STORE_STORE_QUERY_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* Bounds the SQL a list query can build: there are about 25 fields, so more terms is abuse. */
#define STORE_QUERY_MAX_TERMS 64
/* Scope terms (user, project, parent, record), one per filter, then limit and offset. */
#define STORE_QUERY_MAX_BINDS (4 + STORE_QUERY_MAX_TERMS + 2)

/* The SQL dialect the text is written in. Where they differ:
 * - placeholders: SQLite "?" (numbered by position), PostgreSQL "$1", "$2", ...;
 * - boolean literals in scope terms: SQLite 0 / 1 (INTEGER columns), PostgreSQL FALSE / TRUE;
 * - a JSON object's member: SQLite json_extract guarded by json_valid, PostgreSQL ->> on jsonb;
 * - CONTAINS: SQLite instr(), PostgreSQL strpos() (both keep '%' and '_' literal);
 * - NULLs in ORDER BY: SQLite sorts them first ascending; PostgreSQL gets explicit NULLS FIRST
 *   (ASC) / NULLS LAST (DESC) so both orders agree;
 * - the NULL of a field a resource lacks: PostgreSQL casts it to text so it has a type. */
typedef enum {
    STORE_QUERY_SQLITE,
    STORE_QUERY_POSTGRES,
} store_query_dialect_t;

/* The resource a list reads. */
typedef enum {
    STORE_QUERY_STREAMS,
    STORE_QUERY_SESSIONS,
} store_query_list_t;

typedef enum {
    STORE_QUERY_BIND_TEXT,
    STORE_QUERY_BIND_INT,
    STORE_QUERY_BIND_DOUBLE,
    STORE_QUERY_BIND_BOOL,
} store_query_bind_kind_t;

/* One placeholder's value; the field named by kind holds it. */
typedef struct store_query_bind {
    store_query_bind_kind_t kind;
    const char *text; /* TEXT: borrowed from the query */
    int64_t int_value;
    double double_value;
    bool bool_value;
} store_query_bind_t;

/* A planned list. binds[i] is the value of placeholder i + 1. count_sql uses the first
 * count_bind_count values (the WHERE's); select_sql uses all bind_count (then limit, offset). */
typedef struct store_query_plan {
    const char *what; /* "stream list" or "session list", for logs; static */
    char *select_sql; /* owned: SELECT columns FROM table WHERE ... ORDER BY ... LIMIT . OFFSET . */
    char *count_sql;  /* owned: SELECT COUNT(*) FROM table WHERE ... */
    store_query_bind_t binds[STORE_QUERY_MAX_BINDS];
    int count_bind_count;
    int bind_count;
} store_query_plan_t;

/* Plans q over list in dialect; columns is the backend's select list (borrowed, copied into
 * select_sql). Returns STORE_OK, STORE_INVALID for a malformed query (q NULL, limit < 1, offset
 * < 0, record > 1, too many or NULL terms, an unknown field, an operator or value kind that does
 * not fit, an unknown dialect or list), or STORE_ERR when out of memory (logged). The text binds
 * borrow q's strings: q must outlive the plan's use. On failure *plan holds nothing; free it
 * with store_query_plan_free either way. */
int store_query_plan(store_query_plan_t *plan, store_query_dialect_t dialect,
                     store_query_list_t list, const char *columns, const store_query_t *q);

/* Frees the SQL text of plan and zeroes it; NULL is a no-op. */
void store_query_plan_free(store_query_plan_t *plan);

#endif
