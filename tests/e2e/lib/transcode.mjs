// Shared checks for the transcoding and health e2e tests (issue 5): the health document
// (GET /data/stream/{id}/health, API.md sec. 5), rendition playlists and their segments on disk
// and over HTTP, compared with the source rendition.
import fs from 'node:fs';
import path from 'node:path';
import { expectStatus } from './contract.mjs';
import { parseMediaPlaylist, tsFiles } from './media.mjs';
import { fetchRaw, hlsPaths } from './live.mjs';

/** One frame at 30 fps, plus rounding: the tolerance for "the same time" between renditions. */
export const FRAME_TOL = 0.034;

/** The condition types of the health document (API.md sec. 5, plus streamd's Recording and SourcePlayable). */
export const CONDITION_TYPES = ['Active', 'Transcoding', 'TranscodeRealTime', 'TranscodeNoErrors', 'Multistreaming', 'Recording', 'SourcePlayable'];

/** GET /data/stream/{id}/health (admin key): the health document, asserting 200 + JSON. */
export async function getHealth(srv, streamId) {
  return expectStatus(await srv.request('GET', `/data/stream/${streamId}/health`), 200);
}

/** The condition of that type in a health document, or undefined. */
export function conditionOf(doc, type) {
  return Array.isArray(doc?.conditions) ? doc.conditions.find((c) => c?.type === type) : undefined;
}

/** The series of a metric whose dimensions include `dims`, or undefined. */
export function metricSeries(doc, name, dims = {}) {
  const list = doc?.metrics?.[name];
  if (!Array.isArray(list)) return undefined;
  return list.find((m) => Object.entries(dims).every(([k, v]) => m?.dimensions?.[k] === v));
}

/** The value of a metric's `last` [ms, value] (first series matching dims), or undefined. */
export function metricLast(doc, name, dims = {}) {
  const m = metricSeries(doc, name, dims);
  return Array.isArray(m?.last) ? m.last[1] : undefined;
}

