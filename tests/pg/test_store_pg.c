/* The PostgreSQL backend against a real server (run by tests/pg/cluster.sh, which sets
 * STREAMD_TEST_DB): the shared schema history and its version, reopening, a newer schema refused,
 * and calls that fail cleanly while the server restarts and work again after, on the same store. */
#include "store_test_util.h"

#include <stdlib.h>

TestSuite(store_pg, .init = setup, .fini = teardown);

Test(store_pg, the_schema_history_is_applied_once_and_recorded)
{
    cr_assert_not_null(pg_url(), "run through tests/pg/cluster.sh");
    int version = 0;
    cr_assert_eq(store_schema_version(store, &version), STORE_OK);
    cr_assert_gt(version, 1);

    store_user_t alice;
    make_user("alice", "alice@example.org", &alice);
    char err[256] = "";
    store_t *second = store_open(pg_url(), err, sizeof err);
    cr_assert_not_null(second, "%s", err);
    int64_t users = 0;
    cr_assert_eq(store_user_count(second, &users), STORE_OK);
    cr_assert_eq(users, 1);
    int again = 0;
    cr_assert_eq(store_schema_version(second, &again), STORE_OK);
    cr_assert_eq(again, version);
    store_close(second);
    store_user_clear(&alice);
}

Test(store_pg, a_newer_schema_is_refused)
{
    int version = 0;
    cr_assert_eq(store_schema_version(store, &version), STORE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE streamd_schema SET version = %d", version + 1);
    raw_exec(sql);
    char err[256] = "";
    cr_assert_null(store_open(pg_url(), err, sizeof err));
    cr_assert_not_null(strstr(err, "newer than this streamd supports"), "%s", err);
}

/* pg_ctl as the cluster's owner (tests/pg/cluster.sh exports where it is). */
static void pg_ctl(const char *action)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s/pg_ctl -D %s -w -m fast %s >/dev/null",
             geteuid() == 0 ? "runuser -u postgres --" : "", getenv("STREAMD_TEST_PG_BIN"),
             getenv("STREAMD_TEST_PG_DATA"), action);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(store_pg, calls_fail_cleanly_while_the_server_is_down_and_work_after_it_returns)
{
    store_user_t alice;
    make_user("alice", NULL, &alice);
    pg_ctl("stop");
    store_user_t got;
    /* Every pooled connection is broken now: each call says the database is away, none crashes
     * or hangs. */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(store_user_get(store, alice.id, &got), STORE_UNAVAILABLE);
    pg_ctl("start");
    cr_assert_eq(store_user_get(store, alice.id, &got), STORE_OK);
    cr_assert_str_eq(got.name, "alice");
    store_user_clear(&got);
    for (int i = 0; i < 8; i++) {
        int64_t users = 0;
        cr_assert_eq(store_user_count(store, &users), STORE_OK);
        cr_assert_eq(users, 1);
    }
    store_user_clear(&alice);
}
