// The soak (bench/soak.sh runs it): PASSTHROUGH source-only publishers and TRANSCODED ones with a
// two-rung ladder, all recorded, for DURATION_MIN minutes, with API polling and HLS readers, some
// publishers reconnecting (SIGTERM, then again) and some killed (SIGKILL, then again) along the
// way. Then every publisher stops, every recording must become ready, and each session's counters
// must equal what its recording holds on disk: segments, media seconds (the #EXTINF sum) and bytes,
// source and renditions. Reports the server's RSS (slope after WARMUP_MIN, by least squares), its
// open descriptors before the publishers and after they are all gone, API latency and errors,
// HLS reader errors, and every log line above info, grouped.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const env = (name, fallback) => (process.env[name] !== undefined ? Number(process.env[name]) : fallback);
const DURATION_MIN = env('DURATION_MIN', 30);
const WARMUP_MIN = env('WARMUP_MIN', Math.min(5, DURATION_MIN / 3));
const PASSTHROUGH = env('PASSTHROUGH', 50);
const TRANSCODED = env('TRANSCODED', 2);
const RECONNECT_EVERY_S = env('RECONNECT_EVERY_S', 120);
const KILL_EVERY_S = env('KILL_EVERY_S', 180);
const READERS = env('READERS', 5);
const STREAMD = path.resolve(process.env.STREAMD ?? 'build/streamd');
const SMALL = process.env.SMALL_FLV;
const MEDIUM = process.env.MEDIUM_FLV;
const KEEP = process.env.KEEP === '1';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (msg) => process.stdout.write(`[soak +${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}\n`);

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const data = fs.mkdtempSync(path.join(process.env.SOAK_DIR ?? os.tmpdir(), 'streamd-soak-'));
const httpPort = await freePort();
let rtmpPort = await freePort();
while (rtmpPort === httpPort) rtmpPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;
const apiKey = `soak-${Date.now()}`;
const serverLog = fs.openSync(path.join(data, 'server.log'), 'w');
const server = spawn(STREAMD, ['--data', data, '--http', `127.0.0.1:${httpPort}`, '--rtmp', `127.0.0.1:${rtmpPort}`,
  '--public-url', base, '--api-key', apiKey, '--reconnect-window', '15', '--hls-window', '10'],
{ stdio: ['ignore', serverLog, serverLog] });
let serverExit = null;
server.on('exit', (code, signal) => (serverExit = { code, signal }));

async function api(method, p, body) {
  const started = Date.now();
  const r = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null, ms: Date.now() - started };
}

for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`${base}/healthz`)).status === 200) break;
  } catch { /* not up yet */ }
  await sleep(100);
}

const proc = (what) => {
  try {
    return fs.readFileSync(`/proc/${server.pid}/${what}`, 'utf8');
  } catch {
    return '';
  }
};
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(proc('status'))?.[1] ?? 0);
const fdCount = () => {
  try {
    return fs.readdirSync(`/proc/${server.pid}/fd`).length;
  } catch {
    return 0;
  }
};
const fdsBefore = fdCount();

// streams
const ladder = [
  { name: '360p', width: 640, height: 360, bitrate: 600_000, fps: 0 },
  { name: '240p', width: 426, height: 240, bitrate: 250_000, fps: 0 },
];
const streams = [];
for (let i = 0; i < PASSTHROUGH + TRANSCODED; i++) {
  const transcoded = i >= PASSTHROUGH;
  const r = await api('POST', '/api/stream', { name: `soak-${i}`, record: true, profiles: transcoded ? ladder : [] });
  if (r.status !== 201) throw new Error(`POST /api/stream: ${r.status} ${JSON.stringify(r.json)}`);
  streams.push({ ...r.json, transcoded, file: transcoded ? MEDIUM : SMALL, publisher: null, pending: false });
}

