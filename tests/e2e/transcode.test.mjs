// Transcoding ladder end to end (issue 5): ffmpeg publishes 12 s of 720p30 H.264/AAC with -re to
// a stream with two profiles (480p 1 Mbps, default H.264 profile; 360p 600 kbps Baseline).
// While live: counters and outgoingRate grow, the session and stream are healthy and the health
// document says so with per-rendition CPU metrics. Afterwards: each rendition has one segment per
// source segment (same names, durations, first pts, an IDR first), the size, frame rate, H.264
// profile and bitrate asked for and the source's audio; transcoded* counters match the files; the
// master playlist lists both renditions and the source and plays in ffmpeg. Also: a passthrough
// stream (profiles []) transcodes nothing, and a rung larger than the source is never upscaled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { sdk } from './lib/contract.mjs';
import {
  publish, playThrough, probeStreams, probeVideoFrames, probeVideoPackets, frameRate, logLines,
} from './lib/media.mjs';
import {
  Checks, createStream, sampleWhileLive, checkWhileLive, checkHls, checkCountersVsPlaylist, waitInactive,
  streamLog, describeSamples, fetchRaw, hlsPaths,
} from './lib/live.mjs';
import {
  FRAME_TOL, getHealth, conditionOf, metricSeries, metricLast, describeHealth, checkHealthShape, renditionDirs,
  checkRenditionHls, avcProfileIdc, PROFILE_IDC, publishTimes, CpuWaitMeter, starvedExcuse,
} from './lib/transcode.mjs';

// A large --hls-window so the playlists list every segment of the broadcast.
const srv = await startServer({ flags: ['--hls-window', '100'] });
const lp = srv.sdk();

const SOURCE = { seconds: 12, size: '1280x720', rate: 30, gop: 60 };
const LADDER = [
  { name: '480p0', width: 854, height: 480, bitrate: 1000000, fps: 0 },
  { name: '360p0', width: 640, height: 360, bitrate: 600000, fps: 30, profile: 'H264Baseline' },
];
// what ffprobe must see in each rendition
const EXPECT = {
  '480p0': { width: 854, height: 480, fps: 30, profiles: ['High'], bitrate: 1000000 },
  '360p0': { width: 640, height: 360, fps: 30, profiles: ['Constrained Baseline', 'Baseline'], bitrate: 600000 },
};
const WAIT_END_MS = 30_000; // the transcoder finishes its queue (at most 3 segments) before the end

const fmt = (x, d = 3) => (typeof x === 'number' ? x.toFixed(d) : JSON.stringify(x));

/** Fetches the health document on every sample while live (kept on the sample as `health`). */
function withHealth(stream) {
  const meter = new CpuWaitMeter(srv.child.pid);
  return async (smp) => {
    smp.cpu = meter.sample(); // the server's CPU and run-queue wait since the previous sample
    try {
      smp.health = await getHealth(srv, stream.id);
    } catch (e) {
      smp.errors.push(`GET /data/stream/${stream.id}/health: ${e.message}`);
    }
  };
}

/** When the server accepted the publish (log), else when a session was first seen, else fallback. */
function liveStart(samples, stream, logFrom, fallback) {
  return publishTimes(srv, stream, logFrom).acceptedAt ?? samples.find((s) => s.session)?.t ?? fallback;
}

function describeLive(samples, t0) {
  return samples.map((s) => {
    const x = s.rawSession;
    return `+${((s.t - t0) / 1000).toFixed(1)}s ${s.running ? 'pub' : 'end'} ` +
      (x ? `src=${x.sourceSegments} tr=${x.transcodedSegments} trDur=${fmt(x.transcodedSegmentsDuration)} trBytes=${x.transcodedBytes} ` +
        `out=${Math.round(x.outgoingRate)} isHealthy=${x.isHealthy} issues=${JSON.stringify(x.issues)} stream.isHealthy=${s.stream?.isHealthy} `
        : 'no session ') + `| ${describeHealth(s.health)}` +
      (s.cpu ? ` | server cpu ${s.cpu.runS.toFixed(2)} s, cpu wait ${s.cpu.waitS.toFixed(2)} s` : '');
  }).join('\n    ');
}

