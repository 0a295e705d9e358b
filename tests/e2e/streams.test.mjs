// Streams resource over raw HTTP: exact fields, defaults, list/pagination/filters/order, patch,
// delete, terminate, lookups (API.md sec. 1 and 3). The SDK-driven flow is in sdk.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import {
  expectStatus, expectError, expect422, assertNewStream, show, nextLink, DEFAULT_PROFILES, sdk,
} from './lib/contract.mjs';

const srv = await startServer();

async function create(body, key) {
  const before = Date.now();
  const r = await srv.request('POST', '/api/stream', { body, key });
  const s = expectStatus(r, 201);
  return { s, r, before, after: Date.now() };
}

async function getStream(id, key) {
  return expectStatus(await srv.request('GET', `/api/stream/${id}`, { key }), 200);
}

const CUSTOM_PROFILES = [
  { name: '1080p', width: 1920, height: 1080, bitrate: 6000000, fps: 30, fpsDen: 1, quality: 23, gop: '2.0', profile: 'H264High', encoder: 'H.264' },
  { name: '144p', width: 256, height: 144, bitrate: 400, fps: 0 },
];

test('POST /api/stream without profiles: 201, every default, the default ladder', async () => {
  const { s, r, before, after } = await create({ name: 'plain' });
  assertNewStream(s, { name: 'plain', before, after, what: show(r) });
  assert.deepEqual(s.profiles, DEFAULT_PROFILES, `${show(r)}: profiles must be the default ladder`);
  assert.equal(s.record, false);
  const got = await getStream(s.id);
  assert.deepEqual(got, s, `GET /api/stream/${s.id} must return the created stream unchanged`);
});

test('POST /api/stream with profiles null -> default ladder; [] kept; custom kept as given', async () => {
  const a = await create({ name: 'null-profiles', profiles: null });
  assertNewStream(a.s, { name: 'null-profiles', before: a.before, after: a.after, what: show(a.r) });
  assert.deepEqual(a.s.profiles, DEFAULT_PROFILES, `${show(a.r)}: profiles null must give the default ladder`);

  const b = await create({ name: 'empty-profiles', profiles: [] });
  assert.deepEqual(b.s.profiles, [], `${show(b.r)}: profiles [] must be kept as []`);
  assert.deepEqual((await getStream(b.s.id)).profiles, [], 'GET after create with profiles []');

  const c = await create({ name: 'custom-profiles', profiles: CUSTOM_PROFILES });
  assertNewStream(c.s, { name: 'custom-profiles', before: c.before, after: c.after, what: show(c.r) });
  assert.deepEqual(c.s.profiles, CUSTOM_PROFILES, `${show(c.r)}: profiles must be kept exactly as given`);
  assert.deepEqual((await getStream(c.s.id)).profiles, CUSTOM_PROFILES, 'GET after create with custom profiles');
});

test('POST /api/stream optional fields: creatorId, userTags, playbackPolicy, record + recordingSpec', async () => {
  const a = await create({ name: 'creator', creatorId: 'x' });
  assert.deepEqual(a.s.creatorId, { type: 'unverified', value: 'x' }, `${show(a.r)}: creatorId "x"`);
  const b = await create({ name: 'creator-obj', creatorId: { type: 'unverified', value: 'y' } });
  assert.deepEqual(b.s.creatorId, { type: 'unverified', value: 'y' }, `${show(b.r)}: creatorId object`);

  const userTags = { team: 'video', tier: 3, list: ['a', 1] };
  const spec = { profiles: [{ name: 'rec720', width: 1280, height: 720, bitrate: 3000000, encoder: 'HEVC' }] };
  const c = await create({ name: 'full', userTags, playbackPolicy: { type: 'public' }, record: true, recordingSpec: spec });
  assertNewStream(c.s, { name: 'full', before: c.before, after: c.after, what: show(c.r) });
  assert.equal(c.s.record, true, `${show(c.r)}: record`);
  assert.deepEqual(c.s.userTags, userTags, `${show(c.r)}: userTags`);
  assert.deepEqual(c.s.playbackPolicy, { type: 'public' }, `${show(c.r)}: playbackPolicy`);
  assert.deepEqual(c.s.recordingSpec, spec, `${show(c.r)}: recordingSpec`);
  const got = await getStream(c.s.id);
  assert.deepEqual(got, c.s, 'GET returns the same optional fields');

  // stream keys and playback ids are unique
  const ids = new Set([a.s.playbackId, b.s.playbackId, c.s.playbackId]);
  assert.equal(ids.size, 3, 'playbackIds must be unique');
});