const children = new Set();
function startPublisher(s) {
  s.pending = false;
  const child = spawn('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', s.file,
    '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${s.streamKey}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const p = { child, exited: false, stderr: () => stderr };
  children.add(child);
  child.on('exit', () => {
    p.exited = true;
    children.delete(child);
  });
  s.publisher = p;
}
streams.forEach(startPublisher);
log(`${PASSTHROUGH} passthrough + ${TRANSCODED} transcoded publishers started; data ${data}`);

let running = true;
const stats = { api: [], apiErrors: [], hlsOk: 0, hlsErrors: [], rss: [], fds: [], reconnects: 0, kills: 0, unexpectedExits: [] };

// API polling: the SDK's usual calls, once a second
(async () => {
  while (running) {
    for (const p of ['/api/stream?limit=100', '/api/session?limit=100', `/api/stream/${streams[0].id}`]) {
      try {
        const r = await api('GET', p);
        stats.api.push(r.ms);
        if (r.status !== 200) stats.apiErrors.push(`${p}: ${r.status}`);
      } catch (err) {
        stats.apiErrors.push(`${p}: ${err.message}`);
      }
    }
    await sleep(1000);
  }
})();

// HLS readers: master, media playlist and its newest segment of a random stream, every second
for (let i = 0; i < READERS; i++) {
  (async () => {
    while (running) {
      const s = streams[Math.floor(Math.random() * streams.length)];
      try {
        const master = await fetch(`${base}/hls/${s.playbackId}/index.m3u8`, { signal: AbortSignal.timeout(10_000) });
        if (master.status === 200) {
          const media = await fetch(`${base}/hls/${s.playbackId}/source/index.m3u8`, { signal: AbortSignal.timeout(10_000) });
          const text = await media.text();
          const last = text.split('\n').filter((l) => l.endsWith('.ts')).pop();
          if (last) {
            const seg = await fetch(`${base}/hls/${s.playbackId}/source/${last}`, { signal: AbortSignal.timeout(10_000) });
            await seg.arrayBuffer();
            // a segment can roll out of the window between the playlist and the GET: 404 then is fine
            if (seg.status === 200) stats.hlsOk++;
            else if (seg.status !== 404) stats.hlsErrors.push(`${s.playbackId}/${last}: ${seg.status}`);
          }
        } else if (master.status !== 404) {
          stats.hlsErrors.push(`${s.playbackId} master: ${master.status}`);
        }
      } catch (err) {
        stats.hlsErrors.push(`${s.playbackId}: ${err.message}`);
      }
      await sleep(1000);
    }
  })();
}

const passthrough = streams.filter((s) => !s.transcoded);
const pick = (n) => passthrough.filter((s) => !s.pending).sort(() => Math.random() - 0.5).slice(0, n);
/* Ends a publisher with signal and starts it again after ms. */
function restart(s, signal, ms) {
  s.pending = true;
  s.publisher.expected = true;
  s.publisher.child.kill(signal);
  setTimeout(() => running && startPublisher(s), ms);
}
let nextReconnect = Date.now() + RECONNECT_EVERY_S * 1000;
let nextKill = Date.now() + KILL_EVERY_S * 1000;
const end = t0 + DURATION_MIN * 60_000;
while (Date.now() < end && !serverExit) {
  await sleep(10_000);
  stats.rss.push([(Date.now() - t0) / 60_000, rssKb()]);
  stats.fds.push(fdCount());
  for (const s of streams) {
    if (!s.pending && s.publisher.exited && !s.publisher.expected) {
      stats.unexpectedExits.push(`${s.name}: ${s.publisher.stderr().trim()}`);
      startPublisher(s);
    }
  }
  if (Date.now() >= nextReconnect) {
    nextReconnect += RECONNECT_EVERY_S * 1000;
    for (const s of pick(3)) {
      restart(s, 'SIGTERM', 2000);
      stats.reconnects++;
    }
  }
  if (Date.now() >= nextKill) {
    nextKill += KILL_EVERY_S * 1000;
    for (const s of pick(2)) {
      restart(s, 'SIGKILL', 3000);
      stats.kills++;
    }
  }
  const last = stats.rss[stats.rss.length - 1];
  if (stats.rss.length % 6 === 0)
    log(`RSS ${(last[1] / 1024).toFixed(1)} MiB, ${stats.fds[stats.fds.length - 1]} fds, API p50 ${pct(stats.api, 50)} ms, ` +
      `HLS ok ${stats.hlsOk}, reconnects ${stats.reconnects}, kills ${stats.kills}`);
}

function pct(list, p) {
  if (!list.length) return NaN;
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// the end: every publisher stops, every recording must become ready
log('stopping the publishers');
running = false; /* no restart from here on */
for (const child of children) child.kill('SIGTERM');
const failures = [];
const readyBy = Date.now() + 10 * 60_000;
let sessions = [];
while (Date.now() < readyBy && !serverExit) {
  await sleep(5000);
  const r = await api('GET', '/api/session?limit=1000');
  sessions = r.json ?? [];
  const pending = sessions.filter((x) => x.recordingStatus !== 'ready' && x.recordingStatus !== 'failed');
  if (pending.length === 0) break;
}
const fdsAfter = fdCount();

// counters vs the recordings on disk
function recorded(sessionId, rendition) {
  const dir = path.join(data, 'rec', sessionId, rendition);
  let text = '';
  try {
    text = fs.readFileSync(path.join(dir, 'index.m3u8'), 'utf8');
  } catch {
    return null;
  }
  let count = 0, seconds = 0, bytes = 0;
  for (const line of text.split('\n')) {
    const m = /^#EXTINF:([\d.]+)/.exec(line);
    if (m) {
      count++;
      seconds += Number(m[1]);
    } else if (line.endsWith('.ts')) {
      bytes += fs.statSync(path.join(dir, line)).size;
    }
  }
  return { count, seconds, bytes };
}
let checkedSessions = 0;
for (const sess of sessions) {
  const stream = streams.find((s) => s.id === sess.parentId);
  if (!stream) continue;
  checkedSessions++;
  const L = `session ${sess.id} (${stream.name})`;
  if (sess.recordingStatus !== 'ready') {
    failures.push(`${L}: recordingStatus ${sess.recordingStatus}`);
    continue;
  }
  const src = recorded(sess.id, 'source');
  if (!src) {
    failures.push(`${L}: no source recording`);
    continue;
  }
  if (src.count !== sess.sourceSegments) failures.push(`${L}: sourceSegments ${sess.sourceSegments}, recording ${src.count}`);
  if (Math.abs(src.seconds - sess.sourceSegmentsDuration) > 0.001 * src.count + 0.01)
    failures.push(`${L}: sourceSegmentsDuration ${sess.sourceSegmentsDuration}, recording ${src.seconds.toFixed(3)}`);
  if (src.bytes !== sess.sourceBytes) failures.push(`${L}: sourceBytes ${sess.sourceBytes}, recording ${src.bytes}`);
  if (stream.transcoded) {
    let count = 0, bytes = 0, seconds = 0;
    for (const r of ladder) {
      const x = recorded(sess.id, r.name);
      if (!x) failures.push(`${L}: no ${r.name} recording`);
      else {
        count += x.count;
        bytes += x.bytes;
        seconds += x.seconds;
      }
    }
    if (count !== sess.transcodedSegments) failures.push(`${L}: transcodedSegments ${sess.transcodedSegments}, recordings ${count}`);
    if (bytes !== sess.transcodedBytes) failures.push(`${L}: transcodedBytes ${sess.transcodedBytes}, recordings ${bytes}`);
    if (Math.abs(seconds - sess.transcodedSegmentsDuration) > 0.001 * count + 0.01)
      failures.push(`${L}: transcodedSegmentsDuration ${sess.transcodedSegmentsDuration}, recordings ${seconds.toFixed(3)}`);
  }
}
const sessionsPerStream = streams.map((s) => sessions.filter((x) => x.parentId === s.id).length);

// RSS slope after warm-up: least squares over (minute, KiB)
const warm = stats.rss.filter(([m]) => m >= WARMUP_MIN);
const n = warm.length;
const mx = warm.reduce((a, [m]) => a + m, 0) / n;
const my = warm.reduce((a, [, y]) => a + y, 0) / n;
const slope = warm.reduce((a, [m, y]) => a + (m - mx) * (y - my), 0) / warm.reduce((a, [m]) => a + (m - mx) ** 2, 0);

// log lines above info, grouped by their text with numbers and ids masked
const lines = fs.readFileSync(path.join(data, 'server.log'), 'utf8').split('\n');
const groups = new Map();
for (const line of lines) {
  const m = /^\S+ (warn|error) +(.*)$/.exec(line);
  if (!m) continue;
  const key = `${m[1]} ${m[2].replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, 'ID').replace(/[0-9a-z]{16}/g, 'PID').replace(/\d+(\.\d+)?/g, 'N')}`;
  groups.set(key, (groups.get(key) ?? 0) + 1);
}

server.kill('SIGTERM');
const stopStart = Date.now();
while (!serverExit && Date.now() - stopStart < 20_000) await sleep(100);

console.log('\n==== soak results ====');
console.log(`command: bench/soak.sh   (DURATION_MIN=${DURATION_MIN} PASSTHROUGH=${PASSTHROUGH} TRANSCODED=${TRANSCODED} ` +
  `RECONNECT_EVERY_S=${RECONNECT_EVERY_S} KILL_EVERY_S=${KILL_EVERY_S} READERS=${READERS})`);
console.log(`machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ran ${((stopStart - t0) / 60_000).toFixed(1)} min`);
console.log(`publishers: ${streams.length}; reconnects (SIGTERM, again after 2 s): ${stats.reconnects}; kill -9 (again after 3 s): ${stats.kills}; unexpected publisher exits: ${stats.unexpectedExits.length}`);
console.log(`sessions: ${checkedSessions} checked against their recordings (per stream: ${Math.min(...sessionsPerStream)}..${Math.max(...sessionsPerStream)}); counter mismatches: ${failures.length}`);
for (const f of failures.slice(0, 20)) console.log(`  MISMATCH ${f}`);
console.log(`RSS: ${(stats.rss[0]?.[1] / 1024).toFixed(1)} MiB at the first sample, ${(Math.max(...stats.rss.map(([, y]) => y)) / 1024).toFixed(1)} MiB peak, ` +
  `${(stats.rss[stats.rss.length - 1]?.[1] / 1024).toFixed(1)} MiB at the end; slope after ${WARMUP_MIN} min warm-up: ${(slope / 1024).toFixed(3)} MiB/min over ${n} samples`);
console.log(`descriptors: ${fdsBefore} before the publishers, ${Math.max(...stats.fds)} peak, ${fdsAfter} after every session ended`);
console.log(`API: ${stats.api.length} calls, p50 ${pct(stats.api, 50)} ms, p99 ${pct(stats.api, 99)} ms, max ${Math.max(...stats.api)} ms, errors ${stats.apiErrors.length}`);
for (const e of stats.apiErrors.slice(0, 5)) console.log(`  API ERROR ${e}`);
console.log(`HLS readers: ${stats.hlsOk} segments read, errors ${stats.hlsErrors.length}`);
for (const e of stats.hlsErrors.slice(0, 5)) console.log(`  HLS ERROR ${e}`);
console.log(`server exit: ${JSON.stringify(serverExit)} (SIGTERM at the end)`);
console.log('log lines above info, grouped:');
for (const [k, v] of [...groups.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${String(v).padStart(6)}  ${k}`);
for (const e of stats.unexpectedExits.slice(0, 5)) console.log(`  UNEXPECTED PUBLISHER EXIT ${e}`);
if (!KEEP) fs.rmSync(data, { recursive: true, force: true });
else console.log(`data kept in ${data}`);
const ok = failures.length === 0 && stats.apiErrors.length === 0 && serverExit?.code === 0 && fdsAfter <= fdsBefore + 2;
console.log(ok ? 'soak: PASS' : 'soak: FAIL');
process.exit(ok ? 0 : 1);
