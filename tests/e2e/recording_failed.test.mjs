// Recordings that cannot be written (issue 6, item 4): an unwritable recordings directory, and a
// full disk under it, fail the recording cleanly (recordingStatus `failed`, an issue string with
// the reason while live and after, a log line), never the server, and live HLS goes on with
// exact counters; a non-recorded stream is untouched and has no recording fields.
//
// Making DATA/rec unwritable honestly: the tests run as root, and root ignores mode bits, so
// chmod 0555 alone does not stop its writes. The helper checks what really stops a write (it
// tries one itself): chmod 0555 for a normal user; for root also `chattr +i` (an immutable
// directory: no entry can be created in it, root included); else DATA/rec becomes a regular
// file (no directory can be created under it). The full-disk case mounts a 1 MiB tmpfs on
// DATA/rec (skipped when mounting is not permitted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer } from './lib/server.mjs';
import { expectStatus, sdk } from './lib/contract.mjs';
import { publish, pollUntil, sleep, parseMediaPlaylist, logLines } from './lib/media.mjs';
import {
  Checks, createStream, waitInactive, streamLog, fetchRaw, hlsPaths, checkHls, checkCountersVsPlaylist, checkPlayback,
} from './lib/live.mjs';
import { recDir, recPaths, getSessionRaw, filesUnder, diskPlaylist } from './lib/recording.mjs';

const WINDOW_S = 2;
const FLAGS = ['--reconnect-window', String(WINDOW_S), '--hls-window', '100'];
const srv = await startServer({ flags: FLAGS });
const SRC = { size: '640x360', rate: 30, gop: 60 };
const REC_FIELDS = ['recordingStatus', 'recordingUrl', 'mp4Url'];

/** Can this process (root in CI) create an entry in dir? */
function canWrite(dir) {
  const probe = path.join(dir, `.probe-${process.pid}`);
  try {
    fs.mkdirSync(probe);
  } catch {
    return false;
  }
  fs.rmdirSync(probe);
  return true;
}

/** Makes dir (DATA/rec) unwritable for this process and the server; returns { how, undo }. */
function makeUnwritable(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o555);
  if (!canWrite(dir)) return { how: 'chmod 0555', undo: () => fs.chmodSync(dir, 0o755) };
  const r = spawnSync('chattr', ['+i', dir], { encoding: 'utf8' });
  if (r.status === 0 && !canWrite(dir)) {
    return {
      how: 'chmod 0555 does not stop root; chattr +i (immutable directory)',
      undo: () => {
        spawnSync('chattr', ['-i', dir]);
        fs.chmodSync(dir, 0o755);
      },
    };
  }
  if (r.status === 0) spawnSync('chattr', ['-i', dir]);
  fs.chmodSync(dir, 0o755);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.writeFileSync(dir, 'DATA/rec made a regular file: no recording directory can be created under it\n');
  return { how: `chmod 0555 does not stop root and chattr +i failed (${(r.stderr || r.error?.message || '').trim()}); DATA/rec is a regular file`, undo: () => fs.rmSync(dir, { force: true }) };
}

/** Samples a session and its stream (raw) and the live playlist about once a second while pub runs. */
async function sampleLive(server, s, pub, lp) {
  const t0 = pub.startedAt;
  const samples = [];
  let sid;
  while (pub.running()) {
    const tick = Date.now();
    const x = { t: tick - t0, errors: [] };
    try {
      const all = (await sdk('session.getAll', lp.session.getAll())).data ?? [];
      const mine = all.find((y) => y.parentId === s.id);
      sid ??= mine?.id;
      x.sdkStatus = mine?.recordingStatus;
    } catch (e) {
      x.errors.push(e.message);
    }
    if (sid) {
      x.session = await getSessionRaw(server, sid);
      try {
        x.sdkGet = (await sdk('session.get', lp.session.get(sid))).session;
      } catch (e) {
        x.errors.push(e.message);
      }
    }
    x.stream = expectStatus(await server.request('GET', `/api/stream/${s.id}`), 200);
    const m = await fetchRaw(server, hlsPaths(s.playbackId).media);
    x.liveSegments = m.status === 200 ? parseMediaPlaylist(m.text).segments.length : undefined;
    x.running = pub.running();
    samples.push(x);
    const wait = 1000 - (Date.now() - tick);
    if (wait > 0) await sleep(wait);
  }
  return { samples, sid };
}

