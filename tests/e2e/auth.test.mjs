// Authentication, API keys, common headers, CORS and the public endpoints (API.md sec. 0 and 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { expectStatus, expectError, assertCommonHeaders, show, UUID_RE, sdk, sdkFails } from './lib/contract.mjs';

const srv = await startServer();

test('GET /healthz answers 200 once ready', async () => {
  const r = await srv.request('GET', '/healthz', { key: null });
  assert.equal(r.status, 200, show(r));
});

test('GET /api/ingest (no auth) lists the public, RTMP and HLS bases', async () => {
  const r = await srv.request('GET', '/api/ingest', { key: null });
  const body = expectStatus(r, 200);
  assert.deepEqual(body, [
    { base: srv.base, ingest: `rtmp://127.0.0.1:${srv.rtmpPort}/live`, playback: `${srv.base}/hls` },
  ], show(r));
});

test('no Authorization header -> 401 "request is not authenticated"', async () => {
  for (const [method, path] of [['GET', '/api/stream'], ['POST', '/api/stream'], ['GET', `/api/stream/${randomUUID()}`], ['GET', '/api/session'], ['GET', '/api/api-token']]) {
    const r = await srv.request(method, path, { key: null, body: method === 'POST' ? { name: 'x' } : undefined });
    expectError(r, 401, 'request is not authenticated');
  }
});

test('"Bearer " with an empty token -> 401 "no authorization token provided" (curl)', async () => {
  const r = await srv.curl('/api/stream', ['-H', 'Authorization: Bearer '], { key: null });
  assert.equal(r.status, 401, `curl -H "Authorization: Bearer " GET /api/stream -> ${r.status} ${r.body}`);
  assert.deepEqual(r.json, { errors: ['no authorization token provided'] }, `body: ${r.body}`);
  assert.match(r.headers['content-type'] || '', /^application\/json/i, 'Content-Type of the 401');
  assert.match(r.headers.vary || '', /authorization/i, 'Vary of the 401');
});

test('unknown key -> 401 "no token found", key not echoed', async () => {
  const bogus = randomUUID();
  const r = await srv.request('GET', '/api/stream', { key: bogus });
  expectError(r, 401, 'no token found');
  assert.ok(!r.text.includes(bogus), `${show(r)}: the 401 body must not echo the key`);
});

test('unsupported scheme "Foo x" -> 401 "unsupported authorization header scheme: Foo"', async () => {
  const r = await srv.request('GET', '/api/stream', { authorization: 'Foo x' });
  expectError(r, 401, 'unsupported authorization header scheme: Foo');
});

test('the SDK with a wrong key gets an HTTP 401 error (not a parse error)', async () => {
  const err = await sdkFails('stream.getAll with a wrong key', srv.sdk(randomUUID()).stream.getAll(), 401);
  assert.deepEqual(JSON.parse(err.body), { errors: ['no token found'] });
});

test('Content-Type and Vary: Authorization on 200, 201, 204, 401, 404, 422 (curl)', async () => {
  const created = await srv.curl('/api/stream', ['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', '{"name":"hdr"}']);
  assert.equal(created.status, 201, `curl POST /api/stream -> ${created.status} ${created.body}`);
  const id = created.json.id;
  const cases = [
    ['GET /api/stream', await srv.curl('/api/stream'), 200],
    ['POST /api/stream', created, 201],
    ['GET /api/stream/{id}', await srv.curl(`/api/stream/${id}`), 200],
    ['PATCH /api/stream/{id}', await srv.curl(`/api/stream/${id}`, ['-X', 'PATCH', '-H', 'Content-Type: application/json', '--data-binary', '{"name":"hdr2"}']), 204],
    ['GET /api/stream (no auth)', await srv.curl('/api/stream', [], { key: null }), 401],
    ['GET /api/stream/{missing}', await srv.curl(`/api/stream/${randomUUID()}`), 404],
    ['POST /api/stream {foo}', await srv.curl('/api/stream', ['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', '{"name":"x","foo":1}']), 422],
  ];
  for (const [what, r, status] of cases) {
    assert.equal(r.status, status, `curl ${what} -> ${r.status} ${r.body}`);
    assertCommonHeaders({ ...r, method: 'curl', url: what });
  }
});

