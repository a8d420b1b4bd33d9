// S27: three `ssrun serve` replicas on one PostgreSQL database. The races of the single server hold across
// them (one TOTP code, one recovery code, the lockout count, parallel correct logins), a session made on one
// is valid on all and revoked on all, changes are seen by every replica on the next request, and a replica
// SIGKILLed during a write burst loses no acknowledged write while the others keep serving.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secret } from '../helpers/cli.js';
import { PG_SKIP, freshDatabase } from '../helpers/pg.js';
import { stopAllServers } from '../helpers/server.js';
import { http } from './remote-helpers.js';
import { loginApp, loginUser, replicas, totpCode, USER_PW, type Cluster } from './replica-helpers.js';

describe.skipIf(PG_SKIP)(`3 replicas on one PostgreSQL database${PG_SKIP ? ` (skipped: ${PG_SKIP})` : ''}`, () => {
  let c: Cluster;
  const on = (i: number) => c.replicas[i % 3]!;
  const asRoot = (i: number, method: string, path: string, body?: unknown) => http(on(i).url, method, path, { token: c.rootToken, body });
  const createUser = async (name: string) => expect((await asRoot(0, 'POST', '/users', { name, password: USER_PW })).status).toBe(201);

  beforeAll(async () => {
    c = await replicas(await freshDatabase('replicas'), 3);
    secret(c.rootToken);
  }, 60_000);
  afterAll(() => stopAllServers());

  it('one TOTP code sent to the 3 replicas at once (9 requests) succeeds exactly once (S16)', async () => {
    const app = await asRoot(0, 'POST', '/applications', { name: 'totp-app' });
    const apiKey = secret(app.body.ApiKey as string);
    const assigned = await asRoot(1, 'POST', '/multi_factor_assignments', { principal: 'principal/internal/application/totp-app', config: 'totp' });
    expect(assigned.status, assigned.text).toBe(200);
    const seed = secret(assigned.body.Secret as string);
    const code = await totpCode(seed);
    const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => loginApp(on(i), 'totp-app', apiKey, code)));
    expect(answers.filter((a) => a.status === 200), answers.map((a) => a.text).join('\n')).toHaveLength(1);
    // the replays are denied (counted: after five, the application is locked out), never allowed
    for (const a of answers.filter((x) => x.status !== 200)) expect([401, 423]).toContain(a.status);
  }, 90_000);

  it('one recovery code used on two replicas at once works once', async () => {
    await createUser('rc-user');
    const codes = await asRoot(2, 'POST', '/multi_factor_recovery_codes', { principal: 'principal/internal/user/rc-user' });
    expect(codes.status, codes.text).toBe(201);
    const code = secret(codes.body.RecoveryCodes[0] as string);
    const answers = await Promise.all([0, 1, 2, 0].map((i) => loginUser(on(i), 'rc-user', USER_PW, code)));
    expect(answers.filter((a) => a.status === 200), answers.map((a) => a.text).join('\n')).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect(a.status).toBe(401);
  });

  it('5 wrong passwords spread over the 3 replicas lock the user on all of them; parallel correct logins are never locked out', async () => {
    await Promise.all([createUser('victim'), createUser('busy')]);
    const wrong = await Promise.all(Array.from({ length: 5 }, (_, i) => loginUser(on(i), 'victim', 'a wrong password, long enough')));
    expect(wrong.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    for (let i = 0; i < 3; i++) {
      const a = await loginUser(on(i), 'victim', USER_PW);
      expect([a.status, a.body?.error?.code]).toEqual([423, 'LOCKED_OUT']);
    }
    const right = await Promise.all(Array.from({ length: 9 }, (_, i) => loginUser(on(i), 'busy', USER_PW)));
    expect(right.map((a) => a.status), right.map((a) => a.text).join('\n')).toEqual(Array(9).fill(200));
  });

  it('a session made on one replica is valid on all, and revoked on all at once (logout, password change)', async () => {
    await createUser('sess');
    const t1 = secret((await loginUser(on(0), 'sess', USER_PW)).body.access_token as string);
    for (let i = 0; i < 3; i++) expect((await http(on(i).url, 'GET', '/whoami', { token: t1 })).status).toBe(200);
    expect((await http(on(2).url, 'POST', '/connect/logout', { token: t1 })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await http(on(i).url, 'GET', '/whoami', { token: t1 })).status).toBe(401);

    const t2 = secret((await loginUser(on(1), 'sess', USER_PW)).body.access_token as string);
    expect((await http(on(0).url, 'GET', '/whoami', { token: t2 })).status).toBe(200);
    expect((await asRoot(2, 'PUT', '/users/sess/password', { password: `${USER_PW}-new` })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await http(on(i).url, 'GET', '/whoami', { token: t2 })).status).toBe(401);
  });

  it('rules, policies and the audit trail written on one replica are seen by the others on the next request', async () => {
    await createUser('reader');
    const token = secret((await loginUser(on(0), 'reader', USER_PW)).body.access_token as string);
    expect((await http(on(1).url, 'GET', '/multi_factor', { token })).status).toBe(403);
    expect((await asRoot(2, 'POST', '/authorizations', { principal: 'principal/internal/user/reader', operation: 'read', effect: 'allow', resource: 'system/multi_factor' })).status).toBe(201);
    expect((await http(on(1).url, 'GET', '/multi_factor', { token })).status).toBe(200);

    const created = await asRoot(0, 'POST', '/mfa_policies', { Name: 'everyone', Factors: 'any', EnrollWithinDays: 0, Targets: ['principal/internal/user/victim'], Active: true });
    expect(created.status, created.text).toBe(201);
    expect(((await asRoot(1, 'GET', '/mfa_policies')).body as { Name: string }[]).map((p) => p.Name)).toEqual(['everyone']);
    const audit = (await asRoot(2, 'GET', '/audit?limit=1000')).body as { Action: string; Principal: string }[];
    expect(audit.some((r) => r.Action.startsWith('policy') || /policy/.test(r.Action))).toBe(true);
    expect(audit.some((r) => r.Principal === 'principal/internal/user/victim' && r.Action === 'login')).toBe(true);
  });

  it('a replica SIGKILLed during a write burst loses no acknowledged write; the others keep serving', async () => {
    const victim = await c.start();
    const acknowledged: string[] = [];
    const others: number[] = [];
    let killed = false;
    const burst = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < 40 && !killed; i++) {
        const name = `burst-${w}-${i}`;
        const a = await http(victim.url, 'POST', '/groups', { token: c.rootToken, body: { name } }).catch(() => undefined);
        if (a?.status === 201) acknowledged.push(name);
      }
    });
    const steady = (async () => {
      for (let i = 0; i < 30; i++) others.push((await asRoot(i, 'GET', '/groups')).status);
    })();
    await new Promise((r) => setTimeout(r, 400));
    victim.process.kill('SIGKILL');
    killed = true;
    await Promise.all([...burst, steady]);
    await victim.stop();
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(others.every((s) => s === 200)).toBe(true);
    const names = new Set(((await asRoot(1, 'GET', '/groups')).body as { Name: string }[]).map((g) => g.Name));
    expect(acknowledged.filter((n) => !names.has(n))).toEqual([]);
  });
});
