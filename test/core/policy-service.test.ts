// Policy enforcement in the service with an injectable clock and a real SQLite store: enrolment deadlines and
// their reset, re-verification of old sessions, factors a policy does not allow, sessions revoked on
// activation (but the caller's), root never locked out, empty factor sets refused before anything changes.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf } from '../helpers/refusal.js';
import { createSsrun } from '../../dist/core/service.js';
import { nodeCrypto } from '../../dist/crypto/node.js';
import { totpProvider } from '../../dist/providers/totp/totp.js';
import { openSqliteStore } from '../../dist/store/sqlite.js';
import { defaultFactors } from '../../dist/providers/registry.js';

const PW = 'policy-service-password-1';
const ROOT_PW = 'policy-root-password-1';
const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);

let now = T0;
let dir: string;
let close: () => void;
let ssrun: ReturnType<typeof createSsrun>;

const user = (n: string) => `principal/internal/user/${n}`;
const login = (name: string, mfa?: string) =>
  ssrun.login({ type: 'user', name, secret: name === 'root' ? ROOT_PW : PW, mfa });
const policy = (Name: string, o: Record<string, unknown>) => ({ Name, Factors: 'any', EnrollWithinDays: 7, Targets: [], Active: true, ...o });

async function withTotp(name: string): Promise<string> {
  await ssrun.createUser(name, PW);
  const r = await ssrun.assignPrincipal(user(name), undefined, 'totp');
  return r.Secret!;
}
const codeAt = (secret: string, ms = now) => generate({ secret, epoch: Math.floor(ms / 1000) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ssrun-policy-service-'));
  const s = openSqliteStore({ home: dir, masterKey: {} });
  close = s.close;
  const duo = { authenticate: async () => { throw new Error('Duo must not be asked'); } };
  ssrun = createSsrun({ store: s.store, factors: defaultFactors({ duo, totp: totpProvider }), clock: { now: () => new Date(now) }, crypto: nodeCrypto, sessionTtlMs: 30 * DAY });
  await ssrun.init(ROOT_PW);
  await ssrun.createGroup('eng');
});

afterAll(() => {
  close();
  rmSync(dir, { recursive: true, force: true });
});

describe('enrolment deadline', () => {
  it('a covered principal without a factor logs in with its password until the deadline, told how long is left', async () => {
    now = T0;
    await ssrun.createUser('bob', PW);
    await ssrun.addMember('eng', user('bob'));
    const created = await ssrun.createPolicy(policy('engineers', { Targets: ['principal/internal/group/eng'] }));
    expect(created).toMatchObject({ Name: 'engineers', Active: true, SessionsRevoked: 0 });
    now = T0 + 1 * DAY;
    expect((await login('bob')).Enrollment).toEqual({ Policy: 'engineers', DaysLeft: 6, Deadline: new Date(T0 + 7 * DAY).toISOString(), How: expect.stringContaining('ssrun mfa assign-principal -p principal/internal/user/bob') });
    now = T0 + 7 * DAY - 1000;
    expect((await login('bob')).Enrollment!.DaysLeft).toBe(1);
    now = T0 + 7 * DAY;
    const e = await errorOf(login('bob'));
    expect(e.code).toBe('MFA_ENROLLMENT_REQUIRED');
    expect(e.message).toBe(`login denied: policy engineers requires MFA for principal/internal/user/bob since ${new Date(T0 + 7 * DAY).toISOString()}; ask an administrator to enrol you (ssrun mfa assign-principal -p principal/internal/user/bob -c CONFIG) or to reset your deadline`);
    // not a failed guess: the password was right
    expect((await ssrun.getUser('bob', { verbose: true })).FailedAttempts).toBe(0);
  });

  it('reset-deadline restarts the window', async () => {
    now = T0 + 9 * DAY;
    expect(await ssrun.resetDeadline(user('bob'))).toEqual({ Principal: user('bob'), EnrolmentWindowStarts: new Date(now).toISOString() });
    expect((await login('bob')).Enrollment!.DaysLeft).toBe(7);
  });

  it('the window starts when a policy first applies: joining the group later starts it then', async () => {
    await ssrun.createUser('bea', PW);
    now = T0 + 20 * DAY;
    expect(await ssrun.addMember('eng', user('bea'))).toMatchObject({ NewlyCoveredByPolicy: true });
    now = T0 + 22 * DAY;
    expect((await login('bea')).Enrollment!.DaysLeft).toBe(5);
  });

  it('enrolling ends the grace: the factor is then required', async () => {
    const secret = (await ssrun.assignPrincipal(user('bea'), undefined, 'totp')).Secret!;
    expect((await errorOf(login('bea'))).code).toBe('MFA_REQUIRED');
    const r = await login('bea', await codeAt(secret));
    expect(r.Factor).toBe('totp');
    expect(r.Enrollment).toBeUndefined();
  });
});

