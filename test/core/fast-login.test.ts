// Issue 14, figure 4: a login whose every check is local and instant (an application's API key, a SHA-256
// digest, and TOTP, a recovery code or no factor) takes no lease and commits once: it is checked first, then
// admitted, counted and committed in one transaction. The lockout stays as strong: concurrent guesses count as
// the leased path counts them and lock at the limit, a lock refuses a right code without telling it, a TOTP
// step is used once, an unknown application is counted like a wrong key, and the allowance held by leased
// attempts in flight makes a fast login wait for them. Passwords and factors that wait (Duo) keep the lease.
// A real SQLite store, wrapped to count its transactions (write) and the leases taken in them (insertAttempt).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf } from '../helpers/refusal.js';
import { createSsrun } from '../../dist/core/service.js';
import { nodeCrypto } from '../../dist/crypto/node.js';
import { totpProvider } from '../../dist/providers/totp/totp.js';
import { openSqliteStore } from '../../dist/store/sqlite.js';
import { defaultFactors } from '../../dist/providers/registry.js';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // base32 of "12345678901234567890"
const T0 = Date.UTC(2026, 11, 2, 12, 0, 0); // a step boundary
const STEP = 30_000;
const DENIED = { code: 'AUTH_DENIED', message: 'authentication denied: wrong user name, password or passcode' };
const app = (name: string) => `principal/internal/application/${name}`;

let dir: string;
let now = T0;
let ssrun: ReturnType<typeof createSsrun>;
let raw: ReturnType<typeof openSqliteStore>['store'];
let close: () => void;
const count = { writes: 0, leases: 0 };
/** Duo's answer to the next passcode: set by a test (a promise it resolves when it wants). */
let duoAnswer: () => Promise<{ result: 'allow'; factor: string; bypass: boolean; message: string } | { result: 'deny'; reason: 'invalid_passcode'; message: string }>;

const codeAt = (ms: number) => generate({ secret: SECRET, epoch: Math.floor(ms / 1000) });

/** Passes every call through; counts write() and, in its transaction, insertAttempt(). */
function counting<T extends object>(store: T): T {
  const bound = <O extends object>(o: O, k: string | symbol) => {
    const v = Reflect.get(o, k);
    return typeof v === 'function' ? v.bind(o) : v;
  };
  const tx = <O extends object>(ops: O) =>
    new Proxy(ops, {
      get: (o, k) => {
        if (k === 'insertAttempt') count.leases++;
        return bound(o, k);
      },
    });
  return new Proxy(store, {
    get: (s, k) => {
      if (k !== 'write') return bound(s, k);
      return (fn: (ops: object) => Promise<unknown>) => {
        count.writes++;
        return (s as { write: (f: typeof fn) => Promise<unknown> }).write((ops) => fn(tx(ops)));
      };
    },
  });
}

/** What a block of code cost: transactions and leases. */
async function cost(fn: () => Promise<unknown>): Promise<{ writes: number; leases: number }> {
  const before = { ...count };
  await fn();
  return { writes: count.writes - before.writes, leases: count.leases - before.leases };
}

/** An application assigned the built-in TOTP configuration (its enrolment confirmed by a first login). */
async function totpApp(name: string): Promise<string> {
  const { ApiKey } = await ssrun.createApplication(name);
  await ssrun.assignPrincipal(app(name), SECRET, 'totp');
  return ApiKey;
}

const loginApp = (name: string, secret: string, mfa?: string, extra: Record<string, unknown> = {}) => ssrun.login({ type: 'application', name, secret, mfa, ...extra });
const failures = async (name: string) => (await ssrun.getApplication(name, { verbose: true })).FailedAttempts;
const details = async (name: string) => (await ssrun.listAudit({ principal: app(name) })).filter((r) => r.Action === 'login').map((r) => `${r.Outcome}: ${r.Detail}`);
const settledAll = (ps: Promise<unknown>[]) => Promise.all(ps.map((p) => errorOf(p).catch(() => ({ code: 'OK', message: '' }))));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ssrun-fast-login-'));
  const s = openSqliteStore({ home: dir, masterKey: {} });
  close = s.close;
  raw = s.store;
  const duo = { authenticate: () => duoAnswer() };
  ssrun = createSsrun({ store: counting(s.store), factors: defaultFactors({ duo, totp: totpProvider }), clock: { now: () => new Date(now) }, crypto: nodeCrypto });
});

afterAll(() => {
  close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  now += 20 * 60_000; // past any lock of an earlier test, on a step boundary plus a second
  now -= now % STEP;
  now += 1000;
});

