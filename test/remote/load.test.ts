// Load test of a real `ssrun serve` (plain HTTP on 127.0.0.1): 200 concurrent keep-alive clients for 20 s
// mixing reads (GET /multi_factor, GET /users), writes (POST /multi_factor, each a new configuration) and
// password logins. Asserts correctness under load: no 5xx, no network error, every status the expected one,
// and the store afterwards holds exactly the configurations whose creation was answered 201. The latency
// figures are printed, never asserted (the machine is shared).
//
// LOAD_CLIENTS and LOAD_SECONDS shorten a run while developing (defaults: 200 clients, 20 s).

import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FAILURES } from '../../dist/core/lockout.js';
import { secret, ssrun, tempHome } from '../helpers/cli.js';
import { startServer, type RunningServer } from '../helpers/server.js';

const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 200);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 20);
const API = '/secretssafe/api/v1';
const ROOT_PASSWORD = secret('root-password-for-the-load-test-Zx8');
const USER_PASSWORD = secret('user-password-for-the-load-test-Kp3');
const LOGIN_USERS = ['load-alice', 'load-bob', 'load-carol'];
// A login reserves a failed attempt before the password is checked (S12), so MAX_FAILURES correct logins of
// one principal in flight at once lock it until one of them finishes. Each user has fewer in flight than that.
const LOGIN_SLOTS = MAX_FAILURES - 1;
// Operation mix: the share of each kind in the clients' choices (a login with no free slot becomes a read).
const MIX = { login: 0.05, write: 0.25, readConfigs: 0.35 }; // the rest: GET /users
const REQUEST_TIMEOUT_MS = 60_000;

type Kind = 'read /multi_factor' | 'read /users' | 'write /multi_factor' | 'login';
const KINDS: Kind[] = ['read /multi_factor', 'read /users', 'write /multi_factor', 'login'];
const EXPECTED: Record<Kind, number> = { 'read /multi_factor': 200, 'read /users': 200, 'write /multi_factor': 201, login: 200 };

interface Answer {
  status: number;
  body: string;
  ms: number;
}

let server: RunningServer;
let agent: Agent;
let rootToken: string;

