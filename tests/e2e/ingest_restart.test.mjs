// Live sessions across a server stop (issue 4, "Live session accounting"; ARCHITECTURE.md session
// lifecycle step 4): SIGTERM while a publisher is live shuts down cleanly and leaves a finished
// session with counters that match the playlist; after a crash (SIGKILL) the counters reached the
// store at each segment boundary, so at most the unfinished segment is lost, and the session left
// open is closed on the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { expectStatus } from './lib/contract.mjs';
import { publish, waitExit, pollUntil } from './lib/media.mjs';
import {
  Checks, createStream, getStreamRaw, sessionsOf, checkHls, checkCountersVsPlaylist, streamLog,
} from './lib/live.mjs';

const srv = await startServer({ flags: ['--hls-window', '100'] });
const SRC = { size: '640x360', rate: 30, gop: 60, seconds: 30 };

async function goLive(stream, segments, minMs) {
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
    assert.fail(`publish to ${stream.id} never got live with ${segments} segments (ffmpeg: ${r.code} ${r.stderr})\n${streamLog(srv, stream, logFrom)}`);
  }
  return { pub, session: live.value, logFrom };
}

test('SIGTERM while live: clean exit, the session is finished with counters matching the playlist', async () => {
  const s = await createStream(srv, { name: 'live at shutdown' });
  const c = new Checks(`SIGTERM while ${s.id} is live`);
  const { pub, session, logFrom } = await goLive(s, 2, 4500);
  await srv.restart('SIGTERM'); // asserts exit code 0 within 10 s
  const r = await waitExit(pub, 5000);
  c.check(!r.timedOut, 'ffmpeg must lose its connection when the server stops');
  const st = await getStreamRaw(srv, s.id);
  c.eq(st.isActive, false, 'stream.isActive after the restart');
  const list = await sessionsOf(srv, s.id);
  c.eq(list.length, 1, 'sessions after the restart');
  const sess = expectStatus(await srv.request('GET', `/api/session/${session.id}`), 200);
  c.eq(sess.ingestRate, 0, 'session.ingestRate after the restart');
  c.check(sess.sourceSegments >= session.sourceSegments,
    () => `session.sourceSegments ${sess.sourceSegments} must keep the ${session.sourceSegments} counted while live`);
  const hls = await checkHls(c, srv, s, { session: sess });
  checkCountersVsPlaylist(c, sess, hls, {});
  c.eq(st.sourceSegments, sess.sourceSegments, 'stream.sourceSegments (running total) after the restart');
  c.done(streamLog(srv, s, logFrom));
});

test('SIGKILL (crash) while live: on restart the session is closed and kept every finished segment', async () => {
  const s = await createStream(srv, { name: 'live at crash' });
  const c = new Checks(`crash while ${s.id} is live`);
  const { pub, session, logFrom } = await goLive(s, 2, 5000);
  await srv.crashRestart();
  const r = await waitExit(pub, 5000);
  c.check(!r.timedOut, 'ffmpeg must lose its connection when the server dies');
  const st = await getStreamRaw(srv, s.id);
  c.eq(st.isActive, false, 'stream.isActive after the restart (sessions left open by a crash are closed on start)');
  const list = await sessionsOf(srv, s.id);
  c.eq(list.length, 1, 'sessions after the restart');
  const sess = expectStatus(await srv.request('GET', `/api/session/${session.id}`), 200);
  c.eq(sess.ingestRate, 0, 'session.ingestRate after the restart');
  c.check(sess.sourceSegments >= session.sourceSegments,
    () => `session.sourceSegments ${sess.sourceSegments} must keep the ${session.sourceSegments} counted before the crash`);
  const hls = await checkHls(c, srv, s, { session: sess, expectEnd: false, exactDir: false });
  // at most the unfinished segment is lost: the counters equal the segments the playlist lists
  checkCountersVsPlaylist(c, sess, hls, {});
  c.note(`after the crash the playlist ${hls.media.endlist ? 'ends' : 'does not end'} with #EXT-X-ENDLIST`);
  // the server takes the stream again
  const again = publish({ ...SRC, seconds: 3, url: srv.rtmpUrl(s.streamKey) });
  const r2 = await waitExit(again, 20_000);
  c.check(!r2.timedOut && r2.code === 0, () => `a publish after the crash restart must work, got ${r2.timedOut ? 'timeout' : `${r2.code}: ${r2.stderr}`}`);
  c.done(streamLog(srv, s, logFrom));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
