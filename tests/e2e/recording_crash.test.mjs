// Recordings after a crash (issue 6, item 3): kill -9 the server ~6 s into a recorded broadcast;
// the next start closes the session left open (at its lastSeen), finalizes its recording from
// the segments on disk and marks it ready, with the session's counters those of the recording
// (nothing that was counted is missing from it), and the recording plays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from './lib/server.mjs';
import { publish, waitExit, pollUntil, logLines, tsFiles } from './lib/media.mjs';
import { Checks, createStream, getStreamRaw, sessionsOf, streamLog } from './lib/live.mjs';
import {
  recDir, diskPlaylist, filesUnder, waitRecording, describeHistory, checkReadyRecording, getSessionRaw,
} from './lib/recording.mjs';

const srv = await startServer({ flags: ['--reconnect-window', '3', '--hls-window', '100'] });
const SRC = { size: '640x360', rate: 30, gop: 60, seconds: 30 };
const LADDER = [{ name: '240p', width: 426, height: 240, bitrate: 300000, fps: 0 }];

test('kill -9 six seconds into a recorded broadcast: on restart the session is closed and its recording ready', async () => {
  const s = await createStream(srv, { name: 'recorded crash', record: true, profiles: LADDER });
  const c = new Checks(`recording of ${s.id} across a crash`);
  const logFrom = srv.log.length;

  const pub = publish({ ...SRC, url: srv.rtmpUrl(s.streamKey) });
  const t0 = Date.now();
  let lastLive;
  const live = await pollUntil(async () => {
    if (!pub.running()) return 'exited';
    const list = await sessionsOf(srv, s.id);
    if (list[0]) lastLive = list[0];
    return list[0] && list[0].sourceSegments >= 2 && Date.now() - t0 >= 6000 ? list[0] : null;
  }, { timeoutMs: 15_000, intervalMs: 250 });
  if (!live.ok || live.value === 'exited') {
    pub.kill('SIGKILL');
    const r = await pub.done;
    assert.fail(`the recorded publish never got live with 2 segments (ffmpeg ${r.code}: ${r.stderr}); last ${JSON.stringify(lastLive)}\n${streamLog(srv, s, logFrom)}`);
  }
  const before = live.value;
  const sid = before.id;
  c.eq(before.recordingStatus, 'waiting', 'recordingStatus while live, before the crash');
  const tCrash = Date.now();
  // what the recording holds on disk the moment before the crash (for the failure messages)
  const diskBefore = diskPlaylist(srv, sid, 'source');

  await srv.crashRestart(); // SIGKILL, then start again on the same data dir
  const restartLogFrom = srv.log.lastIndexOf('--- SIGKILL');
  const r = await waitExit(pub, 5000);
  c.check(!r.timedOut, 'ffmpeg must lose its connection when the server dies');

  // closed: not active, not live
  const st = await getStreamRaw(srv, s.id);
  c.eq(st.isActive, false, 'stream.isActive after the restart (the session left open by the crash is closed)');
  const list = await sessionsOf(srv, s.id);
  c.eq(list.length, 1, 'sessions of the stream after the restart');

  // ready, from what is on disk
  const w = await waitRecording(srv, sid, (x) => x.recordingStatus !== 'waiting', { timeoutMs: 20_000 });
  assert.equal(w.session.recordingStatus, 'ready',
    `after the restart the recording left waiting by the crash must be finalized from disk and become ready; history ${describeHistory(w.history)}\n` +
      `--- server log since the restart ---\n${logLines(srv, [sid, '[recorder]', '[recordings]', '[live]', ' warn ', ' error '], { since: restartLogFrom, max: 60 })}`);
  c.note(`ready ${w.ms} ms after the restart answered`);
  const fin = await getSessionRaw(srv, sid);
  c.eq(fin.ingestRate, 0, 'session.ingestRate after the restart');
  c.check(fin.lastSeen >= before.lastSeen && fin.lastSeen <= tCrash + 1000,
    () => `session.lastSeen ${fin.lastSeen} must be the broadcast's last data (>= ${before.lastSeen} seen while live, <= the crash at ${tCrash})`);
  c.check(fin.sourceSegments >= before.sourceSegments,
    () => `nothing counted is lost: sourceSegments ${fin.sourceSegments} must keep the ${before.sourceSegments} counted while live`);

  // counters = the segments on disk (count, sum of EXTINF, bytes): the recording's playlist and its files
  const recPl = diskPlaylist(srv, sid, 'source');
  const files = tsFiles(recDir(srv, sid, 'source'));
  c.check(recPl && recPl.playlistType === 'VOD' && recPl.endlistIsLast,
    () => `the recording's source playlist on disk must be closed as VOD with ENDLIST after recovery:\n${recPl?.text}`);
  c.eq(fin.sourceSegments, files.length, `session.sourceSegments vs the .ts files in ${recDir(srv, sid, 'source')}`);
  c.eq(fin.sourceBytes, files.reduce((a, f) => a + f.size, 0), 'session.sourceBytes vs the sizes of those files');
  if (recPl) {
    c.near(fin.sourceSegmentsDuration, recPl.totalDuration, 0.02 + 0.001 * recPl.segments.length,
      'session.sourceSegmentsDuration vs the sum of #EXTINF of the recovered playlist');
  }
  const st2 = await getStreamRaw(srv, s.id);
  c.eq(st2.sourceSegments, fin.sourceSegments, 'stream.sourceSegments (running total) vs its one session after recovery');
  c.eq(st2.sourceBytes, fin.sourceBytes, 'stream.sourceBytes (running total) vs its one session after recovery');
  c.near(st2.sourceSegmentsDuration, fin.sourceSegmentsDuration, 0.01, 'stream.sourceSegmentsDuration vs its one session after recovery');
  const tmp = filesUnder(recDir(srv, sid)).filter((f) => f.endsWith('.tmp'));
  c.check(tmp.length === 0, () => `no *.tmp leftovers after recovery: ${tmp.join(' ')}`);
  const recoveryLine = srv.log.slice(restartLogFrom).split('\n').find((l) => l.includes(sid) && /recording|recover/i.test(l) && !l.includes('[http]'));
  c.note(`restart log about the recording: ${recoveryLine ?? '(none)'}`);

  // it plays: HLS VOD (source and the rendition) and the MP4; after a kill -9 the rendition may
  // trail the source by the segments in flight, so equal counts are not required here
  const got = await checkReadyRecording(c, srv, fin, { renditions: ['240p'], sameCount: false, transcodedCounters: false });
  c.note(`before the crash: ${before.sourceSegments} segments counted (last poll), ${diskBefore?.segments.length ?? 0} in the recording playlist; ` +
    `after: ${fin.sourceSegments} segments, ${fin.sourceSegmentsDuration} s, ${fin.sourceBytes} bytes; ffprobe ${JSON.stringify(got.durations)}`);
  c.done(`--- server log about ${sid} ---\n${logLines(srv, [sid, s.id, '[recorder]', '[recordings]'], { since: logFrom, max: 80 })}`);
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
