// Two nodes on one PostgreSQL database (tests/pg/cluster.sh starts the server): ffmpeg publishes
// to node A; the SDK on node B sees the session live with growing counters; GET /api/ingest on B
// lists both nodes; HLS from B redirects (302) to A and plays in ffprobe; publishing the same key
// to B is refused; a terminate on B ends a broadcast on A; after kill -9 of A, B closes the session within the node timeout with the
// counters A last wrote; A restarts, finalizes its recording, and the recording plays through B.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createPgDatabase } from '../lib/server.mjs';
import {
  publish, waitExit, pollUntil, ffprobeDuration, ffprobeStreams, playThrough, sleep, logLines,
} from '../lib/media.mjs';
import { createStream, sessionsOf } from '../lib/live.mjs';
import { waitRecording, describeHistory } from '../lib/recording.mjs';

const NODE_TIMEOUT_S = 5;
const dbUrl = await createPgDatabase();
const common = ['--node-timeout', String(NODE_TIMEOUT_S), '--reconnect-window', '2'];
const a = await startServer({ dbUrl, flags: ['--node-id', 'node-a', ...common] });
const b = await startServer({ dbUrl, apiKey: a.apiKey, flags: ['--node-id', 'node-b', ...common] });
const SRC = { size: '640x360', rate: 30, gop: 60, seconds: 40 };

const state = {};

test('node B answers for the session node A broadcasts, with growing counters', async () => {
  state.stream = await createStream(b, { name: 'two nodes', record: true, profiles: [] });
  state.pub = publish({ ...SRC, url: a.rtmpUrl(state.stream.streamKey) });
  const lp = b.sdk();
  const first = await pollUntil(async () => {
    const r = await lp.session.getAll();
    const s = (r.data ?? []).find((x) => x.parentId === state.stream.id);
    return s && s.sourceSegments >= 1 ? s : null;
  }, { timeoutMs: 20_000, intervalMs: 250 });
  assert.ok(first.ok, `the SDK on node B never saw the session node A broadcasts\n${logLines(a, ['[live]', ' warn ', ' error '])}`);
  await sleep(4500);
  const later = (await lp.session.get(first.value.id)).session;
  const stream = (await b.request('GET', `/api/stream/${state.stream.id}`)).json;
  assert.equal(stream.isActive, true, 'live, as node B reads it');
  assert.ok(later.ingestRate > 0, `ingestRate while live: ${later.ingestRate}`);
  assert.ok(later.sourceSegments > first.value.sourceSegments,
    `counters grow as seen from node B: ${first.value.sourceSegments} then ${later.sourceSegments}`);
  assert.ok(later.sourceBytes > first.value.sourceBytes, 'sourceBytes grows');
  assert.ok(later.lastSeen > first.value.lastSeen, 'lastSeen moves (A writes at least once a second)');
  state.sessionId = first.value.id;
});

test('GET /api/ingest on node B lists both nodes, B first', async () => {
  const r = await b.request('GET', '/api/ingest', { key: null });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.map((x) => x.base), [b.base, a.base]);
  assert.deepEqual(r.json.map((x) => x.ingest), [b.rtmpBase, a.rtmpBase]);
  assert.equal(r.json[1].playback, `${a.base}/hls`);
});

test('HLS from node B redirects to node A and plays', async () => {
  const pid = state.stream.playbackId;
  const r = await b.curl(`/hls/${pid}/index.m3u8`, [], { key: null });
  assert.equal(r.status, 302, `GET ${b.base}/hls/${pid}/index.m3u8 on the node that does not own it`);
  assert.equal(r.headers.location, `${a.base}/hls/${pid}/index.m3u8`);
  const seg = await b.curl(`/hls/${pid}/source/index.m3u8`, [], { key: null });
  assert.equal(seg.status, 302);
  assert.equal(seg.headers.location, `${a.base}/hls/${pid}/source/index.m3u8`);
  const probe = await ffprobeStreams(`${b.base}/hls/${pid}/index.m3u8`);
  assert.equal(probe.code, 0, `ffprobe through node B: ${probe.stderr}`);
  assert.ok(probe.streams.some((x) => x.codec_type === 'video' && x.codec_name === 'h264'),
    `ffprobe finds the H.264 video through node B: ${JSON.stringify(probe.streams)}`);
  const own = await a.curl(`/hls/${pid}/index.m3u8`, [], { key: null });
  assert.equal(own.status, 200, 'the owner serves it itself');
});

test('publishing the same key to node B is refused', async () => {
  const second = publish({ ...SRC, seconds: 5, url: b.rtmpUrl(state.stream.streamKey) });
  const r = await waitExit(second, 15_000);
  assert.ok(!r.timedOut, 'the second publisher is disconnected');
  assert.notEqual(r.code, 0, `ffmpeg must fail to publish a key live on node A: ${r.stderr}`);
  assert.ok(/stream is already live/.test(b.log) || /already live/.test(r.stderr),
    `node B refuses it as a second publisher is refused\n${logLines(b, ['[live]', '[rtmp'])}`);
  assert.ok(state.pub.running(), 'the publisher on node A is unaffected');
});

