// RTMP publishes streamd must refuse (issue 4, "Stream keys"): an unknown key, a suspended stream, a
// deleted stream, and a second publisher on a key that is already live (the live one must not be
// disturbed). A refused ffmpeg must exit non-zero and no session may be created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { expectStatus, sdk } from './lib/contract.mjs';
import { publish, waitExit, sleep } from './lib/media.mjs';
import {
  Checks, createStream, getStreamRaw, sessionsOf, sampleWhileLive, checkWhileLive, checkHls,
  checkCountersVsPlaylist, waitInactive, waitSession, streamLog, describeSamples,
} from './lib/live.mjs';

const srv = await startServer({ flags: ['--hls-window', '100'] });
const lp = srv.sdk();

const SMALL = { size: '320x240', rate: 30, gop: 60 };
const REFUSE_MS = 10_000; // a refused ffmpeg must have exited by then

async function allSessions() {
  const r = await srv.request('GET', '/api/session?limit=1000');
  return expectStatus(r, 200);
}

/** A short publish that must succeed and create a session (so a refusal test is not vacuous). */
async function controlPublish(c, stream) {
  const pub = publish({ ...SMALL, seconds: 3, url: srv.rtmpUrl(stream.streamKey) });
  const r = await waitExit(pub, 20_000);
  c.check(!r.timedOut && r.code === 0,
    () => `control publish to ${stream.id} with its own key must succeed, got ${r.timedOut ? 'no exit in 20 s' : `exit ${r.code}: ${r.stderr}`}`);
  const sess = await waitSession(srv, stream.id, 3000);
  c.check(!!sess, `control publish to ${stream.id}: a session must exist`);
  await waitInactive(srv, stream.id, 3000);
  return sess;
}

/** Publishes to the URL, expects ffmpeg to fail within REFUSE_MS; returns its result. */
async function expectRefused(c, what, target, stream, logFrom) {
  const pub = publish({ ...SMALL, seconds: 6, ...target });
  const r = await waitExit(pub, REFUSE_MS);
  if (r.timedOut) {
    c.check(false, `${what}: ffmpeg was still running ${REFUSE_MS} ms after it started (killed): the publish was not refused\n` +
      `${stream ? streamLog(srv, stream, logFrom) : ''}`);
  } else {
    c.check(r.code !== 0, () => `${what}: ffmpeg must exit non-zero (publish refused), exited ${r.code} after ${r.ms} ms; stderr: ${r.stderr}`);
    c.check(r.ms < 5000, () => `${what}: the refusal should come promptly (connection closed), ffmpeg took ${r.ms} ms to exit; stderr: ${r.stderr}`);
    c.note(`${what}: ffmpeg exited ${r.code} after ${r.ms} ms: ${r.stderr.replaceAll('\n', ' | ')}`);
    c.check(!/Connection refused/i.test(r.stderr),
      () => `${what}: the TCP connection must be accepted and the publish refused at the RTMP level, but nothing listens: ${r.stderr}`);
  }
  return r;
}

test('unknown stream key: publish refused, no session created', async () => {
  const control = await createStream(srv, { name: 'refusal control' });
  const before = (await allSessions()).length;
  const c = new Checks('publish with an unknown key');
  const logFrom = srv.log.length;
  // a well-formed key nobody has, a garbage key, and the stream's id / playback id instead of its key
  const keys = ['zzzz-zzzz-zzzz-zzzz', 'not-a-key', control.id, control.playbackId];
  for (const key of keys) {
    await expectRefused(c, `rtmp://.../live/${key}`, { url: srv.rtmpUrl(key) }, control, logFrom);
  }
  await expectRefused(c, `OBS style with key ${keys[0]}`, { obs: { server: srv.rtmpBase, key: keys[0] } }, control, logFrom);
  await sleep(300);
  const after = await allSessions();
  c.eq(after.length, before, 'GET /api/session: number of sessions after refused publishes');
  c.eq((await sessionsOf(srv, control.id)).length, 0, 'sessions of the control stream');
  c.eq((await getStreamRaw(srv, control.id)).isActive, false, 'control stream isActive');
  // positive control: the control stream's own key publishes
  await controlPublish(c, control);
  c.done(streamLog(srv, control, logFrom));
});

