// Figure 3 of npm run bench: `ssrun serve` throughput with autocannon (50 connections, 10 s each; set
// BENCH_SERVE_SECONDS to shorten while developing). The server is the built binary on 127.0.0.1 (plain HTTP,
// random port) with the rate limits raised out of the way, so the figures measure the server and not the
// limiter. Three workloads:
//  a. GET /multi_factor with root's bearer token (10 configurations in the store), then the same JSON from a
//     bare fastify route (bench/bare.mjs, a process of its own): the ratio of the two, and serve's peak RSS;
//  b. a user login with password + Duo passcode (mfa '123456'), the Duo Auth API being the tests' fake Duo
//     server (test/fakes/duo-server.ts, HTTPS on 127.0.0.1, run in this process). Each connection logs in
//     as its own user: a login reserves a failed attempt before its check (S12), so five logins of one user
//     in flight at once would lock that user out.
// Runnable alone: `npm run build && node bench/server.mjs`.
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'ssrun');
const API = '/secretssafe/api/v1';
const ROOT_PASSWORD = 'root-password-for-the-bench-Vb4';
const USER_PASSWORD = 'user-password-for-the-bench-Hn6';
const HIGH_LIMIT = '10000000'; // the most --rate-limit and --login-rate-limit accept

/** The built binary's `serve` on 127.0.0.1:0 with `args` (`--home DIR`, `--database URL`), rate limits raised; resolves once it prints where it listens. */
export async function startServe(args) {
  return startServer([BIN, 'serve', ...args, '--listen', '127.0.0.1:0', '--rate-limit', HIGH_LIMIT, '--login-rate-limit', HIGH_LIMIT]);
}

/** Peak resident set of a live process (Linux: VmHWM), in MB; undefined elsewhere. */
export function peakRssMb(pid) {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `node ARGS` that prints {"Listening": URL} once it listens (ssrun serve, bench/bare.mjs). */
async function startServer(args) {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`ssrun serve did not start in 20 s:\n${err}`)), 20_000);
    child.stdout.on('data', (c) => {
      out += c;
      try {
        resolveUrl(JSON.parse(out).Listening);
        clearTimeout(timer);
      } catch {
        // not the whole line yet
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ssrun serve exited with ${code} before listening:\n${err}`));
    });
  });
  const exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
  return {
    url,
    pid: child.pid,
    stderr: () => err,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export async function call(base, method, path, { token, body } = {}) {
  const res = await fetch(`${base}${API}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function expectCall(base, method, path, status, opts) {
  const r = await call(base, method, path, opts);
  if (r.status !== status) throw new Error(`${method} ${path}: HTTP ${r.status}, expected ${status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

let hooked = false;
/** Lets the bench import the tests' TypeScript helpers (bench/ts-hooks.mjs), once. */
export function useTsHooks() {
  if (!hooked) register('./ts-hooks.mjs', import.meta.url);
  hooked = true;
}

/** At most `limit` of fn(item, index) at once. */
export async function eachLimit(items, limit, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

function cannon(opts) {
  return autocannon({ connections: 50, duration: 10, timeout: 60, ...opts });
}

/** Runs both workloads; returns the rows of the figure. */
export async function serverBench({ scratch, seconds = Number(process.env.BENCH_SERVE_SECONDS ?? 10), connections = 50 } = {}) {
  useTsHooks();
  const { startFakeDuo, GOOD_PASSCODE } = await import(pathToFileURL(join(ROOT, 'test', 'fakes', 'duo-server.ts')).href);

  const home = join(scratch, 'serve');
  execFileSync(process.execPath, [BIN, 'init', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env: { ...process.env, SSRUN_HOME: home, NO_COLOR: '1' }, stdio: ['pipe', 'ignore', 'pipe'] });
  const fake = await startFakeDuo();
  let server;
  try {
    server = await startServe(['--home', home]);
    const base = server.url;
    const { access_token: token } = await expectCall(base, 'POST', '/connect/token/internal', 200, { body: { username: 'root', password: ROOT_PASSWORD } });

    // Store: the fake Duo's configuration and 9 more; one user per connection, each assigned to the fake Duo.
    await expectCall(base, 'POST', '/multi_factor', 201, { token, body: { Type: 'duo', Name: 'FakeDuo', Options: fake.options() } });
    for (let i = 1; i <= 9; i++) {
      const Options = { IntegrationKey: `DIBENCH${String(i).padStart(13, '0')}`, SecretKey: `bench-secret-key-${i}-xxxxxxxxxxxxxxxxxxxx`, Host: 'api-bench.duosecurity.com' };
      await expectCall(base, 'POST', '/multi_factor', 201, { token, body: { Type: 'duo', Name: `Bench-${i}`, Options } });
    }
    const users = Array.from({ length: connections }, (_, i) => `bench-user-${String(i).padStart(3, '0')}`);
    await eachLimit(users, 4, async (name) => {
      await expectCall(base, 'POST', '/users', 201, { token, body: { name, password: USER_PASSWORD } });
      await expectCall(base, 'POST', '/multi_factor_assignments', 200, { token, body: { principal: `principal/internal/user/${name}`, mfa_identity: `alice#${name}`, config: 'FakeDuo' } });
    });
    // One login by hand first: the workload must succeed, or its figures mean nothing.
    await expectCall(base, 'POST', '/connect/token/internal', 200, { body: { username: users[0], password: USER_PASSWORD, mfa: GOOD_PASSCODE } });

    const rows = [];
    const run = async (label, opts) => {
      const r = await cannon({ connections, duration: seconds, ...opts });
      const codes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, { count }]) => [code, count]));
      rows.push({ label, rps: r.requests.average, total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, ok: r['2xx'], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, codes, duration: r.duration });
    };

    // Figure 3: the authenticated read, then a bare fastify route answering the same JSON, one after the other.
    const answer = await expectCall(base, 'GET', '/multi_factor', 200, { token });
    const setupRss = peakRssMb(server.pid);
    await run('GET /multi_factor (10 configs, root token)', { url: `${base}${API}/multi_factor`, headers: { authorization: `Bearer ${token}` } });
    const serveRss = peakRssMb(server.pid);
    const bodyFile = join(scratch, 'bare-body.json');
    writeFileSync(bodyFile, JSON.stringify(answer));
    const bare = await startServer([join(ROOT, 'bench', 'bare.mjs'), bodyFile]);
    try {
      await run('bare fastify route, the same JSON', { url: `${bare.url}${API}/multi_factor` });
    } finally {
      await bare.stop();
    }
    let nextUser = 0;
    await run('login: password + Duo passcode', {
      url: `${base}${API}/connect/token/internal`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: users[0], password: USER_PASSWORD, mfa: GOOD_PASSCODE }),
      setupClient: (client) => client.setBody(JSON.stringify({ username: users[nextUser++ % users.length], password: USER_PASSWORD, mfa: GOOD_PASSCODE })),
    });
    const internal = server.stderr().match(/internal error.*/g);
    const duoUsers = new Set(fake.requests.map((q) => q.identity).filter(Boolean)).size;
    return { rows, seconds, connections, serveRss, setupRss, duoRequests: fake.requests.length, duoUsers, internalErrors: internal ?? [] };
  } finally {
    await server?.stop();
    await fake.close();
  }
}

