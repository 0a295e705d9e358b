// Media helpers for the ingest e2e tests: ffmpeg publishers fed by lavfi test sources (no media
// files needed), ffprobe, HLS playlist parsing, the segment files on disk, and polling.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function execFileP(file, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 64 * 1024 * 1024, ...opts }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, error, stdout, stderr });
    });
  });
}

/**
 * ffmpeg arguments for a lavfi H.264/AAC test source (testsrc2 + 440 Hz sine), `seconds` long,
 * encoded as the e2e bullet says; the URL or file goes after the returned args. `audio:
 * false` drops the audio track, `vcodec`/`acodec` replace the codec arguments (arrays).
 */
export function sourceArgs({
  seconds = 10, size = '1280x720', rate = 30, gop, re = true, outArgs = [], audio = true, vcodec, acodec,
} = {}) {
  return [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    ...(re ? ['-re'] : []),
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`,
    ...(audio ? ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'] : []),
    '-t', String(seconds),
    ...(vcodec ?? ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency']),
    '-g', String(gop ?? 2 * rate),
    '-pix_fmt', 'yuv420p',
    ...(audio ? (acodec ?? ['-c:a', 'aac', '-b:a', '128k']) : ['-an']),
    ...outArgs,
    '-f', 'flv',
  ];
}

// publishers still running when the test process exits are killed
const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/**
 * Starts an ffmpeg publisher. opts: seconds, size, rate, gop, re (as sourceArgs), or `file` (a
 * file made by renderLocal, sent with -re -c copy: no encoding, so a busy machine cannot slow the
 * publisher down), and either
 * `url` (rtmp://HOST:PORT/live/KEY) or `obs: { server, key }` (OBS style: the server URL without
 * the key, the key as the publish name, via ffmpeg's -rtmp_app/-rtmp_playpath). Returns
 * { child, args, startedAt, done, running(), kill(sig) }; `done` resolves to
 * { code, signal, stderr, ms } (never rejects). A publisher still running `seconds + 60` s after
 * its start is killed.
 */
export function publish(opts) {
  let target;
  let outArgs = [];
  if (opts.obs) {
    // rtmp://127.0.0.1:PORT/live -> connect app "live", publish name = key
    const u = new URL(opts.obs.server);
    const app = u.pathname.replace(/^\/+|\/+$/g, '');
    outArgs = ['-rtmp_app', app, '-rtmp_playpath', opts.obs.key];
    target = `rtmp://${u.host}`;
  } else {
    target = opts.url;
  }
  const args = opts.file
    ? ['-nostdin', '-hide_banner', '-loglevel', 'error', ...(opts.re === false ? [] : ['-re']), '-i', opts.file,
      '-c', 'copy', ...outArgs, '-f', 'flv', target]
    : [...sourceArgs({ ...opts, outArgs }), target];
  const startedAt = Date.now();
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const done = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stderr: stderr.trim(), ms: Date.now() - startedAt });
    });
    child.on('error', (err) => {
      exited = true;
      resolve({ code: -1, signal: null, stderr: `spawn error: ${err.message}`, ms: Date.now() - startedAt });
    });
  });
  const guard = setTimeout(() => {
    if (!exited) child.kill('SIGKILL');
  }, ((opts.seconds ?? 10) + 60) * 1000);
  guard.unref();
  done.then(() => clearTimeout(guard));
  liveChildren.add(child);
  done.then(() => liveChildren.delete(child));
  return {
    child,
    args,
    startedAt,
    done,
    running: () => !exited,
    kill: (sig = 'SIGTERM') => {
      if (!exited) child.kill(sig);
    },
    describe: () => `ffmpeg ${args.join(' ')}`,
  };
}

/** Waits for a publisher with a deadline; returns its result or { timedOut: true } (and kills it). */
export async function waitExit(pub, ms) {
  let timer;
  const r = await Promise.race([
    pub.done,
    new Promise((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), ms);
    }),
  ]);
  clearTimeout(timer);
  if (r.timedOut) pub.kill('SIGKILL');
  return r;
}