/** A one-line summary of a health document for messages. */
export function describeHealth(doc) {
  if (!doc) return 'no health document';
  const conds = (doc.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(' ');
  const ratio = metricLast(doc, 'TranscodeRealtimeRatio');
  const dropped = metricLast(doc, 'TranscodeDroppedSegments');
  return `healthy=${doc.healthy?.status} ${conds} ratio=${typeof ratio === 'number' ? ratio.toFixed(2) : ratio}` +
    (dropped !== undefined ? ` dropped=${dropped}` : '');
}

const isMs = (v) => v === null || (Number.isInteger(v) && v > 1e12 && v < 1e13);

/**
 * The shape of a health document as API.md sec. 5 and the brief describe it: id, healthy
 * {status, frequency {1m, 10m}, lastProbeTime, lastTransitionTime}, conditions (typed, each with
 * status, lastProbeTime, lastTransitionTime, frequency values in 0..1), metrics as
 * {name, dimensions, last: [ms, number]}.
 */
export function checkHealthShape(c, doc, streamId, label) {
  const L = `${label}: health document`;
  c.eq(doc?.id, streamId, `${L}: id`);
  const h = doc?.healthy;
  c.check(h && typeof h === 'object', () => `${L}: "healthy" must be an object, got ${JSON.stringify(h)}`);
  if (!h) return;
  c.check([true, false, null].includes(h.status), () => `${L}: healthy.status must be true, false or null, got ${JSON.stringify(h.status)}`);
  c.check(isMs(h.lastProbeTime) && isMs(h.lastTransitionTime),
    () => `${L}: healthy.lastProbeTime/lastTransitionTime must be Unix ms or null, got ${JSON.stringify(h)}`);
  const freqOk = (f) => f === undefined || (f && typeof f === 'object' &&
    Object.entries(f).every(([k, v]) => ['1m', '10m'].includes(k) && typeof v === 'number' && v >= 0 && v <= 1));
  c.check(freqOk(h.frequency), () => `${L}: healthy.frequency must be {"1m","10m"} with values in 0..1, got ${JSON.stringify(h.frequency)}`);
  c.check(Array.isArray(doc.conditions), () => `${L}: conditions must be an array, got ${JSON.stringify(doc.conditions)}`);
  for (const cond of doc.conditions ?? []) {
    c.check(CONDITION_TYPES.includes(cond?.type), () => `${L}: unknown condition type ${JSON.stringify(cond?.type)}`);
    c.check([true, false, null].includes(cond?.status), () => `${L}: ${cond?.type}.status must be true/false/null, got ${JSON.stringify(cond?.status)}`);
    c.check(isMs(cond?.lastProbeTime) && isMs(cond?.lastTransitionTime),
      () => `${L}: ${cond?.type}.lastProbeTime/lastTransitionTime must be Unix ms or null, got ${JSON.stringify(cond)}`);
    c.check(freqOk(cond?.frequency), () => `${L}: ${cond?.type}.frequency must be {"1m","10m"} in 0..1, got ${JSON.stringify(cond?.frequency)}`);
  }
  const types = (doc.conditions ?? []).map((x) => x?.type);
  c.check(new Set(types).size === types.length, () => `${L}: a condition type is listed twice: ${JSON.stringify(types)}`);
  if (doc.metrics !== undefined) {
    c.check(doc.metrics && typeof doc.metrics === 'object' && !Array.isArray(doc.metrics),
      () => `${L}: metrics must be an object, got ${JSON.stringify(doc.metrics)}`);
    for (const [name, list] of Object.entries(doc.metrics ?? {})) {
      c.check(Array.isArray(list), () => `${L}: metrics.${name} must be an array`);
      for (const m of Array.isArray(list) ? list : []) {
        c.check(m?.name === name && m.dimensions && typeof m.dimensions === 'object' && Array.isArray(m.last) &&
          m.last.length === 2 && isMs(m.last[0]) && m.last[0] !== null && typeof m.last[1] === 'number' && Number.isFinite(m.last[1]),
        () => `${L}: metrics.${name} entry must be {"name":"${name}","dimensions":{...},"last":[ms, number]}, got ${JSON.stringify(m)}`);
      }
    }
  }
}

/** Rendition directories on disk for a playback id (everything under live/{pid}/ but source). */
export function renditionDirs(srv, pid) {
  const dir = srv.liveDir(pid);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'source')
    .map((d) => d.name)
    .sort();
}

/**
 * Fetches and checks one rendition's media playlist (status, content type, tags, ENDLIST after
 * the broadcast) and its segments (NNNNN.ts names, on disk with the same size as over HTTP, MPEG
 * TS, no unlisted .ts file in the directory). Returns { media, text, diskBytes, httpBytes, dir,
 * byUri: Map(uri -> { duration, size, discontinuity }) } or undefined when the playlist is missing.
 */
