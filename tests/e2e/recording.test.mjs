// Recordings (issue 6): a stream with `record: true` records every session under
// data/rec/{sessionId}/ as HLS VOD (all renditions) and an MP4 of the source; recordingStatus is
// `waiting` while live and until the reconnect window has closed, then `ready` with recordingUrl
// and mp4Url. And PATCH `record`: on an inactive stream it applies to the next session, on an
// active one it is API.md's 400.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from './lib/server.mjs';
import { expectStatus, expectError, sdk, sdkFails, assertSessionShape } from './lib/contract.mjs';
import { publish, waitExit, pollUntil, parseMediaPlaylist, tsFiles, sleep, logLines } from './lib/media.mjs';
import { Checks, createStream, getStreamRaw, waitInactive, streamLog, fetchRaw, hlsPaths } from './lib/live.mjs';
import {
  recDir, diskPlaylist, waitRecording, describeHistory, checkReadyRecording, getSessionRaw,
} from './lib/recording.mjs';

const WINDOW_S = 3;
const srv = await startServer({ flags: ['--reconnect-window', String(WINDOW_S), '--hls-window', '100'] });

const LADDER = [
  { name: '360p', width: 640, height: 360, bitrate: 600000, fps: 0 },
  { name: '240p', width: 426, height: 240, bitrate: 300000, fps: 0 },
];
const REC_FIELDS = ['recordingStatus', 'recordingUrl', 'mp4Url'];

/** Server log lines about a stream and its session's recording, for failure messages. */
function recLog(stream, sessionId, since = 0) {
  const base = streamLog(srv, stream, since);
  const more = logLines(srv, [sessionId, '[recorder]', '[recordings]'], { since, max: 60 });
  return `${base}\n--- server log lines about session ${sessionId} and recordings ---\n${more}`;
}

/** Waits until the server logs that the session is final (its reconnect window has passed). */
async function waitFinal(sessionId, timeoutMs) {
  return pollUntil(() => srv.log.includes(`session ${sessionId} is final`), { timeoutMs, intervalMs: 100 });
}

