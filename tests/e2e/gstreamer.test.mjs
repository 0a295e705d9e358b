// A new user's GStreamer publish (issue 19, item 6): gst-launch's x264enc without a caps filter
// sends 10-bit 4:4:4 H.264 (High 4:4:4 Predictive, "avc1.f4..."), which browsers cannot decode,
// and flvmux times its frames in milliseconds with guessed B-frame offsets. The session must say
// so (SourcePlayable false in the health document, with why), the live and recorded masters must
// leave the source out while renditions exist, rendition FRAME-RATE must be the stream's real 30
// fps (not one derived from single odd intervals), and an H264ConstrainedHigh rendition must say
// Constrained High in CODECS and in its SPS. With an 8-bit caps filter the source is playable and
// listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startServer } from './lib/server.mjs';
import { parseMasterPlaylist, probeStreams, frameRate, sleep } from './lib/media.mjs';
import { Checks, createStream, fetchRaw, hlsPaths, waitSession, waitInactive } from './lib/live.mjs';
import { getHealth, conditionOf } from './lib/transcode.mjs';
import { waitRecording, recPaths } from './lib/recording.mjs';

const srv = await startServer({ flags: ['--reconnect-window', '3'] });

const PROFILES = [
  { name: '360p', width: 640, height: 360, bitrate: 600_000, fps: 0, profile: 'H264ConstrainedHigh' },
  { name: '240p', width: 426, height: 240, bitrate: 250_000, fps: 0, profile: 'H264High' },
];
const FRAMES = 300; // 10 s at 30 fps

/** gst-launch-1.0 publishing FRAMES test frames at 30 fps (live pacing) with AAC to rtmpUrl. */
function gstPublish(rtmpUrl, { capsFilter = '' } = {}) {
  const pipeline = [
    'videotestsrc', 'is-live=true', `num-buffers=${FRAMES}`, '!', 'video/x-raw,width=640,height=360,framerate=30/1',
    ...(capsFilter ? ['!', 'videoconvert', '!', capsFilter] : []),
    '!', 'x264enc', 'speed-preset=veryfast', '!', 'queue', '!', 'mux.',
    'audiotestsrc', 'is-live=true', `num-buffers=${Math.ceil((FRAMES / 30) * 44100 / 1024)}`, '!', 'audio/x-raw,rate=44100', '!', 'voaacenc', '!', 'queue', '!', 'mux.',
    'flvmux', 'streamable=true', 'name=mux', '!', 'rtmpsink', `location=${rtmpUrl}`,
  ];
  const child = spawn('gst-launch-1.0', ['-q', ...pipeline], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  done.then(() => clearTimeout(timer));
  return { done, kill: () => child.kill('SIGKILL') };
}

async function liveMaster(pid) {
  const r = await fetchRaw(srv, hlsPaths(pid).master);
  return r.status === 200 ? parseMasterPlaylist(r.text) : null;
}

/** Constraint flags byte of the first SPS in a rendition segment (Annex B), or null. */
async function spsConstraints(url) {
  const r = await fetch(url);
  const buf = Buffer.from(await r.arrayBuffer());
  // MPEG-TS payloads: look for 00 00 01 67 (an SPS) anywhere in the file
  for (let i = 0; i + 6 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1 && (buf[i + 3] & 0x1f) === 7) return { profile: buf[i + 4], flags: buf[i + 5] };
  }
  return null;
}