test('GET /api/stream/playback/{playbackId} and /api/stream/key/{streamKey}', async () => {
  const { s } = await create({ name: 'lookup' });
  const p = await srv.request('GET', `/api/stream/playback/${s.playbackId}`);
  assert.deepEqual(expectStatus(p, 200), s, `${show(p)}: must return the stream`);
  const k = await srv.request('GET', `/api/stream/key/${s.streamKey}`);
  assert.deepEqual(expectStatus(k, 200), s, `${show(k)}: must return the stream`);
  expectError(await srv.request('GET', '/api/stream/playback/0000000000000000'), 404, 'not found');
  expectError(await srv.request('GET', '/api/stream/key/0000-0000-0000-0000'), 404, 'not found');
});

test('GET /api/stream/{id}: missing, malformed id -> 404 not found', async () => {
  expectError(await srv.request('GET', `/api/stream/${randomUUID()}`), 404, 'not found');
  expectError(await srv.request('GET', '/api/stream/not-a-uuid'), 404, 'not found');
});

test('GET /api/stream: pagination with limit, Link rel=next, cursor, count, default limit 20', async () => {
  const u = await srv.addUser('pager');
  const created = [];
  for (let i = 0; i < 25; i++) {
    const { s } = await create({ name: `page-${String(i).padStart(2, '0')}` }, u.apiKey);
    created.push(s);
  }
  // follow Link rel=next with limit=10: 10, 10, 5
  let url = '/api/stream?limit=10';
  const pages = [];
  const links = [];
  for (let n = 0; url && n < 5; n++) {
    const r = await srv.request('GET', url, { key: u.apiKey });
    const page = expectStatus(r, 200);
    assert.ok(Array.isArray(page), `${show(r)}: list must be a plain array`);
    pages.push(page);
    url = nextLink(r);
    links.push(url);
    if (url) {
      assert.match(url, /^https?:\/\/[^/]+\/api\/stream\?/, `${show(r)}: Link must be a full URL to /api/stream, got ${url}`);
      const q = new URL(url).searchParams;
      assert.equal(q.get('cursor'), `skip${10 * (n + 1)}`, `${show(r)}: Link cursor must be skip${10 * (n + 1)}, got ${url}`);
      assert.equal(q.get('limit'), '10', `${show(r)}: Link must keep limit=10, got ${url}`);
    }
  }
  assert.deepEqual(pages.map((p) => p.length), [10, 10, 5], `page sizes with limit=10 following Link (links: ${JSON.stringify(links)})`);
  assert.equal(links[2], null, 'the last page must have no Link header');
  const seen = pages.flat().map((s) => s.id);
  assert.equal(new Set(seen).size, 25, 'pages must not repeat a stream');
  assert.deepEqual([...seen].sort(), created.map((s) => s.id).sort(), 'pages must cover every stream');
  // default order: lastSeen DESC, createdAt DESC -> newest first
  const createdAts = pages.flat().map((s) => s.createdAt);
  for (let i = 1; i < createdAts.length; i++) {
    assert.ok(createdAts[i - 1] >= createdAts[i], `default order must be createdAt DESC: ${createdAts.join(',')}`);
  }
  assert.equal(pages[0][0].createdAt, Math.max(...created.map((s) => s.createdAt)), 'the newest stream comes first by default');

  // explicit cursor
  const c = await srv.request('GET', '/api/stream?limit=10&cursor=skip20', { key: u.apiKey });
  assert.deepEqual(expectStatus(c, 200).map((s) => s.id), pages[2].map((s) => s.id), `${show(c)}: cursor=skip20`);
  assert.equal(c.headers.get('link'), null, `${show(c)}: no Link on the last page`);

  // default limit 20, with Link
  const d = await srv.request('GET', '/api/stream', { key: u.apiKey });
  assert.equal(expectStatus(d, 200).length, 20, `${show(d)}: default limit is 20`);
  const dl = nextLink(d);
  assert.ok(dl, `${show(d)}: a full default page must carry Link rel=next`);
  assert.equal(new URL(dl).searchParams.get('cursor'), 'skip20', `Link of the default page: ${dl}`);
  const d2 = await srv.request('GET', dl, { key: u.apiKey });
  assert.equal(expectStatus(d2, 200).length, 5, `${show(d2)}: page after skip20`);

  // limit above 1000 is capped (all 25 fit), limit nonsense falls back to 20
  const big = await srv.request('GET', '/api/stream?limit=5000', { key: u.apiKey });
  assert.equal(expectStatus(big, 200).length, 25, `${show(big)}`);
  assert.equal(big.headers.get('link'), null, `${show(big)}: no Link when everything fits`);
  const all = await srv.request('GET', '/api/stream?limit=1000', { key: u.apiKey });
  assert.equal(expectStatus(all, 200).length, 25, `${show(all)}`);
  for (const bad of ['0', '-3', 'abc']) {
    const r = await srv.request('GET', `/api/stream?limit=${bad}`, { key: u.apiKey });
    assert.equal(expectStatus(r, 200).length, 20, `${show(r)}: limit=${bad} must fall back to 20`);
  }

  // count=1 -> X-Total-Count
  const cnt = await srv.request('GET', '/api/stream?limit=10&count=1', { key: u.apiKey });
  expectStatus(cnt, 200);
  assert.equal(cnt.headers.get('x-total-count'), '25', `${show(cnt)}: X-Total-Count`);

  // Link keeps filters, order and count (URL-encoded) and leads to the right next page
  const f = encodeURIComponent(JSON.stringify([{ id: 'name', value: 'page-1' }])); // page-10 .. page-19
  const fr = await srv.request('GET', `/api/stream?filters=${f}&limit=4&order=createdAt-false&count=1`, { key: u.apiKey });
  const fp1 = expectStatus(fr, 200);
  assert.equal(fr.headers.get('x-total-count'), '10', `${show(fr)}: X-Total-Count with a filter`);
  const fl = nextLink(fr);
  assert.ok(fl, `${show(fr)}: Link rel=next expected`);
  const fr2 = await srv.request('GET', fl, { key: u.apiKey });
  const fp2 = expectStatus(fr2, 200);
  const fr3 = await srv.request('GET', nextLink(fr2) ?? 'missing-link', { key: u.apiKey });
  const fp3 = expectStatus(fr3, 200);
  const fnames = [...fp1, ...fp2, ...fp3].map((s) => s.name);
  assert.deepEqual([...fnames].sort(), Array.from({ length: 10 }, (_, i) => `page-1${i}`), `following Link with filters (${fl})`);
  assert.equal(fr3.headers.get('link'), null, `${show(fr3)}: no Link on the last filtered page`);

  // order=createdAt-false -> ascending
  const asc = await srv.request('GET', '/api/stream?order=createdAt-false&limit=100', { key: u.apiKey });
  const ascList = expectStatus(asc, 200);
  for (let i = 1; i < ascList.length; i++) {
    assert.ok(ascList[i - 1].createdAt <= ascList[i].createdAt, `${show(asc)}: must be createdAt ASC`);
  }
  assert.equal(ascList[0].createdAt, Math.min(...created.map((s) => s.createdAt)), `${show(asc)}: the oldest stream comes first`);

  // streamsonly=1 -> parent streams only (all of them here); the SDK sends it too
  const so = await srv.request('GET', '/api/stream?streamsonly=1&limit=100', { key: u.apiKey });
  assert.equal(expectStatus(so, 200).length, 25, `${show(so)}`);
  const viaSdk = await sdk('stream.getAll("1")', srv.sdk(u.apiKey).stream.getAll('1'));
  assert.equal(viaSdk.data.length, 20, 'SDK stream.getAll returns the default page of 20');
});

