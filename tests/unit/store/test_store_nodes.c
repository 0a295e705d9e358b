/* The store's cluster calls on every backend: node heartbeats, one publisher per stream across
 * nodes, a session continued on another node, and the broadcasts a dead node left behind. */
#include "session_test_util.h"
#include "store/store.h"
#include "store_test_util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static store_user_t owner;
static store_stream_t stream;

static void nodes_setup(void)
{
    setup();
    make_user("alice", NULL, &owner);
    stream_init(&stream, &owner, "cluster stream", 1000);
    insert_stream(&stream);
}

static void nodes_teardown(void)
{
    store_stream_clear(&stream);
    store_user_clear(&owner);
    teardown();
}

TestSuite(store_nodes, .init = nodes_setup, .fini = nodes_teardown);

static void beat(const char *id, int64_t at_ms)
{
    char http[64], rtmp[64];
    snprintf(http, sizeof http, "http://%s:8935", id);
    snprintf(rtmp, sizeof rtmp, "rtmp://%s:1935/live", id);
    store_node_t node = {
        .http_url = http, .rtmp_url = rtmp, .started_at_ms = 100, .heartbeat_at_ms = at_ms};
    snprintf(node.id, sizeof node.id, "%s", id);
    cr_assert_eq(store_node_heartbeat(store, &node), STORE_OK);
}

/* A session of the fixture stream owned by node_id. */
static void session_on(const char *node_id, store_session_t *s, bool active, int64_t ended_at_ms)
{
    session_of_stream(s, &stream);
    s->created_at_ms = 2000;
    s->last_seen_ms = 2500;
    s->is_active = active;
    s->ended_at_ms = ended_at_ms;
    s->counters.source_bytes = 4242;
    snprintf(s->node_id, sizeof s->node_id, "%s", node_id);
    cr_assert_eq(store_session_insert(store, s), STORE_OK);
}

Test(store_nodes, heartbeat_registers_and_updates_a_node)
{
    beat("node-a", 1000);
    beat("node-b", 5000);
    beat("node-a", 6000);
    store_node_t got;
    cr_assert_eq(store_node_get(store, "node-a", &got), STORE_OK);
    cr_assert_str_eq(got.http_url, "http://node-a:8935");
    cr_assert_str_eq(got.rtmp_url, "rtmp://node-a:1935/live");
    cr_assert_eq(got.started_at_ms, 100);
    cr_assert_eq(got.heartbeat_at_ms, 6000);
    cr_assert_not(got.down);
    store_node_clear(&got);
    cr_assert_eq(store_node_get(store, "node-z", &got), STORE_NOT_FOUND);

    store_node_t *nodes = NULL;
    size_t count = 0;
    cr_assert_eq(store_node_list_alive(store, 5000, &nodes, &count), STORE_OK);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(nodes[0].id, "node-a");
    cr_assert_str_eq(nodes[1].id, "node-b");
    store_node_list_free(nodes, count);
    cr_assert_eq(store_node_list_alive(store, 5500, &nodes, &count), STORE_OK);
    cr_assert_eq(count, 1);
    cr_assert_str_eq(nodes[0].id, "node-a");
    store_node_list_free(nodes, count);
    cr_assert_eq(store_node_list_stale(store, 5500, &nodes, &count), STORE_OK);
    cr_assert_eq(count, 1);
    cr_assert_str_eq(nodes[0].id, "node-b");
    store_node_list_free(nodes, count);
}

