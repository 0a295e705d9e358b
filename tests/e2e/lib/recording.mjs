// Shared checks for the recording e2e tests (issue 6): where a session's recording lives on disk
// and over HTTP, waiting for its recordingStatus, the MP4 box order, and the full verification of
// a ready recording (HLS VOD master and rendition playlists, files, counters, ffprobe durations,
// play-through, the MP4 with its range requests, playback info).
//
// Layout (ARCHITECTURE.md): DATA/rec/{sessionId}/{rendition}/NNNNN.ts and .../index.m3u8, the
// master DATA/rec/{sessionId}/index.m3u8 and DATA/rec/{sessionId}/output.mp4, served under
// {public-url}/recordings/{sessionId}/.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { expectStatus, sdk, show } from './contract.mjs';
import {
  parseMediaPlaylist, parseMasterPlaylist, tsFiles, ffprobeDuration, ffprobeStreams, playThrough, pollUntil,
} from './media.mjs';
import { fetchRaw } from './live.mjs';

export const recPaths = (id) => ({
  master: `/recordings/${id}/index.m3u8`,
  media: (rendition) => `/recordings/${id}/${rendition}/index.m3u8`,
  segment: (rendition, uri) => `/recordings/${id}/${rendition}/${uri}`,
  mp4: `/recordings/${id}/output.mp4`,
});

/** DATA/rec[/{sessionId}[/{rendition}]]. */
export function recDir(srv, sessionId, rendition) {
  const parts = [srv.dataDir, 'rec'];
  if (sessionId) parts.push(sessionId);
  if (rendition) parts.push(rendition);
  return path.join(...parts);
}

/** Every file under dir, as paths relative to it ([] when dir is absent). */
export function filesUnder(dir) {
  const out = [];
  const walk = (d, rel) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** The parsed recording playlist of a rendition read straight from disk, or undefined. */
export function diskPlaylist(srv, sessionId, rendition) {
  const f = rendition ? path.join(recDir(srv, sessionId, rendition), 'index.m3u8') : path.join(recDir(srv, sessionId), 'index.m3u8');
  try {
    const text = fs.readFileSync(f, 'utf8');
    return { text, ...parseMediaPlaylist(text), playlistType: playlistType(text) };
  } catch {
    return undefined;
  }
}

/** The #EXT-X-PLAYLIST-TYPE value of a media playlist (undefined when absent). */
export function playlistType(text) {
  const m = /^#EXT-X-PLAYLIST-TYPE:(\S+)\s*$/m.exec(text);
  return m ? m[1] : undefined;
}

/**
 * The top-level ISO BMFF boxes of an MP4 file: { boxes: [{ type, offset, size }], trailing }.
 * `trailing` is the number of bytes after the last whole box (0 for a well-formed file; a box
 * that runs past the end makes it negative).
 */
export function mp4TopBoxes(buf) {
  const boxes = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    let size = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    let header = 8;
    if (size === 1) {
      if (off + 16 > buf.length) break;
      size = Number(buf.readBigUInt64BE(off + 8));
      header = 16;
    } else if (size === 0) {
      size = buf.length - off;
    }
    boxes.push({ type, offset: off, size });
    if (size < header) {
      boxes.push({ type: `<invalid size ${size}>`, offset: off, size: 0 });
      return { boxes, trailing: buf.length - off };
    }
    off += size;
  }
  return { boxes, trailing: buf.length - off };
}

/**
 * The packet timeline of a media file or URL per stream, from ffprobe:
 * { code, stderr, streams: { [index]: { type, dts: [seconds...] } } }.
 */
export async function packetTimeline(input) {
  const r = await new Promise((resolve) => {
    execFile('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,dts_time:stream=index,codec_type', '-of', 'json', input],
      { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? (error.code ?? -1) : 0, stdout, stderr }));
  });
  const streams = {};
  try {
    const j = JSON.parse(r.stdout);
    for (const s of j.streams ?? []) streams[s.index] = { type: s.codec_type, dts: [] };
    for (const p of j.packets ?? []) {
      const d = Number.parseFloat(p.dts_time);
      if (streams[p.stream_index] && Number.isFinite(d)) streams[p.stream_index].dts.push(d);
    }
  } catch {
    /* code/stderr tell */
  }
  return { code: r.code, stderr: r.stderr, streams };
}

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** GET /api/session/{id} (raw JSON). */
export async function getSessionRaw(srv, id) {
  return expectStatus(await srv.request('GET', `/api/session/${id}`), 200);
}