describe('re-verification', () => {
  it('a session older than ReverifyAfterHours since the last MFA must pass MFA again', async () => {
    now = T0 + 40 * DAY;
    const secret = await withTotp('carol');
    await ssrun.createPolicy(policy('reverify', { Targets: [user('carol')], ReverifyAfterHours: 12 }));
    const first = await login('carol', await codeAt(secret));
    now += 11 * HOUR;
    expect((await ssrun.authenticate(first.token)).path).toBe(user('carol'));
    now += 2 * HOUR;
    const e = await errorOf(() => ssrun.authenticate(first.token));
    expect(e.code).toBe('REVERIFY_REQUIRED');
    expect(e.message).toContain('policy reverify asks for the second factor every 12 h');
    expect((await errorOf(ssrun.whoami(first.token))).code).toBe('REVERIFY_REQUIRED');
    const again = await login('carol', await codeAt(secret));
    expect((await ssrun.authenticate(again.token)).path).toBe(user('carol'));
    expect((await ssrun.authenticate(first.token)).path).toBe(user('carol')); // the new verification counts for the principal
  });

  it('deactivating the policy lifts the requirement', async () => {
    const s = await login('carol', await codeAt((await ssrun.assignPrincipal(user('carol'), undefined, 'totp')).Secret!));
    now += 30 * HOUR;
    expect((await errorOf(() => ssrun.authenticate(s.token))).code).toBe('REVERIFY_REQUIRED');
    await ssrun.setPolicyActive('reverify', false);
    expect((await ssrun.authenticate(s.token)).path).toBe(user('carol'));
  });
});

describe('allowed factors', () => {
  it('a factor the policy does not allow is refused with the reason; remove-principal still works', async () => {
    now = T0 + 60 * DAY;
    const secret = await withTotp('dave');
    await ssrun.createConfig({ Type: 'duo', Name: 'duo-x', Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: 'unused-duo-secret', Host: 'api-x.duosecurity.com' } });
    await ssrun.createPolicy(policy('duo-only', { Targets: [user('dave')], Factors: ['duo-x'] }));
    const e = await errorOf(login('dave', await codeAt(secret)));
    expect(e).toEqual({
      code: 'MFA_FACTOR_NOT_ALLOWED',
      message: 'login denied: principal/internal/user/dave uses "totp" (totp), which policy duo-only does not allow (allowed: duo-x); ask an administrator to assign an allowed factor',
    });
    expect(await ssrun.removePrincipal(user('dave'))).toMatchObject({ Removed: 'totp' });
    // without a factor, dave is inside a fresh window (the policy applied at its creation, just now)
    expect((await login('dave')).Enrollment).toMatchObject({ Policy: 'duo-only', DaysLeft: 7 });
  });

  it('phishing-resistant: neither duo nor totp is allowed', async () => {
    const secret = await withTotp('pat');
    await ssrun.createPolicy(policy('pr', { Targets: [user('pat')], Factors: 'phishing-resistant' }));
    expect((await errorOf(login('pat', await codeAt(secret)))).code).toBe('MFA_FACTOR_NOT_ALLOWED');
  });

  it('an empty intersection is refused when the policy is created, and when a member joins: nothing changes', async () => {
    await ssrun.createUser('fay', PW);
    await ssrun.createGroup('totp-only');
    await ssrun.createPolicy(policy('totp-only', { Targets: ['principal/internal/group/totp-only'], Factors: ['totp'] }));
    await ssrun.createPolicy(policy('duo-for-fay', { Targets: [user('fay')], Factors: ['duo-x'] }));
    const e = await errorOf(ssrun.createPolicy(policy('totp-for-fay', { Targets: [user('fay')], Factors: ['totp'] })));
    expect(e).toEqual({
      code: 'EMPTY_FACTOR_SET',
      message: 'principal/internal/user/fay would be allowed no factor at all: duo-for-fay and totp-for-fay together allow (none), and no configuration satisfies that; nothing was changed',
    });
    expect((await ssrun.listPolicies()).map((p) => p.Name)).not.toContain('totp-for-fay');
    expect((await errorOf(ssrun.addMember('totp-only', user('fay')))).code).toBe('EMPTY_FACTOR_SET');
    expect((await ssrun.getGroup('totp-only', { verbose: true })).Members).toEqual([]);
  });
});

