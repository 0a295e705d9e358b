// Test harness: starts the real streamd binary on free loopback ports with a throw-away data
// directory, talks to it over raw HTTP (fetch and the curl CLI) and through the official
// `livepeer` SDK, and stops it with SIGTERM, asserting a clean exit (exit code 0 within 10 s is
// part of the contract).
//
// Usage in a test file (top-level await; node:test runs the file's top-level tests in order):
//   const srv = await startServer();
//   test('...', async () => { const r = await srv.request('GET', '/api/stream'); ... });
//   test('SIGTERM shuts the server down cleanly', () => srv.stop());
//
// The binary is $STREAMD_BIN (relative paths resolve against the cwd), default ../../build/streamd
// relative to tests/e2e. Each test file starts its own server, so files can run in parallel.
import { spawn, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach } from 'node:test';
import { Livepeer } from 'livepeer';

const here = path.dirname(fileURLToPath(import.meta.url));
const e2eDir = path.resolve(here, '..');

export const STREAMD_BIN = process.env.STREAMD_BIN
  ? path.resolve(process.env.STREAMD_BIN)
  : path.resolve(e2eDir, '../../build/streamd');

const READY_TIMEOUT_MS = 20_000;

/**
 * The PostgreSQL cluster tests/pg/cluster.sh started for this run (its STREAMD_TEST_DB URL), or
 * null. With STREAMD_E2E_DB=postgres every server of the suite uses a database of its own there.
 */
export const PG_URL = process.env.STREAMD_TEST_DB || null;
const PG_BY_DEFAULT = process.env.STREAMD_E2E_DB === 'postgres';

/** A fresh, empty database on the test cluster; returns its URL. */
export async function createPgDatabase() {
  if (!PG_URL) throw new Error('no PostgreSQL test cluster: run under tests/pg/cluster.sh');
  const name = `e2e_${randomUUID().replaceAll('-', '')}`;
  const r = await execFileP('psql', ['-v', 'ON_ERROR_STOP=1', '-qAt', PG_URL, '-c', `CREATE DATABASE ${name}`]);
  if (r.code !== 0) throw new Error(`CREATE DATABASE ${name} failed: ${r.stderr}`);
  return PG_URL.replace(/^postgresql:\/\/\/[^?]+/, `postgresql:///${name}`);
}
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 80;