/** Renders the same lavfi source (same args, without -re) to a local FLV file. */
export async function renderLocal(file, opts) {
  const args = [...sourceArgs({ ...opts, re: false }), '-y', file];
  const r = await execFileP('ffmpeg', args);
  assert.equal(r.code, 0, `ffmpeg ${args.join(' ')} failed: ${r.stderr}`);
  return file;
}

/** ffprobe's format duration (seconds) of a file or URL. */
export async function ffprobeDuration(input) {
  const r = await execFileP('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', input], {
    timeout: 60_000,
  });
  const d = Number.parseFloat(r.stdout.trim());
  return { code: r.code, duration: d, stdout: r.stdout, stderr: r.stderr };
}

/** ffprobe's streams (codec_type, codec_name, width, height) of a file or URL. */
export async function ffprobeStreams(input) {
  const r = await execFileP('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,width,height', '-of', 'json', input], {
    timeout: 60_000,
  });
  let streams = [];
  try {
    streams = JSON.parse(r.stdout).streams ?? [];
  } catch {
    /* keep [] */
  }
  return { code: r.code, streams, stderr: r.stderr };
}

/**
 * Decodes a whole input with `ffmpeg -v error -i INPUT -f null -`; returns { code, stderr }.
 * `mapAll` adds `-map 0` (every stream of every variant of a master playlist, not just the best).
 */
export async function playThrough(input, { mapAll = false } = {}) {
  const args = ['-nostdin', '-v', 'error', '-i', input, ...(mapAll ? ['-map', '0'] : []), '-f', 'null', '-'];
  const r = await execFileP('ffmpeg', args, { timeout: 120_000 });
  return { code: r.code, stderr: r.stderr.trim() };
}

/** Runs ffprobe with `-v error -of json` and the given arguments on input; { code, json, stderr }. */
export async function ffprobeJson(args, input) {
  const r = await execFileP('ffprobe', ['-v', 'error', ...args, '-of', 'json', input], { timeout: 60_000 });
  let json;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.code, json, stderr: r.stderr.trim() };
}

/**
 * ffprobe's streams with what the transcoding tests judge: codec_type, codec_name, profile, width,
 * height, r_frame_rate, avg_frame_rate, level. Returns { code, streams, video, audio, stderr }
 * (video/audio: the first stream of that type).
 */
export async function probeStreams(input) {
  const r = await ffprobeJson(
    ['-show_entries', 'stream=index,codec_type,codec_name,profile,level,width,height,r_frame_rate,avg_frame_rate'],
    input,
  );
  const streams = r.json?.streams ?? [];
  return {
    code: r.code, streams, stderr: r.stderr,
    video: streams.find((s) => s.codec_type === 'video'),
    audio: streams.find((s) => s.codec_type === 'audio'),
  };
}

/** "30000/1001" -> 29.97; undefined when not a positive ratio. */
export function frameRate(text) {
  const [n, d] = String(text ?? '').split('/').map(Number);
  return n > 0 && d > 0 ? n / d : undefined;
}

/**
 * The decoded video frames of an input (first video stream), in presentation order:
 * [{ key (bool), type ('I'|'P'|'B'), pts (seconds) }]. Returns { code, frames, stderr }.
 */
export async function probeVideoFrames(input) {
  const r = await ffprobeJson(
    ['-select_streams', 'v:0', '-show_entries', 'frame=key_frame,pict_type,pts_time,best_effort_timestamp_time'],
    input,
  );
  const frames = (r.json?.frames ?? []).map((f) => ({
    key: f.key_frame === 1,
    type: f.pict_type,
    pts: Number.parseFloat(f.pts_time ?? f.best_effort_timestamp_time),
  }));
  return { code: r.code, frames, stderr: r.stderr };
}

/**
 * The video packets of an input (first video stream): [{ size, pts, key }], and their byte sum.
 * Returns { code, packets, bytes, stderr }.
 */