describe('one commit', () => {
  it('an API key and a TOTP code: one store.write, no lease; the session works and the step is used', async () => {
    const key = await totpApp('fast-a');
    const c = await cost(async () => expect(await loginApp('fast-a', key, await codeAt(now))).toMatchObject({ Principal: app('fast-a'), Factor: 'totp' }));
    expect(c).toEqual({ writes: 1, leases: 0 });
    expect((await details('fast-a')).at(-1)).toBe('allowed: totp (enrolment confirmed)');
    expect((await ssrun.getApplication('fast-a', { verbose: true })).Mfa).toMatchObject({ Pending: false });
    // the next login with the same code is a replay: one commit too, refused and counted
    const again = await cost(async () => expect(await errorOf(loginApp('fast-a', key, await codeAt(now)))).toEqual(DENIED));
    expect(again).toEqual({ writes: 1, leases: 0 });
    expect(await failures('fast-a')).toBe(1);
  });

  it('the default timeout adds no commit, and neither does a recovery code or no factor at all', async () => {
    const key = await totpApp('fast-b');
    const { RecoveryCodes } = await ssrun.recoveryCodes(app('fast-b'));
    expect(await cost(() => loginApp('fast-b', key, RecoveryCodes[0]!))).toEqual({ writes: 1, leases: 0 });
    const { ApiKey } = await ssrun.createApplication('fast-none');
    expect(await cost(async () => expect(await loginApp('fast-none', ApiKey)).toMatchObject({ Factor: 'api-key' }))).toEqual({ writes: 1, leases: 0 });
    // MFA required and not given: refused in one commit, not counted
    const required = await cost(async () => expect((await errorOf(loginApp('fast-b', key))).code).toBe('MFA_REQUIRED'));
    expect(required).toEqual({ writes: 1, leases: 0 });
    expect(await failures('fast-b')).toBe(0);
  });

  it('a user (password: a scrypt hash) still takes a lease: two commits', async () => {
    await ssrun.createUser('leased-user', 'leased-user-password-1');
    await ssrun.assignPrincipal('principal/internal/user/leased-user', SECRET, 'totp');
    const c = await cost(async () => expect(await ssrun.login({ type: 'user', name: 'leased-user', secret: 'leased-user-password-1', mfa: await codeAt(now) })).toMatchObject({ Factor: 'totp' }));
    expect(c).toEqual({ writes: 2, leases: 1 });
  });

  it('a factor that waits on the network (Duo) keeps the lease; so does a code asked for on a terminal', async () => {
    await ssrun.createConfig({ Type: 'duo', Name: 'DuoFast', Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: 'duo-secret-not-used', Host: 'api-x.duosecurity.com' } });
    const { ApiKey } = await ssrun.createApplication('duo-app');
    await ssrun.assignPrincipal(app('duo-app'), 'duo-app', 'DuoFast');
    duoAnswer = async () => ({ result: 'allow', factor: 'passcode', bypass: false, message: '' });
    expect(await cost(() => loginApp('duo-app', ApiKey, '123456'))).toEqual({ writes: 2, leases: 1 });
    const key = await totpApp('prompted');
    const code = await codeAt(now);
    expect(await cost(() => loginApp('prompted', key, undefined, { chooseFactor: async () => code }))).toEqual({ writes: 2, leases: 1 });
  });
});

