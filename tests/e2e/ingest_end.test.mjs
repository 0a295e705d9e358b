// How a live broadcast ends other than by a clean unpublish (issue 4): DELETE
// /api/stream/{id}/terminate and stream delete drop the publisher's connection; an encoder killed
// mid-stream (SIGKILL) ends the broadcast by disconnect detection or the 10 s idle timeout. In every
// case the session keeps its counters, and they match the playlist and the files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { expectStatus } from './lib/contract.mjs';
import { publish, waitExit, pollUntil } from './lib/media.mjs';
import {
  Checks, createStream, getStreamRaw, sessionsOf, checkHls, checkCountersVsPlaylist, waitInactive, streamLog,
} from './lib/live.mjs';

const srv = await startServer({ flags: ['--hls-window', '100'] });

const SRC = { size: '640x360', rate: 30, gop: 60, seconds: 30 };

/** Starts a long publish and waits until its session has `segments` segments and `minMs` passed. */
async function goLive(stream, { segments = 2, minMs = 4000 } = {}) {
  const logFrom = srv.log.length;
  const pub = publish({ ...SRC, url: srv.rtmpUrl(stream.streamKey) });
  const t0 = Date.now();
  const live = await pollUntil(async () => {
    if (!pub.running()) return 'exited';
    const list = await sessionsOf(srv, stream.id);
    return list[0] && list[0].sourceSegments >= segments && Date.now() - t0 >= minMs ? list[0] : null;
  }, { timeoutMs: 15_000, intervalMs: 250 });
  if (!live.ok || live.value === 'exited') {
    pub.kill('SIGKILL');
    const r = await pub.done;
    assert.fail(`publish to ${stream.id} never got live with ${segments} segments within 15 s ` +
      `(ffmpeg ${pub.running() ? 'running' : `exited ${r.code}: ${r.stderr}`}; last session ${JSON.stringify(live.value)})\n` +
      streamLog(srv, stream, logFrom));
  }
  return { pub, session: live.value, logFrom, t0 };
}

/** The after-the-end checks shared by the three tests. */
async function checkEnded(c, stream, sessionId) {
  const list = await sessionsOf(srv, stream.id);
  c.eq(list.length, 1, `sessions of stream ${stream.id}`);
  const r = await srv.request('GET', `/api/session/${sessionId}`);
  const sess = expectStatus(r, 200);
  c.eq(sess.ingestRate, 0, 'session.ingestRate after the broadcast ended');
  c.check(sess.sourceSegments > 0, () => `session.sourceSegments must be kept (> 0), got ${sess.sourceSegments}`);
  c.check(sess.sourceBytes > 0, () => `session.sourceBytes must be kept (> 0), got ${sess.sourceBytes}`);
  c.check(sess.lastSeen > sess.createdAt, () => `session.lastSeen ${sess.lastSeen} must be > createdAt ${sess.createdAt}`);
  const hls = await checkHls(c, srv, stream, { session: sess });
  checkCountersVsPlaylist(c, sess, hls, {});
  const st = await getStreamRaw(srv, stream.id);
  c.eq(st.isActive, false, 'stream.isActive');
  if (st.ingestRate !== undefined) c.eq(st.ingestRate, 0, 'stream.ingestRate');
  return sess;
}

test('DELETE /api/stream/{id}/terminate while live: ffmpeg drops within 3 s, broadcast ends, counters kept', async () => {
  const s = await createStream(srv, { name: 'terminate live' });
  const c = new Checks(`terminate stream ${s.id} while live`);
  const { pub, session, logFrom } = await goLive(s);
  const tTerm = Date.now();
  const tr = await srv.request('DELETE', `/api/stream/${s.id}/terminate`);
  c.eq(tr.status, 204, 'DELETE /api/stream/{id}/terminate status');
  const r = await waitExit(pub, 3000);
  c.check(!r.timedOut, () => `ffmpeg must exit within 3 s of the terminate (connection dropped), still running after 3 s (killed)`);
  const inactive = await waitInactive(srv, s.id, 3000);
  c.check(inactive.ok, () => `stream.isActive must be false within 3 s of the terminate, still ${inactive.stream.isActive} after ${Date.now() - tTerm} ms`);
  c.check(typeof inactive.stream.lastTerminatedAt === 'number' && inactive.stream.lastTerminatedAt >= tTerm - 1000,
    () => `stream.lastTerminatedAt must be set by the terminate, got ${inactive.stream.lastTerminatedAt}`);
  const sess = await checkEnded(c, s, session.id);
  c.check(sess.sourceSegments >= session.sourceSegments,
    () => `session.sourceSegments ${sess.sourceSegments} must not fall below the ${session.sourceSegments} counted while live`);
  c.done(streamLog(srv, s, logFrom));
});