export async function probeVideoPackets(input) {
  const r = await ffprobeJson(['-select_streams', 'v:0', '-show_entries', 'packet=size,pts_time,flags'], input);
  const packets = (r.json?.packets ?? []).map((p) => ({
    size: Number(p.size), pts: Number.parseFloat(p.pts_time), key: String(p.flags ?? '').startsWith('K'),
  }));
  return { code: r.code, packets, bytes: packets.reduce((a, p) => a + p.size, 0), stderr: r.stderr };
}

/**
 * Parses an HLS media playlist: { lines, version, targetDuration, mediaSequence,
 * programDateTimes, discontinuities, endlist, segments: [{ uri, duration, discontinuity }] }.
 * `discontinuity` is true on the first segment after an #EXT-X-DISCONTINUITY tag.
 */
export function parseMediaPlaylist(text) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const pl = {
    lines, header: lines[0], version: undefined, targetDuration: undefined, mediaSequence: undefined,
    programDateTimes: [], discontinuities: 0, endlist: false, endlistIsLast: false, segments: [],
  };
  let pendingDur;
  let pendingDisc = false;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-VERSION:')) pl.version = Number(line.slice(15));
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) pl.targetDuration = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) pl.mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pl.programDateTimes.push(line.slice(25));
    else if (line === '#EXT-X-DISCONTINUITY') {
      pl.discontinuities++;
      pendingDisc = true;
    } else if (line === '#EXT-X-ENDLIST') pl.endlist = true;
    else if (line.startsWith('#EXTINF:')) pendingDur = Number.parseFloat(line.slice(8).split(',')[0]);
    else if (!line.startsWith('#')) {
      pl.segments.push({ uri: line, duration: pendingDur, discontinuity: pendingDisc });
      pendingDur = undefined;
      pendingDisc = false;
    }
  }
  pl.endlistIsLast = lines[lines.length - 1] === '#EXT-X-ENDLIST';
  pl.extinfCount = lines.filter((l) => l.startsWith('#EXTINF:')).length;
  pl.totalDuration = pl.segments.reduce((a, s) => a + (s.duration || 0), 0);
  return pl;
}

/**
 * Attributes of an HLS tag's attribute list (RFC 8216 4.2): 'BANDWIDTH=1,CODECS="a,b"' ->
 * { BANDWIDTH: '1', CODECS: 'a,b' } (quoted strings unquoted; values stay strings).
 */
export function parseAttributes(list) {
  const attrs = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  let m;
  while ((m = re.exec(list)) !== null) {
    if (m[0] === '') break;
    attrs[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  }
  return attrs;
}

/** Variant URIs of an HLS master playlist, each with its #EXT-X-STREAM-INF line and attributes. */
export function parseMasterPlaylist(text) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const variants = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith('#EXT-X-STREAM-INF:')) {
      const uri = lines.slice(i + 1).find((l) => !l.startsWith('#'));
      variants.push({ inf: lines[i], uri, attrs: parseAttributes(lines[i].slice('#EXT-X-STREAM-INF:'.length)) });
    }
  }
  return { lines, header: lines[0], variants };
}

/** The *.ts files in a directory, sorted by name: [{ name, size }]. [] when the dir is absent. */
export function tsFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.ts'))
    .sort()
    .map((name) => ({ name, size: fs.statSync(path.join(dir, name)).size }));
}

/**
 * Polls `fn` (async) every `intervalMs` until it returns a truthy value or `timeoutMs` passes.
 * Returns { value, ms, ok } (never throws; `value` is the last value seen).
 */
export async function pollUntil(fn, { timeoutMs = 10_000, intervalMs = 200 } = {}) {
  const t0 = Date.now();
  let value;
  for (;;) {
    value = await fn();
    if (value) return { value, ms: Date.now() - t0, ok: true };
    if (Date.now() - t0 >= timeoutMs) return { value, ms: Date.now() - t0, ok: false };
    await sleep(intervalMs);
  }
}

/** Lines of the server log (since offset) that mention one of the needles, for failure messages. */
export function logLines(srv, needles, { since = 0, max = 40 } = {}) {
  const lines = srv.log.slice(since).split('\n');
  const hits = lines.filter((l) => needles.some((n) => n && l.includes(n)));
  return hits.slice(-max).join('\n');
}
