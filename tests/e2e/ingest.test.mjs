// RTMP ingest end to end (issue 4): ffmpeg publishes a 10 s 720p30 H.264/AAC lavfi source with -re,
// once with the ffmpeg URL form rtmp://HOST:PORT/live/KEY and once OBS style (server
// rtmp://HOST:PORT/live, key as the publish name, via -rtmp_app/-rtmp_playpath). While it streams
// the SDK must see the stream active and a session with growing counters and ingestRate > 0;
// afterwards the counters must match the playlist, the files on disk and HTTP, the playlists must
// play end to end, and the stream must be inactive again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from './lib/server.mjs';
import { sdk } from './lib/contract.mjs';
import { publish, renderLocal, ffprobeDuration, sleep, parseMediaPlaylist } from './lib/media.mjs';
import {
  Checks, createStream, sessionsOf, sampleWhileLive, checkWhileLive, checkHls, checkCountersVsPlaylist,
  checkPlayback, waitInactive, streamLog, assertSessionShape, describeSamples, fetchRaw, hlsPaths,
} from './lib/live.mjs';

const SOURCE = { seconds: 10, size: '1280x720', rate: 30, gop: 60 };

// A large --hls-window so the live playlist lists every segment of the broadcast.
const srv = await startServer({ flags: ['--hls-window', '100'] });
const lp = srv.sdk();

// The pushed media: the same lavfi source with the same args, rendered to a file for ffprobe.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'streamd-e2e-media-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const local = await renderLocal(path.join(tmp, 'pushed.flv'), SOURCE);
const pushed = (await ffprobeDuration(local)).duration;
assert.ok(Number.isFinite(pushed) && Math.abs(pushed - SOURCE.seconds) < 0.2,
  `ffprobe of the locally rendered source: expected ~${SOURCE.seconds} s, got ${pushed}`);

const CUSTOM_PROFILES = [
  { name: '360p-test', bitrate: 700000, fps: 30, width: 640, height: 360 },
  { name: '240p-test', bitrate: 300000, fps: 0, width: 426, height: 240 },
];

