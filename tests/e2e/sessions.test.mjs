// Sessions resource: GET /api/session, GET /api/session/{id}, GET /api/stream/{id}/sessions
// (API.md sec. 2 and 3). Sessions are seeded into the database by seedSession() until RTMP
// ingest can create them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer, seedSession } from './lib/server.mjs';
import {
  expectStatus, expectError, assertSessionShape, show, nextLink, sdk, sdkFails,
} from './lib/contract.mjs';

const srv = await startServer();
const alice = await srv.addUser('alice');
const bob = await srv.addUser('bob');

async function createStream(key, body) {
  const r = await srv.request('POST', '/api/stream', { key, body });
  const created = expectStatus(r, 201);
  return expectStatus(await srv.request('GET', `/api/stream/${created.id}`, { key }), 200);
}

const now = Date.now();
const stream1 = await createStream(alice.apiKey, { name: 'Alice main ABC', record: true });
const stream2 = await createStream(alice.apiKey, { name: 'alice second', profiles: [] });
const streamB = await createStream(bob.apiKey, { name: 'bob stream' });

// Seeded sessions (times relative to now). Default order is lastSeen DESC, createdAt DESC.
const S = {};
S.plain = await seedSession(srv, stream1, {
  created_at: now - 60000, last_seen: now - 3000, record: 0,
  source_segments: 10, transcoded_segments: 40, source_segments_duration: 20.0, transcoded_segments_duration: 80.0,
  source_bytes: 1000000, transcoded_bytes: 3000000, ingest_rate: 125000.5, outgoing_rate: 375000,
  is_healthy: 1, issues: '[]',
});
S.ready = await seedSession(srv, stream1, {
  created_at: now - 50000, last_seen: now - 2000, record: 1, recording_status: 'ready',
  source_segments: 15, source_segments_duration: 30.0, is_healthy: 0, issues: '["Transcoding is slow"]',
});
S.waiting = await seedSession(srv, stream1, {
  created_at: now - 40000, last_seen: now - 1000, record: 1, recording_status: 'waiting',
  source_segments: 3, source_segments_duration: 5.0, is_healthy: null, issues: null,
});
S.unused = await seedSession(srv, stream1, { created_at: now - 30000, last_seen: 0, record: 0 });
S.deleted = await seedSession(srv, stream1, {
  created_at: now - 20000, last_seen: now - 500, record: 0, deleted: 1, source_segments: 5, source_segments_duration: 10.0,
});
S.other = await seedSession(srv, stream2, {
  created_at: now - 25000, last_seen: now - 1500, record: 0, source_segments: 4, source_segments_duration: 8.0,
});
S.bob = await seedSession(srv, streamB, {
  created_at: now - 10000, last_seen: now - 100, record: 0, source_segments: 1, source_segments_duration: 2.0,
});
const parentOf = { plain: stream1, ready: stream1, waiting: stream1, unused: stream1, other: stream2 };
const nameOf = Object.fromEntries(Object.entries(S).map(([k, v]) => [v, k]));
const names = (list) => list.map((s) => nameOf[s.id] ?? s.id);

const getSession = (id, key = alice.apiKey) => srv.request('GET', `/api/session/${id}`, { key });

test('GET /api/session/{id}: fields, counters, health of a non-recorded session', async () => {
  const r = await getSession(S.plain);
  const s = expectStatus(r, 200);
  assertSessionShape(s, { stream: stream1, publicUrl: srv.base, what: show(r) });
  const expected = {
    id: S.plain, name: stream1.name, kind: 'session', parentId: stream1.id, playbackId: stream1.playbackId,
    projectId: stream1.projectId, userId: stream1.userId, createdAt: now - 60000, lastSeen: now - 3000, record: false,
    sourceSegments: 10, transcodedSegments: 40, sourceSegmentsDuration: 20, transcodedSegmentsDuration: 80,
    sourceBytes: 1000000, transcodedBytes: 3000000, ingestRate: 125000.5, outgoingRate: 375000,
    isHealthy: true, issues: [], profiles: stream1.profiles,
  };
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(s[k], v, `${show(r)}: ${k}`);
  }
});