export async function checkRenditionHls(c, srv, stream, name, { label = name, expectEnd = true } = {}) {
  const P = hlsPaths(stream.playbackId).rendition(name);
  const r = await fetchRaw(srv, P.media);
  c.eq(r.status, 200, `${label}: GET ${P.media} status`);
  if (r.status !== 200) return undefined;
  c.check((r.headers.get('content-type') || '').split(';')[0].trim().toLowerCase() === 'application/vnd.apple.mpegurl',
    () => `${label}: GET ${P.media}: Content-Type must be application/vnd.apple.mpegurl, got ${r.headers.get('content-type')}`);
  const pl = parseMediaPlaylist(r.text);
  const plText = `\n    ${name} playlist:\n    ${pl.lines.join('\n    ')}`;
  c.eq(pl.header, '#EXTM3U', `${label}: rendition playlist first line`);
  c.eq(pl.extinfCount, pl.segments.length, `${label}: every #EXTINF needs a URI`);
  if (expectEnd) c.check(pl.endlistIsLast, () => `${label}: the rendition playlist must end with #EXT-X-ENDLIST after the broadcast${plText}`);
  c.check(Number.isInteger(pl.targetDuration) && pl.targetDuration > 0,
    () => `${label}: #EXT-X-TARGETDURATION must be a positive integer, got ${pl.targetDuration}${plText}`);
  for (const s of pl.segments) {
    c.check(Math.round(s.duration) <= pl.targetDuration,
      () => `${label}: EXTINF ${s.duration} of ${s.uri} rounds above #EXT-X-TARGETDURATION ${pl.targetDuration}`);
  }
  const dir = srv.liveDir(stream.playbackId, name);
  const onDisk = new Map(tsFiles(dir).map((f) => [f.name, f.size]));
  const byUri = new Map();
  let diskBytes = 0;
  let httpBytes = 0;
  for (const s of pl.segments) {
    c.check(/^\d{5}\.ts$/.test(s.uri), () => `${label}: segment URI ${s.uri} expected as NNNNN.ts (relative)`);
    const size = onDisk.get(s.uri);
    c.check(size !== undefined, () => `${label}: ${s.uri} is listed but not on disk in ${dir}`);
    diskBytes += size ?? 0;
    const seg = await fetchRaw(srv, P.segment(s.uri));
    c.eq(seg.status, 200, `${label}: GET ${P.segment(s.uri)} status`);
    c.check(seg.buf.length > 0 && seg.buf.length % 188 === 0 && seg.buf[0] === 0x47,
      () => `${label}: ${s.uri} must be MPEG-TS (188-byte packets starting 0x47), got ${seg.buf.length} bytes`);
    if (size !== undefined) c.eq(seg.buf.length, size, `${label}: GET ${P.segment(s.uri)} body length vs file size on disk`);
    httpBytes += seg.buf.length;
    byUri.set(s.uri, { duration: s.duration, size, discontinuity: s.discontinuity, path: path.join(dir, s.uri) });
  }
  const extra = [...onDisk.keys()].filter((n) => !byUri.has(n));
  c.check(extra.length === 0, () => `${label}: ${dir} holds .ts files the playlist does not list: ${extra.join(' ')}${plText}`);
  return { media: pl, text: r.text, diskBytes, httpBytes, dir, byUri };
}

/** avc1.PPCCLL -> profile_idc (0x64 High, 0x4d Main, 0x42 Baseline), or undefined. */
export function avcProfileIdc(codecs) {
  const m = /avc1\.([0-9a-fA-F]{2})[0-9a-fA-F]{4}/.exec(codecs ?? '');
  return m ? Number.parseInt(m[1], 16) : undefined;
}

/** ffprobe's H.264 profile name -> profile_idc. */
export const PROFILE_IDC = { High: 0x64, Main: 0x4d, Baseline: 0x42, 'Constrained Baseline': 0x42 };

/**
 * When the server accepted the last publish on the stream (since log offset `since`) and when
 * that publish ended, from the server log's timestamps (ms since epoch; undefined when not
 * logged yet). A test on a loaded machine measures the broadcast from here, not from the spawn of
 * ffmpeg, which may take seconds to connect.
 */
export function publishTimes(srv, stream, since = 0) {
  const lines = srv.log.slice(since).split('\n');
  const stamp = (l) => Date.parse(l.slice(0, l.indexOf(' ')));
  let acceptedAt;
  let endedAt;
  let peer;
  for (const l of lines) {
    const m = new RegExp(`stream ${stream.id}: publish from (\\S+) accepted`).exec(l);
    if (m) {
      acceptedAt = stamp(l);
      peer = m[1];
      endedAt = undefined;
    } else if (peer && l.includes(`${peer}: publish of key `) && / ended/.test(l)) {
      endedAt = stamp(l);
    }
  }
  return { acceptedAt, endedAt, ms: acceptedAt && endedAt ? endedAt - acceptedAt : undefined };
}

