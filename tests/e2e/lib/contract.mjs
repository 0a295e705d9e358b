// What the API contract (shared/API.md sections 0-4, 8, 9) says responses look like, as reusable
// assertions. Every assertion message names the request, what was expected and what came back.
import assert from 'node:assert/strict';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const UUID_V4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const STREAM_KEY_RE = /^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/;
export const PLAYBACK_ID_RE = /^[0-9a-z]{16}$/;

/** The default ladder (API.md sec. 1) used when `profiles` is absent or null on create. */
export const DEFAULT_PROFILES = [
  { name: '240p0', fps: 0, bitrate: 250000, width: 426, height: 240, profile: 'H264ConstrainedHigh' },
  { name: '360p0', fps: 0, bitrate: 800000, width: 640, height: 360, profile: 'H264ConstrainedHigh' },
  { name: '480p0', fps: 0, bitrate: 1600000, width: 854, height: 480, profile: 'H264ConstrainedHigh' },
  { name: '720p0', fps: 0, bitrate: 3000000, width: 1280, height: 720, profile: 'H264ConstrainedHigh' },
];

/** Every field a Stream object may carry for an API-key caller (API.md sec. 1 table). */
export const STREAM_FIELDS = new Set([
  'id', 'name', 'kind', 'creatorId', 'userTags', 'lastSeen', 'sourceSegments', 'transcodedSegments',
  'sourceSegmentsDuration', 'transcodedSegmentsDuration', 'sourceBytes', 'transcodedBytes',
  'ingestRate', 'outgoingRate', 'isActive', 'isHealthy', 'issues', 'createdByTokenName', 'createdAt',
  'parentId', 'streamKey', 'pull', 'playbackId', 'playbackPolicy', 'profiles', 'projectId', 'record',
  'recordingSpec', 'multistream', 'suspended', 'lastTerminatedAt', 'userId', 'renditions',
]);

/** Every field a Session object may carry for a non-admin API-key caller (API.md sec. 2). */
export const SESSION_FIELDS = new Set([
  'id', 'kind', 'userId', 'name', 'lastSeen', 'sourceSegments', 'transcodedSegments',
  'sourceSegmentsDuration', 'transcodedSegmentsDuration', 'sourceBytes', 'transcodedBytes',
  'ingestRate', 'outgoingRate', 'isHealthy', 'issues', 'createdAt', 'parentId', 'projectId', 'record',
  'recordingStatus', 'recordingUrl', 'mp4Url', 'playbackId', 'profiles', 'recordingSpec',
  'sourceRecordingUrl', 'parentStream',
]);

export const STREAM_COUNTERS = [
  'sourceSegments', 'transcodedSegments', 'sourceSegmentsDuration', 'transcodedSegmentsDuration',
  'sourceBytes', 'transcodedBytes',
];
export const SESSION_COUNTERS = [...STREAM_COUNTERS, 'ingestRate', 'outgoingRate'];

/** "POST /api/stream -> 422 {...}" for assertion messages. */
export function show(res) {
  const path = res.url ? res.url.replace(/^https?:\/\/[^/]+/, '') : '';
  const body = res.text ?? res.body ?? '';
  return `${res.method ?? ''} ${path} -> ${res.status} ${body.length > 600 ? body.slice(0, 600) + '…' : body}`.trim();
}

/** Headers every response carries: Content-Type application/json (not for 204) and Vary: Authorization. */
export function assertCommonHeaders(res) {
  const get = (h) => (typeof res.headers.get === 'function' ? res.headers.get(h) : res.headers[h]);
  const vary = get('vary') || '';
  assert.ok(
    vary.split(',').map((v) => v.trim().toLowerCase()).includes('authorization'),
    `${show(res)}: expected header Vary to include Authorization, got Vary: ${JSON.stringify(get('vary'))}`,
  );
  if (res.status === 204) {
    const body = res.text ?? res.body ?? '';
    assert.equal(body, '', `${show(res)}: a 204 must have an empty body`);
  } else {
    const ct = get('content-type') || '';
    assert.match(
      ct,
      /^application\/json(\s*;.*)?$/i,
      `${show(res)}: expected Content-Type application/json, got ${JSON.stringify(get('content-type'))}`,
    );
  }
}

/** Status code plus the common headers; returns the parsed JSON body (undefined for 204). */
export function expectStatus(res, status) {
  assert.equal(res.status, status, `${show(res)}: expected status ${status}, got ${res.status}`);
  assertCommonHeaders(res);
  if (status !== 204) {
    assert.notEqual(res.json, undefined, `${show(res)}: body is not JSON`);
  }
  return res.json;
}

/**
 * An error response: status, common headers, body exactly {"errors":[string, ...]} (minItems 1);
 * when `message` is given, errors must be exactly [message].
 */
export function expectError(res, status, message) {
  const body = expectStatus(res, status);
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `${show(res)}: error body must be an object`);
  assert.deepEqual(Object.keys(body), ['errors'], `${show(res)}: error body must be {"errors":[...]} only`);
  assert.ok(Array.isArray(body.errors) && body.errors.length >= 1, `${show(res)}: errors must be a non-empty array`);
  for (const e of body.errors) assert.equal(typeof e, 'string', `${show(res)}: every error must be a string`);
  if (message !== undefined) {
    assert.deepEqual(body.errors, [message], `${show(res)}: expected errors ${JSON.stringify([message])}`);
  }
  return body.errors;
}