test('GET /api/session/{id}: recorded sessions carry recordingStatus and, when ready, the URLs', async () => {
  const r = await getSession(S.ready);
  const s = expectStatus(r, 200);
  assertSessionShape(s, { stream: stream1, publicUrl: srv.base, what: show(r) });
  assert.equal(s.record, true, `${show(r)}: record`);
  assert.equal(s.recordingStatus, 'ready', `${show(r)}: recordingStatus`);
  assert.equal(s.recordingUrl, `${srv.base}/recordings/${S.ready}/index.m3u8`, `${show(r)}: recordingUrl`);
  assert.equal(s.mp4Url, `${srv.base}/recordings/${S.ready}/output.mp4`, `${show(r)}: mp4Url`);
  assert.equal(s.isHealthy, false, `${show(r)}: isHealthy`);
  assert.deepEqual(s.issues, ['Transcoding is slow'], `${show(r)}: issues`);

  const w = await getSession(S.waiting);
  const ws = expectStatus(w, 200);
  assertSessionShape(ws, { stream: stream1, publicUrl: srv.base, what: show(w) });
  assert.equal(ws.recordingStatus, 'waiting', `${show(w)}: recordingStatus`);
  assert.strictEqual(ws.isHealthy, null, `${show(w)}: isHealthy null`);
  assert.strictEqual(ws.issues, null, `${show(w)}: issues null`);
});

test('GET /api/session/{id}: missing, deleted, other user\'s -> 404 not found', async () => {
  expectError(await getSession(randomUUID()), 404, 'not found');
  expectError(await getSession(S.deleted), 404, 'not found');
  expectError(await getSession(S.plain, bob.apiKey), 404, 'not found');
  expectError(await getSession(S.bob), 404, 'not found');
  expectStatus(await getSession(S.bob, bob.apiKey), 200);
});

test('GET /api/session: list, default order, parentStream, isolation', async () => {
  const r = await srv.request('GET', '/api/session', { key: alice.apiKey });
  const list = expectStatus(r, 200);
  assert.ok(Array.isArray(list), `${show(r)}: must be a plain array`);
  assert.deepEqual(names(list), ['waiting', 'other', 'ready', 'plain', 'unused'],
    `${show(r)}: the caller's non-deleted sessions, lastSeen DESC then createdAt DESC`);
  for (const s of list) {
    const parent = parentOf[nameOf[s.id]];
    assertSessionShape(s, { stream: parent, publicUrl: srv.base, what: `${show(r)} item ${nameOf[s.id]}` });
    assert.ok(s.parentStream && typeof s.parentStream === 'object', `${show(r)}: item ${nameOf[s.id]} must carry parentStream`);
    assert.deepEqual(s.parentStream, parent, `${show(r)}: item ${nameOf[s.id]}: parentStream must be the parent stream object (as GET /api/stream/{id})`);
  }
  const rb = await srv.request('GET', '/api/session', { key: bob.apiKey });
  assert.deepEqual(names(expectStatus(rb, 200)), ['bob'], `${show(rb)}: bob sees only his session`);
  const ra = await srv.request('GET', '/api/session');
  assert.deepEqual(expectStatus(ra, 200), [], `${show(ra)}: the admin's own list (no all=1) has no other user's sessions`);
});

test('GET /api/session: limit, Link, cursor, count', async () => {
  const r = await srv.request('GET', '/api/session?limit=2&count=1', { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['waiting', 'other'], show(r));
  assert.equal(r.headers.get('x-total-count'), '5', `${show(r)}: X-Total-Count`);
  const next = nextLink(r);
  assert.ok(next, `${show(r)}: a full page must carry Link rel=next`);
  assert.equal(new URL(next).searchParams.get('cursor'), 'skip2', `Link: ${next}`);
  const r2 = await srv.request('GET', next, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r2, 200)), ['ready', 'plain'], show(r2));
  const next2 = nextLink(r2);
  assert.ok(next2, `${show(r2)}: Link rel=next`);
  const r3 = await srv.request('GET', next2, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r3, 200)), ['unused'], show(r3));
  assert.equal(r3.headers.get('link'), null, `${show(r3)}: no Link on the last page`);
});