/**
 * Polls GET /api/session/{id} (every intervalMs) until `until(session)` holds or timeoutMs passes.
 * Returns { ok, ms, session, history } where history lists every change of recordingStatus (and
 * of the presence of recordingUrl / mp4Url) with the time since the call: [{ ms, status, urls }].
 */
export async function waitRecording(srv, id, until, { timeoutMs = 20_000, intervalMs = 200 } = {}) {
  const t0 = Date.now();
  const history = [];
  let last;
  const r = await pollUntil(async () => {
    last = await getSessionRaw(srv, id);
    const urls = ['recordingUrl', 'mp4Url'].filter((k) => k in last).join('+') || 'none';
    const prev = history[history.length - 1];
    if (!prev || prev.status !== last.recordingStatus || prev.urls !== urls) {
      history.push({ ms: Date.now() - t0, status: last.recordingStatus, urls });
    }
    return until(last) ? last : null;
  }, { timeoutMs, intervalMs });
  return { ok: r.ok, ms: r.ms, session: last, history };
}

export const describeHistory = (h) => h.map((x) => `+${x.ms}ms ${x.status} (urls: ${x.urls})`).join(', ');

/**
 * Full verification of a ready recording of `sess` (raw session JSON, fetched after it became
 * ready). opts:
 *   renditions: the profile names expected besides "source" (in the master, with a playlist each)
 *   sameCount: every rendition has as many segments as the source (default true)
 *   transcodedCounters: transcodedSegments/-Bytes/-Duration equal the renditions on disk (default true)
 *   discontinuities: #EXT-X-DISCONTINUITY count expected in the source playlist (default 0)
 *   durTol: tolerance of ffprobe durations vs sourceSegmentsDuration (default 0.3 s)
 *   audio: the MP4 carries an AAC track (default true)
 *   lp: an SDK client, to read the playback info through the SDK too
 * Returns { source, renditions: {name: parsed}, mp4: { size, boxes } }.
 */