/**
 * A 422 schema error: every entry is a JSON-stringified AJV error object with instancePath,
 * keyword and message. `expect` ({keyword, instancePath?, params?}) must match one of them.
 */
export function expect422(res, expect) {
  const errors = expectError(res, 422);
  const parsed = errors.map((e) => {
    let o;
    try {
      o = JSON.parse(e);
    } catch {
      assert.fail(`${show(res)}: 422 error entry is not a JSON-stringified AJV error object: ${e}`);
    }
    assert.ok(o && typeof o === 'object', `${show(res)}: 422 error entry must stringify an object: ${e}`);
    for (const k of ['instancePath', 'keyword', 'message']) {
      assert.equal(typeof o[k], 'string', `${show(res)}: AJV error object lacks string "${k}": ${e}`);
    }
    return o;
  });
  if (expect) {
    const hit = parsed.find(
      (o) =>
        o.keyword === expect.keyword &&
        (expect.instancePath === undefined || o.instancePath === expect.instancePath) &&
        (expect.params === undefined ||
          Object.entries(expect.params).every(([k, v]) => o.params && o.params[k] === v)),
    );
    assert.ok(hit, `${show(res)}: expected an AJV error like ${JSON.stringify(expect)}`);
  }
  return parsed;
}

/** No field outside the allowed set (schema additionalProperties:false; private fields hidden). */
export function assertOnlyFields(obj, allowed, what) {
  const extra = Object.keys(obj).filter((k) => !allowed.has(k));
  assert.deepEqual(extra, [], `${what}: fields not in the API.md schema (or private): ${extra.join(', ')}`);
}

/** A freshly created stream as API.md sec. 1 says (raw JSON, not SDK-parsed). */
export function assertNewStream(s, { name, before, after, what = 'stream' }) {
  assertOnlyFields(s, STREAM_FIELDS, what);
  assert.match(s.id ?? '', UUID_V4_RE, `${what}: id must be a UUIDv4, got ${JSON.stringify(s.id)}`);
  assert.equal(s.name, name, `${what}: name`);
  assert.equal(s.kind, 'stream', `${what}: kind must be "stream"`);
  assert.match(s.streamKey ?? '', STREAM_KEY_RE, `${what}: streamKey must be xxxx-xxxx-xxxx-xxxx base36, got ${JSON.stringify(s.streamKey)}`);
  assert.equal(s.streamKey.slice(0, 4), s.id.slice(0, 4), `${what}: streamKey ${s.streamKey} must start with the first 4 chars of id ${s.id}`);
  assert.match(s.playbackId ?? '', PLAYBACK_ID_RE, `${what}: playbackId must be 16 base36 chars, got ${JSON.stringify(s.playbackId)}`);
  assert.equal(s.playbackId.slice(0, 4), s.id.slice(0, 4), `${what}: playbackId ${s.playbackId} must start with the first 4 chars of id ${s.id}`);
  assert.notEqual(s.playbackId, s.streamKey.replaceAll('-', ''), `${what}: playbackId must differ from streamKey`);
  assert.equal(typeof s.createdAt, 'number', `${what}: createdAt must be a number (ms)`);
  assert.ok(
    s.createdAt >= before - 2000 && s.createdAt <= after + 2000,
    `${what}: createdAt ${s.createdAt} must be Unix ms close to now (${before}..${after})`,
  );
  assert.equal(typeof s.userId, 'string', `${what}: userId must be a string`);
  assert.ok(s.userId.length > 0, `${what}: userId must not be empty`);
  assert.equal(typeof s.projectId, 'string', `${what}: projectId must be a string`);
  assert.ok(s.projectId.length > 0, `${what}: projectId must not be empty`);
  assert.equal(typeof s.createdByTokenName, 'string', `${what}: createdByTokenName must be a string`);
  assert.deepEqual(s.renditions, {}, `${what}: renditions must be {}`);
  const defaults = {
    lastSeen: 0, isActive: false, record: false, suspended: false, sourceSegments: 0, transcodedSegments: 0,
    sourceSegmentsDuration: 0, transcodedSegmentsDuration: 0, sourceBytes: 0, transcodedBytes: 0,
    lastTerminatedAt: null,
  };
  for (const [k, v] of Object.entries(defaults)) {
    if (k === 'record' && s.record === true) continue; // caller asked for record:true
    assert.ok(k in s, `${what}: default field ${k} must be present`);
    assert.strictEqual(s[k], v, `${what}: ${k} must default to ${JSON.stringify(v)}, got ${JSON.stringify(s[k])}`);
  }
  for (const k of ['isHealthy', 'issues', 'playbackPolicy']) {
    if (k in s) {
      assert.ok(s[k] === null || typeof s[k] === (k === 'isHealthy' ? 'boolean' : 'object'), `${what}: ${k} has the wrong type: ${JSON.stringify(s[k])}`);
    }
  }
  for (const k of ['ingestRate', 'outgoingRate']) {
    if (k in s) assert.equal(typeof s[k], 'number', `${what}: ${k} must be a number`);
  }
  // nullable only where the SDK allows null (API.md sec. 9)
  for (const [k, v] of Object.entries(s)) {
    if (v === null) {
      assert.ok(
        ['isHealthy', 'issues', 'playbackPolicy', 'lastTerminatedAt'].includes(k),
        `${what}: ${k} is null, but only isHealthy, issues, playbackPolicy, lastTerminatedAt may be null (omit the field instead)`,
      );
    }
  }
}

