// Reconnects (issue 4, "Live session accounting"): a publish within --reconnect-window seconds of
// the previous broadcast's end continues that session (same id, counters go on, the playlist
// continues after #EXT-X-DISCONTINUITY); after the window a new publish opens a new session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { expectStatus, sdk } from './lib/contract.mjs';
import { publish, waitExit, sleep, parseMediaPlaylist } from './lib/media.mjs';
import {
  Checks, createStream, sessionsOf, sampleWhileLive, checkHls, checkCountersVsPlaylist, checkPlayback,
  waitInactive, streamLog, describeSamples, fetchRaw, hlsPaths,
} from './lib/live.mjs';

// default reconnect window (60 s) for the inside-the-window case, 2 s for the after-the-window case
const srvIn = await startServer({ flags: ['--hls-window', '100'] });
const srvOut = await startServer({ flags: ['--hls-window', '100', '--reconnect-window', '2'] });

const SRC = { size: '640x360', rate: 30, gop: 60 };

async function push(srv, stream, seconds, c, label) {
  const pub = publish({ ...SRC, seconds, url: srv.rtmpUrl(stream.streamKey) });
  const r = await waitExit(pub, (seconds + 20) * 1000);
  assert.ok(!r.timedOut && r.code === 0,
    `${label}: ffmpeg must publish successfully, got ${r.timedOut ? 'no exit within the deadline' : `exit ${r.code}: ${r.stderr}`}\n` +
      streamLog(srv, stream));
  const inactive = await waitInactive(srv, stream.id, 2500);
  c.check(inactive.ok, `${label}: stream.isActive must be false within 2.5 s after ffmpeg finished`);
  return r;
}