export function printServerBench({ rows, seconds, connections, serveRss, setupRss, duoRequests, duoUsers, internalErrors }, indent = '   ') {
  const num = (v, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '-');
  const head = `${'workload'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'answers'.padStart(8)} ${'non-2xx'.padStart(8)} ${'errors'.padStart(7)}`;
  const lines = [head, ...rows.map((r) => `${r.label.padEnd(44)} ${num(r.rps, 1).padStart(8)} ${num(r.p50).padStart(8)} ${num(r.p99).padStart(8)} ${String(r.total).padStart(8)} ${String(r.non2xx).padStart(8)} ${String(r.errors).padStart(7)}`)];
  console.log(`3. ssrun serve, HTTP on 127.0.0.1, ${connections} connections, ${seconds} s each, rate limits raised (autocannon)`);
  for (const l of lines) console.log(`${indent}${l}`);
  const [read, bare] = rows;
  console.log(`${indent}reads / bare route: ${num(read.rps / bare.rps, 2)} (target >= 0.25)   p99 / bare p99: ${num(read.p99 / bare.p99, 2)} (target <= 4)   6. peak RSS of serve: ${num(serveRss, 1)} MB after the reads, ${num(setupRss, 1)} MB before them (set-up: root's login, a 128 MiB scrypt)`);
  for (const r of rows) if (r.non2xx || r.errors) console.log(`${indent}! ${r.label}: status codes ${JSON.stringify(r.codes)}, ${r.errors} errors (${r.timeouts} timeouts)`);
  console.log(`${indent}(the fake Duo answered ${duoRequests} requests about ${duoUsers} Duo users; a login's cost is mostly its scrypt password check)`);
  for (const e of internalErrors) console.log(`${indent}! server: ${e}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const scratch = mkdtempSync(join(tmpdir(), 'ssrun-bench-serve-'));
  try {
    printServerBench(await serverBench({ scratch }));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