Test(store_nodes, one_node_holds_a_stream_while_it_is_alive)
{
    beat("node-a", 10000);
    beat("node-b", 10000);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-a", 9000), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-a", 9000), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-b", 9000), STORE_CONFLICT);
    /* Only the holder lets it go. */
    cr_assert_eq(store_stream_release(store, stream.id, "node-b"), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-b", 9000), STORE_CONFLICT);
    cr_assert_eq(store_stream_release(store, stream.id, "node-a"), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-b", 9000), STORE_OK);
    /* A holder whose heartbeat is too old, or that has no row, holds nothing. */
    cr_assert_eq(store_stream_claim(store, stream.id, "node-a", 10001), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-ghost", 0), STORE_CONFLICT);
    cr_assert_eq(store_stream_release(store, stream.id, "node-a"), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-ghost", 0), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-a", 0), STORE_OK);
    /* A holder marked down holds nothing either. */
    cr_assert_eq(store_node_mark_down(store, "node-a", 20000), STORE_OK);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-b", 0), STORE_OK);
    cr_assert_eq(store_stream_claim(store, "no-such-stream", "node-b", 0), STORE_CONFLICT);
    cr_assert_eq(store_stream_claim(store, stream.id, "", 0), STORE_INVALID);
}

typedef struct claimer {
    char node_id[32];
    int rc;
} claimer_t;

static void *claim_thread(void *arg)
{
    claimer_t *c = arg;
    c->rc = store_stream_claim(store, stream.id, c->node_id, 0);
    return NULL;
}

Test(store_nodes, concurrent_claims_have_one_winner)
{
    enum { CLAIMERS = 8 };
    claimer_t claimers[CLAIMERS];
    pthread_t threads[CLAIMERS];
    for (int i = 0; i < CLAIMERS; i++) {
        snprintf(claimers[i].node_id, sizeof claimers[i].node_id, "node-%d", i);
        beat(claimers[i].node_id, 1000);
    }
    for (int i = 0; i < CLAIMERS; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, claim_thread, &claimers[i]), 0);
    int winners = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(threads[i], NULL);
        cr_assert(claimers[i].rc == STORE_OK || claimers[i].rc == STORE_CONFLICT, "rc %d",
                  claimers[i].rc);
        winners += claimers[i].rc == STORE_OK;
    }
    cr_assert_eq(winners, 1);
}

Test(store_nodes, a_stale_node_is_marked_down_once_and_beats_back_up)
{
    beat("node-a", 1000);
    cr_assert_eq(store_node_mark_down(store, "node-a", 1000), STORE_NOT_FOUND); /* not stale */
    cr_assert_eq(store_node_mark_down(store, "node-a", 2000), STORE_OK);
    cr_assert_eq(store_node_mark_down(store, "node-a", 2000), STORE_NOT_FOUND);
    store_node_t *nodes = NULL;
    size_t count = 0;
    cr_assert_eq(store_node_list_stale(store, 2000, &nodes, &count), STORE_OK);
    cr_assert_eq(count, 0);
    store_node_list_free(nodes, count);
    beat("node-a", 3000);
    store_node_t got;
    cr_assert_eq(store_node_get(store, "node-a", &got), STORE_OK);
    cr_assert_not(got.down);
    store_node_clear(&got);
}

Test(store_nodes, a_reconnect_on_another_node_adopts_the_session_once)
{
    store_session_t s;
    session_on("node-a", &s, false, 5000);
    cr_assert_eq(store_session_adopt(store, s.id, "node-b", 5001), STORE_NOT_FOUND); /* too old */
    cr_assert_eq(store_session_adopt(store, s.id, "node-a", 4000), STORE_NOT_FOUND); /* same */
    cr_assert_eq(store_session_adopt(store, s.id, "node-b", 4000), STORE_OK);
    cr_assert_eq(store_session_adopt(store, s.id, "node-c", 4000), STORE_NOT_FOUND); /* live */
    store_session_t got;
    cr_assert_eq(store_session_get(store, s.id, &got), STORE_OK);
    cr_assert_str_eq(got.node_id, "node-b");
    cr_assert(got.is_active);
    cr_assert_eq(got.counters.source_bytes, 4242);
    store_session_clear(&got);
    store_session_t live;
    session_on("node-a", &live, true, 0);
    cr_assert_eq(store_session_adopt(store, live.id, "node-b", 0), STORE_NOT_FOUND);
    store_session_clear(&live);
    store_session_clear(&s);
}

