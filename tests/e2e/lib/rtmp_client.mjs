// A minimal RTMP publishing client for tests that need many attempts with exact timing (ffmpeg
// costs a process and a second per attempt): plain handshake, connect, createStream, publish, then
// it waits for the publish's onStatus or the close. Everything it sends is under the default chunk
// size, so each message is one type-0 chunk.
import net from 'node:net';

function amfString(text) {
  const bytes = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(3);
  head[0] = 0x02;
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

function amfNumber(value) {
  const b = Buffer.alloc(9);
  b[0] = 0x00;
  b.writeDoubleBE(value, 1);
  return b;
}

const AMF_NULL = Buffer.from([0x05]);

function amfObject(fields) {
  const parts = [Buffer.from([0x03])];
  for (const [key, value] of Object.entries(fields)) {
    const name = Buffer.from(key, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(name.length);
    parts.push(len, name, amfString(value));
  }
  parts.push(Buffer.from([0x00, 0x00, 0x09]));
  return Buffer.concat(parts);
}

/** One AMF0 command message (type 20) on chunk stream 3, as a single type-0 chunk. */
function command(streamId, ...values) {
  const body = Buffer.concat(values);
  if (body.length > 128) throw new Error('command longer than one chunk');
  const head = Buffer.alloc(12);
  head[0] = 0x03; // fmt 0, csid 3
  head.writeUIntBE(0, 1, 3); // timestamp
  head.writeUIntBE(body.length, 4, 3);
  head[7] = 20;
  head.writeUInt32LE(streamId, 8);
  return Buffer.concat([head, body]);
}

/**
 * Tries to publish `key` on rtmp://host:port/app. Resolves with { status, ms, handshakeMs, closed }:
 * status is the NetStream.Publish.* code the server answered (or null), ms the time from the TCP
 * connect to that answer or the close, handshakeMs the time the server took to answer C0+C1.
 */
export function tryPublish({ host = '127.0.0.1', port, app = 'live', key, localAddress, timeoutMs = 20_000 }) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress });
    const c1 = Buffer.alloc(1536);
    let received = Buffer.alloc(0);
    let phase = 'handshake';
    let connectedAt = 0;
    let handshakeMs = null;
    let done = false;
    const finish = (status, closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status, ms: Date.now() - connectedAt, handshakeMs, closed });
    };
    const timer = setTimeout(() => finish(null, false), timeoutMs);
    socket.on('connect', () => {
      connectedAt = Date.now();
      socket.write(Buffer.concat([Buffer.from([3]), c1]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (phase === 'handshake') {
        if (received.length < 1 + 1536 * 2) return;
        handshakeMs = Date.now() - connectedAt;
        const s1 = received.subarray(1, 1 + 1536);
        received = received.subarray(1 + 1536 * 2);
        phase = 'commands';
        socket.write(Buffer.concat([
          s1, // C2 echoes S1
          command(0, amfString('connect'), amfNumber(1), amfObject({ app, type: 'nonprivate' })),
          command(0, amfString('createStream'), amfNumber(2), AMF_NULL),
          command(1, amfString('publish'), amfNumber(3), AMF_NULL, amfString(key), amfString('live')),
        ]));
      }
      const text = received.toString('latin1');
      const m = text.match(/NetStream\.Publish\.[A-Za-z]+/);
      if (m) finish(m[0], false);
    });
    socket.on('error', (err) => {
      if (!connectedAt) reject(err);
      else finish(null, true);
    });
    socket.on('close', () => finish(null, true));
  });
}
