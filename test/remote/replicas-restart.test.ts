// PostgreSQL restarted under load, with 2 replicas serving: while it is down, every answer is a success or a
// clean 503 of the store-unavailable family (never a 500, never a stack, never a login allowed that should be
// denied), and once it is back the same replica processes serve again by themselves (pool reconnect). The
// cluster is this file's own (.ci/pg-cluster.sh), so restarting it disturbs no other test.

import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secret } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';
import { stopAllServers } from '../helpers/server.js';
import { http, type HttpAnswer } from './remote-helpers.js';
import { loginUser, replicas, USER_PW, type Cluster } from './replica-helpers.js';

const SCRIPT = join(ROOT, '.ci', 'pg-cluster.sh');
const installed = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').length > 0;
const skip = installed ? undefined : 'PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)';
const STORE_DOWN = ['STORE_UNREACHABLE', 'STORE_BUSY'];

describe.skipIf(skip)(`PostgreSQL restarted under load${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ssrun-pg-restart-')), 'cluster');
  let c: Cluster;
  beforeAll(async () => {
    const base = execFileSync('bash', [SCRIPT, 'start', dir], { encoding: 'utf8' }).trim();
    c = await replicas(base, 2);
    secret(c.rootToken);
    for (const name of ['good', 'bad']) expect((await http(c.replicas[0]!.url, 'POST', '/users', { token: c.rootToken, body: { name, password: USER_PW } })).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await stopAllServers();
    execFileSync('bash', [SCRIPT, 'stop', dir]);
    rmSync(dirname(dir), { recursive: true, force: true });
  });

  it('answers 2xx or a clean 503 while it restarts, never allows a wrong password, and recovers without restarting the replicas', async () => {
    const answers: { what: string; a: HttpAnswer }[] = [];
    let stop = false;
    // Two workers per kind on each replica: reads, wrong-password logins (waiting at most 3 s for attempts in
    // flight: those cut by the restart expire), writes.
    const load = Array.from({ length: 6 }, async (_, w) => {
      const s = c.replicas[w % 2]!;
      const kind = Math.floor(w / 2);
      for (let i = 0; i < 400 && !stop; i++) {
        const a = await (kind === 0
          ? http(s.url, 'GET', '/multi_factor', { token: c.rootToken })
          : kind === 1
            ? http(s.url, 'POST', '/connect/token/internal', { body: { username: 'bad', password: 'a wrong password, long enough', timeout: 3 } })
            : http(s.url, 'POST', '/groups', { token: c.rootToken, body: { name: `g-${w}-${i}` } }));
        answers.push({ what: ['read', 'wrong-login', 'write'][kind]!, a });
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    // (not execFileSync: the load goes on meanwhile)
    await promisify(execFile)('bash', [SCRIPT, 'restart', dir, '3']);
    // Back: both replicas answer again within a bounded time, by themselves.
    const deadline = Date.now() + 30_000;
    let back = false;
    while (!back && Date.now() < deadline) {
      const r = await Promise.all(c.replicas.map((s) => http(s.url, 'GET', '/multi_factor', { token: c.rootToken })));
      back = r.every((a) => a.status === 200);
      if (!back) await new Promise((res) => setTimeout(res, 250));
    }
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(load);
    expect(back).toBe(true);

    const unavailable = answers.filter(({ a }) => a.status >= 500);
    for (const { a } of unavailable) {
      expect(a.status, a.text).toBe(503);
      expect(STORE_DOWN, a.text).toContain(a.body?.error?.code);
      expect(a.text).not.toMatch(/\n\s+at |node_modules|\.js:\d+/);
    }
    for (const { what, a } of answers) {
      expect(a.status, a.text).not.toBe(500);
      if (what === 'wrong-login') expect(a.status).not.toBe(200);
      if (what === 'wrong-login' && a.status < 500) expect([401, 423]).toContain(a.status);
    }
    expect(answers.length).toBeGreaterThan(50);
    expect(unavailable.length).toBeGreaterThan(0);
    expect(c.replicas.every((s) => s.process.exitCode === null)).toBe(true);
    // Every acknowledged write is there, and a correct login works on both replicas.
    const names = new Set(((await http(c.replicas[1]!.url, 'GET', '/groups', { token: c.rootToken })).body as { Name: string }[]).map((g) => g.Name));
    const acked = answers.filter(({ what, a }) => what === 'write' && a.status === 201).map(({ a }) => a.body.Name as string);
    expect(acked.filter((n) => !names.has(n))).toEqual([]);
    for (const s of c.replicas) expect((await loginUser(s, 'good', USER_PW)).status).toBe(200);
    console.log(`restart under load: ${answers.length} answers, ${unavailable.length} × 503 while PostgreSQL was down`);
  }, 120_000);
});