test('GStreamer x264enc without a caps filter: 10-bit 4:4:4 source said in health and left out of the masters; renditions at 30 fps, Constrained High said', async () => {
  const c = new Checks('GStreamer 10-bit 4:4:4 source');
  const stream = await createStream(srv, { name: 'gst default caps', profiles: PROFILES, record: true });
  const pub = gstPublish(srv.rtmpUrl(stream.streamKey));
  let master = null;
  for (let i = 0; i < 40 && !(master && master.variants.length >= 2); i++) {
    await sleep(500);
    master = await liveMaster(stream.playbackId);
  }
  await sleep(3000); // a few more segments, so every rung and the source have been judged
  master = await liveMaster(stream.playbackId);
  const health = await getHealth(srv, stream.id);
  const session = await waitSession(srv, stream.id, 3000);
  const r = await pub.done;
  c.check(r.code === 0, () => `gst-launch must publish and exit 0, got ${r.code}: ${r.stderr}`);

  const uris = (master?.variants ?? []).map((v) => v.uri);
  c.check(master && !uris.some((u) => u.startsWith('source/')), () => `the live master must leave the undecodable source out while renditions exist: ${JSON.stringify(uris)}`);
  c.check(uris.includes('360p/index.m3u8') && uris.includes('240p/index.m3u8'), () => `the live master lists both renditions: ${JSON.stringify(uris)}`);
  for (const v of master?.variants ?? []) {
    c.eq(v.attrs['FRAME-RATE'], '30.000', `${v.uri}: FRAME-RATE of a 30 fps source`);
  }
  const constrained = (master?.variants ?? []).find((v) => v.uri.startsWith('360p/'));
  const high = (master?.variants ?? []).find((v) => v.uri.startsWith('240p/'));
  c.check(/avc1\.640c[0-9a-f]{2}/i.test(constrained?.attrs.CODECS ?? ''), () => `the H264ConstrainedHigh rendition says Constrained High (avc1.640C..): ${constrained?.attrs.CODECS}`);
  c.check(/avc1\.6400[0-9a-f]{2}/i.test(high?.attrs.CODECS ?? ''), () => `the H264High rendition says High (avc1.6400..): ${high?.attrs.CODECS}`);

  const cond = conditionOf(health, 'SourcePlayable');
  c.eq(cond?.status, false, 'health: SourcePlayable while the 10-bit 4:4:4 source is live');
  c.check(/4:4:4/.test(cond?.extraData?.detail ?? ''), () => `health: SourcePlayable says why: ${JSON.stringify(cond)}`);
  c.eq(session?.isHealthy, true, 'the session stays healthy (the renditions play)');

  // the renditions' first segments: 30 fps as ffprobe reads them; the SPS of the Constrained High one
  const paths = hlsPaths(stream.playbackId);
  const firstSegment = {};
  for (const name of ['360p', '240p']) {
    const playlist = await fetchRaw(srv, paths.rendition(name).media);
    const uri = playlist.text.split('\n').find((l) => l.endsWith('.ts'));
    firstSegment[name] = `${srv.base}${paths.rendition(name).segment(uri)}`;
  }
  const seg = (name) => firstSegment[name];
  for (const name of ['360p', '240p']) {
    const { video } = await probeStreams(seg(name));
    c.check(video && Math.abs(frameRate(video.avg_frame_rate) - 30) < 0.1, () => `${name} segment 1: avg_frame_rate must be 30, got ${video?.avg_frame_rate}`);
  }
  const sps = await spsConstraints(seg('360p'));
  c.check(sps && sps.profile === 100 && (sps.flags & 0x0c) === 0x0c, () => `the 360p SPS must be High with constraint_set4 and 5 (Constrained High): ${JSON.stringify(sps)}`);

  // the recording's master leaves the source out too
  await waitInactive(srv, stream.id, 15_000);
  const rec = await waitRecording(srv, session.id, (s) => s.recordingStatus === 'ready', { timeoutMs: 60_000 });
  c.check(rec.ok, () => `the recording must become ready: ${JSON.stringify(rec.session?.recordingStatus)}`);
  const recMaster = await fetchRaw(srv, recPaths(session.id).master);
  const recUris = recMaster.status === 200 ? parseMasterPlaylist(recMaster.text).variants.map((v) => v.uri) : [];
  c.check(recUris.length === 2 && !recUris.some((u) => u.startsWith('source/')), () => `the recording master lists the renditions only: ${JSON.stringify(recUris)}`);
  c.done();
});

test('GStreamer with an 8-bit 4:2:0 caps filter: the source is playable and listed', async () => {
  const c = new Checks('GStreamer 8-bit source');
  const stream = await createStream(srv, { name: 'gst I420', profiles: PROFILES.slice(1) });
  const pub = gstPublish(srv.rtmpUrl(stream.streamKey), { capsFilter: 'video/x-raw,format=I420' });
  let master = null;
  for (let i = 0; i < 40 && !(master && master.variants.length >= 2); i++) {
    await sleep(500);
    master = await liveMaster(stream.playbackId);
  }
  const health = await getHealth(srv, stream.id);
  await pub.done;
  const uris = (master?.variants ?? []).map((v) => v.uri);
  c.check(uris.includes('source/index.m3u8'), () => `an 8-bit source is listed: ${JSON.stringify(uris)}`);
  const source = (master?.variants ?? []).find((v) => v.uri.startsWith('source/'));
  c.check(/avc1\.64/.test(source?.attrs.CODECS ?? ''), () => `the source is High profile: ${source?.attrs.CODECS}`);
  c.eq(conditionOf(health, 'SourcePlayable')?.status, true, 'health: SourcePlayable');
  await waitInactive(srv, stream.id, 15_000);
  c.done();
});

test('SIGTERM shuts the server down cleanly', async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0);
});