test('two profiles: renditions aligned with the source, as asked, counted, healthy while live, playable', async () => {
  const stream = await createStream(srv, { name: 'transcode two rungs', profiles: LADDER });
  assert.deepEqual(stream.profiles, LADDER, `POST /api/stream must keep the profiles as given, got ${JSON.stringify(stream.profiles)}`);
  const c = new Checks(`transcode 720p30 -> ${LADDER.map((p) => p.name).join(' + ')} on stream ${stream.id}`);
  const logFrom = srv.log.length;
  const spawnedAt = Date.now();
  const pub = publish({ ...SOURCE, url: srv.rtmpUrl(stream.streamKey) });
  const samples = await sampleWhileLive(srv, lp, stream, pub, { intervalMs: 1000, onSample: withHealth(stream) });
  const res = await pub.done;
  const endedAt = Date.now();
  assert.equal(res.code, 0, `${pub.describe()}\nexited with ${res.code}: ${res.stderr}\n${streamLog(srv, stream, logFrom)}`);
  // times are measured from the server's acceptance of the publish (ffmpeg may be slow to start)
  const t0 = liveStart(samples, stream, logFrom, spawnedAt);
  const detail = () => `\n    samples:\n    ${describeLive(samples, t0)}`;

  // ---- while live ----------------------------------------------------------------------------
  checkWhileLive(c, samples, stream, { t0, minGrowth: 3 });
  const live = samples.filter((s) => s.running && s.rawSession);
  // judged once the first rendition segment exists (before it, transcoding has nothing to judge)
  const judged = live.filter((s) => s.rawSession.transcodedSegments > 0);
  c.check(judged.length >= 3, () => `expected at least 3 samples while live after the first rendition segment, got ${judged.length}${detail()}`);
  for (const k of ['transcodedSegments', 'transcodedSegmentsDuration', 'transcodedBytes']) {
    const vals = live.map((s) => s.rawSession[k]);
    c.check(vals.every((v, i) => i === 0 || v >= vals[i - 1]), () => `session.${k} must never decrease while live, got ${JSON.stringify(vals)}`);
    c.check(vals.filter((v, i) => i > 0 && v > vals[i - 1]).length >= 3,
      () => `session.${k} must grow while live (3+ increases between once-a-second samples), got ${JSON.stringify(vals)}`);
  }
  c.check(judged.some((s) => s.rawSession.outgoingRate > 0), () => `session.outgoingRate must be > 0 while live${detail()}`);
  // a full rate window (5 s) after the first rendition output
  const late = judged.filter((s) => s.t - judged[0]?.t >= 5000);
  c.check(late.every((s) => s.rawSession.outgoingRate > 0 && s.stream?.outgoingRate > 0),
    () => `session and stream outgoingRate must stay > 0 while renditions are written${detail()}`);
  const excused = [];
  for (const s of judged) {
    const at = `while live (+${((s.t - t0) / 1000).toFixed(1)} s)`;
    const x = s.rawSession;
    const h = s.health;
    const excuse = starvedExcuse(samples, s);
    if (excuse) {
      excused.push(`${at}: ${excuse}`);
      if (h) checkHealthShape(c, h, stream.id, at);
      continue;
    }
    c.eq(x.isHealthy, true, `${at}: GET /api/session/{id} isHealthy`);
    c.check(x.issues === null || (Array.isArray(x.issues) && x.issues.length === 0),
      () => `${at}: session.issues must be null or [] while healthy, got ${JSON.stringify(x.issues)}`);
    c.eq(s.session?.isHealthy, true, `${at}: SDK session.getAll isHealthy`);
    c.eq(s.stream?.isHealthy, true, `${at}: SDK stream.get isHealthy`);
    c.check(s.stream?.issues == null || s.stream.issues.length === 0,
      () => `${at}: stream.issues must be null or [] while healthy, got ${JSON.stringify(s.stream?.issues)}`);
    if (!h) continue;
    checkHealthShape(c, h, stream.id, at);
    c.eq(h.healthy?.status, true, `${at}: health document healthy.status (${describeHealth(h)})`);
    for (const type of ['Active', 'Transcoding', 'TranscodeRealTime', 'TranscodeNoErrors']) {
      c.eq(conditionOf(h, type)?.status, true, `${at}: health condition ${type}.status (${describeHealth(h)})`);
    }
    const ms = conditionOf(h, 'Multistreaming');
    if (ms) c.eq(ms.status, null, `${at}: Multistreaming.status without multistream targets`);
    const ratio = metricLast(h, 'TranscodeRealtimeRatio');
    c.check(typeof ratio === 'number' && ratio >= 1,
      () => `${at}: metrics.TranscodeRealtimeRatio must be a number >= 1 while TranscodeRealTime is true, got ${JSON.stringify(h.metrics?.TranscodeRealtimeRatio)}`);
    for (const dims of [{ stage: 'decode' }, ...LADDER.map((p) => ({ stage: 'encode', rendition: p.name }))]) {
      const v = metricLast(h, 'TranscodeCpuSecondsPerMediaSecond', dims);
      c.check(typeof v === 'number' && v > 0 && v < 50,
        () => `${at}: metrics.TranscodeCpuSecondsPerMediaSecond ${JSON.stringify(dims)} must be a positive number, got ${JSON.stringify(metricSeries(h, 'TranscodeCpuSecondsPerMediaSecond', dims))} in ${JSON.stringify(h.metrics?.TranscodeCpuSecondsPerMediaSecond)}`);
    }
    c.check(!metricLast(h, 'TranscodeDroppedSegments'), () => `${at}: no source segment may be dropped: ${JSON.stringify(h.metrics?.TranscodeDroppedSegments)}`);
    // fetched just after the session: the same media time, or one more segment
    const mt = metricLast(h, 'MediaTimeMillis');
    c.check(typeof mt === 'number' && mt >= x.sourceSegmentsDuration * 1000 - 1 && mt <= x.sourceSegmentsDuration * 1000 + 2100,
      () => `${at}: metrics.MediaTimeMillis ${mt} vs session.sourceSegmentsDuration ${x.sourceSegmentsDuration} s`);
  }
  c.check(judged.length - excused.length >= 2,
    () => `the session must be seen healthy while live (2+ samples), got ${judged.length - excused.length} healthy of ${judged.length}${detail()}`);
  if (excused.length) c.note(`samples excused as CPU-starved (the machine, not the server):\n    ${excused.join('\n    ')}`);

  // ---- after the broadcast --------------------------------------------------------------------
  const inactive = await waitInactive(srv, stream.id, WAIT_END_MS);
  c.check(inactive.ok, () => `stream.isActive must be false within ${WAIT_END_MS} ms after ffmpeg finished, still ${inactive.stream.isActive}`);
  c.note(`the broadcast ended ${Date.now() - endedAt} ms after ffmpeg exited (transcoder queue drained)`);
  const sessionId = samples.find((s) => s.session)?.session.id;
  assert.ok(sessionId, `no session appeared while live${detail()}\n${streamLog(srv, stream, logFrom)}`);
  const sess = (await sdk('session.get after the broadcast', lp.session.get(sessionId))).session;
  const st = (await sdk('stream.get after the broadcast', lp.stream.get(stream.id))).stream;
  const raw = (await srv.request('GET', `/api/session/${sessionId}`)).json;
  const rawSt = (await srv.request('GET', `/api/stream/${stream.id}`)).json;
  c.eq(raw?.isHealthy, null, 'GET /api/session/{id} after the broadcast: isHealthy');
  c.eq(raw?.issues, null, 'GET /api/session/{id} after the broadcast: issues');
  c.eq(rawSt?.isHealthy, null, 'GET /api/stream/{id} after the broadcast: isHealthy');
  c.eq(rawSt?.issues, null, 'GET /api/stream/{id} after the broadcast: issues');
  c.check(sess.isHealthy == null, () => `SDK session.get after the broadcast: isHealthy must be null, got ${JSON.stringify(sess.isHealthy)}`);
  c.eq(sess.outgoingRate ?? 0, 0, 'SDK session.get after the broadcast: outgoingRate');
  c.eq(st.outgoingRate ?? 0, 0, 'SDK stream.get after the broadcast: outgoingRate');
  c.check(JSON.stringify(raw?.profiles) === JSON.stringify(LADDER), () => `session.profiles must be the stream's, got ${JSON.stringify(raw?.profiles)}`);
  const hAfter = await getHealth(srv, stream.id);
  checkHealthShape(c, hAfter, stream.id, 'after the broadcast');
  c.eq(conditionOf(hAfter, 'Active')?.status, false, `after the broadcast: health condition Active.status (${describeHealth(hAfter)})`);

  // the source rendition (ingest unharmed by transcoding)
  const hls = await checkHls(c, srv, stream, { session: sess });
  checkCountersVsPlaylist(c, sess, hls);
  const srcSegs = hls.media.segments;
  c.check(srcSegs.length >= 5 && srcSegs.length <= 7, () => `12 s at 2 s GOPs should give ~6 source segments, got ${srcSegs.length}`);

  // renditions: one segment per source segment, same names and durations
  c.eq(JSON.stringify(renditionDirs(srv, stream.playbackId)), JSON.stringify(LADDER.map((p) => p.name).sort()),
    `rendition directories under ${srv.liveDir(stream.playbackId)}`);
  const rend = {};
  let sumSegs = 0;
  let sumDur = 0;
  let sumBytes = 0;
  for (const p of LADDER) {
    const r = await checkRenditionHls(c, srv, stream, p.name);
    if (!r) continue;
    rend[p.name] = r;
    sumSegs += r.media.segments.length;
    sumDur += r.media.totalDuration;
    sumBytes += r.diskBytes;
    c.eq(r.httpBytes, r.diskBytes, `${p.name}: bytes over HTTP vs on disk`);
    c.eq(r.media.segments.length, srcSegs.length, `${p.name}: segments in the rendition playlist vs the source playlist`);
    c.eq(JSON.stringify(r.media.segments.map((s) => s.uri)), JSON.stringify(srcSegs.map((s) => s.uri)),
      `${p.name}: segment names must be the source's (same NNNNN)`);
    for (const s of srcSegs) {
      const x = r.byUri.get(s.uri);
      if (x) c.near(x.duration, s.duration, FRAME_TOL, `${p.name}: EXTINF of ${s.uri} vs the source's`);
    }
    c.eq(r.media.discontinuities, 0, `${p.name}: no #EXT-X-DISCONTINUITY in one uninterrupted broadcast`);
  }

  // counters against the rendition files
  c.eq(sess.transcodedSegments, 2 * sess.sourceSegments, 'session.transcodedSegments vs sourceSegments x 2 renditions');
  c.eq(sess.transcodedSegments, sumSegs, 'session.transcodedSegments vs the segments listed in the rendition playlists');
  c.near(sess.transcodedSegmentsDuration, 2 * sess.sourceSegmentsDuration, 2 * FRAME_TOL * srcSegs.length,
    'session.transcodedSegmentsDuration vs 2 x sourceSegmentsDuration');
  c.near(sess.transcodedSegmentsDuration, sumDur, 0.002 * sumSegs + 0.01, 'session.transcodedSegmentsDuration vs the sum of rendition EXTINFs');
  c.eq(sess.transcodedBytes, sumBytes, 'session.transcodedBytes vs the sum of rendition segment file sizes');
  for (const k of ['transcodedSegments', 'transcodedSegmentsDuration', 'transcodedBytes', 'sourceSegments', 'sourceBytes']) {
    c.eq(st[k], sess[k], `stream.${k} (running total) vs the only session's`);
  }
  // outgoingRate is bytes/s of rendition output (all renditions) over ~5 s, not bits
  const outBps = sess.transcodedBytes / Math.max(sess.sourceSegmentsDuration, 0.001);
  const latePeak = Math.max(0, ...late.map((s) => s.rawSession.outgoingRate));
  if (late.length === 0) c.note('no sample 5 s after the first rendition output: outgoingRate magnitude not judged');
  else c.check(latePeak >= 0.4 * outBps && latePeak <= 2.5 * outBps,
    () => `outgoingRate should be bytes/s of the renditions: samples 5 s after the first output ${JSON.stringify(late.map((s) => Math.round(s.rawSession.outgoingRate)))} vs transcodedBytes / media seconds ${Math.round(outBps)} B/s`);

  // media: first frame of every rendition segment is an I/key frame at the source segment's pts
  for (const s of srcSegs) {
    const src = await probeVideoFrames(hls.dir + '/' + s.uri);
    const srcFirst = src.frames[0];
    c.check(src.code === 0 && srcFirst, () => `ffprobe -show_frames source/${s.uri}: exit ${src.code}, ${src.frames.length} frames: ${src.stderr}`);
    for (const p of LADDER) {
      const x = rend[p.name]?.byUri.get(s.uri);
      if (!x || !srcFirst) continue;
      const f = await probeVideoFrames(x.path);
      const first = f.frames[0];
      c.check(f.code === 0 && first, () => `ffprobe -show_frames ${p.name}/${s.uri}: exit ${f.code}: ${f.stderr}`);
      if (!first) continue;
      c.check(first.key && first.type === 'I',
        () => `${p.name}/${s.uri}: the first video frame must be a keyframe (I), got key_frame=${first.key} pict_type=${first.type}`);
      c.near(first.pts, srcFirst.pts, FRAME_TOL, `${p.name}/${s.uri}: first video frame pts vs source/${s.uri}'s (s)`);
      c.check(Math.abs(f.frames.length - src.frames.length) <= 1,
        () => `${p.name}/${s.uri}: ${f.frames.length} video frames vs ${src.frames.length} in source/${s.uri} (fps 0/30 keeps every frame)`);
    }
  }

  // media: size, fps, H.264 profile, audio, bitrate over the whole rendition
  const P = hlsPaths(stream.playbackId);
  const probed = {};
  for (const p of LADDER) {
    const r = rend[p.name];
    if (!r) continue;
    const want = EXPECT[p.name];
    const url = srv.base + P.rendition(p.name).media;
    const ps = await probeStreams(url);
    probed[p.name] = ps;
    c.check(ps.code === 0 && ps.video, () => `ffprobe ${url}: exit ${ps.code}, streams ${JSON.stringify(ps.streams)}: ${ps.stderr}`);
    if (!ps.video) continue;
    c.eq(ps.video.codec_name, 'h264', `${p.name}: video codec`);
    c.eq(`${ps.video.width}x${ps.video.height}`, `${want.width}x${want.height}`, `${p.name}: ffprobe resolution`);
    const fps = frameRate(ps.video.avg_frame_rate) ?? frameRate(ps.video.r_frame_rate);
    c.near(fps, want.fps, 0.05, `${p.name}: ffprobe frame rate (avg_frame_rate ${ps.video.avg_frame_rate}, r_frame_rate ${ps.video.r_frame_rate})`);
    c.check(want.profiles.includes(ps.video.profile),
      () => `${p.name}: H.264 profile must be ${want.profiles.join(' or ')} (asked ${p.profile ?? 'nothing: the default'}), ffprobe says ${JSON.stringify(ps.video.profile)}`);
    c.check(ps.audio?.codec_name === 'aac', () => `${p.name}: an AAC audio stream expected in the rendition, ffprobe streams ${JSON.stringify(ps.streams)}`);
    const pk = await probeVideoPackets(url);
    c.check(pk.code === 0 && pk.packets.length > 0, () => `ffprobe -show_packets ${url}: exit ${pk.code}: ${pk.stderr}`);
    const bps = (pk.bytes * 8) / r.media.totalDuration;
    c.check(bps >= 0.7 * want.bitrate && bps <= 1.3 * want.bitrate,
      () => `${p.name}: video bitrate over the whole rendition (sum of video packet sizes / EXTINF sum) must be within ±30 % of ${want.bitrate}, got ${Math.round(bps)} b/s (${pk.bytes} bytes in ${fmt(r.media.totalDuration)} s)`);
    c.note(`${p.name}: ${ps.video.width}x${ps.video.height} ${ps.video.profile} ${ps.video.avg_frame_rate} fps, video ${Math.round(bps)} b/s (target ${want.bitrate}), ` +
      `${r.media.segments.length} segments, ${r.diskBytes} bytes`);
  }

  // the master playlist: both renditions with RESOLUTION/BANDWIDTH/CODECS/FRAME-RATE, and the source
  const master = await fetchRaw(srv, P.master);
  c.eq(master.status, 200, `GET ${P.master} status`);
  const mp = hls.master;
  const byUri = new Map(mp.variants.map((v) => [v.uri, v]));
  c.eq(mp.variants.length, LADDER.length + 1, `master playlist: variants (2 renditions + source):\n${master.text}\n`);
  c.check(byUri.has('source/index.m3u8'), () => `master playlist must list source/index.m3u8:\n${master.text}`);
  for (const p of LADDER) {
    const v = byUri.get(`${p.name}/index.m3u8`);
    c.check(!!v, () => `master playlist must list ${p.name}/index.m3u8:\n${master.text}`);
    if (!v) continue;
    const a = v.attrs;
    const want = EXPECT[p.name];
    c.eq(a.RESOLUTION, `${want.width}x${want.height}`, `master playlist: RESOLUTION of ${p.name}`);
    c.check(/^\d+$/.test(a.BANDWIDTH ?? '') && Number(a.BANDWIDTH) > 0, () => `master playlist: BANDWIDTH of ${p.name} must be a positive integer: ${v.inf}`);
    c.check(/^\d+$/.test(a['AVERAGE-BANDWIDTH'] ?? '') && Number(a['AVERAGE-BANDWIDTH']) > 0 &&
      Number(a['AVERAGE-BANDWIDTH']) <= Number(a.BANDWIDTH),
    () => `master playlist: AVERAGE-BANDWIDTH of ${p.name} must be a positive integer <= BANDWIDTH: ${v.inf}`);
    c.near(Number(a['FRAME-RATE']), want.fps, 0.05, `master playlist: FRAME-RATE of ${p.name} (${v.inf})`);
    const codecs = (a.CODECS ?? '').split(',').map((x) => x.trim());
    c.check(codecs.some((x) => /^avc1\.[0-9a-fA-F]{6}$/.test(x)) && codecs.includes('mp4a.40.2'),
      () => `master playlist: CODECS of ${p.name} must list avc1.PPCCLL and mp4a.40.2: ${v.inf}`);
    const actual = probed[p.name]?.video?.profile;
    if (actual && PROFILE_IDC[actual] !== undefined) {
      c.eq(avcProfileIdc(a.CODECS), PROFILE_IDC[actual], `master playlist: CODECS ${a.CODECS} of ${p.name}: avc1 profile_idc vs the stream's ${actual} profile`);
    }
    // RFC 8216 4.3.4.2: once every segment exists, BANDWIDTH is at least the peak segment bit rate
    const r = rend[p.name];
    if (r) {
      const peak = Math.max(...[...r.byUri.values()].map((x) => (x.size * 8) / x.duration));
      c.check(Number(a.BANDWIDTH) >= 0.9 * peak,
        () => `master playlist: BANDWIDTH ${a.BANDWIDTH} of ${p.name} is below the peak segment bit rate ${Math.round(peak)} b/s (RFC 8216 4.3.4.2; 10 % slack): ${v.inf}`);
    }
  }

  // playback: the master (every variant) and each media playlist decode without an error
  for (const [what, url, opts] of [
    ['master -map 0', P.master, { mapAll: true }],
    ...LADDER.map((p) => [p.name, P.rendition(p.name).media, {}]),
    ['source', P.media, {}],
  ]) {
    const r = await playThrough(srv.base + url, opts);
    c.eq(r.code, 0, `ffmpeg -v error -i ${url}${opts.mapAll ? ' -map 0' : ''} -f null - (${what}): exit code (stderr: ${r.stderr.slice(0, 800)})`);
    c.check(r.stderr === '', () => `ffmpeg -v error -i ${url} -f null - (${what}) printed errors:\n${r.stderr.slice(0, 1500)}`);
  }

  const lastHealth = [...samples].reverse().find((s) => s.running && s.health)?.health;
  c.note(`sourceSegments ${sess.sourceSegments} (${fmt(sess.sourceSegmentsDuration)} s), transcodedSegments ${sess.transcodedSegments} ` +
    `(${fmt(sess.transcodedSegmentsDuration)} s, ${sess.transcodedBytes} bytes); outgoingRate samples ` +
    `${JSON.stringify(live.map((s) => Math.round(s.rawSession.outgoingRate)))}; last live CPU/media-s ` +
    `${JSON.stringify((lastHealth?.metrics?.TranscodeCpuSecondsPerMediaSecond ?? []).map((m) => [m.dimensions.rendition ?? m.dimensions.stage, +m.last[1].toFixed(3)]))}, ` +
    `realtime ratio ${fmt(metricLast(lastHealth, 'TranscodeRealtimeRatio'), 2)}`);
  c.done(`${detail()}\n${streamLog(srv, stream, logFrom)}`);
});