test('GET /api/stream: filters (substring, numeric, bool, unknown field)', async () => {
  const u = await srv.addUser('filterer');
  const mk = async (body) => (await create(body, u.apiKey)).s;
  const a = await mk({ name: 'Alpha ABC one' });
  const b = await mk({ name: 'xabcx' });
  const c = await mk({ name: 'nothing', record: true });
  const d = await mk({ name: 'other' });
  const list = async (filters, extra = '') => {
    const r = await srv.request('GET', `/api/stream?filters=${encodeURIComponent(JSON.stringify(filters))}${extra}`, { key: u.apiKey });
    return { r, ids: expectStatus(r, 200).map((s) => s.id).sort() };
  };
  let res = await list([{ id: 'name', value: 'abc' }]);
  assert.deepEqual(res.ids, [a.id, b.id].sort(), `${show(res.r)}: name substring, case-insensitive`);
  res = await list([{ id: 'name', value: 'ABC' }], '&count=1');
  assert.deepEqual(res.ids, [a.id, b.id].sort(), `${show(res.r)}: name substring, case-insensitive (upper)`);
  assert.equal(res.r.headers.get('x-total-count'), '2', `${show(res.r)}: X-Total-Count with filters`);
  res = await list([{ id: 'record', value: true }]);
  assert.deepEqual(res.ids, [c.id], `${show(res.r)}: record=true`);
  res = await list([{ id: 'record', value: false }]);
  assert.deepEqual(res.ids, [a.id, b.id, d.id].sort(), `${show(res.r)}: record=false`);
  const cut = c.createdAt;
  const expectGte = [a, b, c, d].filter((s) => s.createdAt >= cut).map((s) => s.id).sort();
  res = await list([{ id: 'createdAt', value: { gte: cut } }]);
  assert.deepEqual(res.ids, expectGte, `${show(res.r)}: createdAt gte ${cut}`);
  const expectLt = [a, b, c, d].filter((s) => s.createdAt < cut).map((s) => s.id).sort();
  res = await list([{ id: 'createdAt', value: { lt: cut } }]);
  assert.deepEqual(res.ids, expectLt, `${show(res.r)}: createdAt lt ${cut}`);
  expectStatus(await srv.request('PATCH', `/api/stream/${d.id}`, { key: u.apiKey, body: { suspended: true } }), 204);
  res = await list([{ id: 'suspended', value: true }]);
  assert.deepEqual(res.ids, [d.id], `${show(res.r)}: suspended=true`);
  res = await list([{ id: 'isActive', value: false }]);
  assert.deepEqual(res.ids, [a.id, b.id, c.id, d.id].sort(), `${show(res.r)}: isActive=false`);
  res = await list([{ id: 'id', value: b.id }]);
  assert.deepEqual(res.ids, [b.id], `${show(res.r)}: id exact match`);
  res = await list([{ id: 'playbackId', value: c.playbackId }]);
  assert.deepEqual(res.ids, [c.id], `${show(res.r)}: playbackId exact match`);
  res = await list([{ id: 'sourceSegments', value: { gt: 0 } }]);
  assert.deepEqual(res.ids, [], `${show(res.r)}: sourceSegments gt 0`);
  res = await list([{ id: 'name', value: 'abc' }, { id: 'record', value: false }]);
  assert.deepEqual(res.ids, [a.id, b.id].sort(), `${show(res.r)}: two filters combine with AND`);

  const bad = await srv.request('GET', `/api/stream?filters=${encodeURIComponent(JSON.stringify([{ id: 'x', value: 1 }]))}`, { key: u.apiKey });
  expectError(bad, 400, 'error parsing filters: Error: unknown field: "x"');
});