test('a recorded stream with a two-rung ladder: waiting while live, ready after, HLS VOD and MP4 that play', async () => {
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'recorded ladder', record: true, profiles: LADDER });
  assert.equal(s.record, true, `stream.record after create: ${JSON.stringify(s)}`);
  const c = new Checks(`recording of ${s.id}`);
  const logFrom = srv.log.length;
  const PUSH_S = 12;

  const pub = publish({ size: '1280x720', rate: 30, gop: 60, seconds: PUSH_S, url: srv.rtmpUrl(s.streamKey) });
  const t0 = Date.now();
  const samples = [];
  let sid;
  while (pub.running()) {
    const tick = Date.now();
    const x = { t: tick - t0, errors: [] };
    try {
      const all = (await sdk('session.getAll', lp.session.getAll())).data ?? [];
      x.getAll = all.filter((y) => y.parentId === s.id);
    } catch (e) {
      x.errors.push(e.message);
    }
    sid ??= x.getAll?.[0]?.id;
    if (sid) {
      try {
        x.get = (await sdk('session.get', lp.session.get(sid))).session;
      } catch (e) {
        x.errors.push(e.message);
      }
      x.raw = await getSessionRaw(srv, sid);
      x.disk = diskPlaylist(srv, sid, 'source');
      x.finalFiles = ['index.m3u8', 'output.mp4'].filter((f) => fs.existsSync(path.join(recDir(srv, sid), f)));
    }
    try {
      x.recorded = (await sdk('session.getRecorded', lp.session.getRecorded(s.id))).data ?? [];
    } catch (e) {
      x.errors.push(e.message);
    }
    x.rec1 = (await srv.request('GET', `/api/stream/${s.id}/sessions?record=1`)).json;
    x.rec0 = (await srv.request('GET', `/api/stream/${s.id}/sessions?record=0`)).json;
    x.running = pub.running();
    samples.push(x);
    const wait = 1000 - (Date.now() - tick);
    if (wait > 0) await sleep(wait);
  }
  const pr = await pub.done;
  assert.equal(pr.code, 0, `ffmpeg must publish ${PUSH_S} s successfully, exit ${pr.code}: ${pr.stderr}\n${streamLog(srv, s, logFrom)}`);
  const inactive = await waitInactive(srv, s.id, 3000);
  const tInactive = Date.now();
  c.check(inactive.ok, 'stream.isActive false within 3 s after ffmpeg finished');
  assert.ok(sid, `no session of ${s.id} was ever listed by SDK session.getAll while publishing\n${streamLog(srv, s, logFrom)}`);

  // while live
  const desc = () => samples.map((x) => `+${(x.t / 1000).toFixed(1)}s getAll=${x.getAll?.[0]?.recordingStatus} get=${x.get?.recordingStatus} ` +
    `raw=${x.raw?.recordingStatus} segs=${x.raw?.sourceSegments} recorded=${x.recorded?.map((y) => y.recordingStatus).join(',')} ` +
    `rec1=${x.rec1?.length} rec0=${x.rec0?.length} disk=${x.disk ? `${x.disk.playlistType}/${x.disk.segments.length}${x.disk.endlist ? '/ENDLIST' : ''}` : 'none'}` +
    `${x.finalFiles?.length ? ` final files: ${x.finalFiles}` : ''}${x.errors.length ? ` ERR ${x.errors.join(' | ')}` : ''}`).join('\n    ');
  const live = samples.filter((x) => x.running && x.t >= 3000);
  const listed = samples.filter((x) => x.running && x.t >= 4500);
  c.check(live.length >= 5, () => `at least 5 samples while publishing expected, got ${live.length}\n    ${desc()}`);
  for (const x of samples) for (const e of x.errors) c.check(false, `while live (+${(x.t / 1000).toFixed(1)}s): ${e}`);
  for (const [k, get] of [['SDK session.getAll', (x) => x.getAll?.[0]], ['SDK session.get', (x) => x.get], ['GET /api/session/{id}', (x) => x.raw]]) {
    c.check(live.every((x) => get(x)?.recordingStatus === 'waiting'),
      () => `${k}: recordingStatus must be "waiting" in every sample while publishing (3 s on)\n    ${desc()}`);
    c.check(live.every((x) => get(x) && !('recordingUrl' in get(x)) && !('mp4Url' in get(x))) &&
      live.every((x) => get(x)?.recordingUrl === undefined && get(x)?.mp4Url === undefined),
    () => `${k}: recordingUrl and mp4Url must be absent while the recording is waiting\n    ${desc()}`);
  }
  c.check(live.every((x) => x.raw?.record === true), () => `session.record must be true (copied from the stream)\n    ${desc()}`);
  c.check(listed.every((x) => x.recorded?.some((y) => y.id === sid && y.recordingStatus === 'waiting')),
    () => `SDK session.getRecorded(${s.id}) must list the live session with recordingStatus "waiting" (4.5 s on)\n    ${desc()}`);
  c.check(listed.every((x) => Array.isArray(x.rec1) && x.rec1.some((y) => y.id === sid && y.recordingStatus === 'waiting')),
    () => `GET /api/stream/${s.id}/sessions?record=1 must list the live session, waiting (4.5 s on)\n    ${desc()}`);
  c.check(listed.every((x) => Array.isArray(x.rec0) && !x.rec0.some((y) => y.id === sid)),
    () => `GET /api/stream/${s.id}/sessions?record=0 must not list the recorded session\n    ${desc()}`);
  c.check(live.every((x) => !(x.raw?.issues ?? []).some((i) => /^Recording failed/.test(i))),
    () => `no "Recording failed" issue expected while the recording works\n    ${desc()}`);
  // the recording grows on disk as segments are written: EVENT playlist, no ENDLIST, no master/MP4 yet
  const withDisk = live.filter((x) => x.disk);
  c.check(withDisk.length >= live.length - 1 && live.length > 0,
    () => `DATA/rec/${sid}/source/index.m3u8 must exist while recording (2 s segments)\n    ${desc()}`);
  c.check(withDisk.every((x) => x.disk.playlistType === 'EVENT' && !x.disk.endlist),
    () => `the recording's source playlist must be #EXT-X-PLAYLIST-TYPE:EVENT without #EXT-X-ENDLIST while recording\n    ${desc()}`);
  const counts = withDisk.map((x) => x.disk.segments.length);
  c.check(counts.length > 1 && counts[counts.length - 1] > counts[0] && counts.every((n, i) => i === 0 || n >= counts[i - 1]),
    () => `the recording's source playlist must grow while recording: ${JSON.stringify(counts)}`);
  c.check(live.every((x) => !x.finalFiles?.length),
    () => `DATA/rec/${sid}/index.m3u8 and output.mp4 are written when final, not while live\n    ${desc()}`);

  // ended, inside the reconnect window: still waiting, nothing final on disk yet
  const justEnded = await getSessionRaw(srv, sid);
  c.eq(justEnded.recordingStatus, 'waiting', 'recordingStatus right after the broadcast ended (inside the reconnect window)');
  c.check(!('recordingUrl' in justEnded) && !('mp4Url' in justEnded), 'no recordingUrl/mp4Url right after the broadcast ended');
  const dl = diskPlaylist(srv, sid, 'source');
  c.check(dl && !dl.endlist && !fs.existsSync(path.join(recDir(srv, sid), 'output.mp4')),
    () => `inside the reconnect window the recording is not final yet (source playlist without ENDLIST, no output.mp4): ` +
      `${dl ? `${dl.playlistType}${dl.endlist ? ' ENDLIST' : ''}` : 'no playlist'}, files ${fs.readdirSync(recDir(srv, sid)).join(' ')}`);

  const w = await waitRecording(srv, sid, (x) => x.recordingStatus !== 'waiting', { timeoutMs: WINDOW_S * 1000 + 20_000 });
  const readyAfterMs = Date.now() - tInactive;
  assert.equal(w.session.recordingStatus, 'ready',
    `recordingStatus must become "ready" once the ${WINDOW_S} s reconnect window has passed; history since the end: ${describeHistory(w.history)}\n` +
      recLog(s, sid, logFrom));
  c.check(w.history.every((h) => (h.status === 'waiting' && h.urls === 'none') || (h.status === 'ready' && h.urls === 'recordingUrl+mp4Url')),
    () => `recordingStatus goes waiting (no URLs) -> ready (with URLs) only; history: ${describeHistory(w.history)}`);
  c.check(readyAfterMs >= WINDOW_S * 1000 - 500,
    () => `ready ${readyAfterMs} ms after the stream went inactive: not before the ${WINDOW_S} s reconnect window has passed`);
  c.note(`ready ${readyAfterMs} ms after the stream went inactive (window ${WINDOW_S} s)`);

  // the SDK and the listings see it ready
  const fin = await getSessionRaw(srv, sid);
  await c.run('session shape when ready', () => assertSessionShape(fin, { stream: s, publicUrl: srv.base, what: `GET /api/session/${sid}` }));
  await c.run('SDK views when ready', async () => {
    const g = (await sdk('session.get', lp.session.get(sid))).session;
    c.eq(g.recordingStatus, 'ready', 'SDK session.get: recordingStatus');
    c.eq(g.recordingUrl, fin.recordingUrl, 'SDK session.get: recordingUrl');
    c.eq(g.mp4Url, fin.mp4Url, 'SDK session.get: mp4Url');
    const rec = (await sdk('session.getRecorded', lp.session.getRecorded(s.id))).data ?? [];
    c.check(rec.length === 1 && rec[0].id === sid && rec[0].recordingStatus === 'ready' && rec[0].recordingUrl === fin.recordingUrl && rec[0].mp4Url === fin.mp4Url,
      () => `SDK session.getRecorded(${s.id}) must list the one session, ready with its URLs: ${JSON.stringify(rec)}`);
    const all = ((await sdk('session.getAll', lp.session.getAll())).data ?? []).filter((y) => y.parentId === s.id);
    c.check(all.length === 1 && all[0].recordingStatus === 'ready' && all[0].mp4Url === fin.mp4Url,
      () => `SDK session.getAll: the session ready with mp4Url: ${JSON.stringify(all)}`);
  });
  const r1 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=1`), 200);
  c.check(r1.length === 1 && r1[0].id === sid && r1[0].recordingStatus === 'ready' && r1[0].recordingUrl === fin.recordingUrl && r1[0].mp4Url === fin.mp4Url,
    () => `GET /api/stream/${s.id}/sessions?record=1: the session, ready with its URLs; got ${JSON.stringify(r1)}`);
  const r0 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=0`), 200);
  c.eq(r0.length, 0, `GET /api/stream/${s.id}/sessions?record=0: no non-recorded session`);
  c.near(fin.sourceSegmentsDuration, PUSH_S, 0.3, 'session.sourceSegmentsDuration vs the 12 s pushed');

  // the recording's source is the live source: same segments (names, durations, sizes)
  const liveRes = await fetchRaw(srv, hlsPaths(s.playbackId).media);
  const livePl = parseMediaPlaylist(liveRes.text);
  const liveSizes = new Map(tsFiles(srv.liveDir(s.playbackId, 'source')).map((f) => [f.name, f.size]));
  const recPl = diskPlaylist(srv, sid, 'source');
  const recSizes = new Map(tsFiles(recDir(srv, sid, 'source')).map((f) => [f.name, f.size]));
  const fmt = (pl, sizes) => (pl?.segments ?? []).map((x) => `${x.uri} ${x.duration} ${sizes.get(x.uri)}`).join('\n      ');
  c.check(fmt(livePl, liveSizes) === fmt(recPl, recSizes) && livePl.segments.length > 0,
    () => `the recording's source segments must be the live source's (hls-window 100 keeps them all):\n    live:\n      ${fmt(livePl, liveSizes)}\n    recording:\n      ${fmt(recPl, recSizes)}`);

  const got = await checkReadyRecording(c, srv, fin, { renditions: LADDER.map((p) => p.name), lp });
  c.note(`durations: session ${fin.sourceSegmentsDuration}, ffprobe ${JSON.stringify(got.durations)}; mp4 ${got.mp4?.size} bytes, boxes ${got.mp4?.boxes?.join(' ')}; ` +
    `segments ${Object.entries(got.renditions).map(([n, p]) => `${n}=${p.segments.length}`).join(' ')}`);
  c.done(recLog(s, sid, logFrom));
});

