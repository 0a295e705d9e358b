// Gated playback (playbackPolicy type "jwt"): live HLS and the recording of such a stream are
// served only with a valid ES256 playback JWT made with one of the owner's signing keys: no token,
// an expired one, one signed by another user's key, one for another playback id and a tampered
// one are refused (401/403, never the media); a valid one plays through ffprobe/ffmpeg with the
// token on the first URL only (the playlists pass it on), as ?jwt= or the Livepeer-Jwt header.
// A public stream next to it is served as before, without a token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { publish, waitExit, pollUntil, ffprobeStreams, playThrough, logLines } from './lib/media.mjs';
import { createStream } from './lib/live.mjs';
import { waitRecording, describeHistory } from './lib/recording.mjs';

const srv = await startServer({ flags: ['--reconnect-window', '1'] });
const SRC = { size: '320x240', rate: 30, gop: 30, seconds: 8 };
const state = {};

const b64url = (buf) => Buffer.from(buf).toString('base64url');
function token(key, claims) {
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ action: 'pull', pub: key.publicKey, ...claims }));
  const pem = Buffer.from(key.privateKey, 'base64').toString();
  const sig = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), { key: pem, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(sig)}`;
}
const hour = () => Math.floor(Date.now() / 1000) + 3600;

test('a jwt stream is live: without a valid token nothing is served, a public one is', async () => {
  const mine = await srv.request('POST', '/api/access-control/signing-key', { body: { name: 'player' } });
  assert.equal(mine.status, 200, mine.text);
  state.key = mine.json;
  const mallory = await srv.addUser('mallory');
  const theirs = await srv.request('POST', '/api/access-control/signing-key', { key: mallory.apiKey, body: {} });
  state.otherKey = theirs.json;

  state.gated = await createStream(srv, { name: 'private', record: true, profiles: [], playbackPolicy: { type: 'jwt' } });
  state.open = await createStream(srv, { name: 'public', profiles: [] });
  assert.equal(state.gated.playbackPolicy.type, 'jwt');
  state.pubs = [state.gated, state.open].map((s) => publish({ ...SRC, url: srv.rtmpUrl(s.streamKey) }));
  const live = await pollUntil(async () => {
    const a = (await srv.request('GET', `/api/stream/${state.gated.id}`)).json;
    const b = (await srv.request('GET', `/api/stream/${state.open.id}`)).json;
    return a.sourceSegments >= 2 && b.sourceSegments >= 2;
  }, { timeoutMs: 20_000, intervalMs: 250 });
  assert.ok(live.ok, 'both streams live');

  const pid = state.gated.playbackId;
  const master = `/hls/${pid}/index.m3u8`;
  const none = await srv.request('GET', master, { key: null });
  assert.equal(none.status, 401, none.text);
  assert.ok(!none.text.includes('#EXTM3U'));
  const segment = await srv.request('GET', `/hls/${pid}/source/00000.ts`, { key: null });
  assert.equal(segment.status, 401, 'a segment without a token is refused too');
  const cases = [
    ['expired', token(state.key, { sub: pid, exp: Math.floor(Date.now() / 1000) - 10 }), 403],
    ['another user\'s key', token(state.otherKey, { sub: pid, exp: hour() }), 403],
    ['another playback id', token(state.key, { sub: state.open.playbackId, exp: hour() }), 403],
    ['not a JWT', 'abc.def', 401],
  ];
  const good = token(state.key, { sub: pid, exp: hour() });
  const [h, p] = good.split('.');
  const forged = token(state.otherKey, { sub: pid, exp: hour() }).split('.')[2];
  cases.push(['a signature from another key', `${h}.${p}.${forged}`, 403]);
  for (const [what, t, status] of cases) {
    const r = await srv.request('GET', `${master}?jwt=${t}`, { key: null });
    assert.equal(r.status, status, `${what}: ${r.text}`);
    assert.ok(Array.isArray(r.json?.errors), `${what}: an error body, never the media`);
  }
  assert.match(logLines(srv, ['refused']), /refused \(403\)/, 'refusals are logged with their reason');

  const open = await srv.request('GET', `/hls/${state.open.playbackId}/index.m3u8`, { key: null });
  assert.equal(open.status, 200, 'the public stream needs no token');
  assert.ok(!open.text.includes('jwt='));
  state.good = good;
});

test('with a valid token the live stream plays; the playlists pass the token on', async () => {
  const pid = state.gated.playbackId;
  const r = await srv.request('GET', `/hls/${pid}/index.m3u8?jwt=${state.good}`, { key: null });
  assert.equal(r.status, 200, r.text);
  const uris = r.text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(uris.length > 0 && uris.every((u) => u.endsWith(`?jwt=${state.good}`)), r.text);
  const byHeader = await srv.request('GET', `/hls/${pid}/source/index.m3u8`, { key: null, headers: { 'Livepeer-Jwt': state.good } });
  assert.equal(byHeader.status, 200, 'the Livepeer-Jwt header works as ?jwt= does');
  const probe = await ffprobeStreams(`${srv.base}/hls/${pid}/index.m3u8?jwt=${state.good}`);
  assert.equal(probe.code, 0, probe.stderr);
  assert.ok(probe.streams.some((x) => x.codec_type === 'video'), JSON.stringify(probe.streams));
});

test('the recording of a jwt stream: refused without a token, plays whole with one', async () => {
  for (const pub of state.pubs) await waitExit(pub, 30_000);
  const sessions = (await srv.request('GET', `/api/stream/${state.gated.id}/sessions`)).json;
  const w = await waitRecording(srv, sessions[0].id, (x) => x.recordingStatus !== 'waiting', { timeoutMs: 30_000 });
  assert.equal(w.session.recordingStatus, 'ready', describeHistory(w.history));
  const url = new URL(w.session.recordingUrl);
  const mp4 = new URL(w.session.mp4Url);
  assert.equal((await srv.request('GET', url.pathname, { key: null })).status, 401);
  assert.equal((await srv.request('GET', mp4.pathname, { key: null })).status, 401);
  assert.equal((await srv.request('GET', `${mp4.pathname}?jwt=${state.good}`, { key: null })).status, 200);
  const play = await playThrough(`${url.href}?jwt=${state.good}`);
  assert.equal(play.code, 0, `the whole recording plays with the token: ${play.stderr}`);
});

test('SIGTERM shuts the server down cleanly', () => srv.stop());
