// The segmenter (issue 4, "Segmenter"), with --segment-seconds 1:
// - the sliding window (--hls-window 3): the counters count every segment of the session, the
//   playlist lists only the last 3 with #EXT-X-MEDIA-SEQUENCE = segments that slid out, and those
//   are deleted from disk a few segments later;
// - cuts at the first keyframe at or after the target duration: a 1.5 s GOP gives 1.5 s segments
//   and #EXT-X-TARGETDURATION must cover them (rounded, RFC 8216);
// - H.264 without audio is accepted and segmented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { expectStatus } from './lib/contract.mjs';
import { publish, waitExit, tsFiles, ffprobeStreams } from './lib/media.mjs';
import {
  Checks, createStream, sessionsOf, checkHls, checkCountersVsPlaylist, checkPlayback, waitInactive, streamLog, hlsPaths,
} from './lib/live.mjs';

const WINDOW = 3;
const srv = await startServer({ flags: ['--segment-seconds', '1', '--hls-window', String(WINDOW)] });
const srvAll = await startServer({ flags: ['--segment-seconds', '1', '--hls-window', '100'] });

/** Publishes and waits for the end of the broadcast; returns the session. */
async function pushAndEnd(server, s, opts) {
  const logFrom = server.log.length;
  const pub = publish({ size: '320x240', rate: 30, url: server.rtmpUrl(s.streamKey), ...opts });
  const r = await waitExit(pub, 30_000);
  assert.ok(!r.timedOut && r.code === 0,
    `ffmpeg publish failed: ${r.timedOut ? 'timeout' : `${r.code} ${r.stderr}`}\n${streamLog(server, s, logFrom)}`);
  const inactive = await waitInactive(server, s.id, 2500);
  const [sess] = await sessionsOf(server, s.id);
  assert.ok(sess, `a session must exist\n${streamLog(server, s, logFrom)}`);
  return { sess, inactive, logFrom };
}

test(`--segment-seconds 1 --hls-window ${WINDOW}: 1 s segments, a ${WINDOW}-segment window, counters count everything`, async () => {
  const s = await createStream(srv, { name: 'window' });
  const c = new Checks(`sliding window on ${s.id}`);
  const logFrom = srv.log.length;
  // GOP 1 s, so segments are cut every second
  const pub = publish({ size: '320x240', rate: 30, gop: 30, seconds: 8, url: srv.rtmpUrl(s.streamKey) });
  const r = await waitExit(pub, 30_000);
  assert.ok(!r.timedOut && r.code === 0, `ffmpeg publish failed: ${r.timedOut ? 'timeout' : `${r.code} ${r.stderr}`}\n${streamLog(srv, s, logFrom)}`);
  const inactive = await waitInactive(srv, s.id, 2500);
  c.check(inactive.ok, 'stream inactive within 2.5 s after the publish');
  const [sess] = await sessionsOf(srv, s.id);
  assert.ok(sess, 'a session must exist');
  const hls = await checkHls(c, srv, s, { session: sess, exactDir: false });
  const pl = hls.media;
  c.check(sess.sourceSegments >= 7 && sess.sourceSegments <= 9,
    () => `8 s at 1 s segments (GOP 1 s): expected ~8 segments, got sourceSegments ${sess.sourceSegments}`);
  c.near(sess.sourceSegmentsDuration, 8.0, 0.2, 'sourceSegmentsDuration: every segment of the 8 s counts, not just the window');
  c.eq(pl.segments.length, WINDOW, `the playlist lists the last ${WINDOW} segments`);
  c.eq(pl.mediaSequence, sess.sourceSegments - WINDOW, '#EXT-X-MEDIA-SEQUENCE = segments that slid out of the window');
  c.eq(pl.targetDuration, 1, '#EXT-X-TARGETDURATION with --segment-seconds 1 and 1 s segments');
  for (const x of pl.segments) c.near(x.duration, 1.0, 0.05, `EXTINF of ${x.uri} with --segment-seconds 1`);
  c.check(hls.diskBytes < sess.sourceBytes, 'sourceBytes counts segments that slid out too (more than the listed ones)');
  const onDisk = tsFiles(hls.dir);
  c.check(onDisk.length <= WINDOW + 3 + 1,
    () => `segments that slid out are deleted a few segments later: ${onDisk.length} .ts files on disk for a ${WINDOW}-segment window: ${onDisk.map((f) => f.name).join(' ')}`);
  c.check(onDisk.length < sess.sourceSegments,
    () => `some of the ${sess.sourceSegments} segments must have been deleted, all ${onDisk.length} are still on disk`);
  const st = expectStatus(await srv.request('GET', `/api/stream/${s.id}`), 200);
  c.eq(st.sourceSegments, sess.sourceSegments, 'stream.sourceSegments (running total)');
  c.done(streamLog(srv, s, logFrom));
});

test('segments are cut at the first keyframe at or after the target: 1.5 s GOP, 1 s target', async () => {
  const s = await createStream(srvAll, { name: 'gop 1.5 s' });
  const c = new Checks(`1.5 s GOP with --segment-seconds 1 on ${s.id}`);
  const { sess, inactive, logFrom } = await pushAndEnd(srvAll, s, { gop: 45, seconds: 6 });
  c.check(inactive.ok, 'stream inactive within 2.5 s after the publish');
  const hls = await checkHls(c, srvAll, s, { session: sess });
  checkCountersVsPlaylist(c, sess, hls, { pushed: 6.0 });
  const durs = hls.media.segments.map((x) => x.duration);
  // keyframes at 0, 1.5, 3, 4.5: every full segment is 1.5 s (the last may be shorter)
  durs.slice(0, -1).forEach((d, i) => c.near(d, 1.5, 0.05, `EXTINF of segment ${i} (cut at the first keyframe >= 1 s)`));
  c.eq(hls.media.targetDuration, 2, '#EXT-X-TARGETDURATION for 1.5 s segments (the longest EXTINF rounded, RFC 8216)');
  await checkPlayback(c, srvAll, s, { pushed: 6.0 });
  c.done(streamLog(srvAll, s, logFrom));
});

test('H.264 without audio is accepted and segmented', async () => {
  const s = await createStream(srvAll, { name: 'video only' });
  const c = new Checks(`video-only publish on ${s.id}`);
  const { sess, inactive, logFrom } = await pushAndEnd(srvAll, s, { gop: 30, seconds: 5, audio: false });
  c.check(inactive.ok, 'stream inactive within 2.5 s after the publish');
  c.check(sess.sourceSegments >= 4, () => `5 s of video at 1 s segments: expected ~5 segments, got ${sess.sourceSegments}`);
  const hls = await checkHls(c, srvAll, s, { session: sess });
  checkCountersVsPlaylist(c, sess, hls, { pushed: 5.0 });
  const first = hls.media.segments[0];
  if (first) {
    const p = await ffprobeStreams(srvAll.base + hlsPaths(s.playbackId).segment(first.uri));
    c.check(p.streams.length === 1 && p.streams[0].codec_name === 'h264',
      () => `a video-only segment holds one h264 stream, got ${JSON.stringify(p.streams)}`);
  }
  await checkPlayback(c, srvAll, s, { pushed: 5.0 });
  c.done(streamLog(srvAll, s, logFrom));
});

test('SIGTERM shuts the servers down cleanly', async () => {
  await srv.stop();
  await srvAll.stop();
});