test('passthrough (profiles: []): source only, transcoded counters 0, healthy while live', async () => {
  const stream = await createStream(srv, { name: 'transcode passthrough', profiles: [] });
  const c = new Checks(`passthrough stream ${stream.id}`);
  const logFrom = srv.log.length;
  const spawnedAt = Date.now();
  const pub = publish({ seconds: 7, size: '640x360', rate: 30, gop: 60, url: srv.rtmpUrl(stream.streamKey) });
  const samples = await sampleWhileLive(srv, lp, stream, pub, { intervalMs: 1000, onSample: withHealth(stream) });
  const res = await pub.done;
  assert.equal(res.code, 0, `${pub.describe()}\nexited with ${res.code}: ${res.stderr}\n${streamLog(srv, stream, logFrom)}`);
  const t0 = liveStart(samples, stream, logFrom, spawnedAt);
  const detail = () => `\n    samples:\n    ${describeLive(samples, t0)}`;
  checkWhileLive(c, samples, stream, { t0, minGrowth: 1 });
  const live = samples.filter((s) => s.running && s.rawSession);
  for (const s of live) {
    const x = s.rawSession;
    for (const k of ['transcodedSegments', 'transcodedSegmentsDuration', 'transcodedBytes', 'outgoingRate']) {
      c.eq(x[k], 0, `while live (+${((s.t - t0) / 1000).toFixed(1)} s): session.${k} of a passthrough stream`);
    }
  }
  const judged = live.filter((s) => s.rawSession.sourceSegments > 0);
  c.check(judged.length >= 2, () => `expected 2+ samples while live after the first source segment${detail()}`);
  for (const s of judged) {
    const at = `while live (+${((s.t - t0) / 1000).toFixed(1)} s)`;
    c.eq(s.rawSession.isHealthy, true, `${at}: session.isHealthy of a passthrough stream`);
    c.eq(s.stream?.isHealthy, true, `${at}: SDK stream.get isHealthy of a passthrough stream`);
    if (s.health) {
      checkHealthShape(c, s.health, stream.id, at);
      c.eq(s.health.healthy?.status, true, `${at}: health document healthy.status (${describeHealth(s.health)})`);
      c.eq(conditionOf(s.health, 'Active')?.status, true, `${at}: health condition Active`);
      c.check(!metricLast(s.health, 'TranscodeDroppedSegments'), () => `${at}: nothing may be dropped on a passthrough stream`);
    }
  }
  const inactive = await waitInactive(srv, stream.id, WAIT_END_MS);
  c.check(inactive.ok, () => `stream.isActive must be false within ${WAIT_END_MS} ms after ffmpeg finished`);
  const sessionId = samples.find((s) => s.session)?.session.id;
  assert.ok(sessionId, `no session appeared while live${detail()}\n${streamLog(srv, stream, logFrom)}`);
  const sess = (await sdk('session.get', lp.session.get(sessionId))).session;
  const st = (await sdk('stream.get', lp.stream.get(stream.id))).stream;
  for (const k of ['transcodedSegments', 'transcodedSegmentsDuration', 'transcodedBytes']) {
    c.eq(sess[k], 0, `session.${k} of a passthrough stream after the broadcast`);
    c.eq(st[k], 0, `stream.${k} of a passthrough stream after the broadcast`);
  }
  c.check(sess.sourceSegments >= 3, () => `7 s should give 3+ source segments, got ${sess.sourceSegments}`);
  c.eq(sess.isHealthy ?? null, null, 'session.isHealthy after the broadcast');
  // checkHls asserts exactly one variant (the source) for profiles []
  const hls = await checkHls(c, srv, stream, { session: sess });
  checkCountersVsPlaylist(c, sess, hls);
  c.eq(JSON.stringify(renditionDirs(srv, stream.playbackId)), '[]', `no rendition directory under ${srv.liveDir(stream.playbackId)}`);
  const r = await playThrough(srv.base + hlsPaths(stream.playbackId).master, { mapAll: true });
  c.check(r.code === 0 && r.stderr === '', () => `ffmpeg -i master -map 0 -f null -: exit ${r.code}: ${r.stderr.slice(0, 800)}`);
  c.done(`${detail()}\n${streamLog(srv, stream, logFrom)}`);
});

