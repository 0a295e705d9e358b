// examples/nginx.conf in front of two nodes on one PostgreSQL database, as the README sets it up:
// the config is the example's with only addresses, ports and paths replaced. An encoder publishes
// through nginx's RTMP port, the API answers through nginx, and live HLS plays through nginx
// whichever node each request reaches: nginx follows the non-owner's 302 itself, so the client
// never sees a node's own address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, createPgDatabase, freePort } from '../lib/server.mjs';
import { publish, waitExit, pollUntil, ffprobeStreams, sleep } from '../lib/media.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const NGINX = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

const frontHttp = await freePort();
const frontRtmp = await freePort();
const front = `http://127.0.0.1:${frontHttp}`;
const dbUrl = await createPgDatabase();
const a = await startServer({ dbUrl, publicUrl: front, flags: ['--node-id', 'node-a'] });
const b = await startServer({ dbUrl, publicUrl: front, apiKey: a.apiKey, flags: ['--node-id', 'node-b'] });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamd-nginx-'));
let conf = fs.readFileSync(path.join(here, '../../../examples/nginx.conf'), 'utf8');
const replace = (from, to) => {
  assert.ok(conf.includes(from), `examples/nginx.conf has "${from}"`);
  conf = conf.replaceAll(from, to);
};
replace('load_module modules/ngx_stream_module.so;', `load_module ${STREAM_MODULE};`);
replace('10.0.0.1:8935', `127.0.0.1:${a.httpPort}`);
replace('10.0.0.2:8935', `127.0.0.1:${b.httpPort}`);
replace('10.0.0.1:1935', `127.0.0.1:${a.rtmpPort}`);
replace('10.0.0.2:1935', `127.0.0.1:${b.rtmpPort}`);
replace('listen 1935;', `listen 127.0.0.1:${frontRtmp};`);
replace('listen 80;', `listen 127.0.0.1:${frontHttp};`);
replace('/var/cache/nginx/streamd', path.join(dir, 'cache'));
const user = process.getuid() === 0 ? `user ${os.userInfo().username};\n` : '';
conf = `${user}pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\n${conf}`.replace(
  'http {',
  `http {\n    access_log off;\n    client_body_temp_path ${dir}/body;\n    proxy_temp_path ${dir}/proxy;\n` +
    `    fastcgi_temp_path ${dir}/fastcgi;\n    uwsgi_temp_path ${dir}/uwsgi;\n    scgi_temp_path ${dir}/scgi;`,
);
fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
const nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
let nginxErr = '';
nginx.stderr.on('data', (d) => (nginxErr += d));
after(() => {
  nginx.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
});
const up = await pollUntil(async () => {
  try {
    return (await fetch(`${front}/healthz`)).status === 200;
  } catch {
    return false;
  }
}, { timeoutMs: 10_000 });
assert.ok(up.ok, `nginx with examples/nginx.conf did not come up: ${nginxErr}\n${fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : ''}`);

test('through nginx: publish, the API and live HLS from either node', async () => {
  const frontReq = (method, p, opts = {}) => a.request(method, `${front}${p}`, opts);
  const created = await frontReq('POST', '/api/stream', { body: { name: 'behind nginx', profiles: [] } });
  assert.equal(created.status, 201, created.text);
  const s = created.json;
  const pub = publish({ size: '320x240', rate: 30, gop: 30, seconds: 20, url: `rtmp://127.0.0.1:${frontRtmp}/live/${s.streamKey}` });
  const live = await pollUntil(async () => {
    const st = (await frontReq('GET', `/api/stream/${s.id}`)).json;
    return st?.isActive && st.sourceSegments >= 2 ? st : null;
  }, { timeoutMs: 25_000, intervalMs: 250 });
  assert.ok(live.ok, `live through nginx's RTMP port\n${nginxErr}`);
  const owner = /publish from .* accepted/.test(a.log) ? a : b;
  const other = owner === a ? b : a;
  assert.ok(!/publish from .* accepted/.test(other.log), 'one node took the publish');

  const direct = await other.curl(`/hls/${s.playbackId}/index.m3u8`, [], { key: null });
  assert.equal(direct.status, 302, 'the node without the broadcast redirects');
  assert.equal(direct.headers.location, `${owner.base}/hls/${s.playbackId}/index.m3u8`,
    'to the owner\'s --node-url');
  // nginx round-robins: of several requests some reach the other node; every one is a 200.
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${front}/hls/${s.playbackId}/source/index.m3u8`, { redirect: 'manual' });
    const text = await r.text();
    assert.equal(r.status, 200, `request ${i} through nginx: ${r.status} ${r.headers.get('location') ?? ''}`);
    assert.ok(text.startsWith('#EXTM3U'), text);
  }
  assert.ok(/GET \/hls\/\S+ -> 302/.test(other.log), 'some request did reach the other node');
  const probe = await ffprobeStreams(`${front}/hls/${s.playbackId}/index.m3u8`);
  assert.equal(probe.code, 0, probe.stderr);
  assert.ok(probe.streams.some((x) => x.codec_type === 'video'), JSON.stringify(probe.streams));
  const session = (await frontReq('GET', `/api/stream/${s.id}/sessions`)).json[0];
  assert.ok(session.sourceSegments >= 2);
  pub.kill('SIGTERM');
  await waitExit(pub, 10_000);
  await sleep(100);
});

test('both nodes stop cleanly', async () => {
  await a.stop();
  await b.stop();
});
