// The official `livepeer` SDK (3.5.0, pinned) against streamd: every call must succeed with the
// status the SDK expects and parse without a validation error (API.md sec. 9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { expectStatus, DEFAULT_PROFILES, sdk, sdkFails, UUID_V4_RE, STREAM_KEY_RE, PLAYBACK_ID_RE } from './lib/contract.mjs';

const srv = await startServer();
const lp = srv.sdk();

test('stream.create without profiles: 201 and the default ladder', async () => {
  const res = await sdk('stream.create({name})', lp.stream.create({ name: 'sdk-plain' }));
  assert.equal(res.statusCode, 201, 'stream.create must answer 201');
  assert.match(res.contentType, /^application\/json/);
  const s = res.stream;
  assert.ok(s, 'SDK stream.create must yield result.stream (a 200 or another status leaves it undefined)');
  assert.equal(s.name, 'sdk-plain');
  assert.match(s.id, UUID_V4_RE);
  assert.match(s.streamKey, STREAM_KEY_RE);
  assert.match(s.playbackId, PLAYBACK_ID_RE);
  assert.equal(s.kind, 'stream');
  assert.deepEqual(s.profiles, DEFAULT_PROFILES);
  assert.equal(s.isActive, false);
  assert.equal(s.record, false);
  assert.equal(s.suspended, false);
  assert.equal(s.lastSeen, 0);
  assert.equal(s.lastTerminatedAt, null);
  assert.deepEqual(s.renditions, {});
});

test('stream.create with profiles and every optional field the SDK sends', async () => {
  const profiles = [
    { name: '720p', width: 1280, height: 720, bitrate: 3000000, fps: 30, fpsDen: 1, gop: '2', profile: 'H264Main', encoder: 'H.264', quality: 20 },
    { name: '360p', width: 640, height: 360, bitrate: 800000, fps: 0 },
  ];
  const payload = {
    name: 'sdk-full',
    profiles,
    creatorId: 'creator-1',
    userTags: { a: 'b', n: 1, l: ['x', 2] },
    playbackPolicy: { type: 'public' },
    record: true,
    recordingSpec: { profiles: [{ name: 'rec', bitrate: 2000000, width: 1280, height: 720, encoder: 'H.264' }] },
  };
  const res = await sdk('stream.create(full payload)', lp.stream.create(payload));
  assert.equal(res.statusCode, 201);
  const s = res.stream;
  assert.ok(s, 'result.stream');
  assert.deepEqual(s.profiles, profiles);
  assert.deepEqual(s.creatorId, { type: 'unverified', value: 'creator-1' });
  assert.deepEqual(s.userTags, payload.userTags);
  assert.deepEqual(s.playbackPolicy, { type: 'public' });
  assert.equal(s.record, true);
  assert.deepEqual(s.recordingSpec, payload.recordingSpec);
  const again = await sdk('stream.get', lp.stream.get(s.id));
  assert.deepEqual(again.stream, s, 'stream.get returns what stream.create returned');
});

test('stream.create with empty profiles and with a pull source (stored, not acted on)', async () => {
  const e = await sdk('stream.create(profiles: [])', lp.stream.create({ name: 'sdk-empty', profiles: [] }));
  assert.equal(e.statusCode, 201);
  assert.deepEqual(e.stream.profiles, []);
  const p = await sdk('stream.create(pull)', lp.stream.create({ name: 'sdk-pull', pull: { source: 'rtmp://127.0.0.1:1/live/x' } }));
  assert.equal(p.statusCode, 201);
  assert.equal(p.stream.pull?.source, 'rtmp://127.0.0.1:1/live/x', 'pull is stored and returned');
});

