// Gated playback with playbackPolicy type "webhook": a viewer's access key (?accessKey= or the
// Livepeer-Access-Key header) is posted to the policy's webhook, a real receiver on loopback, as
// {accessKey, context, timestamp} signed with the webhook's secret; a 2xx lets the key in (asked
// once, then kept), anything else refuses it, and no key is refused without asking. The
// playlists pass the key on, so ffprobe plays the stream from the first URL alone. A receiver
// that hangs holds no HTTP worker: with one worker thread the API still answers while checks wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { sdk } from './lib/contract.mjs';
import { publish, waitExit, pollUntil, ffprobeStreams } from './lib/media.mjs';
import { startReceiver, signatureProblem } from './lib/webhook_receiver.mjs';

const srv = await startServer({ flags: ['--webhooks-allow-private', '--http-threads', '1'] });
const lp = srv.sdk();
const state = {};
// The receiver's rule: "good key" and "héllo &=/" are let in, "slow" hangs, the rest get 403.
const rx = await startReceiver({
  respond: (r) => {
    const key = r.json?.accessKey;
    if (key === 'slow') return 'hang';
    return key === 'good key' || key === 'héllo &=/' ? 200 : 403;
  },
});
const asked = (key) => rx.received.filter((r) => r.json?.accessKey === key);

test('a webhook-gated live stream: no key is 401, the webhook decides the rest, each key asked once', async () => {
  const hook = await sdk('webhook.create', lp.webhook.create({ name: 'access', url: rx.url, events: ['playback.accessControl'], sharedSecret: 'vip-secret' }));
  state.hook = hook.webhook;
  const created = await sdk('stream.create', lp.stream.create({
    name: 'members only',
    profiles: [],
    playbackPolicy: { type: 'webhook', webhookId: state.hook.id, webhookContext: { room: 'vip', seats: 3 } },
  }));
  state.stream = created.stream;
  assert.equal(state.stream.playbackPolicy.type, 'webhook');
  state.pub = publish({ size: '320x240', rate: 30, gop: 30, seconds: 12, url: srv.rtmpUrl(state.stream.streamKey) });
  const live = await pollUntil(async () => (await srv.request('GET', `/api/stream/${state.stream.id}`)).json?.sourceSegments >= 2,
    { timeoutMs: 20_000, intervalMs: 250 });
  assert.ok(live.ok, 'the stream is live');

  const master = `/hls/${state.stream.playbackId}/index.m3u8`;
  const none = await srv.request('GET', master, { key: null });
  assert.equal(none.status, 401, none.text);
  assert.match(none.json?.errors?.[0] ?? '', /accessKey/);
  assert.equal(rx.received.length, 0, 'no key: the webhook is not asked');

  const bad = await srv.request('GET', `${master}?accessKey=nope`, { key: null });
  assert.equal(bad.status, 403, bad.text);
  assert.ok(!bad.text.includes('#EXTM3U'), 'a refused key gets an error, never the media');
  assert.match(bad.json?.errors?.[0] ?? '', /HTTP 403/);

  const good = await srv.request('GET', `${master}?accessKey=${encodeURIComponent('good key')}`, { key: null });
  assert.equal(good.status, 200, good.text);
  const uris = good.text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(uris.length > 0 && uris.every((u) => u.endsWith('?accessKey=good%20key')), `the key passed on: ${good.text}`);

  const q = asked('good key');
  assert.equal(q.length, 1, 'asked once');
  assert.equal(q[0].method, 'POST');
  assert.equal(q[0].headers['content-type'], 'application/json');
  assert.deepEqual(q[0].json.context, { room: 'vip', seats: 3 }, 'the policy\'s webhookContext is the context');
  assert.ok(Math.abs(q[0].json.timestamp - Date.now()) < 60_000, `timestamp ${q[0].json.timestamp}`);
  assert.equal(signatureProblem(q[0], 'vip-secret'), null, 'signed as a delivery is');

  const byHeader = await srv.request('GET', `/hls/${state.stream.playbackId}/source/index.m3u8`,
    { key: null, headers: { 'Livepeer-Access-Key': 'good key' } });
  assert.equal(byHeader.status, 200, 'the Livepeer-Access-Key header works as ?accessKey= does');
  const odd = await srv.request('GET', `${master}?accessKey=${encodeURIComponent('héllo &=/')}`, { key: null });
  assert.equal(odd.status, 200, odd.text);
  assert.ok(odd.text.includes('?accessKey=h%C3%A9llo%20%26%3D%2F'), `a key with any characters is escaped: ${odd.text}`);
  assert.equal(asked('héllo &=/').length, 1, 'the key reaches the webhook as it was sent');

  const probe = await ffprobeStreams(`${srv.base}${master}?accessKey=${encodeURIComponent('good key')}`);
  assert.equal(probe.code, 0, probe.stderr);
  assert.ok(probe.streams.some((x) => x.codec_type === 'video'), JSON.stringify(probe.streams));
  assert.equal(asked('good key').length, 1, 'a player\'s many requests cost one question (the yes is kept)');
  assert.equal((await srv.request('GET', `${master}?accessKey=nope`, { key: null })).status, 403);
  assert.equal(asked('nope').length, 1, 'a no is kept for a while too');
});

test('a hanging access webhook holds no HTTP worker: the API answers meanwhile; the viewer gets 503 after 5 s', async () => {
  const master = `/hls/${state.stream.playbackId}/index.m3u8`;
  const t0 = Date.now();
  const waiting = Array.from({ length: 5 }, () => srv.request('GET', `${master}?accessKey=slow`, { key: null }));
  await pollUntil(() => asked('slow').length >= 1, { timeoutMs: 3000, intervalMs: 50 });
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = Date.now();
    const r = await srv.request('GET', `/api/stream/${state.stream.id}`);
    assert.equal(r.status, 200);
    times.push(Date.now() - t);
  }
  assert.ok(Math.max(...times) < 1000, `the API answers while 5 checks wait (one HTTP thread): ${times.join(', ')} ms`);
  const results = await Promise.all(waiting);
  const took = Date.now() - t0;
  for (const r of results) assert.equal(r.status, 503, r.text);
  assert.match(results[0].json?.errors?.[0] ?? '', /could not be asked/);
  assert.ok(took >= 4500 && took < 15_000, `refused at the 5 s timeout: ${took} ms`);
  assert.equal((await waitExit(state.pub, 30_000)).code, 0, 'the publish was not disturbed');
});

test('SIGTERM shuts the server down cleanly', async () => {
  await srv.stop();
  await rx.close();
});