/** One request on the shared keep-alive agent; rejects on a network error or after REQUEST_TIMEOUT_MS. The latency is measured from before the request is written to the end of the answer. */
function call(method: string, path: string, opts: { token?: string; body?: unknown; keepBody?: boolean } = {}): Promise<Answer> {
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path: `${API}${path}`, headers, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (c: Buffer) => {
        // Reads keep only the start of their body (enough for an error's message): lists grow large.
        if (opts.keepBody !== false || kept < 1024) {
          chunks.push(c);
          kept += c.length;
        }
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectStatus(p: Promise<Answer>, status: number): Promise<any> {
  const r = await p;
  expect(r.status, r.body).toBe(status);
  return r.body ? JSON.parse(r.body) : undefined;
}

const config = (name: string) => ({ Type: 'duo', Name: name, Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: 'load-test-secret-key-not-a-real-one-0000', Host: 'api-loadtest.duosecurity.com' } });

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

beforeAll(async () => {
  const home = tempHome('ssrun-load-');
  const init = await ssrun(['init', '--password-stdin'], { home, input: `${ROOT_PASSWORD}\n` });
  expect(init.exitCode, init.stderr).toBe(0);
  server = await startServer({ home, args: ['--rate-limit', '10000000', '--login-rate-limit', '10000000'] });
  agent = new Agent({ keepAlive: true, maxSockets: CLIENTS + 10 });
  const login = await expectStatus(call('POST', '/connect/token/internal', { body: { username: 'root', password: ROOT_PASSWORD } }), 200);
  rootToken = secret(login.access_token);
  for (const name of LOGIN_USERS) await expectStatus(call('POST', '/users', { token: rootToken, body: { name, password: USER_PASSWORD } }), 201);
  for (const name of ['Seed-1', 'Seed-2']) await expectStatus(call('POST', '/multi_factor', { token: rootToken, body: config(name) }), 201);
});

afterAll(async () => {
  agent?.destroy();
  await server?.stop();
});

describe('ssrun serve under load', () => {
  it(`${CLIENTS} concurrent clients for ${SECONDS} s: no 5xx, no network error, no lost or extra write`, { timeout: (SECONDS + 100) * 1000 }, async () => {
    const seed = ((await expectStatus(call('GET', '/multi_factor', { token: rootToken }), 200)) as { Name: string }[]).map((c) => c.Name);
    expect(seed).toEqual(['Seed-1', 'Seed-2', 'totp', 'webauthn']); // the two seeded and the built-in totp and webauthn configurations

    const latencies = Object.fromEntries(KINDS.map((k) => [k, [] as number[]])) as Record<Kind, number[]>;
    const statuses = Object.fromEntries(KINDS.map((k) => [k, {} as Record<number, number>])) as Record<Kind, Record<number, number>>;
    const unexpected: string[] = []; // first few unexpected answers, for the failure message
    const networkErrors: string[] = [];
    const created: string[][] = Array.from({ length: CLIENTS }, () => []);
    const inFlight = new Map(LOGIN_USERS.map((u) => [u, 0]));
    let maxLoginsInFlight = 0;
    let loginsInFlight = 0;

    async function one(kind: Kind, p: () => Promise<Answer>, onAnswer?: (r: Answer) => void): Promise<void> {
      try {
        const r = await p();
        latencies[kind].push(r.ms);
        statuses[kind][r.status] = (statuses[kind][r.status] ?? 0) + 1;
        if (r.status !== EXPECTED[kind] && unexpected.length < 20) unexpected.push(`${kind}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
        onAnswer?.(r);
      } catch (e) {
        networkErrors.push(`${kind}: ${(e as Error).message}`);
      }
    }

    const freeUser = () => LOGIN_USERS.find((u) => inFlight.get(u)! < LOGIN_SLOTS);

    async function client(id: number, until: number): Promise<void> {
      let seq = 0;
      while (Date.now() < until) {
        const x = Math.random();
        const user = x < MIX.login ? freeUser() : undefined;
        if (user) {
          inFlight.set(user, inFlight.get(user)! + 1);
          maxLoginsInFlight = Math.max(maxLoginsInFlight, ++loginsInFlight);
          await one('login', () => call('POST', '/connect/token/internal', { body: { username: user, password: USER_PASSWORD } }));
          inFlight.set(user, inFlight.get(user)! - 1);
          loginsInFlight--;
        } else if (x >= MIX.login && x < MIX.login + MIX.write) {
          const name = `Load-c${id}-${++seq}`;
          await one('write /multi_factor', () => call('POST', '/multi_factor', { token: rootToken, body: config(name) }), (r) => {
            if (r.status === 201) created[id]!.push(name);
          });
        } else if (x < MIX.login + MIX.write + MIX.readConfigs) {
          await one('read /multi_factor', () => call('GET', '/multi_factor', { token: rootToken, keepBody: false }));
        } else {
          await one('read /users', () => call('GET', '/users', { token: rootToken, keepBody: false }));
        }
      }
    }

    const t0 = Date.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, t0 + SECONDS * 1000)));
    const elapsed = (Date.now() - t0) / 1000;

    // ---- the figures (printed, not asserted) ----
    const total = KINDS.reduce((n, k) => n + latencies[k].length, 0);
    const lines = [`ssrun serve load test: ${CLIENTS} clients, ${elapsed.toFixed(1)} s, ${total} answers (${(total / elapsed).toFixed(0)}/s), ${networkErrors.length} network errors, at most ${maxLoginsInFlight} logins in flight`];
    lines.push(`${'kind'.padEnd(20)} ${'count'.padStart(7)} ${'per s'.padStart(7)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}  statuses`);
    for (const k of KINDS) {
      const s = [...latencies[k]].sort((a, b) => a - b);
      const f = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(1)).padStart(8);
      lines.push(`${k.padEnd(20)} ${String(s.length).padStart(7)} ${(s.length / elapsed).toFixed(1).padStart(7)} ${f(percentile(s, 0.5))} ${f(percentile(s, 0.95))} ${f(percentile(s, 0.99))} ${f(s[s.length - 1] ?? NaN)}  ${JSON.stringify(statuses[k])}`);
    }
    const createdNames = created.flat();
    lines.push(`configurations: ${seed.length} seeded + ${createdNames.length} created (201)`);
    console.log(lines.join('\n'));

    // ---- correctness ----
    const fiveXx = KINDS.flatMap((k) => Object.entries(statuses[k]).filter(([s]) => Number(s) >= 500).map(([s, n]) => `${k}: ${n} × HTTP ${s}`));
    expect(fiveXx, unexpected.join('\n')).toEqual([]);
    expect(networkErrors.slice(0, 20)).toEqual([]);
    expect(unexpected).toEqual([]);
    for (const k of KINDS) expect(latencies[k].length, `no ${k} was made`).toBeGreaterThan(0);
    expect(server.stderr()).not.toMatch(/internal error/);

    const after = ((await expectStatus(call('GET', '/multi_factor', { token: rootToken }), 200)) as { Name: string }[]).map((c) => c.Name);
    expect(after.length).toBe(seed.length + createdNames.length);
    expect(new Set(after)).toEqual(new Set([...seed, ...createdNames]));
  });
});