test('PATCH record: on an inactive stream applies to the next session; on an active one 400', async () => {
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'record patched' });
  assert.equal(s.record, false, 'stream.record defaults to false');
  const c = new Checks(`PATCH record on ${s.id}`);
  const logFrom = srv.log.length;
  const SRC = { size: '640x360', rate: 30, gop: 60 };

  // a non-recorded session: no recording fields anywhere
  const p1 = publish({ ...SRC, seconds: 3, url: srv.rtmpUrl(s.streamKey) });
  const r1 = await waitExit(p1, 25_000);
  assert.ok(!r1.timedOut && r1.code === 0, `first publish: ${r1.timedOut ? 'timeout' : `exit ${r1.code}: ${r1.stderr}`}\n${streamLog(srv, s, logFrom)}`);
  c.check((await waitInactive(srv, s.id, 3000)).ok, 'stream inactive after the first publish');
  const list1 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions`), 200);
  assert.equal(list1.length, 1, `one session after the first publish: ${JSON.stringify(list1)}`);
  const plain = await getSessionRaw(srv, list1[0].id);
  c.eq(plain.record, false, 'non-recorded session: record');
  for (const [what, obj] of [['GET /api/session/{id}', plain], ['GET /api/stream/{id}/sessions', list1[0]]]) {
    for (const k of REC_FIELDS) c.check(!(k in obj), () => `${what} of a non-recorded session: ${k} must be absent, got ${JSON.stringify(obj[k])}`);
  }
  await c.run('non-recorded session shape', () => assertSessionShape(plain, { stream: s, publicUrl: srv.base, what: 'non-recorded session' }));
  await c.run('non-recorded session through the SDK', async () => {
    const g = (await sdk('session.get', lp.session.get(plain.id))).session;
    c.eq(g.recordingStatus, undefined, 'SDK session.get of a non-recorded session: recordingStatus');
    c.eq(g.recordingUrl, undefined, 'SDK session.get of a non-recorded session: recordingUrl');
    const all = ((await sdk('session.getAll', lp.session.getAll())).data ?? []).filter((y) => y.parentId === s.id);
    c.check(all.length === 1 && REC_FIELDS.every((k) => all[0][k] === undefined),
      () => `SDK session.getAll: the non-recorded session without recording fields: ${JSON.stringify(all)}`);
    const recd = (await sdk('session.getRecorded', lp.session.getRecorded(s.id, true))).data ?? [];
    c.eq(recd.length, 0, 'SDK session.getRecorded(streamId, true): no recorded session');
  });
  const q1 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=1`), 200);
  c.eq(q1.length, 0, `GET /api/stream/${s.id}/sessions?record=1 lists no session of a non-recorded stream`);
  const q0 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=0`), 200);
  c.check(q0.length === 1 && q0[0].id === plain.id && REC_FIELDS.every((k) => !(k in q0[0])),
    () => `GET /api/stream/${s.id}/sessions?record=0 lists the non-recorded session, without recording fields: ${JSON.stringify(q0)}`);
  c.check(!fs.existsSync(recDir(srv, plain.id)), () => `no recording directory for a non-recorded session: ${recDir(srv, plain.id)} exists`);

  // PATCH record:true while inactive -> 204, stream.record true
  const patch = await srv.request('PATCH', `/api/stream/${s.id}`, { body: { record: true } });
  await c.run('PATCH {"record":true} on an inactive stream -> 204', () => expectStatus(patch, 204));
  c.eq((await getStreamRaw(srv, s.id)).record, true, 'stream.record after the PATCH');
  const still = await getSessionRaw(srv, plain.id);
  c.check(still.record === false && REC_FIELDS.every((k) => !(k in still)),
    () => `the earlier session stays non-recorded after the PATCH: ${JSON.stringify(still)}`);

  // the next session (after the reconnect window, so it is a new one) is recorded
  const fw = await waitFinal(plain.id, WINDOW_S * 1000 + 10_000);
  c.check(fw.ok, `the first session must be final (log "session ${plain.id} is final") within ${WINDOW_S + 10} s`);
  const p2 = publish({ ...SRC, seconds: 6, url: srv.rtmpUrl(s.streamKey) });
  const live2 = await pollUntil(async () => {
    if (!p2.running()) return 'exited';
    const st = await getStreamRaw(srv, s.id);
    if (!st.isActive) return null;
    const list = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions`), 200);
    return list.find((x) => x.id !== plain.id) ?? null;
  }, { timeoutMs: 12_000, intervalMs: 200 });
  assert.ok(live2.ok && live2.value !== 'exited', `the second publish never showed an active stream with a new session listed\n${streamLog(srv, s, logFrom)}`);
  const sess2 = live2.value;
  c.eq(sess2.record, true, 'the next session (after PATCH record:true): record');
  c.eq(sess2.recordingStatus, 'waiting', 'the next session while live: recordingStatus');

  // PATCH record while active -> 400, nothing changes
  const bad = await srv.request('PATCH', `/api/stream/${s.id}`, { body: { record: false } });
  await c.run('PATCH {"record":false} on an active stream -> 400', () => expectError(bad, 400, "cannot change 'record' field while stream is active"));
  await c.run('SDK stream.update(record:false) on an active stream -> 400', async () => {
    const e = await sdkFails('stream.update', lp.stream.update({ record: false }, s.id), 400);
    c.check(String(e.body ?? '').includes("cannot change 'record' field while stream is active"),
      () => `SDK stream.update 400 body: ${e.body}`);
  });
  const same = await srv.request('PATCH', `/api/stream/${s.id}`, { body: { record: true } });
  c.note(`PATCH {"record":true} (unchanged value) on the active recorded stream -> ${same.status} ${same.text}`);
  const st2 = await getStreamRaw(srv, s.id);
  c.eq(st2.isActive, true, 'stream still active after the refused PATCH (checked while publishing)');
  c.eq(st2.record, true, 'stream.record unchanged after the refused PATCH');
  const r2 = await waitExit(p2, 25_000);
  c.check(!r2.timedOut && r2.code === 0, () => `second publish: ${r2.timedOut ? 'timeout' : `exit ${r2.code}: ${r2.stderr}`}`);
  c.check((await waitInactive(srv, s.id, 3000)).ok, 'stream inactive after the second publish');

  const w = await waitRecording(srv, sess2.id, (x) => x.recordingStatus !== 'waiting', { timeoutMs: WINDOW_S * 1000 + 20_000 });
  c.eq(w.session.recordingStatus, 'ready', `the next session's recording once final (history: ${describeHistory(w.history)})`);
  if (w.session.recordingStatus === 'ready') {
    const got = await checkReadyRecording(c, srv, w.session, { renditions: [], label: 'recording after PATCH' });
    c.near(w.session.sourceSegmentsDuration, 6, 0.3, 'recorded session sourceSegmentsDuration vs the 6 s pushed');
    c.note(`durations ${JSON.stringify(got.durations)}`);
  }
  const q1b = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=1`), 200);
  c.check(q1b.length === 1 && q1b[0].id === sess2.id, () => `?record=1 lists only the recorded session ${sess2.id}: ${JSON.stringify(q1b.map((x) => x.id))}`);
  const q0b = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=0`), 200);
  c.check(q0b.length === 1 && q0b[0].id === plain.id, () => `?record=0 lists only the non-recorded session ${plain.id}: ${JSON.stringify(q0b.map((x) => x.id))}`);
  c.done(recLog(s, sess2.id, logFrom));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
