// PostgreSQL restarted under load: while a stream is live and the API is polled, the database
// stops for a few seconds and starts again. streamd does not crash, answers 503
// {"errors":[...]} while the database is away, answers 200 again within 5 s of its return, and
// loses no counter: once the broadcast ends, the session and the stream count every segment the
// playlist lists, with their bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startServer } from '../lib/server.mjs';
import { publish, waitExit, pollUntil, parseMediaPlaylist, sleep, logLines } from '../lib/media.mjs';
import { createStream } from '../lib/live.mjs';

const srv = await startServer({ db: 'postgres', flags: ['--segment-seconds', '1', '--hls-window', '200'] });

/** pg_ctl on the test cluster, as the user that owns it. */
function pgCtl(...args) {
  const bin = path.join(process.env.STREAMD_TEST_PG_BIN, 'pg_ctl');
  const argv = [bin, '-D', process.env.STREAMD_TEST_PG_DATA, ...args];
  const [cmd, all] = process.getuid() === 0 ? ['runuser', ['-u', 'postgres', '--', ...argv]] : [argv[0], argv.slice(1)];
  return new Promise((resolve) => {
    execFile(cmd, all, (error, stdout, stderr) => resolve({ code: error ? error.code ?? -1 : 0, stdout, stderr }));
  });
}

test('a PostgreSQL restart during a live broadcast: 503 while down, back within 5 s, no counter lost', async () => {
  const s = await createStream(srv, { name: 'pg restart', profiles: [] });
  const pub = publish({ size: '320x240', rate: 30, gop: 30, seconds: 20, url: srv.rtmpUrl(s.streamKey) });
  const live = await pollUntil(async () => {
    const r = await srv.request('GET', `/api/stream/${s.id}`);
    return r.status === 200 && r.json.sourceSegments >= 3 ? r.json : null;
  }, { timeoutMs: 20_000, intervalMs: 250 });
  assert.ok(live.ok, `the stream never got live\n${logLines(srv, ['[live]', ' warn ', ' error '])}`);

  const polls = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const t = Date.now();
      try {
        const r = await srv.request('GET', `/api/stream/${s.id}`);
        polls.push({ t, status: r.status, json: r.json });
      } catch (err) {
        polls.push({ t, status: 0, error: err.message });
      }
      await sleep(100);
    }
  })();

  const stop = await pgCtl('stop', '-m', 'fast', '-w');
  assert.equal(stop.code, 0, `pg_ctl stop: ${stop.stderr}`);
  await sleep(3000);
  const start = await pgCtl('start', '-w', '-t', '30', '-l', path.join(path.dirname(process.env.STREAMD_TEST_PG_DATA), 'server.log'));
  assert.equal(start.code, 0, `pg_ctl start: ${start.stderr}`);
  const upAt = Date.now();
  await sleep(6000);
  polling = false;
  await poller;

  assert.ok(srv.exit === null, `streamd is still running\n${logLines(srv, [' error '])}`);
  const others = polls.filter((p) => p.status !== 200 && p.status !== 503);
  assert.deepEqual(others, [], 'every answer is 200, or 503 while the database is away');
  const down = polls.filter((p) => p.status === 503);
  assert.ok(down.length > 0, 'some requests hit the database while it was away');
  for (const p of down) {
    assert.ok(Array.isArray(p.json?.errors) && p.json.errors.length > 0, `503 body: ${JSON.stringify(p.json)}`);
  }
  const lastDown = Math.max(...down.map((p) => p.t));
  assert.ok(lastDown - upAt < 5000, `503s ended ${lastDown - upAt} ms after the database was back`);
  const after = polls.filter((p) => p.t > upAt + 5000);
  assert.ok(after.length > 0 && after.every((p) => p.status === 200), 'all 200 from 5 s after the return on');

  const r = await waitExit(pub, 60_000);
  assert.equal(r.code, 0, `the publisher ran to its end through the restart: ${r.stderr}`);
  const ended = await pollUntil(async () => {
    const st = (await srv.request('GET', `/api/stream/${s.id}`)).json;
    return st.isActive === false ? st : null;
  }, { timeoutMs: 15_000 });
  assert.ok(ended.ok, 'the stream ends after the publish');
  const sessions = (await srv.request('GET', `/api/stream/${s.id}/sessions`)).json;
  assert.equal(sessions.length, 1, 'one session across the restart');
  const session = sessions[0];
  const dir = srv.liveDir(s.playbackId, 'source');
  const playlist = parseMediaPlaylist(fs.readFileSync(path.join(dir, 'index.m3u8'), 'utf8'));
  const bytes = playlist.segments.reduce((a, x) => a + fs.statSync(path.join(dir, x.uri)).size, 0);
  assert.equal(session.sourceSegments, playlist.segments.length, 'session.sourceSegments: every listed segment');
  assert.equal(session.sourceBytes, bytes, 'session.sourceBytes: the bytes of those segments');
  assert.equal(ended.value.sourceSegments, session.sourceSegments, 'the stream total lost no increment');
  assert.equal(ended.value.sourceBytes, session.sourceBytes, 'the stream bytes lost no increment');
  assert.ok(/database unavailable|unavailable/.test(srv.log), 'the outage is in the log');
});
