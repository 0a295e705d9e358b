/* Unit tests for the cluster: a node's row and heartbeat, the takeover of a node whose heartbeat
 * stopped (by exactly one node, its sessions closed with their last counters, its recordings on a
 * shared directory finalized) and where another node's media is served, on a real store. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/session_test_util.h"
#include "cluster.h"
#include "media/live_test_util.h"
#include "media/recordings.h"
#include "util/clock.h"
#include "util/fs.h"

static cluster_t *a, *b;

static cluster_t *start_node(const char *id)
{
    static char urls[2][2][64];
    int slot = strcmp(id, "node-a") == 0 ? 0 : 1;
    snprintf(urls[slot][0], sizeof urls[slot][0], "http://%s:8935", id);
    snprintf(urls[slot][1], sizeof urls[slot][1], "rtmp://%s:1935/live", id);
    cluster_config_t config = {
        .node_id = id,
        .http_url = urls[slot][0],
        .rtmp_url = urls[slot][1],
        .node_timeout_s = 30,
        .recordings_dir = fx.rec_dir,
        .heartbeat_ms = 60 * 1000, /* the tests tick by hand */
    };
    char err[256];
    cluster_t *c = cluster_start(fx.store, &config, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    return c;
}

static void setup(void)
{
    live_fixture_setup_store();
    a = start_node("node-a");
    b = start_node("node-b");
}

static void teardown(void)
{
    cluster_stop(a);
    cluster_stop(b);
    live_fixture_teardown();
}

TestSuite(cluster, .init = setup, .fini = teardown, .timeout = 60);

/* A live session of a recorded stream owned by node_id, with a recording directory when
 * shared. */
static void live_session(const store_stream_t *s, const char *node_id, store_session_t *out)
{
    session_of_stream(out, s);
    out->created_at_ms = clock_now_ms() - 5000;
    out->last_seen_ms = clock_now_ms() - 1000;
    out->is_active = true;
    out->record = true;
    out->recording_status = STORE_RECORDING_WAITING;
    out->counters.source_bytes = 123456;
    out->counters.ingest_rate_bps = 1000;
    snprintf(out->node_id, sizeof out->node_id, "%s", node_id);
    cr_assert_eq(store_session_insert(fx.store, out), STORE_OK);
    cr_assert_eq(store_stream_claim(fx.store, s->id, node_id, 0), STORE_OK);
}

Test(cluster, nodes_list_themselves_and_a_stopped_one_leaves)
{
    store_node_t *nodes = NULL;
    size_t count = 0;
    cr_assert_eq(store_node_list_alive(fx.store, clock_now_ms() - 30 * 1000, &nodes, &count),
                 STORE_OK);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(nodes[0].id, "node-a");
    cr_assert_str_eq(nodes[0].rtmp_url, "rtmp://node-a:1935/live");
    cr_assert_str_eq(nodes[1].http_url, "http://node-b:8935");
    store_node_list_free(nodes, count);
    cluster_stop(b);
    b = NULL;
    cr_assert_eq(store_node_list_alive(fx.store, clock_now_ms() - 30 * 1000, &nodes, &count),
                 STORE_OK);
    cr_assert_eq(count, 1);
    store_node_list_free(nodes, count);
}

Test(cluster, a_dead_nodes_sessions_are_closed_once_by_another_node)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    store_session_t session;
    live_session(&s, "node-a", &session);
    char dir[PATH_MAX], err[256];
    cr_assert_eq(recordings_dir(fx.rec_dir, session.id, dir, sizeof dir), 0);
    cr_assert_eq(fs_mkdir_p(dir, err, sizeof err), 0, "%s", err);

    cluster_tick(b, clock_now_ms()); /* node-a is alive: nothing happens */
    store_session_t got;
    cr_assert_eq(store_session_get(fx.store, session.id, &got), STORE_OK);
    cr_assert(got.is_active);
    store_session_clear(&got);

    int64_t later = clock_now_ms() + 31 * 1000; /* node-a's heartbeat is 31 s old by then */
    cluster_tick(b, later);
    cr_assert_eq(store_session_get(fx.store, session.id, &got), STORE_OK);
    cr_assert_not(got.is_active);
    cr_assert_eq(got.ended_at_ms, session.last_seen_ms, "closed at its last counters");
    cr_assert_eq(got.counters.source_bytes, 123456);
    cr_assert_float_eq(got.counters.ingest_rate_bps, 0, 1e-9);
    cr_assert_neq(got.recording_status, STORE_RECORDING_WAITING,
                  "on the shared directory: finalized (nothing was recorded: none)");
    store_session_clear(&got);
    store_stream_t stream;
    cr_assert_eq(store_stream_get(fx.store, s.id, &stream), STORE_OK);
    cr_assert_not(stream.is_active);
    store_stream_clear(&stream);
    cr_assert_eq(store_stream_claim(fx.store, s.id, "node-b", later - 30000), STORE_OK,
                 "the stream is free again");
    store_node_t node;
    cr_assert_eq(store_node_get(fx.store, "node-a", &node), STORE_OK);
    cr_assert(node.down);
    store_node_clear(&node);

    /* node-a comes back: its heartbeat clears the mark. */
    cluster_tick(a, later);
    cr_assert_eq(store_node_get(fx.store, "node-a", &node), STORE_OK);
    cr_assert_not(node.down);
    store_node_clear(&node);
    store_session_clear(&session);
    store_stream_clear(&s);
}

Test(cluster, a_recording_on_the_dead_nodes_own_disk_waits_for_it)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    store_session_t session;
    live_session(&s, "node-a", &session); /* no directory here */
    cluster_tick(b, clock_now_ms() + 31 * 1000);
    store_session_t got;
    cr_assert_eq(store_session_get(fx.store, session.id, &got), STORE_OK);
    cr_assert_not(got.is_active);
    cr_assert_eq(got.recording_status, STORE_RECORDING_WAITING);
    store_session_clear(&got);
    store_session_clear(&session);
    store_stream_clear(&s);
}

Test(cluster, media_another_live_node_owns_is_served_there)
{
    store_stream_t s;
    make_stream(&s, "show", false);
    store_session_t session;
    live_session(&s, "node-a", &session);
    char url[128] = "";
    cr_assert_eq(cluster_playback_owner(b, s.playback_id, url, sizeof url), 1);
    cr_assert_str_eq(url, "http://node-a:8935");
    cr_assert_eq(cluster_session_owner(b, session.id, url, sizeof url), 1);
    cr_assert_eq(cluster_playback_owner(a, s.playback_id, url, sizeof url), 0, "its own");
    cr_assert_eq(cluster_playback_owner(b, "nosuchplayback00", url, sizeof url), 0);
    cluster_stop(a);
    a = NULL;
    cr_assert_eq(cluster_playback_owner(b, s.playback_id, url, sizeof url), 0,
                 "an owner that stopped is not redirected to");
    store_session_clear(&session);
    store_stream_clear(&s);
}