/**
 * Measures how long a process's threads waited for a CPU (run-queue delay) and ran, from Linux's
 * /proc/PID/task/TID/schedstat, between calls to sample(). It tells a server that is slower than
 * real time because the machine gave it no CPU (other processes had it) from one that is slow on
 * its own. sample() returns { waitS, runS } since the previous call (threads born in between
 * count from zero), or undefined where /proc has no schedstat.
 */
export class CpuWaitMeter {
  constructor(pid) {
    this.pid = pid;
    this.last = this.#read();
  }

  #read() {
    const threads = new Map();
    try {
      for (const tid of fs.readdirSync(`/proc/${this.pid}/task`)) {
        try {
          const [run, wait] = fs.readFileSync(`/proc/${this.pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
          if (Number.isFinite(run) && Number.isFinite(wait)) threads.set(tid, { run, wait });
        } catch {
          /* the thread ended meanwhile */
        }
      }
    } catch {
      return undefined;
    }
    return threads;
  }

  sample() {
    const now = this.#read();
    const before = this.last;
    this.last = now;
    if (!now || !before) return undefined;
    let wait = 0;
    let run = 0;
    for (const [tid, t] of now) {
      const b = before.get(tid) ?? { run: 0, wait: 0 };
      wait += Math.max(0, t.wait - b.wait);
      run += Math.max(0, t.run - b.run);
    }
    return { waitS: wait / 1e9, runS: run / 1e9 };
  }
}

// A sample may show "slower than real time" on a machine that gave the server no CPU (other
// processes held it): the server is right to say so. Such a sample is excused only when the
// health is self-consistent (TranscodeRealTime false with a realtime ratio < 1, nothing else
// wrong, no segment dropped beyond `droppedBefore`), the ladder needs less than one CPU second
// per media second (the server's own CPU metrics), and the server's threads waited at least
// STARVED_WAIT_S in the run queue over the last 3.5 s (CpuWaitMeter samples on `s.cpu`). On a
// machine with CPU to spare nothing is excused. Returns the reason, or undefined.
export const STARVED_WAIT_S = 1.0;
// `renditions`: only these renditions' CPU counts (the metrics are per session, so after a
// reconnect with another source they still hold the earlier renditions' cost).
export function starvedExcuse(samples, s, { droppedBefore = 0, renditions } = {}) {
  const x = s.rawSession;
  const h = s.health;
  if (!h || !x || x.isHealthy !== false) return undefined;
  const cpuNeed = (h.metrics?.TranscodeCpuSecondsPerMediaSecond ?? [])
    .filter((m) => !renditions || m.dimensions?.stage === 'decode' || renditions.includes(m.dimensions?.rendition))
    .reduce((a, m) => a + m.last[1], 0);
  const ratio = metricLast(h, 'TranscodeRealtimeRatio');
  const waited = samples.filter((o) => o.t <= s.t && o.t > s.t - 3500).reduce((a, o) => a + (o.cpu?.waitS ?? 0), 0);
  const consistent = JSON.stringify(x.issues) === '["Transcoding is slower than real time"]' &&
    h.healthy?.status === false && conditionOf(h, 'TranscodeRealTime')?.status === false &&
    conditionOf(h, 'Transcoding')?.status === true && conditionOf(h, 'TranscodeNoErrors')?.status === true &&
    typeof ratio === 'number' && ratio < 1 && (metricLast(h, 'TranscodeDroppedSegments') ?? 0) <= droppedBefore;
  return consistent && cpuNeed < 1 && waited >= STARVED_WAIT_S
    ? `realtime ratio ${ratio.toFixed(2)}, ladder CPU ${cpuNeed.toFixed(2)} s per media s, server threads waited ${waited.toFixed(2)} s for a CPU in the last 3.5 s`
    : undefined;
}