test('PATCH /api/stream/{id}: 204 and the fields change', async () => {
  const { s } = await create({ name: 'to-patch' });
  const patch = {
    name: 'patched',
    record: true,
    suspended: true,
    profiles: [{ name: '480p', width: 854, height: 480, bitrate: 1000000, fps: 25, gop: '2' }],
    userTags: { k: 'v', n: 7 },
    playbackPolicy: { type: 'public' },
  };
  const r = await srv.request('PATCH', `/api/stream/${s.id}`, { body: patch });
  expectStatus(r, 204);
  const got = await getStream(s.id);
  for (const [k, v] of Object.entries(patch)) {
    assert.deepEqual(got[k], v, `PATCH ${JSON.stringify(patch)} then GET: ${k}`);
  }
  for (const k of ['id', 'streamKey', 'playbackId', 'createdAt', 'userId', 'projectId', 'kind']) {
    assert.deepEqual(got[k], s[k], `PATCH must not change ${k}`);
  }

  const empty = await srv.request('PATCH', `/api/stream/${s.id}`, { body: {} });
  expectStatus(empty, 204);
  assert.deepEqual(await getStream(s.id), got, 'an empty patch changes nothing');

  expect422(await srv.request('PATCH', `/api/stream/${s.id}`, { body: { foo: 1 } }), { keyword: 'additionalProperties' });
  expect422(await srv.request('PATCH', `/api/stream/${s.id}`, { body: { id: randomUUID() } }), { keyword: 'additionalProperties' });
  expect422(await srv.request('PATCH', `/api/stream/${s.id}`, { body: { record: 'yes' } }), { keyword: 'type' });
  expectError(await srv.request('PATCH', `/api/stream/${randomUUID()}`, { body: { name: 'x' } }), 404, 'not found');
  assert.deepEqual(await getStream(s.id), got, 'rejected patches change nothing');
});