/** A free TCP port on 127.0.0.1, found by binding port 0. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tail(text, lines = LOG_TAIL_LINES) {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
}

function execFileP(file, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 64 * 1024 * 1024, ...opts }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, error, stdout, stderr });
    });
  });
}

class Server {
  /**
   * opts.flags: extra command-line flags appended to the defaults (e.g. ['--segment-seconds', '1']).
   * opts.nice: run the server under `nice -n N` (all its threads), so a test that loads the CPU
   * on purpose leaves the test files running next to it their share of the machine.
   */
  constructor(opts = {}) {
    this.extraFlags = [...(opts.flags ?? [])];
    this.nice = opts.nice;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'streamd-e2e-'));
    this.logFile = path.join(this.dataDir, 'server.log');
    this.apiKey = opts.apiKey ?? randomUUID();
    // opts.dbUrl: a database another server uses too (a second node); opts.db: 'postgres' for a
    // fresh PostgreSQL database, 'sqlite' for the file in the data dir.
    this.dbUrl = opts.dbUrl ?? null;
    // opts.publicUrl: the URL the API hands out, when a proxy is in front (then --node-url is the
    // server's own address, for the redirects of other nodes).
    this.publicUrl = opts.publicUrl ?? null;
    this.wantPg = opts.db ? opts.db === 'postgres' : PG_BY_DEFAULT;
    this.log = '';
    this.child = null;
    this.exit = null; // { code, signal } once the process has exited
    this.stopped = false;
    this.failed = false;
    this.bin = STREAMD_BIN;
  }

  get dbPath() {
    return path.join(this.dataDir, 'streamd.db');
  }

  /** True when the server's store is PostgreSQL. */
  get pg() {
    return !!this.dbUrl && this.dbUrl.startsWith('postgres');
  }

  /** The RTMP ingest base (OBS "Server"): rtmp://127.0.0.1:PORT/live. */
  get rtmpBase() {
    return `rtmp://127.0.0.1:${this.rtmpPort}/live`;
  }

  /** The ffmpeg-style publish URL rtmp://127.0.0.1:PORT/live/STREAMKEY. */
  rtmpUrl(streamKey) {
    return `${this.rtmpBase}/${streamKey}`;
  }

  /** DATA/live/{playbackId}[/rendition]: where the live HLS files of a playback id are written. */
  liveDir(playbackId, rendition) {
    const d = path.join(this.dataDir, 'live', playbackId);
    return rendition ? path.join(d, rendition) : d;
  }

  /** Starts the binary and waits for GET /healthz -> 200. Retries on a port taken meanwhile. */
  async start() {
    if (!fs.existsSync(this.bin)) {
      throw new Error(`streamd binary not found at ${this.bin} (set STREAMD_BIN)`);
    }
    if (!this.dbUrl && this.wantPg) this.dbUrl = await createPgDatabase();
    for (let attempt = 1; ; attempt++) {
      this.httpPort = await freePort();
      this.rtmpPort = await freePort();
      while (this.rtmpPort === this.httpPort) this.rtmpPort = await freePort();
      this.base = `http://127.0.0.1:${this.httpPort}`;
      this.args = [
        '--data', this.dataDir,
        '--http', `127.0.0.1:${this.httpPort}`,
        '--rtmp', `127.0.0.1:${this.rtmpPort}`,
        '--public-url', this.publicUrl ?? this.base,
        ...(this.publicUrl ? ['--node-url', this.base] : []),
        '--api-key', this.apiKey,
        '--log-level', 'debug',
        ...(this.dbUrl ? ['--db', this.dbUrl] : []),
        ...this.extraFlags,
      ];
      try {
        await this.#spawnAndWait();
        return this;
      } catch (err) {
        const portClash = err.portClash || (this.exit && /in use|EADDRINUSE/i.test(this.log));
        if (portClash && attempt < 3) continue;
        throw err;
      }
    }
  }

  async #spawnAndWait() {
    this.exit = null;
    const logStream = fs.createWriteStream(this.logFile, { flags: 'a' });
    // nice(1) execs the binary: the child's pid is streamd's, so signals reach it directly
    const [cmd, argv] = this.nice !== undefined
      ? ['nice', ['-n', String(this.nice), this.bin, ...this.args]]
      : [this.bin, this.args];
    this.appendLog(`$ ${cmd === 'nice' ? `nice -n ${this.nice} ` : ''}${this.bin} ${this.args.join(' ')}\n`);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dataDir });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.on('error', (err) => {
        this.appendLog(`spawn error: ${err.message}\n`);
        this.exit = { code: -1, signal: null, error: err };
        resolve(this.exit);
      });
    });
    for (const s of [child.stdout, child.stderr]) {
      s.on('data', (chunk) => {
        const text = chunk.toString();
        this.log += text;
        logStream.write(text);
      });
    }
    child.on('close', () => logStream.end());

    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastErr = '';
    while (Date.now() < deadline) {
      if (this.exit) {
        await sleep(50); // let the pipes drain
        throw new Error(
          `streamd exited before it was ready (code ${this.exit.code}, signal ${this.exit.signal})\n` +
            `--- server output ---\n${tail(this.log, 200)}`,
        );
      }
      try {
        const r = await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.status === 200) {
          // Make sure it is our server answering (not another test file's that got the same
          // port first): our admin key must be known to it.
          const a = await fetch(`${this.base}/api/stream?limit=1`, {
            headers: { authorization: `Bearer ${this.apiKey}` },
            signal: AbortSignal.timeout(2000),
          });
          await a.arrayBuffer();
          if (a.status === 401 || this.exit) {
            if (!this.exit) child.kill('SIGKILL');
            await this.exited;
            const e = new Error(
              `GET /api/stream with the --api-key answered ${a.status}: either another server holds port ` +
                `${this.httpPort}, or streamd does not accept its --api-key\n--- server output ---\n${tail(this.log, 200)}`,
            );
            e.portClash = true;
            throw e;
          }
          return;
        }
        lastErr = `status ${r.status}`;
      } catch (err) {
        if (err.portClash) throw err;
        lastErr = err.cause?.code || err.message;
      }
      await sleep(100);
    }
    child.kill('SIGKILL');
    await this.exited;
    throw new Error(
      `streamd did not answer GET /healthz with 200 within ${READY_TIMEOUT_MS} ms (last: ${lastErr})\n` +
        `--- server output ---\n${tail(this.log, 200)}`,
    );
  }

  appendLog(text) {
    this.log += text;
    try {
      fs.appendFileSync(this.logFile, text);
    } catch {
      /* the data dir may already be gone */
    }
  }

  /** Prints the tail of the server's output (called when a test fails). */
  dumpLog(why) {
    process.stderr.write(
      `\n--- streamd output (${why}; last ${LOG_TAIL_LINES} lines; full log: ${this.logFile}) ---\n` +
        `${tail(this.log)}\n--- end of streamd output ---\n`,
    );
  }

  /** SIGTERM (or the given signal), then asserts exit code 0 within 10 s. Idempotent. */
  async stop(signal = 'SIGTERM') {
    if (this.stopped) return this.stopResult;
    this.stopped = true;
    if (!this.child || this.exit) {
      const e = this.exit;
      if (e && (e.code !== 0 || e.signal)) {
        this.failed = true;
        throw new Error(`streamd had already exited on its own (code ${e.code}, signal ${e.signal})\n${tail(this.log)}`);
      }
      return e;
    }
    const t0 = Date.now();
    this.child.kill(signal);
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const res = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (res === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
      this.failed = true;
      throw new Error(`streamd did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}\n${tail(this.log)}`);
    }
    await sleep(20);
    this.stopResult = { ...res, ms: Date.now() - t0 };
    if (res.code !== 0 || res.signal) {
      this.failed = true;
      throw new Error(
        `streamd did not shut down cleanly on ${signal}: exit code ${res.code}, signal ${res.signal} ` +
          `(expected exit code 0)\n--- server output ---\n${tail(this.log, 120)}`,
      );
    }
    return this.stopResult;
  }

  /**
   * Stops the server (asserting a clean exit on `signal`) and starts it again on the same data
   * dir with the same flags, on fresh ports (so `base` changes).
   */
  async restart(signal = 'SIGTERM') {
    await this.stop(signal);
    this.stopped = false;
    this.child = null;
    this.exit = null;
    this.stopResult = undefined;
    this.appendLog(`--- restart ---\n`);
    await this.start();
  }

  /**
   * Simulates a crash: SIGKILLs the server (no clean-exit assertion), then starts it again on the
   * same data dir with the same flags, on fresh ports (so `base` and `rtmpPort` change).
   */
  async crashRestart() {
    await this.kill();
    await this.startAgain();
  }

  /** kill -9: the server dies as in a crash (no clean-exit assertion); startAgain() brings it back. */
  async kill() {
    if (this.child && !this.exit) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Starts the server again after kill(), on the same data dir and flags, on fresh ports. */
  async startAgain() {
    this.child = null;
    this.exit = null;
    this.stopped = false;
    this.stopResult = undefined;
    this.appendLog(`--- SIGKILL (simulated crash), restart ---\n`);
    await this.start();
  }

  /** Removes the data dir unless something failed (then it is kept for inspection). */
  cleanup() {
    if (this.child && !this.exit) this.child.kill('SIGKILL');
    if (this.failed) {
      process.stderr.write(`streamd data dir and log kept at ${this.dataDir}\n`);
      return;
    }
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /**
   * Raw HTTP through fetch. opts: key (default the admin key; null = no Authorization header),
   * authorization (the whole header value, overrides key), body (JSON-encoded unless a string or
   * Buffer), headers. Returns { status, headers, text, json } (json undefined when the body is
   * empty or not JSON).
   */
  async request(method, urlPath, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    if (opts.authorization !== undefined) headers.authorization = opts.authorization;
    else if (opts.key !== null) headers.authorization = `Bearer ${opts.key ?? this.apiKey}`;
    let body;
    if (opts.body !== undefined) {
      if (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) body = opts.body;
      else body = JSON.stringify(opts.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
    }
    const url = urlPath.startsWith('http') ? urlPath : this.base + urlPath;
    const r = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(15_000) });
    const text = await r.text();
    let json;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: r.status, headers: r.headers, text, json, method, url };
  }

  /**
   * Runs the curl CLI. args: extra curl arguments (method, headers, data...), urlPath appended.
   * Returns { status, headers (lower-case name -> value, last response block), body }.
   */
  async curl(urlPath, args = [], opts = {}) {
    const tmp = fs.mkdtempSync(path.join(this.dataDir, 'curl-'));
    const hdrFile = path.join(tmp, 'headers');
    const bodyFile = path.join(tmp, 'body');
    const url = urlPath.startsWith('http') ? urlPath : this.base + urlPath;
    const auth = opts.key === null ? [] : ['-H', `Authorization: Bearer ${opts.key ?? this.apiKey}`];
    const r = await execFileP('curl', [
      '-sS', '--max-time', '20', '-D', hdrFile, '-o', bodyFile, '-w', '%{http_code}',
      ...auth, ...args, url,
    ]);
    const rawHeaders = fs.existsSync(hdrFile) ? fs.readFileSync(hdrFile, 'utf8') : '';
    const body = fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile, 'utf8') : '';
    fs.rmSync(tmp, { recursive: true, force: true });
    // keep only the last header block (a 100 Continue may precede the final response)
    const blocks = rawHeaders.split(/\r?\n\r?\n/).filter((b) => b.trim().length > 0);
    const last = blocks[blocks.length - 1] || '';
    const headers = {};
    for (const line of last.split(/\r?\n/).slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { status: Number(r.stdout.trim()), headers, body, json, curlExit: r.code, curlStderr: r.stderr };
  }

  /** An SDK client for the given key (default: the admin key). */
  sdk(key = this.apiKey) {
    return new Livepeer({ apiKey: key, serverURL: `${this.base}/api` });
  }

  /** `streamd users add NAME --data DIR`; returns { name, apiKey } parsed from "API key: <key>". */
  async addUser(name) {
    const r = await execFileP(this.bin, ['users', 'add', name, '--data', this.dataDir, ...(this.dbUrl ? ['--db', this.dbUrl] : [])]);
    const out = `${r.stdout}\n${r.stderr}`;
    const m = /API key:\s*(\S+)/.exec(out);
    if (r.code !== 0 || !m) {
      throw new Error(
        `\`streamd users add ${name} --data DIR\` failed (exit ${r.code}) or printed no "API key: <key>" line:\n${out}`,
      );
    }
    return { name, apiKey: m[1] };
  }

  /** Runs SQL against the server's database: psql on PostgreSQL, the sqlite3 CLI on SQLite. */
  async sql(statements) {
    if (this.pg) {
      const r = await execFileP('psql', ['-v', 'ON_ERROR_STOP=1', '-qAt', this.dbUrl, '-c', statements]);
      if (r.code !== 0) throw new Error(`psql failed (exit ${r.code}): ${r.stderr}\nSQL:\n${statements}`);
      return r.stdout;
    }
    const r = await new Promise((resolve) => {
      const p = spawn('sqlite3', ['-bail', this.dbPath], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
      p.stdin.end(`.timeout 10000\n${statements}\n`);
    });
    if (r.code !== 0 || r.stderr.trim()) {
      throw new Error(`sqlite3 ${this.dbPath} failed (exit ${r.code}): ${r.stderr}\nSQL:\n${statements}`);
    }
    return r.stdout;
  }
}

