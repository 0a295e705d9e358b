// Shared checks for the live (RTMP ingest) e2e tests: streams and their sessions through the raw
// API and the SDK, sampling while a publisher runs, and the end-of-broadcast verification
// (counters against the playlist, the files on disk and HTTP, playback end to end).
//
// Long scenarios collect their checks in a `Checks` object and fail once at the end with every
// failed check listed, so one run shows everything that is wrong, not just the first thing.
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { expectStatus, assertSessionShape, sdk, show } from './contract.mjs';
import {
  parseMediaPlaylist, parseMasterPlaylist, tsFiles, ffprobeDuration, playThrough, pollUntil, sleep, logLines,
} from './media.mjs';

export class Checks {
  constructor(what) {
    this.what = what;
    this.failures = [];
    this.count = 0;
    this.notes = [];
  }

  check(cond, msg) {
    this.count++;
    if (!cond) this.failures.push(typeof msg === 'function' ? msg() : msg);
    return !!cond;
  }

  eq(got, want, msg) {
    return this.check(got === want, () => `${msg}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }

  near(got, want, tol, msg) {
    return this.check(
      typeof got === 'number' && Number.isFinite(got) && Math.abs(got - want) <= tol,
      () => `${msg}: expected ${want} ± ${tol}, got ${JSON.stringify(got)}`,
    );
  }

  /** Runs fn (sync or async); an exception becomes a failed check instead of ending the test. */
  async run(label, fn) {
    this.count++;
    try {
      return await fn();
    } catch (err) {
      this.failures.push(`${label}: ${err?.message ?? err}`);
      return undefined;
    }
  }

  note(msg) {
    this.notes.push(msg);
  }

  done(extra = '') {
    if (process.env.E2E_VERBOSE) this.notes.push(`${this.count - this.failures.length} of ${this.count} checks passed`);
    if (this.notes.length) process.stderr.write(`[${this.what}] notes:\n  ${this.notes.join('\n  ')}\n`);
    if (this.failures.length) {
      assert.fail(
        `${this.what}: ${this.failures.length} of ${this.count} checks failed:\n - ${this.failures.join('\n - ')}` +
          (extra ? `\n${extra}` : ''),
      );
    }
  }
}

/** POST /api/stream then GET it back (raw JSON). */
/**
 * Creates a stream for an ingest test. Without `profiles` in body the stream is source-only
 * (`profiles: []`): ingest tests judge ingest and the source rendition, and transcoding has its
 * own tests; a body that names profiles (even null) is sent as given.
 */
export async function createStream(srv, body, key) {
  if (!Object.prototype.hasOwnProperty.call(body, 'profiles')) body = { ...body, profiles: [] };
  const r = await srv.request('POST', '/api/stream', { body, key });
  const created = expectStatus(r, 201);
  return expectStatus(await srv.request('GET', `/api/stream/${created.id}`, { key }), 200);
}

export async function getStreamRaw(srv, id) {
  return expectStatus(await srv.request('GET', `/api/stream/${id}`), 200);
}

/** GET /api/stream/{id}/sessions (raw JSON array). */
export async function sessionsOf(srv, streamId) {
  const r = await srv.request('GET', `/api/stream/${streamId}/sessions`);
  const list = expectStatus(r, 200);
  assert.ok(Array.isArray(list), `${show(r)}: expected a JSON array`);
  return list;
}

/** Fetches a URL under the server (raw fetch): { status, headers, text, buf }. */
export async function fetchRaw(srv, urlPath, headers = {}) {
  const url = urlPath.startsWith('http') ? urlPath : srv.base + urlPath;
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
  const buf = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, buf, text: buf.toString('utf8'), url };
}

export const hlsPaths = (pid) => ({
  master: `/hls/${pid}/index.m3u8`,
  media: `/hls/${pid}/source/index.m3u8`,
  segment: (uri) => `/hls/${pid}/source/${uri}`,
  /** a rendition's media playlist and segments: /hls/{pid}/{name}/... */
  rendition: (name) => ({
    media: `/hls/${pid}/${name}/index.m3u8`,
    segment: (uri) => `/hls/${pid}/${name}/${uri}`,
  }),
});

/**
 * Samples the stream, its sessions and the playback info about once a second while `pub` runs
 * (and `extraMs` after). Each sample: { t, running, stream, sessions, session, rawSession,
 * playback, sdkPlaybackLive, errors[] }. `session` is the SDK-parsed session of the stream
 * (from session.getAll), `rawSession` its raw JSON from GET /api/session/{id}.
 */
export async function sampleWhileLive(srv, lp, stream, pub, { intervalMs = 1000, extraMs = 0, onSample } = {}) {
  const samples = [];
  let stopAt = Infinity;
  pub.done.then(() => {
    stopAt = Date.now() + extraMs;
  });
  while (Date.now() < stopAt) {
    const tick = Date.now();
    const s = { t: tick, running: pub.running(), errors: [] };
    try {
      s.stream = (await sdk('stream.get', lp.stream.get(stream.id))).stream;
    } catch (e) {
      s.errors.push(e.message);
    }
    try {
      const all = (await sdk('session.getAll', lp.session.getAll())).data ?? [];
      s.sessions = all.filter((x) => x.parentId === stream.id);
      s.session = s.sessions[0];
    } catch (e) {
      s.errors.push(e.message);
    }
    if (s.session) {
      const r = await srv.request('GET', `/api/session/${s.session.id}`);
      if (r.status === 200) s.rawSession = r.json;
      else s.errors.push(`${show(r)}: expected 200`);
    }
    const pb = await srv.request('GET', `/api/playback/${stream.playbackId}`, { key: null });
    s.playback = pb.status === 200 ? pb.json : undefined;
    if (pb.status !== 200) s.errors.push(`${show(pb)}: expected 200`);
    try {
      const p = await sdk('playback.get', lp.playback.get(stream.playbackId));
      s.sdkPlaybackLive = p.playbackInfo?.meta?.live;
    } catch (e) {
      s.errors.push(e.message);
    }
    s.running = s.running && pub.running();
    samples.push(s);
    if (onSample) await onSample(s);
    const wait = intervalMs - (Date.now() - tick);
    if (wait > 0) await sleep(wait);
  }
  return samples;
}

/** One-line summary of samples for messages. */
export function describeSamples(samples, t0) {
  return samples
    .map((s) => {
      const x = s.session;
      return `+${((s.t - t0) / 1000).toFixed(1)}s ${s.running ? 'pub' : 'end'} active=${s.stream?.isActive} ` +
        (x ? `segs=${x.sourceSegments} dur=${x.sourceSegmentsDuration} bytes=${x.sourceBytes} rate=${x.ingestRate} lastSeen=${x.lastSeen ? x.lastSeen - s.t : 'none'}ms` : 'no session') +
        ` live=${s.playback?.meta?.live}` + (s.errors.length ? ` ERR ${s.errors.join(' | ')}` : '');
    })
    .join('\n    ');
}

/**
 * Checks on the samples taken while the publisher ran: the stream active, a session with
 * parentId = the stream, ingestRate > 0, counters that grow, lastSeen fresh, playback live 1.
 */
export function checkWhileLive(c, samples, stream, { label = '', t0, minGrowth = 2 } = {}) {
  const L = label ? `${label}: ` : '';
  const live = samples.filter((s) => s.running);
  const detail = () => `\n    samples:\n    ${describeSamples(samples, t0 ?? samples[0]?.t ?? 0)}`;
  c.check(live.length >= 3, () => `${L}expected at least 3 samples while ffmpeg published, got ${live.length}`);
  for (const s of samples) {
    for (const e of s.errors) c.check(false, `${L}while live (+${((s.t - (t0 ?? 0)) / 1000).toFixed(1)}s): ${e}`);
  }
  // let the first second or two pass before expecting the stream to show up
  const settled = live.filter((s) => t0 === undefined || s.t - t0 >= 2500);
  c.check(
    settled.length > 0 && settled.every((s) => s.stream?.isActive === true),
    () => `${L}stream.isActive must be true in every sample taken 2.5 s or more after the publish started${detail()}`,
  );
  c.check(
    settled.length > 0 && settled.every((s) => s.session && s.session.parentId === stream.id),
    () => `${L}a session with parentId ${stream.id} must be listed by session.getAll while publishing${detail()}`,
  );
  c.check(
    settled.some((s) => (s.session?.ingestRate ?? 0) > 0),
    () => `${L}session.ingestRate must be > 0 while publishing${detail()}`,
  );
  c.check(
    settled.every((s) => (s.session?.ingestRate ?? 0) > 0),
    () => `${L}session.ingestRate must stay > 0 in every sample while publishing (2.5 s on)${detail()}`,
  );
  c.check(
    settled.some((s) => (s.playback?.meta?.live) === 1) && settled.every((s) => s.playback?.meta?.live === 1),
    () => `${L}GET /api/playback/${stream.playbackId} must answer meta.live 1 while publishing${detail()}`,
  );
  c.check(
    settled.every((s) => s.sdkPlaybackLive === 1),
    () => `${L}SDK playback.get(${stream.playbackId}).playbackInfo.meta.live must be 1 while publishing${detail()}`,
  );
  for (const k of ['sourceSegments', 'sourceSegmentsDuration', 'sourceBytes']) {
    const vals = live.filter((s) => s.session).map((s) => s.session[k]);
    const nondecreasing = vals.every((v, i) => i === 0 || v >= vals[i - 1]);
    c.check(nondecreasing, () => `${L}session.${k} must never decrease while publishing, got ${JSON.stringify(vals)}`);
    const increases = vals.filter((v, i) => i > 0 && v > vals[i - 1]).length;
    c.check(
      increases >= minGrowth,
      () => `${L}session.${k} must grow while publishing (at least ${minGrowth} increases between once-a-second samples), got ${JSON.stringify(vals)}`,
    );
  }
  // lastSeen: updated at least every second while data flows
  const stale = settled.filter((s) => s.session && !(s.t - s.session.lastSeen <= 2500));
  c.check(
    stale.length === 0,
    () => `${L}session.lastSeen must be at most ~2 s old while data flows (updates at least every second); stale in ${stale.length} samples${detail()}`,
  );
  const st = settled.filter((s) => s.stream && !(s.t - s.stream.lastSeen <= 2500));
  c.check(
    st.length === 0,
    () => `${L}stream.lastSeen must be at most ~2 s old while data flows; stale in ${st.length} samples: ` +
      JSON.stringify(st.map((s) => ({ at: s.t, lastSeen: s.stream.lastSeen }))),
  );
}

/**
 * Fetches and checks the master and media playlists and the segments (content types, CORS,
 * cache headers, tags) and returns { media (parsed), files (playlist-listed files on disk),
 * httpBytes, diskBytes }.
 */
export async function checkHls(c, srv, stream, { label = '', expectEnd = true, exactDir = true, session } = {}) {
  const L = label ? `${label}: ` : '';
  const pid = stream.playbackId;
  const P = hlsPaths(pid);
  const origin = 'http://player.example';
  const ctOk = (h, want) => (h.get('content-type') || '').split(';')[0].trim().toLowerCase() === want;
  const corsOk = (h) => ['*', origin].includes(h.get('access-control-allow-origin'));

  const master = await fetchRaw(srv, P.master, { origin });
  c.eq(master.status, 200, `${L}GET ${P.master} status`);
  c.check(ctOk(master.headers, 'application/vnd.apple.mpegurl'),
    () => `${L}GET ${P.master}: Content-Type must be application/vnd.apple.mpegurl, got ${master.headers.get('content-type')}`);
  c.check(corsOk(master.headers),
    () => `${L}GET ${P.master} (Origin: ${origin}): Access-Control-Allow-Origin must be * or the origin, got ${master.headers.get('access-control-allow-origin')}`);
  c.check(!!master.headers.get('cache-control'), `${L}GET ${P.master}: a Cache-Control header is expected`);
  const mp = parseMasterPlaylist(master.text);
  c.eq(mp.header, '#EXTM3U', `${L}master playlist first line`);
  // The source is always listed; a stream with profiles lists one rendition per profile too
  // (the transcoding tests check those).
  const sourceOnly = Array.isArray(stream.profiles) && stream.profiles.length === 0;
  if (sourceOnly)
    c.eq(mp.variants.length, 1, `${L}master playlist of a source-only stream: exactly one variant (the source) expected; playlist:\n${master.text}\n`);
  const resolvedUris = mp.variants.map((v) => new URL(v.uri ?? '', srv.base + P.master).pathname);
  c.check(resolvedUris.filter((u) => u === P.media).length === 1,
    () => `${L}master playlist must list the source (${P.media}) once; it lists ${JSON.stringify(resolvedUris)}`);
  for (const v of mp.variants)
    c.check(/BANDWIDTH=\d+/.test(v.inf), () => `${L}master playlist: #EXT-X-STREAM-INF needs BANDWIDTH (RFC 8216), got ${v.inf}`);

  const mediaRes = await fetchRaw(srv, P.media, { origin });
  c.eq(mediaRes.status, 200, `${L}GET ${P.media} status`);
  c.check(ctOk(mediaRes.headers, 'application/vnd.apple.mpegurl'),
    () => `${L}GET ${P.media}: Content-Type must be application/vnd.apple.mpegurl, got ${mediaRes.headers.get('content-type')}`);
  c.check(corsOk(mediaRes.headers),
    () => `${L}GET ${P.media}: Access-Control-Allow-Origin must be * or the origin, got ${mediaRes.headers.get('access-control-allow-origin')}`);
  c.check(!!mediaRes.headers.get('cache-control'), `${L}GET ${P.media}: a Cache-Control header is expected`);
  const pl = parseMediaPlaylist(mediaRes.text);
  const plText = `\n    media playlist:\n    ${pl.lines.join('\n    ')}`;
  c.eq(pl.header, '#EXTM3U', `${L}media playlist first line`);
  c.check(pl.segments.length > 0, () => `${L}media playlist lists no segment${plText}`);
  c.eq(pl.extinfCount, pl.segments.length, `${L}media playlist: every #EXTINF needs a URI`);
  if (expectEnd) {
    c.check(pl.endlistIsLast, () => `${L}media playlist must end with #EXT-X-ENDLIST after the broadcast ended${plText}`);
  }
  c.check(Number.isInteger(pl.targetDuration) && pl.targetDuration > 0,
    () => `${L}media playlist: #EXT-X-TARGETDURATION must be a positive integer, got ${pl.targetDuration}${plText}`);
  for (const s of pl.segments) {
    c.check(Number.isFinite(s.duration) && s.duration > 0, () => `${L}media playlist: #EXTINF of ${s.uri} must be a positive number`);
    // RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer <= TARGETDURATION
    c.check(Math.round(s.duration) <= pl.targetDuration,
      () => `${L}media playlist: #EXT-X-TARGETDURATION ${pl.targetDuration} < EXTINF ${s.duration} of ${s.uri} (rounded)`);
  }
  c.check(Number.isInteger(pl.mediaSequence) && pl.mediaSequence >= 0,
    () => `${L}media playlist: #EXT-X-MEDIA-SEQUENCE must be present (non-negative integer), got ${pl.mediaSequence}${plText}`);
  c.check(pl.programDateTimes.length > 0, () => `${L}media playlist: #EXT-X-PROGRAM-DATE-TIME expected${plText}`);
  for (const d of pl.programDateTimes) {
    c.check(Number.isFinite(Date.parse(d)), `${L}media playlist: #EXT-X-PROGRAM-DATE-TIME ${d} must be an ISO 8601 date`);
  }
  // the first listed segment is the session's first (nothing slid out): its date is the session start
  if (session && pl.mediaSequence === 0 && pl.programDateTimes.length > 0 && pl.lines.findIndex((l) => l.startsWith('#EXT-X-PROGRAM-DATE-TIME')) <
      pl.lines.findIndex((l) => l.startsWith('#EXTINF'))) {
    const first = Date.parse(pl.programDateTimes[0]);
    c.check(Math.abs(first - session.createdAt) <= 3000,
      () => `${L}first #EXT-X-PROGRAM-DATE-TIME ${pl.programDateTimes[0]} must be within 3 s of the session's createdAt ${new Date(session.createdAt).toISOString()}`);
  }
  if (pl.segments.some((s) => !Number.isInteger(s.duration))) {
    c.check(pl.version >= 3, () => `${L}media playlist: fractional EXTINF needs #EXT-X-VERSION >= 3, got ${pl.version}`);
  }

  // segments: on disk and over HTTP
  const dir = srv.liveDir(pid, 'source');
  const onDisk = new Map(tsFiles(dir).map((f) => [f.name, f.size]));
  let diskBytes = 0;
  let httpBytes = 0;
  const segSizes = []; // per playlist segment: { disk, http } (undefined when missing)
  for (const s of pl.segments) {
    const name = path.posix.basename(s.uri);
    c.eq(s.uri, name, `${L}media playlist: segment URIs are expected relative (NNNNN.ts next to the playlist)`);
    c.check(/^\d{5}\.ts$/.test(name), () => `${L}media playlist: segment name ${name} expected as NNNNN.ts`);
    const size = onDisk.get(name);
    c.check(size !== undefined, () => `${L}segment ${name} listed in the playlist is not on disk in ${dir} (files: ${[...onDisk.keys()].join(' ')})`);
    diskBytes += size ?? 0;
    const r = await fetchRaw(srv, P.segment(s.uri), { origin });
    c.eq(r.status, 200, `${L}GET ${P.segment(s.uri)} status`);
    c.check(ctOk(r.headers, 'video/mp2t'),
      () => `${L}GET ${P.segment(s.uri)}: Content-Type must be video/mp2t, got ${r.headers.get('content-type')}`);
    c.check(corsOk(r.headers),
      () => `${L}GET ${P.segment(s.uri)}: Access-Control-Allow-Origin must be * or the origin, got ${r.headers.get('access-control-allow-origin')}`);
    const cl = Number(r.headers.get('content-length'));
    c.eq(cl, r.buf.length, `${L}GET ${P.segment(s.uri)}: Content-Length vs bytes received`);
    if (size !== undefined) c.eq(r.buf.length, size, `${L}GET ${P.segment(s.uri)}: body length vs file size on disk`);
    c.check(r.buf.length > 0 && r.buf.length % 188 === 0 && r.buf[0] === 0x47,
      () => `${L}${name}: expected MPEG-TS (188-byte packets starting with 0x47), got ${r.buf.length} bytes starting ${r.buf.subarray(0, 4).toString('hex')}`);
    httpBytes += Number.isFinite(cl) ? cl : 0;
    segSizes.push({ uri: s.uri, disk: size, http: Number.isFinite(cl) ? cl : undefined, discontinuity: s.discontinuity, duration: s.duration });
  }
  if (exactDir) {
    const listed = new Set(pl.segments.map((s) => path.posix.basename(s.uri)));
    const extra = [...onDisk.keys()].filter((n) => !listed.has(n));
    c.check(extra.length === 0, () => `${L}${dir} holds .ts files the playlist does not list: ${extra.join(' ')}${plText}`);
  }
  return { media: pl, mediaText: mediaRes.text, master: mp, diskBytes, httpBytes, dir, segSizes };
}

/**
 * The end-of-broadcast verification of one session against its playlist. `pushed`: the ffprobe
 * duration of the media pushed (seconds) or undefined. `segmentsFrom`: count only the segments
 * after the last discontinuity (a new session restarting the playlist).
 */
export function checkCountersVsPlaylist(c, session, hls, { label = '', pushed, durTol = 0.2 } = {}) {
  const L = label ? `${label}: ` : '';
  const pl = hls.media;
  c.eq(session.sourceSegments, pl.extinfCount, `${L}session.sourceSegments vs #EXTINF lines in the media playlist`);
  c.near(session.sourceSegmentsDuration, pl.totalDuration, 0.02 + 0.001 * pl.segments.length,
    `${L}session.sourceSegmentsDuration vs the sum of EXTINF values`);
  if (pushed !== undefined) {
    c.near(session.sourceSegmentsDuration, pushed, durTol,
      `${L}session.sourceSegmentsDuration vs ffprobe's duration of the pushed media`);
  }
  c.eq(session.sourceBytes, hls.diskBytes, `${L}session.sourceBytes vs the sum of the playlist's .ts file sizes on disk`);
  c.eq(session.sourceBytes, hls.httpBytes, `${L}session.sourceBytes vs the sum of Content-Length of the segments over HTTP`);
}

/** Plays master and media playlists end to end and ffprobes the duration. */
export async function checkPlayback(c, srv, stream, { label = '', pushed, tol = 0.3 } = {}) {
  const L = label ? `${label}: ` : '';
  const P = hlsPaths(stream.playbackId);
  for (const p of [P.master, P.media]) {
    const r = await playThrough(srv.base + p);
    c.eq(r.code, 0, `${L}ffmpeg -v error -i ${p} -f null - exit code (stderr: ${r.stderr.slice(0, 800)})`);
    c.check(r.stderr === '', () => `${L}ffmpeg -v error -i ${p} -f null - printed decode errors:\n${r.stderr.slice(0, 1500)}`);
  }
  const d = await ffprobeDuration(srv.base + P.master);
  c.eq(d.code, 0, `${L}ffprobe ${P.master} exit code (stderr: ${d.stderr})`);
  if (pushed !== undefined) c.near(d.duration, pushed, tol, `${L}ffprobe duration of ${P.master} vs the pushed media`);
  return d.duration;
}

/** Waits (up to timeoutMs) for GET /api/stream/{id} to say isActive false; returns { ok, ms, stream }. */
export async function waitInactive(srv, id, timeoutMs) {
  const r = await pollUntil(async () => {
    const s = await getStreamRaw(srv, id);
    return s.isActive === false ? s : null;
  }, { timeoutMs, intervalMs: 100 });
  const stream = r.value ?? (await getStreamRaw(srv, id));
  return { ok: r.ok, ms: r.ms, stream };
}

/** Waits for a session of the stream to appear (raw); returns it or undefined. */
export async function waitSession(srv, streamId, timeoutMs = 8000) {
  const r = await pollUntil(async () => (await sessionsOf(srv, streamId))[0], { timeoutMs, intervalMs: 200 });
  return r.value;
}

/** Server log lines about a stream (by id, key or playback id), for failure messages. */
export function streamLog(srv, stream, since = 0) {
  const lines = logLines(srv, [stream.id, stream.streamKey, stream.playbackId, '[ingest]', '[rtmp]', '[media]', '[live]', '[segmenter]', '[transcoder]', '[hls]', '[stats]', ' warn ', ' error '], { since, max: 80 });
  return lines ? `--- server log lines about ${stream.id} ---\n${lines}` : '';
}

export { assertSessionShape, fs };
