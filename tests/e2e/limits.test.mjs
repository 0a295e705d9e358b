// What strangers can take (issue 19, item 3), on the default limits: 1,000 idle TCP connections
// and 200 slow HTTP clients do not stop a real publish and API calls; they are closed by the
// handshake and header timeouts; one address cannot hold more than --max-connections-per-ip; and
// 50 wrong stream keys from one address are slowed down and logged once. The strangers come from
// other loopback addresses (127.0.x.y), the real clients from 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from './lib/server.mjs';
import { publish, waitExit, sleep, pollUntil } from './lib/media.mjs';
import { Checks, createStream, waitSession, waitInactive } from './lib/live.mjs';
import { tryPublish } from './lib/rtmp_client.mjs';

const srv = await startServer();
const lp = srv.sdk();

const PER_IP_DEFAULT = 256;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const HEADER_TIMEOUT_MS = 10_000;

/** Opens a TCP connection from localAddress and keeps it; resolves once connected. */
function openIdle(port, localAddress) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    const conn = { socket, closedAt: null, openedAt: null };
    socket.on('connect', () => {
      conn.openedAt = Date.now();
      resolve(conn);
    });
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      conn.closedAt = Date.now();
      resolve(conn);
    });
  });
}

/** A slowloris client: a request header sent one line a second, never finished. */
function openSlowHttp(port, localAddress) {
  const conn = { closedAt: null, lines: 0 };
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  conn.socket = socket;
  socket.on('connect', () => {
    socket.write('GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    conn.timer = setInterval(() => {
      if (!socket.destroyed) socket.write(`X-Slow-${conn.lines++}: still coming\r\n`);
    }, 1000);
  });
  socket.on('data', () => {});
  socket.on('error', () => {});
  socket.on('close', () => {
    conn.closedAt = Date.now();
    clearInterval(conn.timer);
  });
  return conn;
}

const addressesFrom = (prefix, count) => Array.from({ length: count }, (_, i) => `${prefix}.${i + 1}`);

test('1,000 idle TCP connections and 200 slow HTTP clients: a publish and the API still work; the strangers are timed out', async () => {
  const c = new Checks('under 1,000 idle connections and 200 slowloris clients');
  const stream = await createStream(srv, { name: 'under siege' });
  const logFrom = srv.log.length;
  const t0 = Date.now();
  // 500 idle on RTMP and 500 on HTTP, from 4 addresses (250 each: inside the per-address limit)
  const idleAddresses = addressesFrom('127.0.1', 4);
  const idle = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
    openIdle(i % 2 ? srv.httpPort : srv.rtmpPort, idleAddresses[i % 4])));
  const slowAddresses = addressesFrom('127.0.2', 4);
  const slow = Array.from({ length: 200 }, (_, i) => openSlowHttp(srv.httpPort, slowAddresses[i % 4]));
  await sleep(500);
  const idleOpen = idle.filter((x) => !x.closedAt).length;
  c.eq(idleOpen, 1000, 'idle connections accepted and still open (they are inside every limit)');

  // the real work, from 127.0.0.1
  const pub = publish({ size: '320x240', rate: 30, gop: 60, seconds: 5, url: srv.rtmpUrl(stream.streamKey) });
  const apiTimes = [];
  for (let i = 0; i < 10; i++) {
    const t = Date.now();
    const got = await lp.stream.get(stream.id);
    apiTimes.push(Date.now() - t);
    c.check(got.stream?.id === stream.id, `SDK stream.get #${i} under load returns the stream`);
    await sleep(300);
  }
  c.check(Math.max(...apiTimes) < 2000, () => `API calls under load must answer promptly; took ${apiTimes.join(', ')} ms`);
  const r = await waitExit(pub, 30_000);
  c.check(!r.timedOut && r.code === 0, () => `the publish under load must succeed: ${r.timedOut ? 'no exit in 30 s' : `exit ${r.code}: ${r.stderr}`}`);
  const session = await waitSession(srv, stream.id, 5000);
  c.check(session && session.sourceSegments >= 1, () => `the session of the publish under load must have segments: ${JSON.stringify(session)}`);
  await waitInactive(srv, stream.id, 15_000);

  // the strangers are closed by the timeouts (10 s each), none long after
  const closedAll = await pollUntil(() => idle.every((x) => x.closedAt) && slow.every((x) => x.closedAt),
    { timeoutMs: HANDSHAKE_TIMEOUT_MS + 8000, intervalMs: 250 });
  const stillIdle = idle.filter((x) => !x.closedAt).length;
  const stillSlow = slow.filter((x) => !x.closedAt).length;
  c.check(closedAll.ok, () => `every idle and slow connection must be closed by the handshake/header timeouts; after ${Date.now() - t0} ms ${stillIdle} idle and ${stillSlow} slow ones are open`);
  const slowLives = slow.filter((x) => x.closedAt).map((x) => x.closedAt - t0);
  c.check(slowLives.every((ms) => ms >= HEADER_TIMEOUT_MS - 1000),
    () => `a slow client must keep its connection until the header timeout (not be cut early): earliest close at ${Math.min(...slowLives)} ms`);
  c.check(slow.every((x) => x.lines >= 5), 'the slow clients were still sending their headers when cut');
  c.check(!/\b(error|fatal)\b/.test(srv.log.slice(logFrom).split('\n').filter((l) => / (error|fatal) /.test(l)).join('\n')),
    () => `no error lines: ${srv.log.slice(logFrom).split('\n').filter((l) => / (error|fatal) /.test(l)).join('\n')}`);
  for (const x of [...idle, ...slow]) x.socket.destroy();
  c.done();
});

