// A webhook receiver for the tests: a real HTTP server on loopback that keeps every request it
// gets (raw body bytes, headers, time) and answers as the test says: `respond(req, n)` returns a
// status (n counts requests from 1), or 'hang' to keep the request open without an answer.
import http from 'node:http';
import crypto from 'node:crypto';

export async function startReceiver({ respond = () => 200, port = 0 } = {}) {
  const received = [];
  const hanging = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let json;
      try {
        json = JSON.parse(raw);
      } catch {
        json = undefined;
      }
      const entry = { at: Date.now(), method: req.method, url: req.url, headers: req.headers, raw, json };
      received.push(entry);
      const answer = respond(entry, received.length);
      entry.answer = answer;
      if (answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(answer, { 'Content-Type': 'text/plain' });
      res.end(answer >= 400 ? `receiver says ${answer}` : 'ok');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  return {
    url,
    port: server.address().port,
    received,
    /** The requests whose body has event `name`. */
    events: (name) => received.filter((r) => r.json?.event === name),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Checks a request's Livepeer-Signature as a Studio receiver does; returns why not, or null. */
export function signatureProblem(entry, secret) {
  const header = entry.headers['livepeer-signature'];
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return `malformed Livepeer-Signature header: ${header}`;
  const expected = crypto.createHmac('sha256', secret).update(entry.raw).digest('hex');
  if (m[2] !== expected) return `v1=${m[2]} but HMAC-SHA256 of the body is ${expected}`;
  if (Number(m[1]) !== entry.json?.timestamp) return `t=${m[1]} but the body's timestamp is ${entry.json?.timestamp}`;
  return null;
}
