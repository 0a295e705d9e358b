// Error responses: schema validation (422 with AJV error strings), the documented 400s, malformed
// JSON, bodies over 1 MiB (413), 404 bodies (API.md sec. 1, 3, 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { expectStatus, expectError, expect422, show } from './lib/contract.mjs';

const srv = await startServer();
const post = (body) => srv.request('POST', '/api/stream', { body });
const P = (extra) => ({ name: 'p', width: 640, height: 360, bitrate: 800000, fps: 30, ...extra });

test('422: unknown field on create', async () => {
  expect422(await post({ name: 'x', foo: 1 }), {
    keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'foo' },
  });
  // read-only fields are not part of the create payload either
  expect422(await post({ name: 'x', id: randomUUID() }), { keyword: 'additionalProperties', params: { additionalProperty: 'id' } });
  expect422(await post({ name: 'x', streamKey: 'abcd-efgh-ijkl-mnop' }), { keyword: 'additionalProperties' });
});

test('422: missing or mistyped name', async () => {
  expect422(await post({}), { keyword: 'required', params: { missingProperty: 'name' } });
  expect422(await post({ record: true }), { keyword: 'required', params: { missingProperty: 'name' } });
  expect422(await post({ name: 5 }), { keyword: 'type', instancePath: '/name' });
  expect422(await post({ name: null }), { keyword: 'type', instancePath: '/name' });
  expect422(await post([]), { keyword: 'type' });
});

test('422: invalid ffmpeg profiles', async () => {
  expect422(await post({ name: 'x', profiles: [P({ width: 100 })] }), { keyword: 'minimum', instancePath: '/profiles/0/width' });
  expect422(await post({ name: 'x', profiles: [P({ height: 127 })] }), { keyword: 'minimum', instancePath: '/profiles/0/height' });
  expect422(await post({ name: 'x', profiles: [P({ bitrate: 399 })] }), { keyword: 'minimum', instancePath: '/profiles/0/bitrate' });
  expect422(await post({ name: 'x', profiles: [P({ gop: 2 })] }), { keyword: 'type', instancePath: '/profiles/0/gop' });
  expect422(await post({ name: 'x', profiles: [P({ width: 640.5 })] }), { keyword: 'type', instancePath: '/profiles/0/width' });
  expect422(await post({ name: 'x', profiles: [P({ profile: 'H265Main' })] }), { keyword: 'enum', instancePath: '/profiles/0/profile' });
  expect422(await post({ name: 'x', profiles: [P({ encoder: 'HEVC' })] }), { keyword: 'enum', instancePath: '/profiles/0/encoder' });
  expect422(await post({ name: 'x', profiles: [P({ extra: 1 })] }), { keyword: 'additionalProperties', instancePath: '/profiles/0' });
  const { fps, ...noFps } = P();
  assert.equal(fps, 30);
  expect422(await post({ name: 'x', profiles: [P(), noFps] }), { keyword: 'required', instancePath: '/profiles/1', params: { missingProperty: 'fps' } });
  expect422(await post({ name: 'x', profiles: 'all' }), { keyword: 'type', instancePath: '/profiles' });
});

test('422: profile names that cannot name a rendition directory (POST and PATCH)', async () => {
  const s = expectStatus(await post({ name: 'names', profiles: [P({ name: '360p0' })] }), 201);
  const patch = (body) => srv.request('PATCH', `/api/stream/${s.id}`, { body });
  const pattern = 'must match pattern "^[A-Za-z0-9_-][A-Za-z0-9._-]*$"';
  const cases = [
    ...['..', '.', '../up', 'a/b', 'a b', '.hidden', 'caf\u00e9'].map((name) => ({ name, keyword: 'pattern', message: pattern })),
    { name: 'n'.repeat(64), keyword: 'maxLength', message: 'must NOT have more than 63 characters' },
    // data/live/{playbackId}/source is the source rendition
    { name: 'source', keyword: 'not', message: 'must not be "source" (reserved for the source rendition)' },
  ];
  for (const { name, keyword, message } of cases) {
    const profiles = [P({ name: '240p0' }), P({ name })];
    for (const [what, res] of [['POST', await post({ name: 'x', profiles })], ['PATCH', await patch({ profiles })]]) {
      const errors = expect422(res, { keyword, instancePath: '/profiles/1/name' });
      const hit = errors.find((e) => e.keyword === keyword && e.instancePath === '/profiles/1/name');
      assert.equal(hit.message, message, `${what} profile name ${JSON.stringify(name)}: ${show(res)}`);
      assert.equal(errors.length, 1, `${what} profile name ${JSON.stringify(name)}: one error, ${show(res)}`);
    }
  }
  // the refused PATCHes changed nothing; usable names still pass
  assert.deepEqual(expectStatus(await srv.request('GET', `/api/stream/${s.id}`), 200).profiles.map((p) => p.name), ['360p0']);
  expectStatus(await patch({ profiles: [P({ name: 'Source.v2_a-1' })] }), 204);
  expectStatus(await post({ name: 'x', profiles: [P({ name: 'sources' })] }), 201);
});