test('DELETE /api/stream/{id} while live: ffmpeg drops within 3 s, the key is refused afterwards', async () => {
  const s = await createStream(srv, { name: 'delete live' });
  const c = new Checks(`delete stream ${s.id} while live`);
  const { pub, logFrom } = await goLive(s, { segments: 1, minMs: 3000 });
  const del = await srv.request('DELETE', `/api/stream/${s.id}`);
  c.eq(del.status, 204, 'DELETE /api/stream/{id} status');
  const r = await waitExit(pub, 3000);
  c.check(!r.timedOut, 'ffmpeg must exit within 3 s of the stream delete (connection dropped), still running after 3 s (killed)');
  const again = publish({ ...SRC, seconds: 4, url: srv.rtmpUrl(s.streamKey) });
  const r2 = await waitExit(again, 10_000);
  c.check(!r2.timedOut && r2.code !== 0, () => `a publish to the deleted stream's key must be refused, got ${r2.timedOut ? 'still running after 10 s' : `exit ${r2.code}`}`);
  c.done(streamLog(srv, s, logFrom));
});

test('encoder killed mid-stream (SIGKILL): broadcast ends within 12 s, counters kept', async () => {
  const s = await createStream(srv, { name: 'killed encoder' });
  const c = new Checks(`ffmpeg SIGKILLed while publishing to ${s.id}`);
  const { pub, session, logFrom, t0 } = await goLive(s, { segments: 2, minMs: 5000 });
  const tKill = Date.now();
  pub.kill('SIGKILL');
  await pub.done;
  const inactive = await waitInactive(srv, s.id, 12_000);
  c.check(inactive.ok, () => `stream.isActive must be false within 12 s of the encoder being killed, still ${inactive.stream.isActive} after ${Date.now() - tKill} ms`);
  if (inactive.ok) c.note(`broadcast ended ${inactive.ms} ms after the SIGKILL (${tKill - t0} ms into the publish)`);
  const sess = await checkEnded(c, s, session.id);
  c.check(sess.sourceSegments >= session.sourceSegments,
    () => `session.sourceSegments ${sess.sourceSegments} must not fall below the ${session.sourceSegments} counted while live`);
  c.done(streamLog(srv, s, logFrom));
});

test('encoder frozen (SIGSTOP, connection open, no data): 10 s without data ends the broadcast', async () => {
  const s = await createStream(srv, { name: 'frozen encoder' });
  const c = new Checks(`ffmpeg SIGSTOPped while publishing to ${s.id}`);
  const { pub, session, logFrom } = await goLive(s, { segments: 2, minMs: 4000 });
  const tStop = Date.now();
  pub.kill('SIGSTOP');
  try {
    // the feed stopped: the 5 s rate window empties while the broadcast is still (idle-)live
    await new Promise((r) => setTimeout(r, 7000));
    const mid = await getStreamRaw(srv, s.id);
    const midSess = (await sessionsOf(srv, s.id))[0];
    if (mid.isActive) {
      c.eq(midSess?.ingestRate, 0, 'session.ingestRate 7 s after the data stopped (5 s window, the rate falls to 0)');
    }
    const inactive = await waitInactive(srv, s.id, 8000);
    const endMs = Date.now() - tStop;
    c.check(inactive.ok, () => `stream.isActive must be false within ~12 s of the last data (10 s idle timeout), still ${inactive.stream.isActive} ${endMs} ms after SIGSTOP`);
    c.check(mid.isActive === true, 'the stream must still be active 7 s after the data stopped (the idle timeout is 10 s, the connection is open)');
    if (inactive.ok) c.note(`broadcast ended ~${endMs} ms after the data stopped (SIGSTOP)`);
    const sess = await checkEnded(c, s, session.id);
    c.check(sess.sourceSegments >= session.sourceSegments,
      () => `session.sourceSegments ${sess.sourceSegments} must not fall below the ${session.sourceSegments} counted while live`);
  } finally {
    pub.kill('SIGKILL');
    pub.kill('SIGCONT');
    await pub.done;
  }
  c.done(streamLog(srv, s, logFrom));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