/**
 * Starts a server for the current test file and registers the node:test hooks that print its
 * output when a test fails and stop it (asserting a clean exit) after the last test if the file
 * did not do so itself. opts.flags: extra streamd flags (e.g. ['--reconnect-window', '2']);
 * opts.nice: run it under `nice -n N`.
 * A file may start more than one server (each stops itself after the file's last test).
 */
export async function startServer(opts = {}) {
  const srv = new Server(opts);
  process.on('exit', () => {
    if (srv.child && !srv.exit) srv.child.kill('SIGKILL');
  });
  try {
    await srv.start();
  } catch (err) {
    srv.failed = true;
    srv.cleanup();
    throw err;
  }
  afterEach((t) => {
    if (!t.passed) {
      srv.failed = true;
      srv.dumpLog(`test "${t.name}" failed`);
    }
  });
  after(async () => {
    try {
      await srv.stop();
    } finally {
      srv.cleanup();
    }
  });
  return srv;
}

/**
 * Seeds a session row straight into the database for the given parent stream (as returned by
 * GET /api/stream/{id}), copying parent_id, user_id, project_id, playback_id, name and profiles
 * from it. `fields` uses column names (last_seen, record, source_segments_duration, ...).
 * Returns the session id.
 *
 * This stands in for RTMP ingest, which is what creates sessions in the real server: until the
 * RTMP ingest issue lands there is no HTTP way to create one. Replace with a real ffmpeg push
 * once ingest exists. The database is SQLite in WAL mode, so inserting while the server runs is
 * fine.
 */