test('422: a ladder the transcoder could not run: repeated names, more than 16 profiles', async () => {
  const twice = expect422(await post({ name: 'x', profiles: [P({ name: '720p0' }), P({ name: '360p0' }), P({ name: '720p0' })] }),
    { keyword: 'uniqueNames', instancePath: '/profiles/2' });
  assert.equal(twice.length, 1, JSON.stringify(twice));
  assert.equal(twice[0].message, 'must NOT repeat the name of item 0');
  const seventeen = Array.from({ length: 17 }, (_, i) => P({ name: `p${i}` }));
  const many = expect422(await post({ name: 'x', profiles: seventeen }), { keyword: 'maxItems', instancePath: '/profiles' });
  assert.equal(many[0].message, 'must NOT have more than 16 items');
  expectStatus(await post({ name: 'x', profiles: seventeen.slice(0, 16) }), 201);
});

test('422: recordingSpec with a bad profile; other bad optional fields', async () => {
  expect422(await post({ name: 'x', record: true, recordingSpec: { profiles: [{ name: 'r', width: 1280 }] } }), {
    keyword: 'required', instancePath: '/recordingSpec/profiles/0', params: { missingProperty: 'bitrate' },
  });
  expect422(await post({ name: 'x', record: true, recordingSpec: { profiles: [{ bitrate: 1000000, encoder: 'AV1' }] } }), {
    keyword: 'enum', instancePath: '/recordingSpec/profiles/0/encoder',
  });
  expect422(await post({ name: 'x', record: 'yes' }), { keyword: 'type', instancePath: '/record' });
  expect422(await post({ name: 'x', playbackPolicy: { type: 'bogus' } }), { keyword: 'enum', instancePath: '/playbackPolicy/type' });
  expect422(await post({ name: 'x', userTags: { a: { nested: true } } }));
});

test('400: recordingSpec without record=true', async () => {
  const spec = { profiles: [{ name: 'r', bitrate: 1000000 }] };
  expectError(await post({ name: 'x', recordingSpec: spec }), 400, 'recordingSpec is only supported with record=true');
  expectError(await post({ name: 'x', record: false, recordingSpec: spec }), 400, 'recordingSpec is only supported with record=true');
  expectStatus(await post({ name: 'x', record: true, recordingSpec: spec }), 201);
});

test('400: malformed JSON bodies', async () => {
  for (const body of ['{"name":', '{name: "x"}', '{"name":"x"}}', 'not json at all', '{"name":"x",}']) {
    const r = await srv.request('POST', '/api/stream', { body });
    expectError(r, 400);
  }
  const s = expectStatus(await post({ name: 'for-patch' }), 201);
  expectError(await srv.request('PATCH', `/api/stream/${s.id}`, { body: '{"name":' }), 400);
  const t = await srv.request('POST', '/api/api-token', { body: '{"name":' });
  expectError(t, 400);
});

function bigJsonFile(bytes) {
  const file = path.join(srv.dataDir, `big-${bytes}.json`);
  const prefix = '{"name":"';
  const suffix = '"}';
  fs.writeFileSync(file, prefix + 'a'.repeat(bytes - prefix.length - suffix.length) + suffix);
  return file;
}