test('reconnect inside the window (default 60 s): same session, counters continue, discontinuity', async () => {
  const srv = srvIn;
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'reconnect inside' });
  const c = new Checks(`reconnect within the window on ${s.id}`);
  const logFrom = srv.log.length;

  await push(srv, s, 4, c, 'first publish (4 s)');
  const list1 = await sessionsOf(srv, s.id);
  assert.equal(list1.length, 1, `one session after the first publish, got ${JSON.stringify(list1)}\n${streamLog(srv, s, logFrom)}`);
  const s1 = list1[0];
  const hls1 = await checkHls(c, srv, s, { session: s1 });
  checkCountersVsPlaylist(c, s1, hls1, { label: 'after the first publish', pushed: 4.0 });
  c.check(hls1.media.endlist, 'after the first publish the playlist ends with #EXT-X-ENDLIST');

  // second publish right away: well inside the window
  const t0 = Date.now();
  const pub = publish({ ...SRC, seconds: 4, url: srv.rtmpUrl(s.streamKey) });
  let liveMedia;
  const samples = await sampleWhileLive(srv, lp, s, pub, {
    onSample: async (smp) => {
      if (smp.running && smp.t - t0 >= 2500 && !liveMedia) {
        const r = await fetchRaw(srv, hlsPaths(s.playbackId).media);
        if (r.status === 200) liveMedia = parseMediaPlaylist(r.text);
      }
    },
  });
  const r2 = await pub.done;
  assert.equal(r2.code, 0, `second publish: ffmpeg exit ${r2.code}: ${r2.stderr}\n${streamLog(srv, s, logFrom)}`);
  const inactive = await waitInactive(srv, s.id, 2500);
  c.check(inactive.ok, 'second publish: stream.isActive false within 2.5 s after ffmpeg finished');

  const during = samples.filter((x) => x.running && x.t - t0 >= 2500);
  c.check(during.length > 0 && during.every((x) => x.stream?.isActive === true),
    () => `stream active again during the second publish\n    ${describeSamples(samples, t0)}`);
  c.check(during.every((x) => x.session?.id === s1.id && x.sessions.length === 1),
    () => `during the second publish session.getAll must list only the continued session ${s1.id}\n    ${describeSamples(samples, t0)}`);
  c.check(during.some((x) => (x.session?.ingestRate ?? 0) > 0), 'ingestRate > 0 during the second publish');
  if (liveMedia) {
    c.check(!liveMedia.endlist, () => `while the reconnected broadcast is live the playlist must not carry #EXT-X-ENDLIST:\n${liveMedia.lines.join('\n')}`);
    c.check(liveMedia.discontinuities >= 1, () => `while the reconnected broadcast is live the playlist must carry #EXT-X-DISCONTINUITY:\n${liveMedia.lines.join('\n')}`);
  } else {
    c.check(false, 'could not fetch the media playlist during the second publish');
  }

  const list = await sessionsOf(srv, s.id);
  c.eq(list.length, 1, `GET /api/stream/${s.id}/sessions: one session after a reconnect inside the window`);
  const rec = await sdk('session.getRecorded', lp.session.getRecorded(s.id));
  c.eq(rec.data?.length, 1, 'SDK session.getRecorded: one session');
  const all = (await sdk('session.getAll', lp.session.getAll())).data.filter((x) => x.parentId === s.id);
  c.eq(all.length, 1, 'SDK session.getAll: one session of the stream');
  const fin = expectStatus(await srv.request('GET', `/api/session/${s1.id}`), 200);
  c.eq(fin.id, s1.id, 'same session id after the reconnect');
  c.check(fin.lastSeen > s1.lastSeen, () => `session.lastSeen must move on with the second publish: ${s1.lastSeen} -> ${fin.lastSeen}`);
  c.eq(fin.ingestRate, 0, 'session.ingestRate after the second publish ended');

  const hls = await checkHls(c, srv, s, { session: fin });
  const pl = hls.media;
  c.eq(pl.discontinuities, 1, `the playlist carries one #EXT-X-DISCONTINUITY before the reconnected part:\n${pl.lines.join('\n')}\n`);
  const discAt = pl.segments.findIndex((x) => x.discontinuity);
  const part2 = discAt >= 0 ? pl.segments.length - discAt : 0;
  c.eq(discAt, s1.sourceSegments, 'the discontinuity comes right after the first broadcast\'s segments');
  c.check(part2 > 0, 'the reconnected broadcast added segments after the discontinuity');
  c.eq(fin.sourceSegments, s1.sourceSegments + part2, 'session.sourceSegments = first broadcast\'s + the segments after the discontinuity');
  checkCountersVsPlaylist(c, fin, hls, { pushed: 8.0, durTol: 0.4 });
  // the first broadcast's segments are still listed, with the same files (not overwritten)
  for (const seg of hls1.segSizes) {
    const now = hls.segSizes.find((x) => x.uri === seg.uri);
    c.check(now && now.disk === seg.disk && !now.discontinuity,
      () => `segment ${seg.uri} of the first broadcast (${seg.disk} bytes) must stay listed unchanged, now ${JSON.stringify(now)}`);
  }
  c.eq(new Set(pl.segments.map((x) => x.uri)).size, pl.segments.length, 'segment names are unique across the reconnect');
  c.eq(pl.mediaSequence, hls1.media.mediaSequence, '#EXT-X-MEDIA-SEQUENCE unchanged (nothing slid out of a 100-segment window)');
  await checkPlayback(c, srv, s, { pushed: 8.0, tol: 0.5 });
  // the stream's running totals
  const st = expectStatus(await srv.request('GET', `/api/stream/${s.id}`), 200);
  c.eq(st.sourceSegments, fin.sourceSegments, 'stream.sourceSegments (running total) vs the session');
  c.eq(st.sourceBytes, fin.sourceBytes, 'stream.sourceBytes (running total) vs the session');
  c.done(streamLog(srv, s, logFrom));
});