test('PATCH /api/stream/{id}/suspended and /record', async () => {
  const { s } = await create({ name: 'legacy-patch' });
  expectStatus(await srv.request('PATCH', `/api/stream/${s.id}/suspended`, { body: { suspended: true } }), 204);
  assert.equal((await getStream(s.id)).suspended, true, 'suspended after PATCH /suspended');
  expectStatus(await srv.request('PATCH', `/api/stream/${s.id}/record`, { body: { record: true } }), 204);
  assert.equal((await getStream(s.id)).record, true, 'record after PATCH /record');
  expectStatus(await srv.request('PATCH', `/api/stream/${s.id}/suspended`, { body: { suspended: false } }), 204);
  assert.equal((await getStream(s.id)).suspended, false, 'unsuspended');
  expectError(await srv.request('PATCH', `/api/stream/${randomUUID()}/suspended`, { body: { suspended: true } }), 404, 'not found');
});

test('DELETE /api/stream/{id}: 204, then 404 everywhere and absent from lists', async () => {
  const { s } = await create({ name: 'to-delete' });
  const keep = (await create({ name: 'keep' })).s;
  expectStatus(await srv.request('DELETE', `/api/stream/${s.id}`), 204);
  expectError(await srv.request('GET', `/api/stream/${s.id}`), 404, 'not found');
  expectError(await srv.request('PATCH', `/api/stream/${s.id}`, { body: { name: 'zombie' } }), 404, 'not found');
  expectError(await srv.request('DELETE', `/api/stream/${s.id}`), 404, 'not found');
  expectError(await srv.request('DELETE', `/api/stream/${s.id}/terminate`), 404, 'not found');
  expectError(await srv.request('GET', `/api/stream/playback/${s.playbackId}`), 404, 'not found');
  expectError(await srv.request('GET', `/api/stream/key/${s.streamKey}`), 404, 'not found');
  const l = await srv.request('GET', '/api/stream?limit=1000');
  const ids = expectStatus(l, 200).map((x) => x.id);
  assert.ok(!ids.includes(s.id), `${show(l)}: deleted stream still listed`);
  assert.ok(ids.includes(keep.id), `${show(l)}: other stream must stay listed`);
  expectError(await srv.request('DELETE', `/api/stream/${randomUUID()}`), 404, 'not found');
});

test('DELETE /api/stream {"ids":[...]}: bulk delete', async () => {
  const a = (await create({ name: 'bulk-a' })).s;
  const b = (await create({ name: 'bulk-b' })).s;
  const c = (await create({ name: 'bulk-c' })).s;
  expectStatus(await srv.request('DELETE', '/api/stream', { body: { ids: [a.id, b.id] } }), 204);
  expectError(await srv.request('GET', `/api/stream/${a.id}`), 404, 'not found');
  expectError(await srv.request('GET', `/api/stream/${b.id}`), 404, 'not found');
  expectStatus(await srv.request('GET', `/api/stream/${c.id}`), 200);
  expectError(await srv.request('DELETE', '/api/stream', { body: {} }), 422);
});

test('DELETE /api/stream/{id}/terminate: 204, lastTerminatedAt, 429 within 5 s', async () => {
  const { s } = await create({ name: 'to-terminate' });
  const before = Date.now();
  expectStatus(await srv.request('DELETE', `/api/stream/${s.id}/terminate`), 204);
  const got = await getStream(s.id);
  assert.equal(typeof got.lastTerminatedAt, 'number', `after terminate, lastTerminatedAt must be a number, got ${JSON.stringify(got.lastTerminatedAt)}`);
  assert.ok(got.lastTerminatedAt >= before - 2000 && got.lastTerminatedAt <= Date.now() + 2000, `lastTerminatedAt ${got.lastTerminatedAt} must be ms close to now`);
  expectError(await srv.request('DELETE', `/api/stream/${s.id}/terminate`), 429, 'too many terminate requests');
  expectError(await srv.request('DELETE', `/api/stream/${randomUUID()}/terminate`), 404, 'not found');
});

// started at load time so that the 5 s wait overlaps the other tests
const early = { stream: null, at: 0 };
{
  const r = await srv.request('POST', '/api/stream', { body: { name: 'terminate-twice' } });
  early.stream = r.json;
  early.first = await srv.request('DELETE', `/api/stream/${early.stream?.id}/terminate`);
  early.at = Date.now();
}

test('DELETE /api/stream/{id}/terminate again after 5 s -> 204', async () => {
  expectStatus(early.first, 204);
  const wait = early.at + 5300 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const first = (await getStream(early.stream.id)).lastTerminatedAt;
  expectStatus(await srv.request('DELETE', `/api/stream/${early.stream.id}/terminate`), 204);
  const second = (await getStream(early.stream.id)).lastTerminatedAt;
  assert.ok(second > first, `lastTerminatedAt must move forward on the second terminate (${first} -> ${second})`);
});

test('SIGTERM shuts the server down cleanly (exit 0 within 10 s)', async () => {
  await srv.stop();
});