describe('the lockout, as strong as with a lease', () => {
  it('12 concurrent wrong codes: counted exactly as the leased path counts them (5 checked, 7 locked out), then a right code is LOCKED_OUT and not used', async () => {
    const fastKey = await totpApp('guess-fast');
    const leasedKey = await totpApp('guess-leased');
    const fast = await cost(async () => {
      const r = await settledAll(Array.from({ length: 12 }, () => loginApp('guess-fast', fastKey, '000000')));
      expect(r.filter((e) => e.code === 'AUTH_DENIED')).toHaveLength(5);
      expect(r.filter((e) => e.code === 'LOCKED_OUT')).toHaveLength(7);
    });
    expect(fast).toEqual({ writes: 12, leases: 0 });
    // the same guesses asked for on a terminal take the leased path
    const leased = await cost(async () => {
      const r = await settledAll(Array.from({ length: 12 }, () => loginApp('guess-leased', leasedKey, undefined, { chooseFactor: async () => '000000' })));
      expect(r.filter((e) => e.code === 'AUTH_DENIED')).toHaveLength(5);
      expect(r.filter((e) => e.code === 'LOCKED_OUT')).toHaveLength(7);
    });
    expect(leased.leases).toBe(5);
    expect(await failures('guess-fast')).toBe(5);
    expect(await failures('guess-leased')).toBe(5);
    // the same audit records, refusal for refusal
    const sorted = async (name: string) => (await details(name)).sort();
    expect(await sorted('guess-fast')).toEqual(await sorted('guess-leased'));
    expect((await details('guess-fast')).filter((d) => d === 'denied: totp: invalid code')).toHaveLength(5);

    // locked: a right code is refused like a wrong one, and its step is not used
    const right = await errorOf(loginApp('guess-fast', fastKey, await codeAt(now)));
    const wrong = await errorOf(loginApp('guess-fast', fastKey, '000000'));
    expect(right.code).toBe('LOCKED_OUT');
    expect(right).toEqual(wrong);
    expect(await failures('guess-fast')).toBe(5);
    const p = (await raw.getPrincipal('application', 'guess-fast'))!;
    expect((await raw.getFactorState(p.id))?.counter).toBeNull();
    expect((await details('guess-fast')).filter((d) => d.startsWith('allowed'))).toEqual([]);
    // after the lock, the right code works
    now += 16 * 60_000;
    expect(await loginApp('guess-fast', fastKey, await codeAt(now))).toMatchObject({ Factor: 'totp' });
    expect(await failures('guess-fast')).toBe(0);
  });

  it('TOTP replay: two concurrent fast logins with the same code, exactly one wins', async () => {
    const key = await totpApp('replay');
    const code = await codeAt(now);
    const r = await settledAll([loginApp('replay', key, code), loginApp('replay', key, code)]);
    expect(r.map((e) => e.code).sort()).toEqual(['AUTH_DENIED', 'OK']);
    expect(await failures('replay')).toBe(1);
    expect((await details('replay')).filter((d) => d.includes('replay'))).toHaveLength(1);
  });

  it('an unknown application is counted like a wrong key: same answer, one commit, same counters, locked at the limit', async () => {
    await ssrun.createApplication('known');
    const wrong = 'ssk_wrong-key-for-the-lockout-test';
    for (let i = 0; i < 5; i++) {
      const known = await cost(async () => expect(await errorOf(loginApp('known', wrong, '123456'))).toEqual(DENIED));
      const unknown = await cost(async () => expect(await errorOf(loginApp('ghost', wrong, '123456'))).toEqual(DENIED));
      expect(known).toEqual({ writes: 1, leases: 0 });
      expect(unknown).toEqual(known);
    }
    const throttle = (name: string) => raw.getThrottle(app(name), 'cli');
    const strip = (t: Awaited<ReturnType<typeof throttle>>) => ({ here: t.here.failedCount, all: t.all.failedCount, locked: t.here.lockedUntil !== null });
    expect(strip(await throttle('ghost'))).toEqual({ here: 5, all: 5, locked: true });
    expect(strip(await throttle('known'))).toEqual(strip(await throttle('ghost')));
    const lockedKnown = await errorOf(loginApp('known', wrong));
    const lockedGhost = await errorOf(loginApp('ghost', wrong));
    expect([lockedKnown.code, lockedGhost.code]).toEqual(['LOCKED_OUT', 'LOCKED_OUT']);
    expect(lockedGhost.message.replace('ghost', 'known')).toBe(lockedKnown.message);
    expect(await details('ghost')).toEqual([...Array(5).fill('denied: unknown principal'), 'denied: locked out from this address']);
  });

  it('the allowance held by a leased attempt in flight: a fast login waits for it (never skips the check), then is LOCKED_OUT', async () => {
    await ssrun.createConfig({ Type: 'duo', Name: 'DuoHeld', Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: 'duo-secret-not-used', Host: 'api-x.duosecurity.com' } });
    const { ApiKey } = await ssrun.createApplication('held');
    await ssrun.assignPrincipal(app('held'), 'held', 'DuoHeld');
    const wrong = 'ssk_wrong-key-for-the-held-test';
    for (let i = 0; i < 4; i++) expect(await errorOf(loginApp('held', wrong))).toEqual(DENIED);
    // the right key and Duo: a lease, held until Duo answers
    let answer!: () => void;
    const asked = new Promise<void>((started) => {
      duoAnswer = () =>
        new Promise((resolve) => {
          answer = () => resolve({ result: 'deny', reason: 'invalid_passcode', message: '' });
          started();
        });
    });
    const inFlight = errorOf(loginApp('held', ApiKey, '123456'));
    await asked;
    // a wrong key now: 4 failures and 1 in flight fill the allowance of 5, so it is neither told nor counted yet
    let told = false;
    const waiting = errorOf(loginApp('held', wrong)).finally(() => (told = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(told).toBe(false);
    expect(await failures('held')).toBe(4);
    answer();
    expect(await inFlight).toEqual(DENIED);
    expect((await waiting).code).toBe('LOCKED_OUT');
    expect(await failures('held')).toBe(5);
  });
});
