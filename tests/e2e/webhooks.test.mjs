// Webhook delivery (issue 13) to real receivers on loopback: a recorded broadcast's events, each
// once and in order, signed as Studio signs them; retries with the same event id on 5xx, none on
// 4xx; a hanging receiver delaying nobody else; the attempt log and its resend; private addresses
// refused unless allowed; and an event surviving kill -9 of the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, freePort } from './lib/server.mjs';
import { sdk, UUID_V4_RE } from './lib/contract.mjs';
import { publish, pollUntil, sleep } from './lib/media.mjs';
import { createStream, waitInactive, streamLog } from './lib/live.mjs';
import { startReceiver, signatureProblem } from './lib/webhook_receiver.mjs';

const WINDOW_S = 2;
const srv = await startServer({ flags: ['--webhooks-allow-private', '--reconnect-window', String(WINDOW_S)] });
const receivers = [];

async function receiver(opts) {
  const r = await startReceiver(opts);
  receivers.push(r);
  return r;
}

async function webhook(url, events, extra = {}) {
  const r = await srv.request('POST', '/api/webhook', { body: { name: 'test', url, events, ...extra } });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** Publishes seconds of test video to the stream and waits for it to go idle. */
async function broadcast(stream, seconds) {
  const pub = publish({ size: '640x360', rate: 30, seconds, url: srv.rtmpUrl(stream.streamKey) });
  const result = await pub.done;
  assert.equal(result.code, 0, `ffmpeg: ${result.stderr}\n${streamLog(srv, stream)}`);
  assert.ok((await waitInactive(srv, stream.id, 5000)).ok, 'the stream goes idle');
}

const ALL = ['stream.started', 'stream.idle', 'recording.started', 'recording.waiting', 'recording.ready'];

test('a recorded broadcast: started, recording.started, idle, waiting, ready, each once, in order, signed', async () => {
  const rx = await receiver();
  const stream = await createStream(srv, { name: 'events', record: true });
  const hook = await webhook(rx.url, ALL, { streamId: stream.id });
  const published = Date.now();
  await broadcast(stream, 5);
  await pollUntil(() => rx.events('recording.ready').length > 0, { timeoutMs: 30_000 });
  await sleep(1500); // nothing more, nothing twice
  const names = rx.received.map((r) => r.json?.event);
  assert.deepEqual(names, ['stream.started', 'recording.started', 'stream.idle', 'recording.waiting', 'recording.ready'],
    `events in order, each once: ${names}`);
  const sessions = (await srv.request('GET', `/api/stream/${stream.id}/sessions`)).json;
  assert.equal(sessions.length, 1);
  const session = sessions[0];
  const ids = new Set();
  for (const r of rx.received) {
    const b = r.json;
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(signatureProblem(r, hook.sharedSecret), null, `${b.event}: ${signatureProblem(r, hook.sharedSecret)}`);
    assert.deepEqual(Object.keys(b), ['id', 'webhookId', 'createdAt', 'timestamp', 'event', 'stream', 'payload']);
    assert.match(b.id, UUID_V4_RE);
    ids.add(b.id);
    assert.equal(b.webhookId, hook.id);
    assert.ok(b.createdAt >= published - 1000 && b.createdAt <= b.timestamp, `${b.event}: createdAt ${b.createdAt} <= timestamp ${b.timestamp}`);
    assert.equal(b.stream.id, stream.id);
    assert.ok(!('streamKey' in b.stream), 'the stream is sent without its key');
    const payloadSession = b.payload.sessionId ?? b.payload.session?.id;
    assert.equal(payloadSession, session.id, `${b.event}: the payload names the session`);
  }
  assert.equal(ids.size, 5, 'every event has its own id');
  const ready = rx.events('recording.ready')[0].json.payload;
  assert.equal(ready.recordingUrl, `${srv.base}/recordings/${session.id}/index.m3u8`);
  assert.equal(ready.mp4Url, `${srv.base}/recordings/${session.id}/output.mp4`);
  assert.equal(ready.session.recordingStatus, 'ready');
  assert.equal(rx.events('recording.started')[0].json.payload.session.recordingStatus, 'waiting');
  const started = rx.events('stream.started')[0];
  assert.ok(started.at - started.json.createdAt < 1000, `stream.started delivered ${started.at - started.json.createdAt} ms after the change`);

  const logs = (await sdk('webhook.getLogs', srv.sdk().webhook.getLogs(hook.id))).data;
  assert.equal(logs.length, 5);
  assert.ok(logs.every((l) => l.success && l.response.status === 200 && l.request.method === 'POST'));
  const got = (await srv.request('GET', `/api/webhook/${hook.id}`)).json;
  assert.ok(got.status.lastTriggeredAt >= published, 'status.lastTriggeredAt is set');
});

test('a receiver answering 500 twice, then 200, gets the event three times with one id; the log shows three attempts', async () => {
  const rx = await receiver({ respond: (r, n) => (n <= 2 ? 500 : 200) });
  const stream = await createStream(srv, { name: 'flaky receiver' });
  const hook = await webhook(rx.url, ['stream.started'], { streamId: stream.id });
  const pub = publish({ size: '320x240', rate: 15, seconds: 30, url: srv.rtmpUrl(stream.streamKey) });
  try {
    await pollUntil(() => rx.received.length >= 3, { timeoutMs: 30_000, intervalMs: 200 });
  } finally {
    pub.kill();
    await pub.done;
  }
  const [a, b, c] = rx.received;
  assert.equal(new Set([a.json.id, b.json.id, c.json.id]).size, 1, 'the same event id on every attempt');
  assert.ok(b.at - a.at >= 4500 && b.at - a.at < 8000, `first retry ~5 s later: ${b.at - a.at} ms`);
  assert.ok(c.at - b.at >= 9500 && c.at - b.at < 14000, `second retry ~10 s later: ${c.at - b.at} ms`);
  assert.notEqual(a.json.timestamp, c.json.timestamp, 'each attempt is stamped and signed anew');
  for (const r of rx.received) assert.equal(signatureProblem(r, hook.sharedSecret), null);
  const logs = (await sdk('webhook.getLogs', srv.sdk().webhook.getLogs(hook.id))).data;
  assert.deepEqual(logs.map((l) => [l.success, l.response.status]), [[true, 200], [false, 500], [false, 500]], 'newest first');
  const got = (await srv.request('GET', `/api/webhook/${hook.id}`)).json;
  assert.equal(got.status.lastFailure.statusCode, 500);
  assert.equal(got.status.lastFailure.response, 'receiver says 500');
});

test('a 404 receiver gets the event once; resend attempts it again with the same id and a fresh signature', async () => {
  const rx = await receiver({ respond: () => 404 });
  const stream = await createStream(srv, { name: 'gone receiver' });
  const hook = await webhook(rx.url, ['stream.started'], { streamId: stream.id });
  const pub = publish({ size: '320x240', rate: 15, seconds: 4, url: srv.rtmpUrl(stream.streamKey) });
  await pollUntil(() => rx.received.length >= 1, { timeoutMs: 15_000 });
  await sleep(7000); // a retry would come after 5 s
  await pub.done;
  assert.equal(rx.received.length, 1, 'never retried on 4xx');
  const logs = (await sdk('webhook.getLogs', srv.sdk().webhook.getLogs(hook.id))).data;
  assert.equal(logs.length, 1);
  assert.equal(logs[0].success, false);
  assert.equal(logs[0].response.status, 404);

  const resent = (await sdk('webhook.resendLog', srv.sdk().webhook.resendLog(hook.id, logs[0].id))).webhookLog;
  assert.equal(resent.response.status, 404);
  assert.notEqual(resent.id, logs[0].id, 'a resend is a new attempt with a log of its own');
  assert.equal(rx.received.length, 2);
  const [first, again] = rx.received;
  assert.equal(again.json.id, first.json.id, 'the same event id');
  assert.ok(again.json.timestamp > first.json.timestamp, 'a fresh timestamp');
  assert.notEqual(again.headers['livepeer-signature'], first.headers['livepeer-signature']);
  assert.equal(signatureProblem(again, hook.sharedSecret), null);
  const none = await srv.request('POST', `/api/webhook/${hook.id}/log/nope/resend`);
  assert.equal(none.status, 404);
});

test('a receiver that hangs does not delay a second webhook', async () => {
  const stuck = await receiver({ respond: () => 'hang' });
  const fine = await receiver();
  const stream = await createStream(srv, { name: 'two receivers' });
  await webhook(stuck.url, ['stream.started'], { streamId: stream.id });
  await webhook(fine.url, ['stream.started'], { streamId: stream.id });
  const pub = publish({ size: '320x240', rate: 15, seconds: 4, url: srv.rtmpUrl(stream.streamKey) });
  await pollUntil(() => fine.received.length >= 1 && stuck.received.length >= 1, { timeoutMs: 15_000, intervalMs: 50 });
  const delay = fine.received[0].at - fine.received[0].json.createdAt;
  assert.ok(delay < 1000, `the second webhook got its event ${delay} ms after the change while the first hangs`);
  const api = Date.now();
  assert.equal((await srv.request('GET', '/api/stream')).status, 200);
  assert.ok(Date.now() - api < 1000, 'the API answers meanwhile');
  await pub.done;
});

test('kill -9 between the state change and the delivery: the event arrives after the restart, once', async () => {
  const port = await freePort(); // nothing listens there yet: the first attempt cannot connect
  const stream = await createStream(srv, { name: 'crash' });
  await webhook(`http://127.0.0.1:${port}/hook`, ['stream.started'], { streamId: stream.id });
  const logFrom = srv.log.length;
  const pub = publish({ size: '320x240', rate: 15, seconds: 30, url: srv.rtmpUrl(stream.streamKey) });
  await pollUntil(() => srv.log.slice(logFrom).includes('stream.started (event '), { timeoutMs: 15_000, intervalMs: 20 });
  await srv.kill();
  pub.kill();
  await pub.done;
  const rx = await receiver({ port });
  await srv.startAgain();
  await pollUntil(() => rx.received.length >= 1, { timeoutMs: 20_000 });
  await sleep(6000); // a duplicate would come within a retry interval
  const started = rx.events('stream.started');
  assert.equal(started.length, 1, `exactly once: ${rx.received.map((r) => r.json?.event)}`);
  assert.equal(started[0].json.stream.id, stream.id);
});

test('private addresses are refused without --webhooks-allow-private, and the log says why', async () => {
  const strict = await startServer();
  const rx = await receiver();
  const created = await strict.request('POST', '/api/stream', { body: { name: 'strict', profiles: [] } });
  const hook = (await strict.request('POST', '/api/webhook', { body: { name: 'local', url: rx.url, events: ['stream.started'] } })).json;
  const pub = publish({ size: '320x240', rate: 15, seconds: 3, url: strict.rtmpUrl(created.json.streamKey) });
  await pub.done;
  const { value: logs } = await pollUntil(async () => {
    const l = (await strict.request('GET', `/api/webhook/${hook.id}/log`)).json;
    return l.length ? l : null;
  }, { timeoutMs: 15_000 });
  assert.ok(logs, 'an attempt is logged');
  assert.equal(logs[0].success, false);
  assert.match(logs[0].response.error, /refused: 127\.0\.0\.1 is not a public address/);
  await sleep(6000);
  assert.equal(rx.received.length, 0, 'the receiver was never connected to');
  assert.equal((await strict.request('GET', `/api/webhook/${hook.id}/log`)).json.length, 1, 'not retried');
  await strict.stop();
});

test('SIGTERM shuts the server down cleanly', async () => {
  await srv.stop();
  for (const r of receivers) await r.close();
});