test('413: Node fetch (the SDK\'s transport) posting 2 and 12 MiB reads the 413 body, no broken pipe', async () => {
  for (const mib of [2, 12]) {
    const r = await srv.request('POST', '/api/stream', { body: `{"name":"${'x'.repeat(mib * 1024 * 1024)}"}` });
    assert.equal(r.status, 413, `${mib} MiB: ${r.status} ${r.text.slice(0, 200)}`);
    assert.ok(Array.isArray(r.json?.errors), `${mib} MiB: the 413 body is {"errors":[...]}: ${r.text.slice(0, 200)}`);
  }
  const after = await srv.request('GET', '/api/stream');
  assert.equal(after.status, 200, 'the server answers normally after');
});

test('413: bodies over 1 MiB (curl, with Content-Length and chunked)', async () => {
  const file = bigJsonFile(1024 * 1024 + 4096);
  const args = ['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', `@${file}`];
  const r = await srv.curl('/api/stream', args);
  assert.equal(r.status, 413, `curl POST /api/stream with a ${fs.statSync(file).size}-byte body -> ${r.status} ${r.body.slice(0, 300)} (curl: ${r.curlStderr})`);
  assert.ok(r.json && Array.isArray(r.json.errors) && r.json.errors.length > 0 && r.json.errors.every((e) => typeof e === 'string'),
    `413 body must be {"errors":[...]}, got ${r.body.slice(0, 300)}`);
  assert.match(r.headers['content-type'] || '', /^application\/json/i, '413 Content-Type');

  const chunked = await srv.curl('/api/stream', [...args, '-H', 'Transfer-Encoding: chunked']);
  assert.equal(chunked.status, 413, `curl POST /api/stream chunked, over 1 MiB -> ${chunked.status} ${chunked.body.slice(0, 300)} (curl: ${chunked.curlStderr})`);
  assert.ok(chunked.json && Array.isArray(chunked.json.errors), `chunked 413 body must be {"errors":[...]}, got ${chunked.body.slice(0, 300)}`);

  const s = expectStatus(await post({ name: 'target' }), 201);
  const p = await srv.curl(`/api/stream/${s.id}`, ['-X', 'PATCH', '-H', 'Content-Type: application/json', '--data-binary', `@${file}`]);
  assert.equal(p.status, 413, `curl PATCH /api/stream/{id} over 1 MiB -> ${p.status} ${p.body.slice(0, 300)}`);

  // the server is still healthy and the stream unchanged
  const g = await srv.request('GET', `/api/stream/${s.id}`);
  assert.equal(expectStatus(g, 200).name, 'target', show(g));
});

test('a body just under 1 MiB is accepted', async () => {
  const file = bigJsonFile(1000 * 1000);
  const r = await srv.curl('/api/stream', ['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', `@${file}`]);
  assert.equal(r.status, 201, `curl POST /api/stream with a 1,000,000-byte body -> ${r.status} ${r.body.slice(0, 300)}`);
  assert.equal(r.json.name.length, 1000 * 1000 - 11, 'the long name is stored whole');
});

test('404 bodies for missing resources', async () => {
  const id = randomUUID();
  expectError(await srv.request('GET', `/api/stream/${id}`), 404, 'not found');
  expectError(await srv.request('PATCH', `/api/stream/${id}`, { body: { name: 'x' } }), 404, 'not found');
  expectError(await srv.request('DELETE', `/api/stream/${id}`), 404, 'not found');
  expectError(await srv.request('DELETE', `/api/stream/${id}/terminate`), 404, 'not found');
  expectError(await srv.request('GET', `/api/session/${id}`), 404, 'not found');
  expectError(await srv.request('DELETE', `/api/api-token/${id}`), 404);
});

test('the server is healthy after all the bad requests', async () => {
  const r = await srv.request('GET', '/healthz', { key: null });
  assert.equal(r.status, 200, show(r));
  expectStatus(await srv.request('GET', '/api/stream'), 200);
});

test('SIGTERM shuts the server down cleanly (exit 0 within 10 s)', async () => {
  await srv.stop();
});