test('suspended stream: publish refused; after unsuspending it publishes', async () => {
  const s = await createStream(srv, { name: 'to suspend' });
  const c = new Checks(`suspended stream ${s.id}`);
  const logFrom = srv.log.length;
  await sdk('stream.update({suspended:true})', lp.stream.update({ suspended: true }, s.id));
  const got = await getStreamRaw(srv, s.id);
  assert.equal(got.suspended, true, 'PATCH {suspended:true} must stick before the publish');
  await expectRefused(c, 'publish to a suspended stream (URL form)', { url: srv.rtmpUrl(s.streamKey) }, s, logFrom);
  await expectRefused(c, 'publish to a suspended stream (OBS form)', { obs: { server: srv.rtmpBase, key: s.streamKey } }, s, logFrom);
  await sleep(300);
  c.eq((await sessionsOf(srv, s.id)).length, 0, 'sessions of the suspended stream after the refused publishes');
  c.eq((await getStreamRaw(srv, s.id)).isActive, false, 'suspended stream isActive');

  // positive control: the same key publishes once the stream is no longer suspended
  await sdk('stream.update({suspended:false})', lp.stream.update({ suspended: false }, s.id));
  await controlPublish(c, s);
  c.done(streamLog(srv, s, logFrom));
});

test('deleted stream: publish refused, no session created', async () => {
  const s = await createStream(srv, { name: 'to delete' });
  const c = new Checks(`deleted stream ${s.id}`);
  const logFrom = srv.log.length;
  await controlPublish(c, s); // it publishes while it exists
  await sdk('stream.delete', lp.stream.delete(s.id));
  const before = (await allSessions()).length;
  await expectRefused(c, 'publish to a deleted stream', { url: srv.rtmpUrl(s.streamKey) }, s, logFrom);
  await sleep(300);
  const after = await allSessions();
  c.eq(after.length, before, 'GET /api/session: number of sessions after the refused publish');
  c.check(after.filter((x) => x.parentId === s.id).length <= 1, 'no new session may have the deleted stream as parent');
  c.done(streamLog(srv, s, logFrom));
});

for (const [what, codec] of [
  ['Sorenson H.263 video (flv1) + AAC', { vcodec: ['-c:v', 'flv1'] }],
  ['H.264 + MP3 audio', { acodec: ['-c:a', 'libmp3lame', '-b:a', '128k'] }],
]) {
  test(`codecs other than H.264 + AAC are refused: ${what}`, async () => {
    const s = await createStream(srv, { name: `codec ${what}` });
    const c = new Checks(`publish ${what} to ${s.id}`);
    const logFrom = srv.log.length;
    const pub = publish({ ...SMALL, ...codec, seconds: 6, url: srv.rtmpUrl(s.streamKey) });
    const r = await waitExit(pub, REFUSE_MS);
    c.check(!r.timedOut, `ffmpeg still running ${REFUSE_MS} ms after it started (killed): the ${what} publish was not refused`);
    if (!r.timedOut) {
      c.check(r.code !== 0, () => `ffmpeg must exit non-zero (refused), exited ${r.code} after ${r.ms} ms; stderr: ${r.stderr}`);
      c.note(`ffmpeg exited ${r.code} after ${r.ms} ms: ${r.stderr.replaceAll('\n', ' | ')}`);
    }
    const inactive = await waitInactive(srv, s.id, 2500);
    c.check(inactive.ok, 'the stream is not active after the refused publish');
    const lines = srv.log.slice(logFrom).split('\n').filter((l) => / (warn|error) /.test(l));
    c.check(lines.some((l) => /codec|unsupported|not supported|H\.?264|AAC|sorenson|mp3|h263/i.test(l)),
      () => `a clear warn/error log line naming the codec problem is expected; warn/error lines:\n${lines.join('\n')}`);
    const list = await sessionsOf(srv, s.id);
    for (const x of list) {
      c.eq(x.sourceSegments, 0, 'a session opened for the refused publish must not count segments');
    }
    c.done(streamLog(srv, s, logFrom));
  });
}