/** Session object shape (raw JSON) per API.md sec. 2 and the brief. */
export function assertSessionShape(s, { stream, publicUrl, what = 'session' }) {
  assertOnlyFields(s, SESSION_FIELDS, what);
  assert.match(s.id ?? '', UUID_RE, `${what}: id must be a UUID`);
  assert.equal(s.name, stream.name, `${what}: name must be the parent stream's name`);
  assert.equal(s.kind, 'session', `${what}: kind must be "session"`);
  assert.equal(s.parentId, stream.id, `${what}: parentId`);
  assert.equal(s.playbackId, stream.playbackId, `${what}: playbackId must be the parent's`);
  assert.equal(s.projectId, stream.projectId, `${what}: projectId`);
  assert.equal(s.userId, stream.userId, `${what}: userId`);
  assert.equal(typeof s.createdAt, 'number', `${what}: createdAt must be a number`);
  assert.equal(typeof s.lastSeen, 'number', `${what}: lastSeen must be a number`);
  for (const k of SESSION_COUNTERS) {
    assert.equal(typeof s[k], 'number', `${what}: counter ${k} must be a number, got ${JSON.stringify(s[k])}`);
  }
  assert.equal(typeof s.record, 'boolean', `${what}: record must be a boolean`);
  assert.ok(Array.isArray(s.profiles), `${what}: profiles must be an array`);
  assert.ok('isHealthy' in s, `${what}: isHealthy must be present (bool or null)`);
  assert.ok(s.isHealthy === null || typeof s.isHealthy === 'boolean', `${what}: isHealthy must be bool or null`);
  assert.ok('issues' in s, `${what}: issues must be present (array or null)`);
  assert.ok(s.issues === null || Array.isArray(s.issues), `${what}: issues must be an array or null`);
  if (!s.record) {
    for (const k of ['recordingStatus', 'recordingUrl', 'mp4Url']) {
      assert.ok(!(k in s), `${what}: ${k} must be absent when record is false, got ${JSON.stringify(s[k])}`);
    }
  } else {
    assert.ok(
      ['waiting', 'ready', 'failed', 'deleted', 'none'].includes(s.recordingStatus),
      `${what}: recordingStatus must be one of waiting|ready|failed|deleted|none when record is true, got ${JSON.stringify(s.recordingStatus)}`,
    );
    if (s.recordingStatus === 'ready') {
      assert.equal(s.recordingUrl, `${publicUrl}/recordings/${s.id}/index.m3u8`, `${what}: recordingUrl`);
      assert.equal(s.mp4Url, `${publicUrl}/recordings/${s.id}/output.mp4`, `${what}: mp4Url`);
    }
  }
}

/** Runs an SDK call; an SDK validation error (response the SDK cannot parse) fails with details. */
export async function sdk(what, promise) {
  try {
    return await promise;
  } catch (err) {
    if (err && err.name === 'SDKValidationError') {
      const detail = typeof err.pretty === 'function' ? err.pretty() : err.message;
      throw new Error(
        `SDK ${what}: the livepeer SDK could not parse the response (SDKValidationError):\n${detail}\n` +
          `raw value: ${JSON.stringify(err.rawValue)?.slice(0, 2000)}`,
      );
    }
    if (err && err.name === 'SDKError') {
      throw new Error(`SDK ${what}: unexpected HTTP ${err.statusCode} (${err.contentType}): ${err.body}`);
    }
    throw new Error(`SDK ${what}: ${err?.stack || err}`);
  }
}

/** Runs an SDK call that must fail with an HTTP error; returns the SDKError. */
export async function sdkFails(what, promise, status) {
  let res;
  try {
    res = await promise;
  } catch (err) {
    assert.equal(err?.name, 'SDKError', `SDK ${what}: expected an SDKError (HTTP ${status}), got ${err?.name}: ${err?.message}`);
    assert.equal(err.statusCode, status, `SDK ${what}: expected HTTP ${status}, got ${err.statusCode}: ${err.body}`);
    return err;
  }
  assert.fail(`SDK ${what}: expected HTTP ${status}, but the call succeeded: ${JSON.stringify(res?.statusCode)}`);
}

/** Parses a Link header `<url>; rel="next"`; returns the next URL or null. */
export function nextLink(res) {
  const h = typeof res.headers.get === 'function' ? res.headers.get('link') : res.headers.link;
  if (!h) return null;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(h);
  assert.ok(m, `${show(res)}: Link header present but not <url>; rel="next": ${h}`);
  return m[1];
}