test('one address cannot hold more than --max-connections-per-ip; others still get in; refusals logged once', async () => {
  const c = new Checks('per-address limit');
  const logFrom = srv.log.length;
  const attacker = '127.0.3.1';
  const conns = await Promise.all(Array.from({ length: PER_IP_DEFAULT + 44 }, () => openIdle(srv.rtmpPort, attacker)));
  // the listener closes the excess as it accepts them; on a loaded 2-core machine that takes a moment
  const settled = await pollUntil(() => conns.filter((x) => !x.closedAt).length <= PER_IP_DEFAULT,
    { timeoutMs: 5000, intervalMs: 100 });
  await sleep(300);
  const open = conns.filter((x) => !x.closedAt).length;
  c.eq(open, PER_IP_DEFAULT, `connections from ${attacker} still open ${settled.ms} ms after connecting (the rest refused)`);
  // another address, and the API, are not affected
  const other = await tryPublish({ port: srv.rtmpPort, key: 'zzzz-zzzz-zzzz-zzzz', localAddress: '127.0.3.2' });
  c.eq(other.status, 'NetStream.Publish.BadName', 'another address is served (its wrong key refused at the RTMP level)');
  const list = await srv.request('GET', '/api/stream');
  c.eq(list.status, 200, 'the API answers');
  const warns = srv.log.slice(logFrom).split('\n').filter((l) => / warn /.test(l) && l.includes(attacker));
  c.eq(warns.length, 1, `warn lines about ${attacker}: ${warns.join(' | ')}`);
  c.check(/--max-connections-per-ip/.test(warns[0] ?? ''), 'the warning names the limit');
  for (const x of conns) x.socket.destroy();
  c.done();
});

test('50 wrong stream keys from one address: slowed down after 10, logged once; other addresses unaffected', async () => {
  const c = new Checks('stream-key guessing');
  const stream = await createStream(srv, { name: 'guessed' });
  const logFrom = srv.log.length;
  const guesser = '127.0.4.1';
  const results = [];
  // 10 at a time, as a guessing script would
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next < 50) {
      const i = next++;
      const r = await tryPublish({ port: srv.rtmpPort, key: `guess-${i}-xxxx-xxxx`, localAddress: guesser });
      results[i] = r;
    }
  }));
  const elapsed = Date.now() - t0;
  c.check(results.every((r) => r.status === 'NetStream.Publish.BadName'),
    () => `every guess must be refused with BadName: ${results.map((r) => r.status).join(',')}`);
  const first = results.slice(0, 10);
  const late = results.slice(20);
  c.check(first.every((r) => r.handshakeMs < 400), () => `the first 10 guesses are not slowed: handshakes ${first.map((r) => r.handshakeMs).join(',')} ms`);
  c.check(late.every((r) => r.handshakeMs >= 450), () => `guesses after the first 20 wait before the handshake: ${late.map((r) => r.handshakeMs).join(',')} ms`);
  c.check(elapsed >= 10_000, () => `50 guesses, 10 at a time, must take well over what they would unslowed: ${elapsed} ms`);
  c.note(`50 guesses took ${elapsed} ms; handshake waits ${results.map((r) => r.handshakeMs).join(',')} ms`);
  // meanwhile a good key from another address is neither slowed nor refused
  const good = await tryPublish({ port: srv.rtmpPort, key: stream.streamKey, localAddress: '127.0.4.2' });
  c.eq(good.status, 'NetStream.Publish.Start', 'the right key from another address publishes');
  c.check(good.handshakeMs < 400, `and is not slowed (${good.handshakeMs} ms)`);
  const warns = srv.log.slice(logFrom).split('\n').filter((l) => / (warn|error) /.test(l) && l.includes(guesser));
  c.eq(warns.length, 1, `warn lines about ${guesser}: ${warns.join(' | ')}`);
  c.check(/unknown stream key/.test(warns[0] ?? ''), 'the one line says why');
  await waitInactive(srv, stream.id, 15_000);
  c.done();
});

test('SIGTERM shuts the server down cleanly; the refusals and timeouts were counted', async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0);
  const m = /connections refused: (\d+) at --max-connections, (\d+) at --max-connections-per-ip; timeouts: (\d+) RTMP handshakes, (\d+) HTTP headers, (\d+) RTMP idle; (\d+) wrong stream keys, (\d+) connections slowed/.exec(srv.log);
  assert.ok(m, 'the server logs its counts when it stops');
  const [, total, perIp, handshakes, headers, , keys, slowed] = m.map(Number);
  assert.equal(total, 0, 'nothing reached --max-connections');
  assert.equal(perIp, 44, 'refused at --max-connections-per-ip');
  assert.ok(handshakes >= 500, `RTMP handshake timeouts: ${handshakes}`);
  assert.ok(headers >= 700, `HTTP header timeouts (500 idle + 200 slow): ${headers}`);
  assert.ok(keys >= 50, `wrong stream keys: ${keys}`);
  assert.ok(slowed >= 30, `connections slowed: ${slowed}`);
});