export async function checkReadyRecording(c, srv, sess, opts = {}) {
  const {
    renditions = [], sameCount = true, transcodedCounters = true, discontinuities = 0, durTol = 0.3, audio = true, lp,
    label = '',
  } = opts;
  const L = label ? `${label}: ` : '';
  const id = sess.id;
  const P = recPaths(id);
  const ctOf = (h) => (h.get('content-type') || '').split(';')[0].trim().toLowerCase();
  const out = { renditions: {} };

  c.eq(sess.recordingStatus, 'ready', `${L}session.recordingStatus`);
  c.eq(sess.recordingUrl, `${srv.base}${P.master}`, `${L}session.recordingUrl`);
  c.eq(sess.mp4Url, `${srv.base}${P.mp4}`, `${L}session.mp4Url`);

  // nothing half written is left behind
  const all = filesUnder(recDir(srv, id));
  const tmp = all.filter((f) => f.endsWith('.tmp'));
  c.check(tmp.length === 0, () => `${L}${recDir(srv, id)} holds leftover *.tmp files once ready: ${tmp.join(' ')}`);
  c.check(all.includes('index.m3u8') && all.includes('output.mp4'),
    () => `${L}${recDir(srv, id)} must hold index.m3u8 and output.mp4 once ready; it holds: ${all.join(' ')}`);

  // master playlist
  const master = await fetchRaw(srv, P.master);
  c.eq(master.status, 200, `${L}GET ${P.master} status`);
  c.eq(ctOf(master.headers), 'application/vnd.apple.mpegurl', `${L}GET ${P.master} Content-Type`);
  const mp = parseMasterPlaylist(master.text);
  c.eq(mp.header, '#EXTM3U', `${L}recording master playlist first line`);
  const names = ['source', ...renditions];
  const variantPaths = mp.variants.map((v) => new URL(v.uri ?? '', srv.base + P.master).pathname);
  c.check(JSON.stringify(variantPaths) === JSON.stringify(names.map((n) => P.media(n))),
    () => `${L}recording master playlist must list ${names.map((n) => `${n}/index.m3u8`).join(', ')} (source first), it lists ` +
      `${JSON.stringify(variantPaths)}:\n${master.text}`);
  for (const v of mp.variants)
    c.check(/BANDWIDTH=\d+/.test(v.inf), () => `${L}recording master: #EXT-X-STREAM-INF needs BANDWIDTH, got ${v.inf}`);
  c.note(`${L}master variants: ${mp.variants.map((v) => `${v.uri} [${v.inf.slice(18)}]`).join('; ')}`);

  // media playlists, their files on disk and over HTTP
  for (const name of names) {
    const r = await fetchRaw(srv, P.media(name));
    c.eq(r.status, 200, `${L}GET ${P.media(name)} status`);
    c.eq(ctOf(r.headers), 'application/vnd.apple.mpegurl', `${L}GET ${P.media(name)} Content-Type`);
    const pl = parseMediaPlaylist(r.text);
    const plText = `\n    ${name} playlist:\n    ${pl.lines.join('\n    ')}`;
    c.eq(pl.header, '#EXTM3U', `${L}${name} playlist first line`);
    c.eq(playlistType(r.text), 'VOD', `${L}${name} playlist #EXT-X-PLAYLIST-TYPE`);
    c.check(pl.endlistIsLast, () => `${L}${name} playlist must end with #EXT-X-ENDLIST${plText}`);
    c.check(pl.segments.length > 0, () => `${L}${name} playlist lists no segment${plText}`);
    c.eq(pl.extinfCount, pl.segments.length, `${L}${name} playlist: every #EXTINF needs a URI`);
    c.check(Number.isInteger(pl.targetDuration) && pl.segments.every((s) => Math.round(s.duration) <= pl.targetDuration),
      () => `${L}${name} playlist: #EXT-X-TARGETDURATION ${pl.targetDuration} must be an integer >= every rounded EXTINF${plText}`);
    if (name === 'source') {
      c.eq(pl.discontinuities, discontinuities, `${L}source playlist #EXT-X-DISCONTINUITY count${plText}\n`);
    }
    const dir = recDir(srv, id, name);
    const onDisk = new Map(tsFiles(dir).map((f) => [f.name, f.size]));
    let bytes = 0;
    for (const s of pl.segments) {
      c.check(/^\d{5}\.ts$/.test(s.uri), () => `${L}${name} playlist: segment URI ${s.uri} expected as NNNNN.ts (relative)`);
      const size = onDisk.get(s.uri);
      c.check(size !== undefined, () => `${L}${name}/${s.uri} is listed but not in ${dir} (files: ${[...onDisk.keys()].join(' ')})`);
      c.check(size === undefined || (size > 0 && size % 188 === 0),
        () => `${L}${name}/${s.uri}: ${size} bytes is not a whole number of 188-byte TS packets`);
      bytes += size ?? 0;
      const seg = await fetchRaw(srv, P.segment(name, s.uri));
      c.eq(seg.status, 200, `${L}GET ${P.segment(name, s.uri)} status`);
      c.eq(ctOf(seg.headers), 'video/mp2t', `${L}GET ${P.segment(name, s.uri)} Content-Type`);
      if (size !== undefined) c.eq(seg.buf.length, size, `${L}GET ${P.segment(name, s.uri)} body length vs the file on disk`);
    }
    const listed = new Set(pl.segments.map((s) => s.uri));
    const extra = [...onDisk.keys()].filter((n) => !listed.has(n));
    c.check(extra.length === 0, () => `${L}${dir} holds .ts files its playlist does not list: ${extra.join(' ')}${plText}`);
    out.renditions[name] = { ...pl, bytes, text: r.text };
  }
  const src = out.renditions.source;
  out.source = src;

  // counters = what is on disk
  c.eq(sess.sourceSegments, src.segments.length, `${L}session.sourceSegments vs the segments of the recording's source playlist`);
  c.near(sess.sourceSegmentsDuration, src.totalDuration, 0.02 + 0.001 * src.segments.length,
    `${L}session.sourceSegmentsDuration vs the sum of the recording's source #EXTINF`);
  c.eq(sess.sourceBytes, src.bytes, `${L}session.sourceBytes vs the recording's source .ts files on disk`);
  const rends = renditions.map((n) => out.renditions[n]);
  if (sameCount) {
    for (const n of renditions)
      c.eq(out.renditions[n].segments.length, src.segments.length, `${L}rendition ${n}: segments in its VOD playlist vs the source's`);
  } else {
    c.note(`${L}segments per rendition: ${names.map((n) => `${n}=${out.renditions[n].segments.length}`).join(' ')}`);
  }
  if (transcodedCounters && renditions.length > 0) {
    c.eq(sess.transcodedSegments, rends.reduce((a, p) => a + p.segments.length, 0),
      `${L}session.transcodedSegments vs the segments of the rendition playlists (${renditions.join(', ')})`);
    c.eq(sess.transcodedBytes, rends.reduce((a, p) => a + p.bytes, 0), `${L}session.transcodedBytes vs the rendition .ts files on disk`);
    c.near(sess.transcodedSegmentsDuration, rends.reduce((a, p) => a + p.totalDuration, 0), 0.05 + 0.001 * rends.length * src.segments.length,
      `${L}session.transcodedSegmentsDuration vs the sum of the rendition #EXTINF`);
  }

  // ffprobe and play-through: the master (recordingUrl) and every rendition
  const want = sess.sourceSegmentsDuration;
  const d = await ffprobeDuration(sess.recordingUrl ?? srv.base + P.master);
  c.eq(d.code, 0, `${L}ffprobe recordingUrl exit code (stderr: ${d.stderr})`);
  c.near(d.duration, want, durTol, `${L}ffprobe duration of recordingUrl vs sourceSegmentsDuration`);
  out.durations = { master: d.duration };
  const play = await playThrough(srv.base + P.master);
  c.check(play.code === 0 && play.stderr === '',
    () => `${L}ffmpeg -v error -i recordingUrl -f null - must play without errors: exit ${play.code}, stderr:\n${play.stderr.slice(0, 1500)}`);
  for (const name of names) {
    const url = srv.base + P.media(name);
    const dn = await ffprobeDuration(url);
    c.eq(dn.code, 0, `${L}ffprobe ${P.media(name)} exit code (stderr: ${dn.stderr})`);
    c.near(dn.duration, want, durTol, `${L}ffprobe duration of ${P.media(name)} vs sourceSegmentsDuration`);
    out.durations[name] = dn.duration;
    if (name !== 'source') {
      const pr = await playThrough(url);
      c.check(pr.code === 0 && pr.stderr === '',
        () => `${L}ffmpeg -v error -i ${P.media(name)} -f null - must play without errors: exit ${pr.code}, stderr:\n${pr.stderr.slice(0, 1500)}`);
    }
  }

  // the MP4
  const mp4Url = sess.mp4Url ?? srv.base + P.mp4;
  const full = await fetchRaw(srv, mp4Url);
  c.eq(full.status, 200, `${L}GET mp4Url status`);
  c.eq(ctOf(full.headers), 'video/mp4', `${L}GET mp4Url Content-Type`);
  c.eq(Number(full.headers.get('content-length')), full.buf.length, `${L}GET mp4Url Content-Length vs bytes received`);
  const diskMp4 = path.join(recDir(srv, id), 'output.mp4');
  if (fs.existsSync(diskMp4)) {
    const disk = fs.readFileSync(diskMp4);
    c.check(disk.length === full.buf.length && sha256(disk) === sha256(full.buf),
      () => `${L}GET mp4Url body (${full.buf.length} bytes) must equal ${diskMp4} (${disk.length} bytes)`);
  }
  const { boxes, trailing } = mp4TopBoxes(full.buf);
  const types = boxes.map((b) => b.type);
  out.mp4 = { size: full.buf.length, boxes: types };
  c.eq(types[0], 'ftyp', `${L}output.mp4: first top-level box (all: ${types.join(' ')})`);
  const moov = types.indexOf('moov');
  const mdat = types.indexOf('mdat');
  c.check(moov >= 0 && mdat >= 0 && moov < mdat,
    () => `${L}output.mp4 must have moov before mdat (faststart); top-level boxes: ${types.join(' ')}`);
  c.eq(trailing, 0, `${L}output.mp4: bytes after the last whole top-level box (boxes: ${types.join(' ')})`);
  const md = await ffprobeDuration(mp4Url);
  c.eq(md.code, 0, `${L}ffprobe mp4Url exit code (stderr: ${md.stderr})`);
  c.near(md.duration, want, durTol, `${L}ffprobe duration of mp4Url vs sourceSegmentsDuration`);
  out.durations.mp4 = md.duration;
  const st = await ffprobeStreams(mp4Url);
  const codecs = st.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort();
  c.eq(JSON.stringify(codecs), JSON.stringify(audio ? ['audio:aac', 'video:h264'] : ['video:h264']),
    `${L}output.mp4 streams (the source remuxed, no re-encode)`);
  // one continuous timeline: DTS strictly increasing per track, no hole (a reconnect is rebased)
  const tl = await packetTimeline(mp4Url);
  c.eq(tl.code, 0, `${L}ffprobe -show_entries packet mp4Url exit code (stderr: ${tl.stderr})`);
  for (const [idx, t] of Object.entries(tl.streams)) {
    const back = t.dts.findIndex((d, i) => i > 0 && !(d > t.dts[i - 1]));
    c.check(t.dts.length > 0 && back < 0,
      () => `${L}output.mp4 ${t.type} track ${idx}: DTS must increase strictly (${t.dts.length} packets; at packet ${back}: ${t.dts[back - 1]} -> ${t.dts[back]})`);
    let gap = 0;
    let at = 0;
    t.dts.forEach((d, i) => {
      if (i > 0 && d - t.dts[i - 1] > gap) {
        gap = d - t.dts[i - 1];
        at = t.dts[i - 1];
      }
    });
    c.check(gap <= 0.5, () => `${L}output.mp4 ${t.type} track ${idx}: a ${gap.toFixed(3)} s hole between packets at ${at.toFixed(3)} s (the timeline must be continuous)`);
  }
  const mplay = await playThrough(mp4Url);
  c.check(mplay.code === 0 && mplay.stderr === '',
    () => `${L}ffmpeg -v error -i mp4Url -f null - must play end to end without errors: exit ${mplay.code}, stderr:\n${mplay.stderr.slice(0, 1500)}`);

  // range requests (players seek in the MP4)
  const size = full.buf.length;
  if (size > 2000) {
    const mid = Math.floor(size / 2);
    const ranges = [
      { h: 'bytes=100-1099', start: 100, end: 1099 },
      { h: `bytes=${mid}-${mid + 4095}`, start: mid, end: mid + 4095 },
      { h: `bytes=${size - 500}-`, start: size - 500, end: size - 1 },
      { h: 'bytes=-300', start: size - 300, end: size - 1 },
    ];
    for (const rg of ranges) {
      const r = await fetchRaw(srv, mp4Url, { range: rg.h });
      const what = `${L}GET mp4Url with Range: ${rg.h}`;
      c.eq(r.status, 206, `${what}: status`);
      c.eq(r.headers.get('content-range'), `bytes ${rg.start}-${rg.end}/${size}`, `${what}: Content-Range`);
      c.eq(Number(r.headers.get('content-length')), rg.end - rg.start + 1, `${what}: Content-Length`);
      c.check(r.buf.equals(full.buf.subarray(rg.start, rg.end + 1)),
        () => `${what}: the body (${r.buf.length} bytes) must equal bytes ${rg.start}..${rg.end} of the full download`);
      c.eq(ctOf(r.headers), 'video/mp4', `${what}: Content-Type`);
    }
    const bad = await fetchRaw(srv, mp4Url, { range: `bytes=${size}-` });
    c.check(bad.status === 416 || (bad.status === 200 && bad.buf.length === size),
      () => `${L}GET mp4Url with Range: bytes=${size}- (past the end): expected 416 (or the whole file with 200), got ${bad.status} with ${bad.buf.length} bytes`);
    if (bad.status === 416)
      c.eq(bad.headers.get('content-range'), `bytes */${size}`, `${L}416 for Range: bytes=${size}-: Content-Range`);
    const ar = full.headers.get('accept-ranges');
    if (ar !== 'bytes') c.note(`${L}GET mp4Url answers Accept-Ranges: ${ar} (players usually look for "bytes")`);
  } else {
    c.check(false, `${L}output.mp4 is only ${size} bytes`);
  }

  // playback info of the session id
  const pb = await srv.request('GET', `/api/playback/${id}`, { key: null });
  c.eq(pb.status, 200, `${L}GET /api/playback/${id} (a ready recording) status (${show(pb)})`);
  if (pb.status === 200) {
    c.eq(pb.json?.type, 'recording', `${L}GET /api/playback/${id}: type`);
    const srcs = pb.json?.meta?.source ?? [];
    const hls = srcs.find((s) => s.url === sess.recordingUrl);
    const mp4 = srcs.find((s) => s.url === sess.mp4Url);
    c.check(hls && hls.type === 'html5/application/vnd.apple.mpegurl' && hls.hrn === 'HLS (TS)',
      () => `${L}GET /api/playback/${id}: meta.source must hold the HLS recording {hrn "HLS (TS)", type html5/application/vnd.apple.mpegurl, url recordingUrl}, got ${JSON.stringify(srcs)}`);
    c.check(mp4 && mp4.type === 'html5/video/mp4' && mp4.hrn === 'MP4',
      () => `${L}GET /api/playback/${id}: meta.source must hold the MP4 {hrn "MP4", type html5/video/mp4, url mp4Url}, got ${JSON.stringify(srcs)}`);
  }
  if (lp) {
    await c.run(`${L}SDK playback.get(${id})`, async () => {
      const p = await sdk('playback.get', lp.playback.get(id));
      c.eq(p.playbackInfo?.type, 'recording', `${L}SDK playback.get(sessionId).playbackInfo.type`);
      c.check((p.playbackInfo?.meta?.source ?? []).some((s) => s.url === sess.recordingUrl),
        () => `${L}SDK playback.get(sessionId): meta.source must hold recordingUrl, got ${JSON.stringify(p.playbackInfo?.meta?.source)}`);
    });
  }
  return out;
}