test('CORS preflight allows Authorization; responses carry Access-Control-Allow-Origin', async () => {
  const origin = 'http://dashboard.example';
  const pre = await srv.request('OPTIONS', '/api/stream', {
    key: null,
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    },
  });
  assert.equal(pre.status, 204, `${show(pre)}: preflight must answer 204`);
  const acao = pre.headers.get('access-control-allow-origin');
  assert.ok(acao === '*' || acao === origin, `${show(pre)}: Access-Control-Allow-Origin must be * or the origin, got ${acao}`);
  const allowHeaders = (pre.headers.get('access-control-allow-headers') || '').toLowerCase().split(',').map((h) => h.trim());
  assert.ok(allowHeaders.includes('authorization'), `${show(pre)}: Access-Control-Allow-Headers must list authorization explicitly, got ${pre.headers.get('access-control-allow-headers')}`);
  assert.ok(allowHeaders.includes('content-type'), `${show(pre)}: Access-Control-Allow-Headers must list content-type, got ${pre.headers.get('access-control-allow-headers')}`);
  const methods = (pre.headers.get('access-control-allow-methods') || '').toUpperCase();
  for (const m of ['GET', 'POST', 'PATCH', 'DELETE']) {
    assert.ok(methods.includes(m), `${show(pre)}: Access-Control-Allow-Methods must include ${m}, got ${methods}`);
  }
  const get = await srv.request('GET', '/api/stream', { headers: { origin } });
  expectStatus(get, 200);
  const acao2 = get.headers.get('access-control-allow-origin');
  assert.ok(acao2 === '*' || acao2 === origin, `${show(get)} with Origin: Access-Control-Allow-Origin must be * or the origin, got ${acao2}`);
});

test('API keys: create, list, use, revoke', async () => {
  const before = Date.now();
  const c = await srv.request('POST', '/api/api-token', { body: { name: 'ci' } });
  const tok = expectStatus(c, 201);
  for (const k of ['id', 'name', 'userId', 'projectId', 'createdAt', 'key']) {
    assert.ok(k in tok, `${show(c)}: the new token must carry "${k}"`);
  }
  for (const k of Object.keys(tok)) {
    assert.ok(!/hash/i.test(k), `${show(c)}: the token must not expose "${k}"`);
  }
  assert.match(tok.id, UUID_RE, 'token id');
  assert.equal(tok.name, 'ci');
  assert.equal(typeof tok.key, 'string');
  assert.ok(tok.key.length >= 16, 'key must be a real secret');
  assert.notEqual(tok.key, tok.id, 'the secret key must not be the public token id');
  assert.ok(tok.createdAt >= before - 2000 && tok.createdAt <= Date.now() + 2000, `createdAt ${tok.createdAt} must be ms close to now`);

  // the new key works, and streams it creates are named after it
  const s = await srv.request('POST', '/api/stream', { key: tok.key, body: { name: 'by-ci' } });
  const stream = expectStatus(s, 201);
  assert.equal(stream.createdByTokenName, 'ci', `${show(s)}: createdByTokenName`);
  assert.equal(stream.userId, tok.userId, 'stream userId = token userId');
  assert.equal(stream.projectId, tok.projectId, 'stream projectId = token projectId');

  // listed without the secret or its hash
  const l = await srv.request('GET', '/api/api-token');
  const list = expectStatus(l, 200);
  assert.ok(Array.isArray(list), `${show(l)}: must be an array`);
  const mine = list.find((t) => t.id === tok.id);
  assert.ok(mine, `${show(l)}: the new token ${tok.id} must be listed`);
  assert.equal(mine.name, 'ci');
  for (const t of list) {
    for (const k of Object.keys(t)) {
      assert.ok(!/key|hash|secret/i.test(k), `${show(l)}: token list must not expose "${k}"`);
    }
    assert.ok(!JSON.stringify(t).includes(tok.key), `${show(l)}: the secret must not appear in the list`);
  }
  assert.ok(!l.text.includes(srv.apiKey), `${show(l)}: the bootstrap key must not appear in the list`);

  // revoke: 204, then the key is unknown
  const d = await srv.request('DELETE', `/api/api-token/${tok.id}`);
  expectStatus(d, 204);
  const after = await srv.request('GET', '/api/stream', { key: tok.key });
  expectError(after, 401, 'no token found');
  assert.ok(!after.text.includes(tok.key), 'revoked key must not be echoed');
  const l2 = await srv.request('GET', '/api/api-token');
  assert.ok(!expectStatus(l2, 200).some((t) => t.id === tok.id), `${show(l2)}: revoked token still listed`);
  const d2 = await srv.request('DELETE', `/api/api-token/${tok.id}`);
  expectError(d2, 404);
  // the stream it created is still there for the user's other keys
  expectStatus(await srv.request('GET', `/api/stream/${stream.id}`), 200);
});

test('API keys: another user cannot see or revoke my tokens', async () => {
  const b = await srv.addUser('auth-bob');
  const c = await srv.request('POST', '/api/api-token', { body: { name: 'keep-me' } });
  const tok = expectStatus(c, 201);
  const lb = await srv.request('GET', '/api/api-token', { key: b.apiKey });
  const listB = expectStatus(lb, 200);
  assert.ok(!listB.some((t) => t.id === tok.id), `${show(lb)}: user B sees user A's token`);
  const d = await srv.request('DELETE', `/api/api-token/${tok.id}`, { key: b.apiKey });
  expectError(d, 404);
  const still = await srv.request('GET', '/api/stream', { key: tok.key });
  expectStatus(still, 200);
  // B's own key from `users add` works, through the SDK too
  const res = await sdk('stream.getAll as user B', srv.sdk(b.apiKey).stream.getAll());
  assert.deepEqual(res.data, [], 'a new user has no streams');
});

test('SIGTERM shuts the server down cleanly (exit 0 within 10 s)', async () => {
  await srv.stop();
});