Test(store_nodes, closing_a_nodes_broadcasts_leaves_the_others_alone)
{
    store_stream_t other;
    stream_init(&other, &owner, "other stream", 1000);
    insert_stream(&other);
    beat("node-a", 1000);
    beat("node-b", 1000);
    cr_assert_eq(store_stream_claim(store, stream.id, "node-a", 0), STORE_OK);
    cr_assert_eq(store_stream_claim(store, other.id, "node-b", 0), STORE_OK);
    store_stream_live_t live = {.is_active = true, .last_seen_ms = 2500, .is_healthy = 1};
    cr_assert_eq(store_stream_update_live(store, stream.id, &live, NULL), STORE_OK);
    cr_assert_eq(store_stream_update_live(store, other.id, &live, NULL), STORE_OK);
    store_session_t on_a, on_b, unowned;
    session_on("node-a", &on_a, true, 0);
    session_on("node-b", &on_b, true, 0);
    session_on("", &unowned, true, 0);

    int64_t closed = -1;
    cr_assert_eq(store_close_open_sessions(store, "node-a", false, &closed), STORE_OK);
    cr_assert_eq(closed, 1);
    store_session_t got;
    cr_assert_eq(store_session_get(store, on_a.id, &got), STORE_OK);
    cr_assert_not(got.is_active);
    cr_assert_eq(got.ended_at_ms, 2500);
    cr_assert_eq(got.counters.source_bytes, 4242, "the counters last written stay");
    store_session_clear(&got);
    cr_assert_eq(store_session_get(store, on_b.id, &got), STORE_OK);
    cr_assert(got.is_active);
    store_session_clear(&got);
    store_stream_t s;
    cr_assert_eq(store_stream_get(store, stream.id, &s), STORE_OK);
    cr_assert_not(s.is_active);
    store_stream_clear(&s);
    cr_assert_eq(store_stream_get(store, other.id, &s), STORE_OK);
    cr_assert(s.is_active);
    store_stream_clear(&s);
    /* The stream is free again; the other one is still node-b's. */
    cr_assert_eq(store_stream_claim(store, stream.id, "node-c", 0), STORE_OK);
    cr_assert_eq(store_stream_claim(store, other.id, "node-c", 0), STORE_CONFLICT);

    /* A node's own start-up also closes what no node owns. */
    cr_assert_eq(store_close_open_sessions(store, "node-c", true, &closed), STORE_OK);
    cr_assert_eq(closed, 1);
    cr_assert_eq(store_session_get(store, unowned.id, &got), STORE_OK);
    cr_assert_not(got.is_active);
    cr_assert_str_eq(got.node_id, "");
    store_session_clear(&got);
    store_session_clear(&on_a);
    store_session_clear(&on_b);
    store_session_clear(&unowned);
    store_stream_clear(&other);
}

Test(store_nodes, the_node_of_a_playback_is_its_latest_sessions)
{
    beat("node-a", 1000);
    beat("node-b", 1000);
    store_node_t got;
    cr_assert_eq(store_node_of_playback(store, stream.playback_id, &got), STORE_NOT_FOUND);
    store_session_t first, second;
    session_on("node-a", &first, false, 2600);
    cr_assert_eq(store_node_of_playback(store, stream.playback_id, &got), STORE_OK);
    cr_assert_str_eq(got.id, "node-a");
    store_node_clear(&got);
    session_on("node-b", &second, true, 0);
    cr_assert_eq(store_node_of_playback(store, stream.playback_id, &got), STORE_OK);
    cr_assert_str_eq(got.id, "node-b");
    store_node_clear(&got);
    cr_assert_eq(store_node_of_session(store, first.id, &got), STORE_OK);
    cr_assert_str_eq(got.id, "node-a");
    store_node_clear(&got);
    cr_assert_eq(store_node_of_session(store, "no-such-session", &got), STORE_NOT_FOUND);
    store_session_clear(&first);
    store_session_clear(&second);
}