async function broadcast(form) {
  const body = form === 'url'
    ? { name: 'ingest url form', profiles: CUSTOM_PROFILES }
    : { name: 'ingest obs form', record: true, recordingSpec: { profiles: [{ name: '480p', bitrate: 1000000, width: 854, height: 480 }] } };
  const stream = await createStream(srv, body);
  const c = new Checks(`publish (${form} form) to stream ${stream.id}`);
  const logFrom = srv.log.length;
  const t0 = Date.now();
  const target = form === 'url'
    ? { url: srv.rtmpUrl(stream.streamKey) }
    : { obs: { server: srv.rtmpBase, key: stream.streamKey } };
  const pub = publish({ ...SOURCE, ...target });
  // a player's view while live: the playlists are whole (written atomically), without ENDLIST,
  // and the newest listed segment can be fetched
  const P = hlsPaths(stream.playbackId);
  const livePl = [];
  const samples = await sampleWhileLive(srv, lp, stream, pub, {
    intervalMs: 1000,
    onSample: async (smp) => {
      if (!smp.running || smp.t - t0 < 2500) return;
      for (let i = 0; i < 5; i++) {
        const r = await fetchRaw(srv, P.media);
        const pl = parseMediaPlaylist(r.text);
        const last = pl.lines[pl.lines.length - 1];
        const whole = r.status === 200 && pl.header === '#EXTM3U' && pl.extinfCount === pl.segments.length &&
          pl.segments.length > 0 && (last === '#EXT-X-ENDLIST' || !last?.startsWith('#'));
        livePl.push({ t: Date.now() - t0, status: r.status, whole, endlist: pl.endlist, n: pl.segments.length, text: r.text, running: pub.running() });
      }
      const last = livePl[livePl.length - 1];
      const newest = parseMediaPlaylist(last.text).segments.pop();
      if (newest) {
        const seg = await fetchRaw(srv, P.segment(newest.uri));
        livePl.push({ t: Date.now() - t0, segment: newest.uri, status: seg.status, bytes: seg.buf.length });
      }
      const master = await fetchRaw(srv, P.master);
      livePl.push({ t: Date.now() - t0, master: true, status: master.status });
    },
  });
  const res = await pub.done;
  const endedAt = Date.now();
  assert.equal(res.code, 0,
    `${pub.describe()}\nexited with ${res.code} (signal ${res.signal}) after ${res.ms} ms, expected 0 (a successful publish)\n` +
      `ffmpeg stderr: ${res.stderr}\n${streamLog(srv, stream, logFrom)}`);
  assert.ok(res.ms >= SOURCE.seconds * 1000 - 500,
    `ffmpeg -re with -t ${SOURCE.seconds} must take ~${SOURCE.seconds} s, took ${res.ms} ms`);
  const sessionSeen = samples.find((s) => s.session)?.session;
  assert.ok(sessionSeen,
    `no session with parentId ${stream.id} appeared in session.getAll during the publish\n    ` +
      `${describeSamples(samples, t0)}\n${streamLog(srv, stream, logFrom)}`);

  checkWhileLive(c, samples, stream, { t0, minGrowth: 3 });
  c.check(livePl.length > 0, 'the playlists were fetched while live');
  for (const x of livePl) {
    if (x.segment) c.check(x.status === 200 && x.bytes > 0, () => `while live: GET ${P.segment(x.segment)} (newest listed) -> ${x.status}, ${x.bytes} bytes`);
    else if (x.master) c.eq(x.status, 200, `while live (+${x.t} ms): GET ${P.master} status`);
    else {
      c.check(x.whole, () => `while live (+${x.t} ms): GET ${P.media} -> ${x.status}, not a whole playlist:\n${x.text}`);
      if (x.running) c.check(!x.endlist, () => `while live (+${x.t} ms): the media playlist must not carry #EXT-X-ENDLIST:\n${x.text}`);
    }
  }

  // the session as API.md sec. 2 describes it, with the parent's fields copied, while live
  const mid = samples.filter((s) => s.running && s.rawSession).pop()?.rawSession;
  c.check(!!mid, 'GET /api/session/{id} must answer 200 while live');
  if (mid) {
    await c.run('raw session shape while live', () => assertSessionShape(mid, { stream, publicUrl: srv.base, what: 'GET /api/session/{id} while live' }));
    c.eq(mid.id, sessionSeen.id, 'session id stays the same during the broadcast');
    c.check(JSON.stringify(mid.profiles) === JSON.stringify(stream.profiles),
      () => `session.profiles must be copied from the stream: expected ${JSON.stringify(stream.profiles)}, got ${JSON.stringify(mid.profiles)}`);
    c.eq(mid.record, stream.record, 'session.record copied from the stream');
    c.check(JSON.stringify(mid.recordingSpec) === JSON.stringify(stream.recordingSpec),
      () => `session.recordingSpec must be copied from the stream: expected ${JSON.stringify(stream.recordingSpec)}, got ${JSON.stringify(mid.recordingSpec)}`);
    c.eq(mid.name, stream.name, 'session.name is the stream name');
    c.eq(mid.playbackId, stream.playbackId, 'session.playbackId is the stream playbackId');
  }

  // after the publish ends: the broadcast ends within ~2 s
  const inactive = await waitInactive(srv, stream.id, 2500);
  c.check(inactive.ok,
    () => `stream.isActive must be false within 2.5 s after ffmpeg finished, still ${inactive.stream.isActive} after ${Date.now() - endedAt} ms`);
  const sess = (await sdk('session.get after the broadcast', lp.session.get(sessionSeen.id))).session;
  const rawR = await srv.request('GET', `/api/session/${sessionSeen.id}`);
  const raw = rawR.json;
  const st = (await sdk('stream.get after the broadcast', lp.stream.get(stream.id))).stream;
  await c.run('raw session shape after the broadcast', () => assertSessionShape(raw, { stream, publicUrl: srv.base, what: 'GET /api/session/{id} after' }));
  c.eq(sess.ingestRate, 0, 'session.ingestRate after the broadcast ended');
  c.eq(sess.outgoingRate ?? 0, 0, 'session.outgoingRate after the broadcast ended');
  c.eq(st.isActive, false, 'SDK stream.get: isActive after the broadcast ended');
  if (st.ingestRate !== undefined) c.eq(st.ingestRate, 0, 'stream.ingestRate after the broadcast ended');
  c.check(sess.lastSeen > sess.createdAt, () => `session.lastSeen ${sess.lastSeen} must be > createdAt ${sess.createdAt}`);
  c.check(sess.lastSeen - sess.createdAt >= (SOURCE.seconds - 2) * 1000,
    () => `session.lastSeen - createdAt must cover the ~${SOURCE.seconds} s of data (lastSeen updated every second), got ${sess.lastSeen - sess.createdAt} ms`);
  c.check(sess.createdAt >= t0 - 1000 && sess.createdAt <= t0 + 5000,
    () => `session.createdAt ${sess.createdAt} must be when the publish started (${t0})`);
  c.check(st.lastSeen >= sess.createdAt, () => `stream.lastSeen ${st.lastSeen} must be updated by the broadcast (session createdAt ${sess.createdAt})`);

  // one session for this stream; the SDK parses the list
  const list = await sessionsOf(srv, stream.id);
  c.eq(list.length, 1, `GET /api/stream/${stream.id}/sessions: sessions after one broadcast`);
  const rec = await sdk('session.getRecorded(parentId)', lp.session.getRecorded(stream.id));
  c.eq(rec.data?.length, 1, 'SDK session.getRecorded(stream id): sessions after one broadcast');

  // the parent stream's running totals (one session, so they equal the session's counters)
  for (const k of ['sourceSegments', 'sourceSegmentsDuration', 'sourceBytes']) {
    c.eq(st[k], sess[k], `stream.${k} (running total) vs the only session's ${k}`);
  }

  // playback info says not live
  const pb = await srv.request('GET', `/api/playback/${stream.playbackId}`, { key: null });
  c.eq(pb.status, 200, 'GET /api/playback/{playbackId} status after the broadcast');
  c.eq(pb.json?.type, 'live', 'GET /api/playback: type');
  c.eq(pb.json?.meta?.live, 0, 'GET /api/playback: meta.live after the broadcast');
  const hlsSrc = pb.json?.meta?.source?.find((x) => x.hrn === 'HLS (TS)');
  c.check(hlsSrc?.url === `${srv.base}/hls/${stream.playbackId}/index.m3u8` && hlsSrc?.type === 'html5/application/vnd.apple.mpegurl',
    () => `GET /api/playback: meta.source needs {hrn:"HLS (TS)", type:"html5/application/vnd.apple.mpegurl", url:"${srv.base}/hls/${stream.playbackId}/index.m3u8"}, got ${JSON.stringify(pb.json?.meta?.source)}`);
  const sdkPb = await sdk('playback.get after', lp.playback.get(stream.playbackId));
  c.eq(sdkPb.playbackInfo?.meta?.live, 0, 'SDK playback.get: meta.live after the broadcast');

  // counters vs playlist, files and HTTP; playback end to end
  const hls = await checkHls(c, srv, stream, { session: sess });
  checkCountersVsPlaylist(c, sess, hls, { pushed });
  c.check(sess.sourceSegments >= 4 && sess.sourceSegments <= 6,
    () => `10 s at 2 s segments (GOP 2 s) should give ~5 segments, got sourceSegments ${sess.sourceSegments}`);
  // a rate in bytes/s: roughly the bytes per media second, not 8x that (bits)
  const bps = sess.sourceBytes / Math.max(sess.sourceSegmentsDuration, 0.001);
  const lateRates = samples.filter((s) => s.running && s.t - t0 >= 6000 && s.session).map((s) => s.session.ingestRate);
  const peak = Math.max(0, ...lateRates);
  c.check(peak >= 0.4 * bps && peak <= 2.5 * bps,
    () => `ingestRate should be bytes/s of the feed: late samples ${JSON.stringify(lateRates)} vs sourceBytes/duration ${bps.toFixed(0)} B/s`);
  const hlsDur = await checkPlayback(c, srv, stream, { pushed });
  c.note(`sourceSegments ${sess.sourceSegments}, sourceSegmentsDuration ${sess.sourceSegmentsDuration} (pushed ${pushed}, ` +
    `EXTINF sum ${hls.media.totalDuration.toFixed(3)}, ffprobe of the HLS ${hlsDur}), sourceBytes ${sess.sourceBytes}, ` +
    `EXTINFs ${hls.media.segments.map((x) => x.duration).join(' ')}, TARGETDURATION ${hls.media.targetDuration}`);

  c.done(streamLog(srv, stream, logFrom));
}

test('ffmpeg publish rtmp://HOST:PORT/live/STREAMKEY: live session, counters, HLS, end of broadcast', async () => {
  await broadcast('url');
});

test('OBS-style publish (server rtmp://HOST:PORT/live, key as the publish name): the same', async () => {
  await sleep(500);
  await broadcast('obs');
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
