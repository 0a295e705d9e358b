// Recording retention (issue 6, item 4): with --recordings-max-age, a ready recording older than
// that is deleted (files gone, URLs 404) and its session says recordingStatus `deleted`, without
// URLs. Retention runs about once a minute (first on the housekeeper's first tick after start),
// so this file waits ~60 s, idle, for the second run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer } from './lib/server.mjs';
import { expectStatus, sdk } from './lib/contract.mjs';
import { publish, waitExit, logLines } from './lib/media.mjs';
import { Checks, createStream, waitInactive, streamLog, fetchRaw } from './lib/live.mjs';
import { recDir, recPaths, waitRecording, describeHistory, getSessionRaw } from './lib/recording.mjs';

const MAX_AGE_S = 5;
const startedAt = Date.now();
const srv = await startServer({ flags: ['--reconnect-window', '1', '--hls-window', '100', '--recordings-max-age', `${MAX_AGE_S}s`] });

test(`--recordings-max-age ${MAX_AGE_S}s: a ready recording is deleted by retention, status "deleted"`, async () => {
  const lp = srv.sdk();
  const s = await createStream(srv, { name: 'retention', record: true });
  const c = new Checks(`retention of ${s.id}'s recording`);
  const logFrom = srv.log.length;
  const pub = publish({ size: '640x360', rate: 30, gop: 60, seconds: 3, url: srv.rtmpUrl(s.streamKey) });
  const r = await waitExit(pub, 25_000);
  assert.ok(!r.timedOut && r.code === 0, `publish: ${r.timedOut ? 'timeout' : `exit ${r.code}: ${r.stderr}`}\n${streamLog(srv, s, logFrom)}`);
  c.check((await waitInactive(srv, s.id, 3000)).ok, 'stream inactive after the publish');
  const sid = expectStatus(await srv.request('GET', `/api/stream/${s.id}/sessions`), 200)[0]?.id;
  assert.ok(sid, `a session after the publish\n${streamLog(srv, s, logFrom)}`);
  const ready = await waitRecording(srv, sid, (x) => x.recordingStatus !== 'waiting', { timeoutMs: 20_000 });
  assert.equal(ready.session.recordingStatus, 'ready', `the recording must be ready first (history ${describeHistory(ready.history)})\n${streamLog(srv, s, logFrom)}`);
  const P = recPaths(sid);
  const paths = [P.master, P.media('source'), P.segment('source', '00000.ts'), P.mp4];
  for (const p of paths) c.eq((await fetchRaw(srv, p)).status, 200, `GET ${p} while ready`);

  // the next retention run (about a minute after the server started) deletes it
  const budget = Math.max(5000, startedAt + 75_000 - Date.now());
  const w = await waitRecording(srv, sid, (x) => x.recordingStatus !== 'ready', { timeoutMs: budget, intervalMs: 500 });
  const tDeleted = Date.now();
  assert.equal(w.session.recordingStatus, 'deleted',
    `recordingStatus must become "deleted" once retention ran (${((Date.now() - startedAt) / 1000).toFixed(0)} s after the server started); ` +
      `history ${describeHistory(w.history)}\n${logLines(srv, [sid, '[recordings]', '[recorder]'], { since: logFrom })}`);
  c.note(`deleted ${((tDeleted - startedAt) / 1000).toFixed(1)} s after the server started, ${((tDeleted - w.session.lastSeen) / 1000).toFixed(1)} s after lastSeen`);
  c.check(tDeleted - w.session.lastSeen >= MAX_AGE_S * 1000,
    () => `deleted only once older than ${MAX_AGE_S} s: lastSeen ${w.session.lastSeen}, seen deleted at ${tDeleted}`);
  const sess = await getSessionRaw(srv, sid);
  c.eq(sess.recordingStatus, 'deleted', 'GET /api/session/{id} recordingStatus');
  for (const k of ['recordingUrl', 'mp4Url']) c.check(!(k in sess), () => `${k} must be absent once deleted, got ${sess[k]}`);
  c.check(!fs.existsSync(recDir(srv, sid)), () => `${recDir(srv, sid)} must be gone once deleted`);
  for (const p of paths) c.eq((await fetchRaw(srv, p)).status, 404, `GET ${p} once deleted`);
  const pb = await srv.request('GET', `/api/playback/${sid}`, { key: null });
  c.eq(pb.status, 404, 'GET /api/playback/{sessionId} once the recording is deleted');
  const g = (await sdk('session.get', lp.session.get(sid))).session;
  c.eq(g.recordingStatus, 'deleted', 'SDK session.get recordingStatus');
  const rec = (await sdk('session.getRecorded', lp.session.getRecorded(s.id))).data ?? [];
  c.check(rec.length === 1 && rec[0].recordingStatus === 'deleted' && rec[0].mp4Url === undefined,
    () => `SDK session.getRecorded still lists the session, deleted, without URLs: ${JSON.stringify(rec)}`);
  // the counters stay (the session happened)
  c.eq(sess.sourceSegments, ready.session.sourceSegments, 'session.sourceSegments kept after the recording is deleted');

  // persisted: still deleted after a restart
  await srv.restart('SIGTERM');
  const after = await getSessionRaw(srv, sid);
  c.eq(after.recordingStatus, 'deleted', 'recordingStatus after a restart');
  c.done(logLines(srv, [sid, '[recordings]', '[recorder]'], { since: logFrom }));
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
