// Restarts: SIGINT and SIGTERM both shut down cleanly, and everything the API created survives a
// restart on the same data dir (streams, sessions, API keys and their revocation, users).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, seedSession } from './lib/server.mjs';
import { expectStatus, expectError, show, sdk } from './lib/contract.mjs';

const srv = await startServer();
const state = {};

test('before the restart: create streams, a session, tokens, a user', async () => {
  const lp = srv.sdk();
  state.stream = (await sdk('stream.create', lp.stream.create({
    name: 'survivor', record: true, userTags: { keep: 'me' }, creatorId: 'c1',
    profiles: [{ name: '360p', width: 640, height: 360, bitrate: 800000, fps: 30, gop: '2' }],
  }))).stream;
  const gone = (await sdk('stream.create', lp.stream.create({ name: 'deleted-before-restart' }))).stream;
  await sdk('stream.delete', lp.stream.delete(gone.id));
  state.gone = gone;
  await sdk('stream.update', lp.stream.update({ suspended: true }, state.stream.id));
  await sdk('stream.terminate', lp.stream.terminate(state.stream.id));
  state.streamRaw = expectStatus(await srv.request('GET', `/api/stream/${state.stream.id}`), 200);

  state.ci = expectStatus(await srv.request('POST', '/api/api-token', { body: { name: 'ci' } }), 201);
  state.revoked = expectStatus(await srv.request('POST', '/api/api-token', { body: { name: 'old' } }), 201);
  expectStatus(await srv.request('DELETE', `/api/api-token/${state.revoked.id}`), 204);

  state.bob = await srv.addUser('persist-bob');
  state.bobStream = expectStatus(await srv.request('POST', '/api/stream', { key: state.bob.apiKey, body: { name: 'bob-survivor' } }), 201);

  state.session = await seedSession(srv, state.streamRaw, {
    last_seen: Date.now() - 1000, record: 1, recording_status: 'ready', source_segments: 2, source_segments_duration: 4.0,
  });
  state.sessionRaw = expectStatus(await srv.request('GET', `/api/session/${state.session}`), 200);
});

test('SIGINT shuts down cleanly and the server starts again on the same data dir', async () => {
  await srv.restart('SIGINT');
});

test('after the restart: streams, sessions, keys, revocations and users are all there', async () => {
  const s = expectStatus(await srv.request('GET', `/api/stream/${state.stream.id}`), 200);
  assert.deepEqual(s, state.streamRaw, 'GET /api/stream/{id} after restart must equal the stream before it');
  expectError(await srv.request('GET', `/api/stream/${state.gone.id}`), 404, 'not found');
  const list = expectStatus(await srv.request('GET', '/api/stream'), 200);
  assert.deepEqual(list.map((x) => x.id), [state.stream.id], 'list after restart');

  const sess = await srv.request('GET', `/api/session/${state.session}`);
  const got = expectStatus(sess, 200);
  // recording URLs follow the (new) public URL; everything else is unchanged
  const { recordingUrl, mp4Url, ...rest } = got;
  const { recordingUrl: r0, mp4Url: m0, ...rest0 } = state.sessionRaw;
  assert.deepEqual(rest, rest0, `${show(sess)}: session after restart`);
  assert.equal(recordingUrl, `${srv.base}/recordings/${state.session}/index.m3u8`, `${show(sess)}: recordingUrl uses --public-url`);
  assert.equal(mp4Url, `${srv.base}/recordings/${state.session}/output.mp4`, `${show(sess)}: mp4Url uses --public-url`);
  assert.ok(r0 && m0, 'URLs were present before the restart');

  expectStatus(await srv.request('GET', '/api/stream', { key: state.ci.key }), 200);
  expectError(await srv.request('GET', '/api/stream', { key: state.revoked.key }), 401, 'no token found');
  const bobList = expectStatus(await srv.request('GET', '/api/stream', { key: state.bob.apiKey }), 200);
  assert.deepEqual(bobList.map((x) => x.id), [state.bobStream.id], 'bob\'s key and stream survive the restart');

  // the store keeps working after the restart: new ids do not collide, the SDK still parses
  const lp = srv.sdk();
  const fresh = (await sdk('stream.create after restart', lp.stream.create({ name: 'after' }))).stream;
  assert.notEqual(fresh.id, state.stream.id);
  const all = await sdk('stream.getAll after restart', lp.stream.getAll());
  assert.equal(all.data.length, 2);
});

test('SIGTERM shuts the server down cleanly (exit 0 within 10 s)', async () => {
  await srv.stop();
});