test('a terminate on node B ends the broadcast node A runs', async () => {
  const other = await createStream(b, { name: 'terminated elsewhere', profiles: [] });
  const pub = publish({ ...SRC, seconds: 30, url: a.rtmpUrl(other.streamKey) });
  const live = await pollUntil(async () => {
    const st = (await b.request('GET', `/api/stream/${other.id}`)).json;
    return st.isActive && st.sourceSegments >= 1 ? st : null;
  }, { timeoutMs: 20_000, intervalMs: 250 });
  assert.ok(live.ok, 'the second stream got live on node A');
  const t0 = Date.now();
  assert.equal((await b.request('DELETE', `/api/stream/${other.id}/terminate`)).status, 204);
  const r = await waitExit(pub, 10_000);
  assert.ok(!r.timedOut, 'ffmpeg is disconnected by node A');
  assert.ok(Date.now() - t0 < 4000, `within 4 s of the terminate on node B (${Date.now() - t0} ms)`);
  const ended = await pollUntil(async () => {
    const st = (await b.request('GET', `/api/stream/${other.id}`)).json;
    return st.isActive === false ? st : null;
  }, { timeoutMs: 10_000 });
  assert.ok(ended.ok, 'the stream ends');
});

test('kill -9 of node A: node B closes the session within the timeout with the counters A last wrote', async () => {
  const before = (await b.request('GET', `/api/session/${state.sessionId}`)).json;
  await a.kill();
  const killedAt = Date.now();
  await waitExit(state.pub, 10_000);
  const written = (await b.request('GET', `/api/session/${state.sessionId}`)).json; // A's last write
  assert.ok(written.sourceSegments >= before.sourceSegments);
  const closed = await pollUntil(async () => {
    const st = (await b.request('GET', `/api/stream/${state.stream.id}`)).json;
    return st.isActive === false ? (await b.request('GET', `/api/session/${state.sessionId}`)).json : null;
  }, { timeoutMs: (NODE_TIMEOUT_S + 5) * 1000, intervalMs: 250 });
  assert.ok(closed.ok, `node B must close the dead node's session (and mark the stream inactive) within ${NODE_TIMEOUT_S} s + a tick\n${logLines(b, ['[cluster]'])}`);
  const ms = Date.now() - killedAt;
  assert.ok(ms <= (NODE_TIMEOUT_S + 3) * 1000, `closed ${ms} ms after the kill`);
  const s = closed.value;
  for (const k of ['sourceSegments', 'sourceBytes', 'sourceSegmentsDuration', 'transcodedSegments']) {
    assert.equal(s[k], written[k], `${k}: the counters A last wrote`);
  }
  assert.equal(s.ingestRate, 0);
  assert.equal(s.recordingStatus, 'waiting', 'the recording is on node A\'s own disk: it waits for A');
  const ingest = (await b.request('GET', '/api/ingest', { key: null })).json;
  assert.deepEqual(ingest.map((x) => x.base), [b.base], 'the dead node is no longer listed');
  state.closed = s;
});

test('node A restarts and finalizes its recording, which plays through node B', async () => {
  await a.startAgain();
  const w = await waitRecording(b, state.sessionId, (x) => x.recordingStatus !== 'waiting', { timeoutMs: 30_000 });
  assert.equal(w.session.recordingStatus, 'ready',
    `history ${describeHistory(w.history)}\n${logLines(a, ['[recordings]', '[recorder]', ' warn ', ' error '])}`);
  const url = w.session.recordingUrl;
  assert.ok(url && url.startsWith(b.base), `recordingUrl as node B gives it: ${url}`);
  const r = await b.curl(new URL(url).pathname, [], { key: null });
  assert.equal(r.status, 302, 'node B has no copy: it redirects to the node that has');
  assert.ok(r.headers.location.startsWith(a.base), r.headers.location);
  const play = await playThrough(url);
  assert.equal(play.code, 0, `the recording plays through node B: ${play.stderr}`);
  const d = await ffprobeDuration(url);
  assert.ok(Math.abs(d.duration - w.session.sourceSegmentsDuration) < 0.5,
    `the recording lasts what was counted: ${d.duration} vs ${w.session.sourceSegmentsDuration}`);
  assert.ok(w.session.sourceSegments >= state.closed.sourceSegments, 'nothing counted is lost');
  const sessions = await sessionsOf(b, state.stream.id);
  assert.equal(sessions.length, 1);
});

test('a key revoked on one node is refused on the other at once (LISTEN/NOTIFY)', async () => {
  const created = await a.request('POST', '/api/api-token', { body: { name: 'short-lived' } });
  assert.equal(created.status, 201, created.text);
  const tok = created.json;
  const used = await b.request('GET', '/api/stream', { key: tok.key });
  assert.equal(used.status, 200, 'node B accepts the new key (and now holds it in its cache)');
  assert.equal((await b.request('GET', '/api/stream', { key: tok.key })).status, 200);
  assert.equal((await a.request('DELETE', `/api/api-token/${tok.id}`)).status, 204);
  const refused = await pollUntil(async () => {
    const r = await b.request('GET', '/api/stream', { key: tok.key });
    return r.status === 401 ? r : null;
  }, { timeoutMs: 2000, intervalMs: 20 });
  assert.ok(refused.ok, 'node B refuses the revoked key within 2 s');
  assert.deepEqual(refused.value.json, { errors: ['no token found'] });
});

test('both nodes stop cleanly', async () => {
  await b.stop();
  await a.stop();
});