test('publish after the window (--reconnect-window 2): a new session, two sessions listed', async () => {
  const srv = srvOut;
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'reconnect after' });
  const c = new Checks(`publish after the window on ${s.id}`);
  const logFrom = srv.log.length;

  await push(srv, s, 3, c, 'first publish (3 s)');
  const list1 = await sessionsOf(srv, s.id);
  assert.equal(list1.length, 1, `one session after the first publish, got ${JSON.stringify(list1)}\n${streamLog(srv, s, logFrom)}`);
  const s1 = list1[0];
  const hls1 = await checkHls(c, srv, s, { session: s1 });
  checkCountersVsPlaylist(c, s1, hls1, { label: 'first session' });

  await sleep(4000); // the 2 s window passes

  await push(srv, s, 3, c, 'second publish (3 s), after the window');
  const list = await sessionsOf(srv, s.id);
  c.eq(list.length, 2, `GET /api/stream/${s.id}/sessions: two sessions after a publish outside the window`);
  const rec = await sdk('session.getRecorded', lp.session.getRecorded(s.id));
  c.eq(rec.data?.length, 2, 'SDK session.getRecorded: two sessions');
  const s2 = list.find((x) => x.id !== s1.id);
  c.check(!!s2, () => `a session with a new id expected, got ids ${list.map((x) => x.id).join(', ')} (first was ${s1.id})`);
  const first = expectStatus(await srv.request('GET', `/api/session/${s1.id}`), 200);
  for (const k of ['sourceSegments', 'sourceSegmentsDuration', 'sourceBytes', 'lastSeen']) {
    c.eq(first[k], s1[k], `the first (final) session's ${k} must not change after the window`);
  }
  if (s2) {
    c.eq(s2.parentId, s.id, 'second session parentId');
    c.check(s2.createdAt > s1.lastSeen, () => `second session createdAt ${s2.createdAt} must be after the first's lastSeen ${s1.lastSeen}`);
    c.eq(s2.ingestRate, 0, 'second session ingestRate after its end');
    c.check(s2.sourceSegments > 0, 'second session counted segments');
    // the live playlist now belongs to the new session: count the segments after the last discontinuity
    const hls = await checkHls(c, srv, s, { session: s2, exactDir: false });
    const segs = hls.segSizes;
    let from = 0;
    segs.forEach((x, i) => {
      if (x.discontinuity) from = i;
    });
    const mine = segs.slice(from);
    c.eq(s2.sourceSegments, mine.length, 'second session sourceSegments vs the playlist\'s segments of the new broadcast');
    c.eq(s2.sourceBytes, mine.reduce((a, x) => a + (x.disk ?? 0), 0), 'second session sourceBytes vs its segment files on disk');
    c.near(s2.sourceSegmentsDuration, mine.reduce((a, x) => a + (x.duration ?? 0), 0), 0.02 + 0.001 * mine.length,
      'second session sourceSegmentsDuration vs the sum of its EXTINF values');
    c.near(s2.sourceSegmentsDuration, 3.0, 0.2, 'second session sourceSegmentsDuration vs the 3 s pushed');
    c.check(hls.media.endlist, 'the playlist ends with #EXT-X-ENDLIST after the second broadcast');
    const st = expectStatus(await srv.request('GET', `/api/stream/${s.id}`), 200);
    c.eq(st.sourceSegments, s1.sourceSegments + s2.sourceSegments, 'stream.sourceSegments = sum over both sessions');
    c.eq(st.sourceBytes, s1.sourceBytes + s2.sourceBytes, 'stream.sourceBytes = sum over both sessions');
    c.near(st.sourceSegmentsDuration, s1.sourceSegmentsDuration + s2.sourceSegmentsDuration, 0.01,
      'stream.sourceSegmentsDuration = sum over both sessions');
  }
  c.done(streamLog(srv, s, logFrom));
});

test('encoder dropped (SIGKILL) and reconnected at once: the same session goes on', async () => {
  const srv = srvIn;
  const s = await createStream(srv, { name: 'blip' });
  const c = new Checks(`drop and reconnect on ${s.id}`);
  const logFrom = srv.log.length;
  const pub = publish({ ...SRC, seconds: 30, url: srv.rtmpUrl(s.streamKey) });
  const t0 = Date.now();
  let live;
  while (Date.now() - t0 < 15_000 && pub.running()) {
    live = (await sessionsOf(srv, s.id))[0];
    if (live && live.sourceSegments >= 1 && Date.now() - t0 >= 3000) break;
    await sleep(250);
  }
  assert.ok(live && live.sourceSegments >= 1 && pub.running(),
    `the first publish never got live with a segment: ${JSON.stringify(live)}\n${streamLog(srv, s, logFrom)}`);
  pub.kill('SIGKILL');
  await pub.done;
  await push(srv, s, 3, c, 'reconnect right after the drop (3 s)');
  const list = await sessionsOf(srv, s.id);
  c.eq(list.length, 1, 'one session after a drop and a reconnect inside the window');
  const fin = list[0];
  c.eq(fin?.id, live.id, 'the reconnect continues the dropped session');
  if (fin) {
    c.check(fin.sourceSegments > live.sourceSegments, () => `counters go on: sourceSegments ${live.sourceSegments} -> ${fin.sourceSegments}`);
    const hls = await checkHls(c, srv, s, { session: fin });
    c.eq(hls.media.discontinuities, 1, 'one #EXT-X-DISCONTINUITY at the reconnect');
    checkCountersVsPlaylist(c, fin, hls, {});
  }
  c.done(streamLog(srv, s, logFrom));
});

test('SIGTERM shuts both servers down cleanly', async () => {
  await srvIn.stop();
  await srvOut.stop();
});