test('a rung larger than the source (1080p on 360p) is never upscaled', async () => {
  const profiles = [
    { name: '1080p0', width: 1920, height: 1080, bitrate: 4000000, fps: 0 },
    { name: '240p0', width: 426, height: 240, bitrate: 300000, fps: 0 },
  ];
  const stream = await createStream(srv, { name: 'transcode clamp', profiles });
  const c = new Checks(`1080p rung on a 640x360 source, stream ${stream.id}`);
  const logFrom = srv.log.length;
  const pub = publish({ seconds: 7, size: '640x360', rate: 30, gop: 60, url: srv.rtmpUrl(stream.streamKey) });
  const res = await pub.done;
  assert.equal(res.code, 0, `${pub.describe()}\nexited with ${res.code}: ${res.stderr}\n${streamLog(srv, stream, logFrom)}`);
  const inactive = await waitInactive(srv, stream.id, WAIT_END_MS);
  c.check(inactive.ok, () => `stream.isActive must be false within ${WAIT_END_MS} ms after ffmpeg finished`);
  const sess = (await srv.request('GET', `/api/stream/${stream.id}/sessions`)).json?.[0];
  assert.ok(sess, `no session after the broadcast\n${streamLog(srv, stream, logFrom)}`);
  const hls = await checkHls(c, srv, stream, { session: sess });
  checkCountersVsPlaylist(c, sess, hls);
  const mp = hls.master;
  const P = hlsPaths(stream.playbackId);

  // the 240p rung as asked
  const r240 = await checkRenditionHls(c, srv, stream, '240p0');
  const p240 = await probeStreams(srv.base + P.rendition('240p0').media);
  c.eq(p240.video ? `${p240.video.width}x${p240.video.height}` : undefined, '426x240', '240p0: ffprobe resolution');

  // the 1080p rung: absent (skipped) or at most 640x360
  const dirs = renditionDirs(srv, stream.playbackId);
  const v1080 = mp.variants.find((v) => v.uri === '1080p0/index.m3u8');
  let r1080;
  let size1080 = 'skipped';
  if (dirs.includes('1080p0') || v1080) {
    r1080 = await checkRenditionHls(c, srv, stream, '1080p0');
    const ps = await probeStreams(srv.base + P.rendition('1080p0').media);
    size1080 = `${ps.video?.width}x${ps.video?.height}`;
    c.check(ps.video && ps.video.width <= 640 && ps.video.height <= 360,
      () => `1080p0 on a 640x360 source must not be upscaled: ffprobe says ${ps.video?.width}x${ps.video?.height}`);
    if (v1080) {
      const [w, h] = (v1080.attrs.RESOLUTION ?? '').split('x').map(Number);
      c.check(w <= 640 && h <= 360 && w === ps.video?.width && h === ps.video?.height,
        () => `master playlist: RESOLUTION of 1080p0 must be the real (not upscaled) size ${ps.video?.width}x${ps.video?.height}: ${v1080.inf}`);
    }
    for (const [name, x] of r1080 ? r1080.byUri : []) {
      const f = await probeStreams(x.path);
      c.check(f.video && f.video.width <= 640 && f.video.height <= 360,
        () => `1080p0/${name}: ${f.video?.width}x${f.video?.height} is larger than the 640x360 source`);
    }
  }
  const note = logLines(srv, ['1080p0'], { since: logFrom }).split('\n').filter((l) => / (warn|info) /.test(l) && /clamp|skip/i.test(l));
  c.check(note.length > 0, () => `the server log must say that 1080p0 was clamped or skipped on the 640x360 source; lines about 1080p0:\n${logLines(srv, ['1080p0'], { since: logFrom })}`);
  const renditions = [r240, r1080].filter(Boolean);
  c.eq(sess.transcodedSegments, renditions.reduce((a, r) => a + r.media.segments.length, 0),
    'session.transcodedSegments vs the segments of the rendition playlists');
  c.eq(sess.transcodedBytes, renditions.reduce((a, r) => a + r.diskBytes, 0), 'session.transcodedBytes vs rendition file sizes');
  c.note(`1080p0 on the 640x360 source: ${size1080}; log: ${note.join(' | ')}`);
  c.done(streamLog(srv, stream, logFrom));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