const describe = (samples) => samples.map((x) => `+${(x.t / 1000).toFixed(1)}s ${x.running ? 'pub' : 'end'} ` +
  `status=${x.session?.recordingStatus}/${x.sdkStatus} session.isHealthy=${x.session?.isHealthy} issues=${JSON.stringify(x.session?.issues)} ` +
  `stream.isHealthy=${x.stream?.isHealthy} stream.issues=${JSON.stringify(x.stream?.issues)} liveSegs=${x.liveSegments} segs=${x.session?.sourceSegments}` +
  (x.errors.length ? ` ERR ${x.errors.join(' | ')}` : '')).join('\n    ');

const recFailed = (issues) => (Array.isArray(issues) ? issues : []).filter((i) => typeof i === 'string' && i.startsWith('Recording failed'));

/** Checks on a recorded session whose recording fails: while live, once final, live HLS. */
async function checkFailedRecording(c, server, s, { pub, lp, pushed, failFrom = 3000, label }) {
  const { samples, sid } = await sampleLive(server, s, pub, lp);
  const pr = await pub.done;
  c.check(pr.code === 0, () => `${label}: ffmpeg must publish to the end (live ingest goes on), exit ${pr.code}: ${pr.stderr}`);
  assert.ok(sid, `${label}: no session was listed while publishing\n${streamLog(server, s)}`);
  c.check((await waitInactive(server, s.id, 3000)).ok, `${label}: stream inactive after the publish`);
  const desc = () => `\n    ${describe(samples)}`;
  for (const x of samples) for (const e of x.errors) c.check(false, `${label}: while live (+${(x.t / 1000).toFixed(1)}s): ${e}`);

  const failing = samples.filter((x) => x.running && x.t >= failFrom);
  c.check(failing.length >= 3, () => `${label}: at least 3 samples expected while the failed recording was live, got ${failing.length}${desc()}`);
  c.check(failing.every((x) => x.session?.isHealthy === false && recFailed(x.session?.issues).length === 1),
    () => `${label}: while live, the session must have isHealthy false and one issue starting "Recording failed"${desc()}`);
  c.check(failing.every((x) => x.stream?.isHealthy === false && recFailed(x.stream?.issues).length === 1),
    () => `${label}: while live, the stream must have isHealthy false and one issue starting "Recording failed"${desc()}`);
  c.check(samples.every((x) => !x.session || ['waiting', 'failed'].includes(x.session.recordingStatus)),
    () => `${label}: while live, recordingStatus must be waiting or failed${desc()}`);
  c.check(samples.every((x) => !x.session || (!('recordingUrl' in x.session) && !('mp4Url' in x.session))),
    () => `${label}: no recordingUrl/mp4Url for a failing recording${desc()}`);
  c.check(failing.every((x) => x.sdkGet?.recordingStatus === x.session?.recordingStatus),
    () => `${label}: SDK session.get must parse the failing session (recordingStatus ${failing.map((x) => x.sdkGet?.recordingStatus)})`);
  c.note(`${label}: recordingStatus while live: ${[...new Set(failing.map((x) => x.session?.recordingStatus))].join(', ')}`);
  const segs = samples.filter((x) => x.running).map((x) => x.liveSegments ?? 0);
  c.check(segs.filter((n, i) => i > 0 && n > segs[i - 1]).length >= 2,
    () => `${label}: the live source playlist must keep growing while the recording is failed: ${JSON.stringify(segs)}`);
  const liveIssue = failing.map((x) => recFailed(x.session?.issues)[0]).find(Boolean) ?? '';
  const reason = liveIssue.replace(/^Recording failed:?\s*/, '');
  c.check(reason.length > 0, () => `${label}: the live issue must carry the reason after "Recording failed": ${JSON.stringify(liveIssue)}`);

  // final: failed, with the reason in issues
  const fin = await pollUntil(() => server.log.includes(`session ${sid} is final`), { timeoutMs: WINDOW_S * 1000 + 15_000, intervalMs: 100 });
  c.check(fin.ok, `${label}: the session must become final (log "session ${sid} is final") after the ${WINDOW_S} s window`);
  const sess = await getSessionRaw(server, sid);
  c.eq(sess.recordingStatus, 'failed', `${label}: recordingStatus once final`);
  for (const k of ['recordingUrl', 'mp4Url']) c.check(!(k in sess), () => `${label}: ${k} must be absent for a failed recording, got ${sess[k]}`);
  const finalIssues = recFailed(sess.issues);
  c.check(finalIssues.length === 1, () => `${label}: once final, issues must hold one string starting "Recording failed", got ${JSON.stringify(sess.issues)}`);
  c.check(finalIssues.length === 1 && reason.length > 0 && finalIssues[0].includes(reason),
    () => `${label}: once final, the issue must give the reason (as while live: ${JSON.stringify(reason)}), got ${JSON.stringify(sess.issues)}`);
  try {
    const g = (await sdk('session.get', lp.session.get(sid))).session;
    c.eq(g.recordingStatus, 'failed', `${label}: SDK session.get recordingStatus once final`);
  } catch (e) {
    c.check(false, `${label}: ${e.message}`);
  }
  const rec1 = expectStatus(await server.request('GET', `/api/stream/${s.id}/sessions?record=1`), 200);
  c.check(rec1.length === 1 && rec1[0].id === sid && rec1[0].recordingStatus === 'failed',
    () => `${label}: ?record=1 lists the recorded session with recordingStatus failed: ${JSON.stringify(rec1)}`);
  const P = recPaths(sid);
  for (const p of [P.master, P.mp4]) {
    const r = await fetchRaw(server, p);
    c.eq(r.status, 404, `${label}: GET ${p} of a failed recording`);
  }
  const pb = await server.request('GET', `/api/playback/${sid}`, { key: null });
  c.eq(pb.status, 404, `${label}: GET /api/playback/{sessionId} of a failed recording`);
  const logged = server.log.split('\n').filter((l) => l.includes(sid) && /fail/i.test(l) && /recording/i.test(l));
  c.check(logged.length > 0, `${label}: the server logs the recording failure with the session id`);
  c.note(`${label}: live issue ${JSON.stringify(liveIssue)}; final issues ${JSON.stringify(sess.issues)}; log: ${logged[0]}`);

  // live HLS went on, with exact counters
  const hls = await checkHls(c, server, s, { session: sess, label: `${label} (live HLS)` });
  checkCountersVsPlaylist(c, sess, hls, { label: `${label} (live HLS)`, pushed });
  await checkPlayback(c, server, s, { label: `${label} (live HLS)`, pushed });
  const hz = await server.request('GET', '/healthz', { key: null });
  c.eq(hz.status, 200, `${label}: GET /healthz after the failed recording`);
  return { sid, sess, reason };
}