export async function seedSession(srv, stream, fields = {}) {
  const id = fields.id ?? randomUUID();
  const row = {
    id,
    parent_id: stream.id,
    user_id: stream.userId,
    project_id: stream.projectId,
    playback_id: stream.playbackId,
    name: stream.name,
    created_at: Date.now(),
    last_seen: 0,
    ended_at: 0,
    is_active: 0,
    record: 0,
    deleted: 0,
    is_healthy: null,
    issues: null,
    source_segments: 0,
    transcoded_segments: 0,
    source_segments_duration: 0,
    transcoded_segments_duration: 0,
    source_bytes: 0,
    transcoded_bytes: 0,
    ingest_rate: 0,
    outgoing_rate: 0,
    profiles: JSON.stringify(stream.profiles ?? []),
    recording_spec: stream.recordingSpec ? JSON.stringify(stream.recordingSpec) : null,
    ...fields,
  };
  if (row.record && !('recording_status' in fields)) row.recording_status = 'waiting';
  const cols = Object.keys(row);
  // booleans are 0/1 integers in SQLite, BOOLEAN in PostgreSQL
  const BOOLEAN_COLUMNS = new Set(['is_active', 'record', 'deleted', 'is_healthy']);
  for (const c of BOOLEAN_COLUMNS) {
    if (typeof row[c] === 'number') row[c] = row[c] !== 0;
  }
  const lit = (v) => {
    if (v === null || v === undefined) return 'NULL';
    if (typeof v === 'boolean') return srv.pg ? (v ? 'TRUE' : 'FALSE') : v ? '1' : '0';
    if (typeof v === 'number') return String(v);
    if (typeof v === 'object') v = JSON.stringify(v);
    return `'${String(v).replaceAll("'", "''")}'`;
  };
  await srv.sql(`INSERT INTO sessions (${cols.join(', ')}) VALUES (${cols.map((c) => lit(row[c])).join(', ')});`);
  return id;
}

