// Recordings across a reconnect (issue 6, item 5): a publish inside --reconnect-window continues
// the session, and the session keeps one recording, with an #EXT-X-DISCONTINUITY where the feed
// broke; it becomes final (ready) only once the window after the last broadcast has closed, and
// its duration is the sum of both pushes (the MP4 timeline has no hole).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer } from './lib/server.mjs';
import { expectStatus, sdk } from './lib/contract.mjs';
import { publish, waitExit, logLines, tsFiles } from './lib/media.mjs';
import { Checks, createStream, waitInactive, streamLog } from './lib/live.mjs';
import {
  recDir, diskPlaylist, waitRecording, describeHistory, checkReadyRecording, getSessionRaw,
} from './lib/recording.mjs';

const WINDOW_S = 3;
const srv = await startServer({ flags: ['--reconnect-window', String(WINDOW_S), '--hls-window', '100'] });
const SRC = { size: '640x360', rate: 30, gop: 60 };
const LADDER = [{ name: '240p', width: 426, height: 240, bitrate: 300000, fps: 0 }];

function recLog(stream, sessionId, since) {
  return `${streamLog(srv, stream, since)}\n--- server log lines about session ${sessionId} and recordings ---\n` +
    logLines(srv, [sessionId, '[recorder]', '[recordings]'], { since, max: 60 });
}

test('reconnect inside the window: one session, one recording with a discontinuity, ready after the window', async () => {
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'recorded reconnect', record: true, profiles: LADDER });
  const c = new Checks(`recording across a reconnect on ${s.id}`);
  const logFrom = srv.log.length;

  const p1 = publish({ ...SRC, seconds: 4, url: srv.rtmpUrl(s.streamKey) });
  const r1 = await waitExit(p1, 25_000);
  assert.ok(!r1.timedOut && r1.code === 0, `first publish: ${r1.timedOut ? 'timeout' : `exit ${r1.code}: ${r1.stderr}`}\n${streamLog(srv, s, logFrom)}`);
  const in1 = await waitInactive(srv, s.id, 3000);
  const tEnd1 = Date.now();
  c.check(in1.ok, 'stream inactive after the first publish');
  const list1 = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions`), 200);
  assert.equal(list1.length, 1, `one session after the first publish: ${JSON.stringify(list1)}`);
  const s1 = list1[0];
  c.eq(s1.recordingStatus, 'waiting', 'recordingStatus between the two publishes (inside the window)');
  const pl1 = diskPlaylist(srv, s1.id, 'source');
  const files1 = new Map(tsFiles(recDir(srv, s1.id, 'source')).map((f) => [f.name, f.size]));
  c.check(pl1 && !pl1.endlist, () => `between the publishes the recording's source playlist must not be closed: ${pl1?.text}`);

  // right away: well inside the 3 s window
  const p2 = publish({ ...SRC, seconds: 4, url: srv.rtmpUrl(s.streamKey) });
  const r2 = await waitExit(p2, 25_000);
  assert.ok(!r2.timedOut && r2.code === 0, `second publish: ${r2.timedOut ? 'timeout' : `exit ${r2.code}: ${r2.stderr}`}\n${streamLog(srv, s, logFrom)}`);
  c.note(`the second publish started ${p2.startedAt - tEnd1} ms after the stream went inactive`);
  const in2 = await waitInactive(srv, s.id, 3000);
  const tEnd2 = Date.now();
  c.check(in2.ok, 'stream inactive after the second publish');

  const list = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions`), 200);
  c.check(list.length === 1 && list[0].id === s1.id,
    () => `one session (${s1.id}) after a reconnect inside the window, got ${JSON.stringify(list.map((x) => x.id))}\n${recLog(s, s1.id, logFrom)}`);
  const mid = await getSessionRaw(srv, s1.id);
  c.eq(mid.recordingStatus, 'waiting', 'recordingStatus right after the second broadcast ended');
  c.check(mid.sourceSegments > s1.sourceSegments, () => `counters go on: sourceSegments ${s1.sourceSegments} -> ${mid.sourceSegments}`);

  const w = await waitRecording(srv, s1.id, (x) => x.recordingStatus !== 'waiting', { timeoutMs: WINDOW_S * 1000 + 20_000 });
  const readyMs = Date.now() - tEnd2;
  assert.equal(w.session.recordingStatus, 'ready',
    `recordingStatus once the window has passed (history: ${describeHistory(w.history)})\n${recLog(s, s1.id, logFrom)}`);
  c.check(readyMs >= WINDOW_S * 1000 - 500, () => `ready ${readyMs} ms after the second broadcast ended: not before the ${WINDOW_S} s window passed`);
  c.check(w.history.every((h) => h.status === 'waiting' || h.status === 'ready'), () => `status history: ${describeHistory(w.history)}`);
  const fin = w.session;

  // one recording: one directory under DATA/rec, every segment of both broadcasts in it
  const dirs = fs.readdirSync(recDir(srv));
  c.check(dirs.length === 1 && dirs[0] === s1.id, () => `DATA/rec must hold exactly one recording (${s1.id}), it holds ${dirs.join(' ')}`);
  const rec = (await sdk('session.getRecorded', lp.session.getRecorded(s.id))).data ?? [];
  c.check(rec.length === 1 && rec[0].id === s1.id && rec[0].recordingStatus === 'ready',
    () => `SDK session.getRecorded: the one session, ready: ${JSON.stringify(rec.map((x) => [x.id, x.recordingStatus]))}`);

  const got = await checkReadyRecording(c, srv, fin, { renditions: ['240p'], discontinuities: 1, lp });
  const src = got.source;
  if (src) {
    const at = src.segments.findIndex((x) => x.discontinuity);
    c.eq(at, s1.sourceSegments, `the discontinuity comes right after the first broadcast's ${s1.sourceSegments} segments`);
    for (const [name, size] of files1) {
      const now = src.segments.find((x) => x.uri === name);
      c.check(now && !now.discontinuity && fs.statSync(`${recDir(srv, s1.id, 'source')}/${name}`).size === size,
        () => `segment ${name} of the first broadcast (${size} bytes) must stay in the recording unchanged`);
    }
  }
  const r240 = got.renditions['240p'];
  if (r240) c.eq(r240.discontinuities, 1, `the 240p rendition's VOD playlist: #EXT-X-DISCONTINUITY where the feed broke:\n${r240.text}\n`);
  c.near(fin.sourceSegmentsDuration, 8, 0.4, 'session.sourceSegmentsDuration vs the sum of both pushes (4 s + 4 s)');
  c.near(got.durations?.mp4, 8, 0.4, 'ffprobe duration of the MP4 vs the sum of both pushes (no hole where the feed broke)');
  c.near(got.durations?.master, 8, 0.4, 'ffprobe duration of recordingUrl vs the sum of both pushes');
  c.note(`durations: session ${fin.sourceSegmentsDuration}, ffprobe ${JSON.stringify(got.durations)}; boxes ${got.mp4?.boxes?.join(' ')}`);
  c.done(recLog(s, s1.id, logFrom));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
