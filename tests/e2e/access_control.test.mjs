// Signing keys (/api/access-control/signing-key) through the SDK's accessControl.* and raw HTTP:
// a key pair is made on create and its private key returned then only; keys are listed, read,
// renamed, disabled and deleted by their owner alone; the public key verifies what the private
// key signs (ES256, as a playback JWT is signed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { sdk } from './lib/contract.mjs';

const srv = await startServer();
const state = {};

test('SDK accessControl.create returns the key pair once; get and getAll only the public key', async () => {
  const lp = srv.sdk();
  const created = (await sdk('accessControl.create', lp.accessControl.create())).signingKey;
  assert.ok(created?.id && created.publicKey, JSON.stringify(created));
  const raw = await srv.request('GET', `/api/access-control/signing-key/${created.id}`);
  assert.equal(raw.status, 200);
  assert.equal(raw.json.publicKey, created.publicKey);
  assert.equal(raw.json.name, 'Signing Key');
  assert.equal(raw.json.disabled, false);
  assert.ok(!('privateKey' in raw.json), 'the private key is never shown again');

  const made = await srv.request('POST', '/api/access-control/signing-key', { body: { name: 'player' } });
  assert.equal(made.status, 200, made.text);
  assert.equal(made.json.name, 'player');
  const privatePem = Buffer.from(made.json.privateKey, 'base64').toString();
  const publicPem = Buffer.from(made.json.publicKey, 'base64').toString();
  assert.match(privatePem, /^-----BEGIN PRIVATE KEY-----/);
  assert.match(publicPem, /^-----BEGIN PUBLIC KEY-----/);
  const signature = crypto.sign('sha256', Buffer.from('header.payload'), { key: privatePem, dsaEncoding: 'ieee-p1363' });
  assert.ok(crypto.verify('sha256', Buffer.from('header.payload'), { key: publicPem, dsaEncoding: 'ieee-p1363' }, signature),
    'the pair is a P-256 ES256 pair');
  state.keys = [created.id, made.json.id];

  const all = (await sdk('accessControl.getAll', lp.accessControl.getAll())).data;
  assert.deepEqual(all.map((k) => k.id), state.keys, 'oldest first');
  const one = (await sdk('accessControl.get', lp.accessControl.get(made.json.id))).signingKey;
  assert.equal(one.name, 'player');
});

test('update renames and disables; bad bodies are 422; delete removes', async () => {
  const lp = srv.sdk();
  const id = state.keys[1];
  await sdk('accessControl.update', lp.accessControl.update({ disabled: true, name: 'old player' }, id));
  const got = (await srv.request('GET', `/api/access-control/signing-key/${id}`)).json;
  assert.equal(got.disabled, true);
  assert.equal(got.name, 'old player');
  for (const body of [{ disabled: 'yes' }, { name: '' }, { publicKey: 'x' }, []]) {
    const r = await srv.request('PATCH', `/api/access-control/signing-key/${id}`, { body });
    assert.equal(r.status, 422, `PATCH ${JSON.stringify(body)}: ${r.text}`);
  }
  await sdk('accessControl.delete', lp.accessControl.delete(id));
  assert.equal((await srv.request('GET', `/api/access-control/signing-key/${id}`)).status, 404);
  assert.equal((await srv.request('DELETE', `/api/access-control/signing-key/${id}`)).status, 404);
});

test('another user neither sees nor changes my keys', async () => {
  const other = await srv.addUser('mallory');
  const id = state.keys[0];
  const list = await srv.request('GET', '/api/access-control/signing-key', { key: other.apiKey });
  assert.deepEqual(list.json, []);
  assert.equal((await srv.request('GET', `/api/access-control/signing-key/${id}`, { key: other.apiKey })).status, 404);
  assert.equal((await srv.request('PATCH', `/api/access-control/signing-key/${id}`, { key: other.apiKey, body: { disabled: true } })).status, 404);
  assert.equal((await srv.request('DELETE', `/api/access-control/signing-key/${id}`, { key: other.apiKey })).status, 404);
  assert.equal((await srv.request('GET', `/api/access-control/signing-key/${id}`)).json.disabled, false);
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
