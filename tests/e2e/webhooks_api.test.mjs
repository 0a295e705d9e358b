// The Webhooks resource (/api/webhook) through the SDK's webhook.* calls and raw HTTP: create
// (200, as the SDK requires, the shared secret generated when absent and shown only then), list, get, update (PUT as
// the SDK sends it, PATCH too), delete; Studio's 422 messages; per-user isolation as for streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { sdk, sdkFails, expect422, expectError, UUID_V4_RE } from './lib/contract.mjs';

const srv = await startServer();
const state = {};

test('SDK webhook.create: 200, a generated shared secret shown once, the SDK parses every call', async () => {
  const lp = srv.sdk();
  const stream = await srv.request('POST', '/api/stream', { body: { name: 'cam' } });
  state.streamId = stream.json.id;
  const created = (await sdk('webhook.create', lp.webhook.create({
    name: 'ops', url: 'https://hooks.example.com/live', events: ['stream.started', 'stream.idle'],
  }))).webhook;
  assert.match(created.id, UUID_V4_RE);
  assert.deepEqual(created.events, ['stream.started', 'stream.idle']);
  assert.equal(created.url, 'https://hooks.example.com/live');

  const raw = await srv.request('POST', '/api/webhook', {
    body: { name: 'one stream', url: 'http://127.0.0.1:9/x', events: ['recording.ready'], streamId: state.streamId },
  });
  assert.equal(raw.status, 200, raw.text);
  assert.match(raw.json.sharedSecret, /^[0-9a-f-]{36}$/, 'a secret is generated and returned at creation');
  assert.equal(raw.json.streamId, state.streamId);
  assert.equal(raw.json.kind, 'webhook');
  assert.deepEqual(raw.json.status, {});
  const mine = await srv.request('POST', '/api/webhook', {
    body: { name: 'own secret', url: 'http://127.0.0.1:9/y', sharedSecret: 'my-secret' },
  });
  assert.equal(mine.json.sharedSecret, 'my-secret');
  assert.deepEqual(mine.json.events, []);
  state.ids = [created.id, raw.json.id, mine.json.id];

  const got = await srv.request('GET', `/api/webhook/${raw.json.id}`);
  assert.equal(got.status, 200);
  assert.ok(!('sharedSecret' in got.json), 'the secret is write-only');
  const one = (await sdk('webhook.get', lp.webhook.get(created.id))).webhook;
  assert.equal(one.name, 'ops');
  const all = (await sdk('webhook.getAll', lp.webhook.getAll())).data;
  assert.deepEqual(all.map((w) => w.id), [...state.ids].reverse(), 'newest first');
});

test('update: PUT replaces (the SDK), PATCH changes the fields given; bad bodies are 422/400', async () => {
  const lp = srv.sdk();
  const [id] = state.ids;
  const put = (await sdk('webhook.update', lp.webhook.update({ name: 'ops2', url: 'https://hooks.example.com/v2', events: ['recording.waiting'] }, id))).webhook;
  assert.equal(put.name, 'ops2');
  assert.deepEqual(put.events, ['recording.waiting']);
  const patched = await srv.request('PATCH', `/api/webhook/${id}`, { body: { events: ['stream.idle'] } });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.name, 'ops2', 'PATCH keeps what it does not name');
  assert.deepEqual(patched.json.events, ['stream.idle']);

  expect422(await srv.request('POST', '/api/webhook', { body: { url: 'http://a.example/' } }),
    { keyword: 'required', params: { missingProperty: 'name' } });
  expect422(await srv.request('POST', '/api/webhook', { body: { name: 'x', url: 'ftp://a.example/' } }),
    { keyword: 'pattern', instancePath: '/url' });
  expect422(await srv.request('POST', '/api/webhook', { body: { name: 'x', url: 'http://a.example/', events: ['stream.exploded'] } }),
    { keyword: 'enum', instancePath: '/events/0' });
  expect422(await srv.request('POST', '/api/webhook', { body: { name: 'x', url: 'http://a.example/', colour: 'red' } }),
    { keyword: 'additionalProperties' });
  expect422(await srv.request('PUT', `/api/webhook/${id}`, { body: { name: 'no url' } }),
    { keyword: 'required', params: { missingProperty: 'url' } });
  expectError(await srv.request('POST', '/api/webhook', { body: { name: 'x', url: 'http://' } }), 400);
  expectError(await srv.request('POST', '/api/webhook', { body: { name: 'x', url: 'http://a.example/', streamId: 'nope' } }),
    400, 'stream not found: nope');
  expectError(await srv.request('POST', '/api/webhook', { body: '{"name":' }), 400);
});

test('another user neither sees nor changes my webhooks', async () => {
  const other = await srv.addUser('mallory');
  const [id] = state.ids;
  const as = (method, body) => srv.request(method, `/api/webhook/${id}`, { key: other.apiKey, body });
  expectError(await as('GET'), 404, 'not found');
  expectError(await as('PUT', { name: 'x', url: 'http://a.example/' }), 404, 'not found');
  expectError(await as('DELETE'), 404, 'not found');
  const theirs = await srv.request('GET', '/api/webhook', { key: other.apiKey });
  assert.deepEqual(theirs.json, []);
  const hook = await srv.request('POST', '/api/webhook', { key: other.apiKey, body: { name: 'x', url: 'http://a.example/', streamId: state.streamId } });
  expectError(hook, 400, `stream not found: ${state.streamId}`);
  expectError(await srv.request('GET', '/api/webhook', { key: null }), 401);
});

test('SDK webhook.delete: the webhook is gone (200 with it, which the SDK parses)', async () => {
  const lp = srv.sdk();
  for (const id of state.ids) {
    const deleted = (await sdk('webhook.delete', lp.webhook.delete(id))).webhook;
    assert.equal(deleted.id, id);
  }
  await sdkFails('webhook.get', lp.webhook.get(state.ids[0]), 404);
  assert.deepEqual((await srv.request('GET', '/api/webhook')).json, []);
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