describe('activation', () => {
  it("revokes the sessions of newly covered principals, except the caller's own, and says how many", async () => {
    now = T0 + 80 * DAY;
    await ssrun.createUser('erin', PW);
    await ssrun.createPolicy(policy('later', { Targets: [user('erin')], Active: false }));
    const mine = await login('erin');
    const other = await login('erin');
    const third = await login('erin');
    const r = await ssrun.setPolicyActive('later', true, { keepToken: mine.token });
    expect(r).toMatchObject({ Name: 'later', Active: true, SessionsRevoked: 2 });
    expect((await ssrun.authenticate(mine.token)).path).toBe(user('erin'));
    for (const t of [other, third]) expect((await errorOf(() => ssrun.authenticate(t.token))).code).toBe('SESSION_EXPIRED');
    // already covered: activating again revokes nothing
    expect(await ssrun.setPolicyActive('later', true)).toMatchObject({ SessionsRevoked: 0 });
  });

  it('an update without Active keeps the policy as it was (active or not)', async () => {
    await ssrun.createPolicy(policy('dormant', { Targets: [user('erin')], Active: false }));
    expect(await ssrun.updatePolicy('dormant', { Targets: [user('erin')], EnrollWithinDays: 2 })).toMatchObject({ Active: false, EnrollWithinDays: 2 });
    expect(await ssrun.updatePolicy('later', { Targets: [user('erin')], EnrollWithinDays: 3 })).toMatchObject({ Active: true, EnrollWithinDays: 3 });
  });
});

describe('root is never locked out', () => {
  it('a policy covering root is refused while root has no allowed factor and no recovery codes', async () => {
    const e = await errorOf(ssrun.createPolicy(policy('everyone', { Targets: [user('root')] })));
    expect(e.code).toBe('ROOT_LOCKOUT');
    expect(e.message).toContain('issue root recovery codes (ssrun mfa recovery-codes -p principal/internal/user/root)');
    await ssrun.createGroup('admins');
    await ssrun.createPolicy(policy('admins', { Targets: ['principal/internal/group/admins'] }));
    expect((await errorOf(ssrun.addMember('admins', user('root')))).code).toBe('ROOT_LOCKOUT');
    await ssrun.recoveryCodes(user('root'));
    expect(await ssrun.createPolicy(policy('everyone', { Targets: [user('root')] }))).toMatchObject({ Active: true });
  });
});

describe('groups and the audit trail', () => {
  it('deleting a group removes it from the policies that targeted it', async () => {
    await ssrun.createGroup('temp');
    await ssrun.createUser('tom', PW);
    await ssrun.addMember('temp', user('tom'));
    await ssrun.createPolicy(policy('temp', { Targets: ['principal/internal/group/temp', user('dave')] }));
    expect(await ssrun.deleteGroup('temp')).toEqual({ Deleted: 'principal/internal/group/temp', RemovedFromPolicies: ['temp'] });
    expect((await ssrun.getPolicy('temp')).Targets).toEqual([user('dave')]);
    expect((await ssrun.explainPolicy(user('tom'))).Enforced).toBe(false);
  });

  it('explain names the policy behind each requirement', async () => {
    const x = await ssrun.explainPolicy(user('bob'));
    expect(x).toMatchObject({
      Principal: user('bob'),
      Groups: ['principal/internal/group/eng'],
      Enforced: true,
      Requirements: { Factors: { Value: 'any', From: ['engineers'] }, EnrollWithinDays: { Value: 7, From: ['engineers'] }, ReverifyAfterHours: null },
      Status: { Factor: null },
    });
  });

  it('every decision is in the audit trail', async () => {
    const trail = await ssrun.listAudit({ limit: 10_000 });
    const actions = trail.map((r) => `${r.Action} ${r.Outcome} ${r.Detail}`);
    expect(actions.some((a) => a.startsWith('login denied enrolment deadline') && a.includes('(policy engineers)'))).toBe(true);
    expect(actions.some((a) => a.startsWith('login denied totp not allowed by duo-only'))).toBe(true);
    expect(actions).toContain('policy.activate ok active; 2 sessions revoked');
    expect(actions).toContain('policy.reset-deadline ok ');
  });
});
