// Five concurrent publishers on five streams (issue 4): each keeps exact, separate counters: its
// session's sourceSegments equals its own playlist's segment count and sourceBytes the sum of its
// own segment files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { expectStatus } from './lib/contract.mjs';
import { publish, waitExit, sleep } from './lib/media.mjs';
import {
  Checks, createStream, sessionsOf, checkHls, checkCountersVsPlaylist, waitInactive, streamLog,
} from './lib/live.mjs';

const srv = await startServer({ flags: ['--hls-window', '100'] });
const N = 5;
const SRC = { size: '320x240', rate: 15, gop: 30, seconds: 8 };

test(`${N} concurrent publishers keep exact, separate counters`, async () => {
  const streams = [];
  for (let i = 0; i < N; i++) streams.push(await createStream(srv, { name: `concurrent ${i}` }));
  const c = new Checks(`${N} concurrent publishers`);
  const logFrom = srv.log.length;
  // alternate the two URL forms
  const pubs = streams.map((s, i) => publish({
    ...SRC,
    ...(i % 2 === 0 ? { url: srv.rtmpUrl(s.streamKey) } : { obs: { server: srv.rtmpBase, key: s.streamKey } }),
  }));
  const t0 = Date.now();

  // midway: all five live at once, each with its own session
  const mid = [];
  while (pubs.some((p) => p.running())) {
    await sleep(1000);
    const r = await srv.request('GET', '/api/session?limit=1000');
    if (r.status !== 200) continue;
    const byParent = new Map(r.json.map((x) => [x.parentId, x]));
    const listed = await srv.request('GET', '/api/stream?limit=1000');
    const activeCount = (listed.json ?? []).filter((x) => streams.some((s) => s.id === x.id) && x.isActive).length;
    mid.push({ t: Date.now() - t0, sessions: streams.map((s) => byParent.get(s.id)), activeCount, running: pubs.filter((p) => p.running()).length });
  }
  const results = await Promise.all(pubs.map((p) => waitExit(p, 30_000)));
  results.forEach((r, i) => {
    c.check(!r.timedOut && r.code === 0, () => `publisher ${i}: ffmpeg must exit 0, got ${r.timedOut ? 'timeout' : `${r.code}: ${r.stderr}`}`);
  });
  const allLive = mid.filter((m) => m.running === N && m.t >= 3000);
  c.check(allLive.length > 0 && allLive.every((m) => m.activeCount === N && m.sessions.every((x) => x && x.ingestRate > 0)),
    () => `while all ${N} published, all ${N} streams must be active with a session with ingestRate > 0: ` +
      JSON.stringify(mid.map((m) => ({ t: m.t, running: m.running, active: m.activeCount, rates: m.sessions.map((x) => x?.ingestRate) }))));

  for (const s of streams) {
    const inactive = await waitInactive(srv, s.id, 2500);
    c.check(inactive.ok, `stream ${s.name}: inactive within 2.5 s after its publisher finished`);
  }
  const ids = new Set();
  for (const [i, s] of streams.entries()) {
    const L = `stream ${i} (${s.id}, ${i % 2 === 0 ? 'URL' : 'OBS'} form)`;
    const list = await sessionsOf(srv, s.id);
    c.eq(list.length, 1, `${L}: sessions`);
    const sess = list[0];
    if (!sess) continue;
    ids.add(sess.id);
    c.eq(sess.parentId, s.id, `${L}: session parentId`);
    c.eq(sess.playbackId, s.playbackId, `${L}: session playbackId`);
    c.eq(sess.ingestRate, 0, `${L}: ingestRate after the end`);
    const hls = await checkHls(c, srv, s, { label: L, session: sess });
    checkCountersVsPlaylist(c, sess, hls, { label: L, pushed: SRC.seconds });
    const st = expectStatus(await srv.request('GET', `/api/stream/${s.id}`), 200);
    c.eq(st.sourceBytes, sess.sourceBytes, `${L}: stream.sourceBytes (running total) vs its session`);
  }
  c.eq(ids.size, N, 'distinct session ids');
  c.done(streams.map((s) => streamLog(srv, s, logFrom)).join('\n').slice(-8000));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