let unwritable;
test('unwritable recordings directory: failed with an issue string, live HLS goes on', async () => {
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'record into read-only', record: true });
  const c = new Checks(`recording of ${s.id} into an unwritable DATA/rec`);
  const logFrom = srv.log.length;
  unwritable = makeUnwritable(recDir(srv));
  c.note(`DATA/rec made unwritable with: ${unwritable.how}`);
  const pub = publish({ ...SRC, seconds: 8, url: srv.rtmpUrl(s.streamKey) });
  const { sid } = await checkFailedRecording(c, srv, s, { pub, lp, pushed: 8, label: 'read-only DATA/rec' });
  const st = fs.statSync(recDir(srv));
  c.check(!st.isDirectory() || !fs.existsSync(recDir(srv, sid)), () => `nothing was created under DATA/rec: ${filesUnder(recDir(srv)).join(' ')}`);
  c.done(`${streamLog(srv, s, logFrom)}\n${logLines(srv, [sid, '[recorder]', '[recordings]'], { since: logFrom })}`);
});

test('a non-recorded stream (DATA/rec still unwritable) is healthy and has no recording fields', async () => {
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'not recorded' });
  const c = new Checks(`non-recorded ${s.id}`);
  const logFrom = srv.log.length;
  const pub = publish({ ...SRC, seconds: 4, url: srv.rtmpUrl(s.streamKey) });
  const { samples, sid } = await sampleLive(srv, s, pub, lp);
  const pr = await pub.done;
  assert.equal(pr.code, 0, `ffmpeg: ${pr.stderr}\n${streamLog(srv, s, logFrom)}`);
  c.check((await waitInactive(srv, s.id, 3000)).ok, 'stream inactive after the publish');
  const live = samples.filter((x) => x.running && x.t >= 2500);
  c.check(live.length >= 1 && live.every((x) => x.session && x.session.isHealthy !== false && recFailed(x.session.issues).length === 0 &&
      x.stream.isHealthy !== false && recFailed(x.stream.issues).length === 0),
  () => `a non-recorded stream is not touched by the unwritable DATA/rec: isHealthy not false, no "Recording failed" issue\n    ${describe(samples)}`);
  c.check(samples.every((x) => !x.session || REC_FIELDS.every((k) => !(k in x.session))),
    () => `no recording fields on a non-recorded session while live\n    ${describe(samples)}`);
  const sess = await getSessionRaw(srv, sid);
  c.eq(sess.record, false, 'session.record');
  for (const k of REC_FIELDS) c.check(!(k in sess), () => `GET /api/session/{id}: ${k} must be absent, got ${JSON.stringify(sess[k])}`);
  const list = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions`), 200);
  c.check(list.length === 1 && REC_FIELDS.every((k) => !(k in list[0])), () => `GET /api/stream/{id}/sessions: no recording fields: ${JSON.stringify(list)}`);
  const all = expectStatus(await srv.request('GET', `/api/session?limit=100`), 200).filter((x) => x.parentId === s.id);
  c.check(all.length === 1 && REC_FIELDS.every((k) => !(k in all[0])), () => `GET /api/session: no recording fields: ${JSON.stringify(all)}`);
  const r0 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=0`), 200);
  c.check(r0.length === 1 && r0[0].id === sid, () => `?record=0 lists the non-recorded session: ${JSON.stringify(r0)}`);
  const r1 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions?record=1`), 200);
  c.eq(r1.length, 0, '?record=1 lists no session of a non-recorded stream');
  const g = (await sdk('session.get', lp.session.get(sid))).session;
  c.check(REC_FIELDS.every((k) => g[k] === undefined), () => `SDK session.get: no recording fields: ${JSON.stringify(g)}`);
  const hls = await checkHls(c, srv, s, { session: sess });
  checkCountersVsPlaylist(c, sess, hls, { pushed: 4 });
  c.done(streamLog(srv, s, logFrom));
});

test('full disk under DATA/rec (1 MiB tmpfs): the recording fails mid-session, live HLS goes on', async (t) => {
  if (unwritable) unwritable.undo(); // the first server's DATA/rec back to normal
  unwritable = undefined;
  const srv2 = await startServer({ flags: FLAGS });
  const dir = recDir(srv2);
  fs.mkdirSync(dir, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.skip(`cannot mount a tmpfs here (${(m.stderr || m.error?.message || '').trim()}): full-disk case not run`);
    await srv2.stop();
    return;
  }
  try {
    const lp = srv2.sdk();
    const s = await createStream(srv2, { name: 'record onto a full disk', record: true });
    const c = new Checks(`recording of ${s.id} onto a 1 MiB file system`);
    const logFrom = srv2.log.length;
    const pub = publish({ ...SRC, seconds: 10, url: srv2.rtmpUrl(s.streamKey) });
    // ~570 KB per 2 s segment: the first fits, the second does not
    const { sid, sess } = await checkFailedRecording(c, srv2, s, { pub, lp, pushed: 10, failFrom: 5500, label: 'full DATA/rec' });
    // what is left is never half listed: every listed segment is a complete file
    const pl = diskPlaylist(srv2, sid, 'source');
    if (pl) {
      for (const x of pl.segments) {
        const f = path.join(recDir(srv2, sid, 'source'), x.uri);
        const size = fs.existsSync(f) ? fs.statSync(f).size : -1;
        c.check(size > 0 && size % 188 === 0, () => `${f} listed in the failed recording's playlist must be a complete file, size ${size}`);
      }
    }
    c.note(`left in DATA/rec/${sid}: ${filesUnder(recDir(srv2, sid)).join(' ')} (session ${sess.sourceSegments} segments)`);
    c.done(`${streamLog(srv2, s, logFrom)}\n${logLines(srv2, [sid, '[recorder]', '[recordings]'], { since: logFrom })}`);
  } finally {
    spawnSync('umount', ['-l', dir]);
  }
});

test('SIGTERM shuts the server down cleanly', async () => {
  if (unwritable) unwritable.undo();
  unwritable = undefined;
  await srv.stop();
});
