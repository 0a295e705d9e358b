// The work of bench/webhooks.sh (see there): runs streamd three times (no webhooks, webhooks, no
// webhooks again) under the same live load and churn, then the burst, and prints the figures.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const STEADY = env('STEADY', 20);
const CHURN = env('CHURN', 10);
const HOOKS = env('HOOKS', 20);
const WINDOW_S = env('WINDOW_S', 60);
const BURST = env('BURST', 500);
const STREAMD = path.resolve(process.env.STREAMD ?? 'build/streamd');
const FLV = process.env.SMALL_FLV;
const CLK_TCK = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (msg) => process.stdout.write(`${msg}\n`);

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A receiver keeping, per request, its arrival time and the body's event and createdAt. */
async function startReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      try {
        const b = JSON.parse(Buffer.concat(chunks).toString());
        got.push({ at, event: b.event, createdAt: b.createdAt, stream: b.stream?.id });
      } catch { /* counted as nothing */ }
      res.writeHead(200);
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, got, close: () => new Promise((r) => server.close(r)) };
}

async function startStreamd(dir) {
  const httpPort = await freePort();
  let rtmpPort = await freePort();
  while (rtmpPort === httpPort) rtmpPort = await freePort();
  const base = `http://127.0.0.1:${httpPort}`;
  const apiKey = `bench-${Date.now()}`;
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const child = spawn(STREAMD, ['--data', dir, '--http', `127.0.0.1:${httpPort}`, '--rtmp', `127.0.0.1:${rtmpPort}`,
    '--public-url', base, '--api-key', apiKey, '--webhooks-allow-private', '--reconnect-window', '1'],
  { stdio: ['ignore', log, log] });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).status === 200) break;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  const api = async (method, p, body) => {
    const r = await fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const ticksOf = (statPath) => {
    const fields = fs.readFileSync(statPath, 'utf8').replace(/.*\) /, '').split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  // The process in all (threads that ended included), and its webhook delivery thread alone.
  const cpuTicks = () => ticksOf(`/proc/${child.pid}/stat`);
  const hooksTicks = () => {
    const tasks = fs.readdirSync(`/proc/${child.pid}/task`);
    const hooks = tasks.find((t) => fs.readFileSync(`/proc/${child.pid}/task/${t}/comm`, 'utf8').trim() === 'hooks');
    return hooks ? ticksOf(`/proc/${child.pid}/task/${hooks}/stat`) : 0;
  };
  const stop = async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return { base, rtmpPort, api, cpuTicks, hooksTicks, stop, pid: child.pid };
}

const publishers = new Set();
function publish(srv, key, { seconds } = {}) {
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', ...(seconds ? [] : ['-stream_loop', '-1']),
    '-i', FLV, ...(seconds ? ['-t', String(seconds)] : []), '-c', 'copy', '-f', 'flv', `rtmp://127.0.0.1:${srv.rtmpPort}/live/${key}`];
  const child = spawn('ffmpeg', args, { stdio: 'ignore' });
  publishers.add(child);
  const done = new Promise((r) => child.once('exit', () => {
    publishers.delete(child);
    r();
  }));
  return { child, done, spawnedAt: Date.now() };
}
process.on('exit', () => {
  for (const c of publishers) c.kill('SIGKILL');
});

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

/** One run: STEADY live streams, CHURN streams cycling, hooks webhooks; CPU over the window. */
async function run(label, hooks) {
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), `run-${label}-`));
  const srv = await startStreamd(dir);
  const rx = await startReceiver();
  for (let i = 0; i < hooks; i++) await srv.api('POST', '/api/webhook', { name: `h${i}`, url: rx.url, events: ['stream.started', 'stream.idle'] });
  const steady = [];
  for (let i = 0; i < STEADY; i++) steady.push(await srv.api('POST', '/api/stream', { name: `steady-${i}`, profiles: [] }));
  const churn = [];
  for (let i = 0; i < CHURN; i++) churn.push(await srv.api('POST', '/api/stream', { name: `churn-${i}`, profiles: [] }));
  const live = steady.map((s) => publish(srv, s.streamKey));
  await sleep(5000); // every steady stream live, its first events delivered
  const spawns = []; // { stream, spawnedAt }
  let stopping = false;
  const cycles = churn.map(async (s, i) => {
    await sleep((i * 4000) / CHURN); // spread the flips
    while (!stopping) {
      const p = publish(srv, s.streamKey, { seconds: 3 });
      spawns.push({ stream: s.id, spawnedAt: p.spawnedAt });
      await p.done;
      await sleep(1500);
    }
  });
  const t0 = Date.now();
  const cpu0 = srv.cpuTicks(), hooks0 = srv.hooksTicks();
  const from = rx.got.length;
  await sleep(WINDOW_S * 1000);
  const cpuS = (srv.cpuTicks() - cpu0) / CLK_TCK;
  const hooksS = (srv.hooksTicks() - hooks0) / CLK_TCK;
  const window = rx.got.slice(from).filter((g) => g.at - t0 <= WINDOW_S * 1000);
  stopping = true;
  await Promise.all(cycles);
  for (const p of live) p.child.kill('SIGTERM');
  await Promise.all(live.map((p) => p.done));
  await sleep(2000);
  const delays = window.map((g) => g.at - g.createdAt).sort((a, b) => a - b);
  // publish-to-stream.started: each churn publish's spawn to the first started event of its stream
  // that arrived after it (one webhook's copy: the earliest).
  const toStarted = [];
  for (const s of spawns) {
    const first = rx.got.find((g) => g.event === 'stream.started' && g.stream === s.stream && g.at >= s.spawnedAt);
    if (first) toStarted.push(first.at - s.spawnedAt);
  }
  toStarted.sort((a, b) => a - b);
  await srv.stop();
  await rx.close();
  return { label, cpuS, hooksS, restS: cpuS - hooksS, delivered: window.length, rate: window.length / WINDOW_S, delays, toStarted, flips: spawns.length * 2 };
}