test('stream lifecycle: get, getAll, update, terminate, delete', async () => {
  const s = (await sdk('stream.create', lp.stream.create({ name: 'sdk-life' }))).stream;

  const got = await sdk('stream.get', lp.stream.get(s.id));
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.stream, s);

  const all = await sdk('stream.getAll()', lp.stream.getAll());
  assert.equal(all.statusCode, 200);
  assert.ok(Array.isArray(all.data) && all.data.some((x) => x.id === s.id), 'getAll includes the new stream');
  const only = await sdk('stream.getAll("true")', lp.stream.getAll('true'));
  assert.ok(only.data.some((x) => x.id === s.id), 'getAll(streamsonly) includes the new stream');

  const upd = await sdk('stream.update', lp.stream.update({
    name: 'sdk-life-2', record: true, suspended: true, userTags: { x: 'y' },
    profiles: [{ name: '240p', width: 426, height: 240, bitrate: 250000, fps: 0 }],
    playbackPolicy: { type: 'public' },
  }, s.id));
  assert.equal(upd.statusCode, 204, 'stream.update answers 204');
  const after = (await sdk('stream.get after update', lp.stream.get(s.id))).stream;
  assert.equal(after.name, 'sdk-life-2');
  assert.equal(after.record, true);
  assert.equal(after.suspended, true);
  assert.deepEqual(after.userTags, { x: 'y' });
  assert.deepEqual(after.profiles, [{ name: '240p', width: 426, height: 240, bitrate: 250000, fps: 0 }]);

  const emptyUpd = await sdk('stream.update({})', lp.stream.update({}, s.id));
  assert.equal(emptyUpd.statusCode, 204);

  const term = await sdk('stream.terminate', lp.stream.terminate(s.id));
  assert.equal(term.statusCode, 204, 'stream.terminate answers 204');
  const t = (await sdk('stream.get after terminate', lp.stream.get(s.id))).stream;
  assert.equal(typeof t.lastTerminatedAt, 'number', 'lastTerminatedAt set by terminate');
  const again = await sdkFails('stream.terminate twice within 5 s', lp.stream.terminate(s.id), 429);
  assert.deepEqual(JSON.parse(again.body), { errors: ['too many terminate requests'] });

  const del = await sdk('stream.delete', lp.stream.delete(s.id));
  assert.equal(del.statusCode, 204, 'stream.delete answers 204');
  const gone = await sdkFails('stream.get after delete', lp.stream.get(s.id), 404);
  assert.deepEqual(JSON.parse(gone.body), { errors: ['not found'] });
  const all2 = await sdk('stream.getAll after delete', lp.stream.getAll());
  assert.ok(!all2.data.some((x) => x.id === s.id), 'deleted stream is not listed');
});

test('SDK error paths carry the HTTP status and the {"errors":[...]} body', async () => {
  const bad = await sdkFails('stream.create(width 100)', lp.stream.create({
    name: 'bad', profiles: [{ name: 'p', width: 100, height: 240, bitrate: 250000, fps: 0 }],
  }), 422);
  const body = JSON.parse(bad.body);
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `422 body: ${bad.body}`);
  const spec = await sdkFails('stream.create(recordingSpec without record)', lp.stream.create({
    name: 'bad', recordingSpec: { profiles: [{ bitrate: 1000000 }] },
  }), 400);
  assert.deepEqual(JSON.parse(spec.body), { errors: ['recordingSpec is only supported with record=true'] });
  await sdkFails('stream.get(missing)', lp.stream.get(randomUUID()), 404);
  await sdkFails('stream.update(missing)', lp.stream.update({ name: 'x' }, randomUUID()), 404);
  await sdkFails('stream.delete(missing)', lp.stream.delete(randomUUID()), 404);
});

test('SDK and raw HTTP agree on the stream list (plain array, same order)', async () => {
  const raw = expectStatus(await srv.request('GET', '/api/stream'), 200);
  const viaSdk = await sdk('stream.getAll', lp.stream.getAll());
  assert.deepEqual(viaSdk.data.map((s) => s.id), raw.map((s) => s.id));
});

test('concurrent SDK calls: 60 creates (12 in flight) give unique ids, keys and playback ids', async () => {
  const created = [];
  let next = 0;
  async function worker() {
    while (next < 60) {
      const n = next++;
      const c = await sdk(`stream.create #${n}`, lp.stream.create({ name: `conc-${n}` }));
      assert.equal(c.statusCode, 201);
      const g = await sdk(`stream.get #${n}`, lp.stream.get(c.stream.id));
      assert.deepEqual(g.stream, c.stream, `stream.get #${n} returns what create returned`);
      created.push(c.stream);
    }
  }
  await Promise.all(Array.from({ length: 12 }, worker));
  assert.equal(created.length, 60);
  for (const k of ['id', 'streamKey', 'playbackId']) {
    assert.equal(new Set(created.map((s) => s[k])).size, 60, `${k} must be unique across concurrent creates`);
  }
  const names = new Set(created.map((s) => s.name));
  const listed = expectStatus(await srv.request('GET', '/api/stream?limit=1000'), 200).filter((s) => names.has(s.name));
  assert.equal(listed.length, 60, 'every concurrently created stream is listed');
});

test('SIGTERM shuts the server down cleanly (exit 0 within 10 s)', async () => {
  await srv.stop();
});