test('second publisher on a live key is refused; the first continues undisturbed', async () => {
  const s = await createStream(srv, { name: 'two publishers' });
  const c = new Checks(`second publisher on stream ${s.id}`);
  const logFrom = srv.log.length;
  const t0 = Date.now();
  const first = publish({ size: '640x360', rate: 30, gop: 60, seconds: 10, url: srv.rtmpUrl(s.streamKey) });
  let second;
  let secondResult;
  let refusedAt;
  const samples = await sampleWhileLive(srv, lp, s, first, {
    onSample: async (smp) => {
      // once the first is live (a session with a segment), try a second publisher, URL form
      if (!second && smp.session && smp.session.sourceSegments >= 1 && smp.t - t0 >= 3000) {
        second = publish({ ...SMALL, seconds: 6, url: srv.rtmpUrl(s.streamKey) });
        secondResult = waitExit(second, REFUSE_MS).then((r) => {
          refusedAt = Date.now();
          return r;
        });
      }
    },
  });
  const r1 = await first.done;
  assert.ok(second, `the first publisher never became live (no session with a segment) within its 10 s\n    ${describeSamples(samples, t0)}\n${streamLog(srv, s, logFrom)}`);
  const r2 = await secondResult;
  if (r2.timedOut) {
    c.check(false, `second publisher: ffmpeg still running ${REFUSE_MS} ms after it started: not refused`);
  } else {
    c.check(r2.code !== 0, () => `second publisher: ffmpeg must exit non-zero (refused), exited ${r2.code} after ${r2.ms} ms; stderr: ${r2.stderr}`);
  }
  c.eq(r1.code, 0, `first publisher: ffmpeg exit code (it must finish normally; stderr: ${r1.stderr})`);
  c.eq(r1.stderr, '', 'first publisher: ffmpeg stderr (no errors)');
  checkWhileLive(c, samples, s, { t0, minGrowth: 3 });
  // counters keep growing after the refusal
  if (refusedAt) {
    const afterRefusal = samples.filter((x) => x.running && x.t > refusedAt + 500 && x.session);
    const vals = afterRefusal.map((x) => x.session.sourceBytes);
    const atRefusal = samples.filter((x) => x.t <= refusedAt && x.session).pop()?.session;
    c.check(afterRefusal.length > 0 && atRefusal && Math.max(...vals) > atRefusal.sourceBytes,
      () => `first publisher's session.sourceBytes must keep growing after the second was refused: at refusal ${atRefusal?.sourceBytes}, after ${JSON.stringify(vals)}`);
    c.check(afterRefusal.every((x) => x.stream?.isActive === true),
      'the stream must stay active after the second publisher was refused');
  }
  const inactive = await waitInactive(srv, s.id, 2500);
  c.check(inactive.ok, 'stream inactive within 2.5 s after the first publisher finished');
  const list = await sessionsOf(srv, s.id);
  c.eq(list.length, 1, 'sessions of the stream: only the first publisher\'s');
  const sess = list[0];
  if (sess) {
    const ids = new Set(samples.filter((x) => x.session).map((x) => x.session.id));
    c.eq(ids.size, 1, `one session id throughout (saw ${[...ids].join(', ')})`);
    const hls = await checkHls(c, srv, s, { session: sess });
    c.eq(hls.media.discontinuities, 0, 'the playlist of the undisturbed first publisher has no #EXT-X-DISCONTINUITY');
    checkCountersVsPlaylist(c, sess, hls, { pushed: 10.0, durTol: 0.25 });
  }
  c.done(streamLog(srv, s, logFrom));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