async function burst() {
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'run-burst-'));
  const srv = await startStreamd(dir);
  const rx = await startReceiver();
  for (let i = 0; i < BURST; i++) await srv.api('POST', '/api/webhook', { name: `b${i}`, url: rx.url, events: ['stream.started'] });
  const s = await srv.api('POST', '/api/stream', { name: 'burst', profiles: [] });
  const p = publish(srv, s.streamKey, { seconds: 6 });
  for (let i = 0; i < 300 && rx.got.length < BURST; i++) await sleep(100);
  const first = Math.min(...rx.got.map((g) => g.createdAt));
  const last = Math.max(...rx.got.map((g) => g.at));
  await p.done;
  await srv.stop();
  await rx.close();
  return { received: rx.got.length, seconds: (last - first) / 1000 };
}

say(`bench/webhooks.sh: ${STEADY} steady streams, ${CHURN} churning, ${HOOKS} webhooks, ${WINDOW_S} s window; streamd ${STREAMD}`);
const ref1 = await run('reference-1', 0);
const hooked = await run('webhooks', HOOKS);
const ref2 = await run('reference-2', 0);
const b = await burst();
const fmt = (x) => x.toFixed(1);
for (const r of [ref1, hooked, ref2]) {
  say(`${r.label.padEnd(12)} streamd CPU ${r.cpuS.toFixed(2)} s over ${WINDOW_S} s (delivery thread ${r.hooksS.toFixed(2)} s, ` +
    `every other thread ${r.restS.toFixed(2)} s); ${r.flips} flips of churning streams`);
}
const d = hooked.delays;
say(`deliveries: ${hooked.delivered} in ${WINDOW_S} s = ${fmt(hooked.rate)}/s; delay from the state change p50 ${pct(d, 50)} ms, p99 ${pct(d, 99)} ms, max ${d[d.length - 1]} ms`);
const t = hooked.toStarted;
say(`publish (ffmpeg spawn) to stream.started received: p50 ${pct(t, 50)} ms, p99 ${pct(t, 99)} ms, max ${t[t.length - 1]} ms (${t.length} publishes)`);
const refLow = Math.min(ref1.cpuS, ref2.cpuS), refHigh = Math.max(ref1.cpuS, ref2.cpuS);
say(`CPU with webhooks / mean of the references: ${(hooked.cpuS / ((ref1.cpuS + ref2.cpuS) / 2)).toFixed(3)}; references ${refLow.toFixed(2)}..${refHigh.toFixed(2)} s (spread ${(((refHigh - refLow) / refLow) * 100).toFixed(1)} %)`);
// Ingest CPU: every thread but the delivery thread (RTMP loops, pipelines, the store writes that
// raise the events, the API); against the references' whole process, which has no deliveries.
const restRatio = hooked.restS / ((ref1.cpuS + ref2.cpuS) / 2);
say(`ingest CPU (all but the delivery thread) with webhooks / mean of the references: ${restRatio.toFixed(3)}; ` +
  `goal (no more than the higher reference): ${hooked.restS <= refHigh ? 'met' : 'NOT met'}`);
if (hooked.delivered) say(`delivery thread CPU per delivery: ${((hooked.hooksS / hooked.delivered) * 1000).toFixed(2)} ms`);
say(`burst: one stream.started to ${BURST} webhooks: ${b.received} received in ${b.seconds.toFixed(2)} s = ${fmt(b.received / b.seconds)}/s`);
say(`goal p99 <= 100 ms: ${pct(d, 99) <= 100 ? 'met' : 'NOT met'}`);
