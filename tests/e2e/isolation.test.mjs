// Isolation between users: another user's streams are 404 on every route and absent from lists,
// exactly as a missing id (API.md sec. 3, issue 3 item 3). Sessions are covered in sessions.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { expectStatus, expectError, show, sdk, sdkFails } from './lib/contract.mjs';

const srv = await startServer();
const alice = await srv.addUser('iso-alice');
const bob = await srv.addUser('iso-bob');
const lpA = srv.sdk(alice.apiKey);
const lpB = srv.sdk(bob.apiKey);

const sA = (await sdk('stream.create as alice', lpA.stream.create({ name: 'alice-private' }))).stream;
const sB = (await sdk('stream.create as bob', lpB.stream.create({ name: 'bob-own' }))).stream;
const getRaw = (id, key) => srv.request('GET', `/api/stream/${id}`, { key });
const snapshotA = expectStatus(await getRaw(sA.id, alice.apiKey), 200);

test('users add gives distinct users and projects', () => {
  assert.notEqual(alice.apiKey, bob.apiKey);
  assert.notEqual(sA.userId, sB.userId, 'the two users must have different userIds');
  assert.notEqual(sA.projectId, sB.projectId, 'the two users must have different projectIds');
});

test('raw HTTP: every stream route answers 404 not found for another user\'s stream', async () => {
  const k = bob.apiKey;
  const cases = [
    ['GET', `/api/stream/${sA.id}`],
    ['PATCH', `/api/stream/${sA.id}`, { name: 'hijacked' }],
    ['PATCH', `/api/stream/${sA.id}`, {}],
    ['PATCH', `/api/stream/${sA.id}/suspended`, { suspended: true }],
    ['PATCH', `/api/stream/${sA.id}/record`, { record: true }],
    ['DELETE', `/api/stream/${sA.id}/terminate`],
    ['DELETE', `/api/stream/${sA.id}`],
    ['GET', `/api/stream/playback/${sA.playbackId}`],
    ['GET', `/api/stream/key/${sA.streamKey}`],
  ];
  for (const [method, path, body] of cases) {
    expectError(await srv.request(method, path, { key: k, body }), 404, 'not found');
  }
  // bulk delete of someone else's ids must not delete them
  const bulk = await srv.request('DELETE', '/api/stream', { key: k, body: { ids: [sA.id] } });
  assert.ok([204, 404].includes(bulk.status), `${show(bulk)}: expected 204 (nothing of bob's deleted) or 404`);
  const after = expectStatus(await getRaw(sA.id, alice.apiKey), 200);
  assert.deepEqual(after, snapshotA, 'alice\'s stream must be untouched by bob\'s attempts (incl. lastTerminatedAt)');
});

test('lists never include another user\'s streams', async () => {
  const lb = await srv.request('GET', '/api/stream?count=1', { key: bob.apiKey });
  assert.deepEqual(expectStatus(lb, 200).map((s) => s.id), [sB.id], `${show(lb)}: bob's list`);
  assert.equal(lb.headers.get('x-total-count'), '1', `${show(lb)}: X-Total-Count counts only bob's`);
  const la = await srv.request('GET', '/api/stream', { key: alice.apiKey });
  assert.deepEqual(expectStatus(la, 200).map((s) => s.id), [sA.id], `${show(la)}: alice's list`);
  const f = await srv.request('GET', `/api/stream?filters=${encodeURIComponent(JSON.stringify([{ id: 'name', value: 'alice' }]))}`, { key: bob.apiKey });
  assert.deepEqual(expectStatus(f, 200), [], `${show(f)}: filters must not reach other users' rows`);
  const fu = await srv.request('GET', `/api/stream?filters=${encodeURIComponent(JSON.stringify([{ id: 'userId', value: sA.userId }]))}`, { key: bob.apiKey });
  assert.deepEqual(expectStatus(fu, 200), [], `${show(fu)}: a userId filter must not reach other users' rows`);
  const all = await srv.request('GET', '/api/stream?all=1', { key: bob.apiKey });
  if (all.status === 200) {
    assert.ok(!all.json.some((s) => s.id === sA.id), `${show(all)}: all=1 from a non-admin must not reveal other users' streams`);
  }
  // the admin's own list (without all=1) is scoped to the admin too
  const adm = await srv.request('GET', '/api/stream');
  assert.ok(!expectStatus(adm, 200).some((s) => s.id === sA.id || s.id === sB.id), `${show(adm)}: admin list without all=1`);
});

test('admin may list everything with all=1', async () => {
  const r = await srv.request('GET', '/api/stream?all=1&limit=1000');
  const ids = expectStatus(r, 200).map((s) => s.id);
  assert.ok(ids.includes(sA.id) && ids.includes(sB.id), `${show(r)}: admin all=1 must include both users' streams`);
});

test('SDK: another user\'s stream is a 404 SDKError on get, update, delete, terminate', async () => {
  await sdkFails('stream.get(alice\'s) as bob', lpB.stream.get(sA.id), 404);
  await sdkFails('stream.update(alice\'s) as bob', lpB.stream.update({ name: 'x' }, sA.id), 404);
  await sdkFails('stream.terminate(alice\'s) as bob', lpB.stream.terminate(sA.id), 404);
  await sdkFails('stream.delete(alice\'s) as bob', lpB.stream.delete(sA.id), 404);
  const all = await sdk('stream.getAll as bob', lpB.stream.getAll());
  assert.deepEqual(all.data.map((s) => s.id), [sB.id]);
  const still = await sdk('stream.get as alice', lpA.stream.get(sA.id));
  assert.equal(still.stream.name, 'alice-private');
});

test('SIGTERM shuts the server down cleanly (exit 0 within 10 s)', async () => {
  await srv.stop();
});