test('GET /api/session: filters and order', async () => {
  const q = (filters, extra = '') => srv.request('GET', `/api/session?filters=${encodeURIComponent(JSON.stringify(filters))}${extra}`, { key: alice.apiKey });
  let r = await q([{ id: 'record', value: true }]);
  assert.deepEqual(names(expectStatus(r, 200)), ['waiting', 'ready'], `${show(r)}: record=true`);
  r = await q([{ id: 'name', value: 'abc' }]);
  assert.deepEqual(names(expectStatus(r, 200)), ['waiting', 'ready', 'plain', 'unused'], `${show(r)}: name substring, case-insensitive`);
  r = await q([{ id: 'sourceSegmentsDuration', value: { gte: 20 } }]);
  assert.deepEqual(names(expectStatus(r, 200)), ['ready', 'plain'], `${show(r)}: sourceSegmentsDuration gte 20`);
  r = await q([{ id: 'parentId', value: stream2.id }]);
  assert.deepEqual(names(expectStatus(r, 200)), ['other'], `${show(r)}: parentId`);
  r = await q([{ id: 'recordingStatus', value: 'ready' }]);
  assert.deepEqual(names(expectStatus(r, 200)), ['ready'], `${show(r)}: recordingStatus`);
  r = await q([{ id: 'x', value: 1 }]);
  expectError(r, 400, 'error parsing filters: Error: unknown field: "x"');
  r = await srv.request('GET', '/api/session?order=createdAt-false', { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['plain', 'ready', 'waiting', 'unused', 'other'], `${show(r)}: createdAt ASC`);
});

test('GET /api/stream/{id}/sessions: used sessions of that stream, lastSeen DESC, record filter', async () => {
  const base = `/api/stream/${stream1.id}/sessions`;
  let r = await srv.request('GET', base, { key: alice.apiKey });
  const list = expectStatus(r, 200);
  assert.deepEqual(names(list), ['waiting', 'ready', 'plain'], `${show(r)}: only sessions with lastSeen>0 and sourceSegmentsDuration>0, lastSeen DESC`);
  for (const s of list) assertSessionShape(s, { stream: stream1, publicUrl: srv.base, what: `${show(r)} item ${nameOf[s.id]}` });
  r = await srv.request('GET', `${base}?record=1`, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['waiting', 'ready'], `${show(r)}: record=1`);
  r = await srv.request('GET', `${base}?record=true`, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['waiting', 'ready'], `${show(r)}: record=true`);
  r = await srv.request('GET', `${base}?record=0`, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['plain'], `${show(r)}: record=0`);
  r = await srv.request('GET', `${base}?record=false`, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['plain'], `${show(r)}: record=false`);
  r = await srv.request('GET', `${base}?limit=2`, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['waiting', 'ready'], `${show(r)}: limit=2`);
  r = await srv.request('GET', `${base}?limit=2&cursor=skip2`, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['plain'], `${show(r)}: cursor=skip2`);
  r = await srv.request('GET', `/api/stream/${stream2.id}/sessions`, { key: alice.apiKey });
  assert.deepEqual(names(expectStatus(r, 200)), ['other'], `${show(r)}: another stream's sessions`);

  expectError(await srv.request('GET', base, { key: bob.apiKey }), 404);
  expectError(await srv.request('GET', `/api/stream/${randomUUID()}/sessions`, { key: alice.apiKey }), 404);
});

test('SDK: session.get, session.getAll, session.getRecorded parse every response', async () => {
  const lp = srv.sdk(alice.apiKey);
  for (const [name, id] of Object.entries(S)) {
    if (name === 'deleted' || name === 'bob') continue;
    const res = await sdk(`session.get(${name})`, lp.session.get(id));
    assert.equal(res.statusCode, 200);
    assert.ok(res.session, `SDK session.get(${name}) must yield a session`);
    assert.equal(res.session.id, id);
    assert.equal(res.session.name, parentOf[name].name, `SDK session.get(${name}): name is the parent stream's`);
  }
  const ready = (await sdk('session.get(ready)', lp.session.get(S.ready))).session;
  assert.equal(ready.recordingStatus, 'ready');
  assert.equal(ready.recordingUrl, `${srv.base}/recordings/${S.ready}/index.m3u8`);

  const all = await sdk('session.getAll()', lp.session.getAll());
  assert.deepEqual(all.data.map((s) => nameOf[s.id]), ['waiting', 'other', 'ready', 'plain', 'unused'], 'SDK session.getAll');

  const rec = await sdk('session.getRecorded(stream1)', lp.session.getRecorded(stream1.id));
  assert.deepEqual(rec.data.map((s) => nameOf[s.id]), ['waiting', 'ready', 'plain'], 'SDK session.getRecorded(id)');
  const recTrue = await sdk('session.getRecorded(stream1, true)', lp.session.getRecorded(stream1.id, true));
  assert.deepEqual(recTrue.data.map((s) => nameOf[s.id]), ['waiting', 'ready'], 'SDK session.getRecorded(id, true)');
  const rec1 = await sdk('session.getRecorded(stream1, 1)', lp.session.getRecorded(stream1.id, 1));
  assert.deepEqual(rec1.data.map((s) => nameOf[s.id]), ['waiting', 'ready'], 'SDK session.getRecorded(id, 1)');
  const recFalse = await sdk('session.getRecorded(stream1, false)', lp.session.getRecorded(stream1.id, false));
  assert.deepEqual(recFalse.data.map((s) => nameOf[s.id]), ['plain'], 'SDK session.getRecorded(id, false)');

  await sdkFails('session.get(missing)', lp.session.get(randomUUID()), 404);
  await sdkFails('session.get(bob\'s) as alice', lp.session.get(S.bob), 404);
});

test('SIGTERM shuts the server down cleanly (exit 0 within 10 s)', async () => {
  await srv.stop();
});
