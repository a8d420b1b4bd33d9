// The service's TOTP and recovery-code rules with an injectable clock and a real SQLite store: replay
// refused within and across the window (S16), pending enrolment, window edges, lockout, recovery codes.

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

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // base32 of "12345678901234567890"
const PASSWORD = 'totp-service-password-1';
const T0 = Date.UTC(2026, 10, 23, 12, 0, 0); // a step boundary (divisible by 30 s)
const STEP = 30_000;

let dir: string;
let now = T0;
let ssrun: ReturnType<typeof createSsrun>;
let close: () => void;

const codeAt = (ms: number, secret = SECRET) => generate({ secret, epoch: Math.floor(ms / 1000) });
const login = (name: string, mfa: string) => ssrun.login({ type: 'user', name, secret: PASSWORD, mfa });

async function enrolled(name: string): Promise<void> {
  await ssrun.createUser(name, PASSWORD);
  const r = await ssrun.assignPrincipal(`principal/internal/user/${name}`, SECRET, 'totp');
  expect(r).toMatchObject({ Pending: true, Config: 'totp' });
  expect(r).not.toHaveProperty('Secret'); // an imported secret is never shown back
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ssrun-totp-service-'));
  const s = openSqliteStore({ home: dir, masterKey: {} });
  close = s.close;
  const duo = { authenticate: async () => { throw new Error('Duo must not be asked'); } };
  ssrun = createSsrun({ store: s.store, factors: defaultFactors({ duo, totp: totpProvider }), clock: { now: () => new Date(now) }, crypto: nodeCrypto });
});

afterAll(() => {
  close();
  rmSync(dir, { recursive: true, force: true });
});

describe('TOTP login', () => {
  it('the first valid code confirms the pending enrolment', async () => {
    await enrolled('ann');
    now = T0 + 5 * STEP + 1000;
    expect((await ssrun.getUser('ann', { verbose: true })).Mfa).toMatchObject({ Type: 'totp', Pending: true });
    expect(await login('ann', await codeAt(now))).toMatchObject({ Factor: 'totp' });
    expect((await ssrun.getUser('ann', { verbose: true })).Mfa).toMatchObject({ Pending: false });
  });

  it('a code is accepted once: the same code again in the same step, and in the next step (within Skew), is refused', async () => {
    await enrolled('rex');
    now = T0 + 10 * STEP + 2000;
    const code = await codeAt(now);
    await login('rex', code);
    expect(await errorOf(login('rex', code))).toEqual({ code: 'AUTH_DENIED', message: 'authentication denied: wrong user name, password or passcode' });
    now += STEP; // still within ±1 step of the code's step
    expect((await errorOf(login('rex', code))).code).toBe('AUTH_DENIED');
    // the next step's own code works, and after it no earlier step's code does
    await login('rex', await codeAt(now));
    expect((await errorOf(login('rex', await codeAt(now - STEP)))).code).toBe('AUTH_DENIED');
  });

  it('window edges: a code from step -Skew is accepted, from -Skew-1 refused (Skew 1)', async () => {
    await enrolled('eve');
    now = T0 + 20 * STEP + 500;
    expect((await errorOf(login('eve', await codeAt(now - 2 * STEP)))).code).toBe('AUTH_DENIED');
    expect(await login('eve', await codeAt(now - STEP))).toMatchObject({ Factor: 'totp' });
  });

  it('a factor is not a code: push for a TOTP principal is a usage error, not counted', async () => {
    await enrolled('pam');
    const e = await errorOf(ssrun.login({ type: 'user', name: 'pam', secret: PASSWORD, mfa: 'push' }));
    expect(e.code).toBe('INVALID_METHOD');
    expect((await ssrun.getUser('pam', { verbose: true })).FailedAttempts).toBe(0);
  });

  it('wrong codes count toward the lockout: 5 failures lock the principal, even for a right code', async () => {
    await enrolled('lou');
    now = T0 + 40 * STEP;
    for (let i = 0; i < 5; i++) expect((await errorOf(login('lou', '000000'))).code).toBe('AUTH_DENIED');
    expect((await errorOf(login('lou', await codeAt(now)))).code).toBe('LOCKED_OUT');
    now += 16 * 60_000; // the lock lasts 15 minutes
    expect(await login('lou', await codeAt(now))).toMatchObject({ Factor: 'totp' });
  });

  it('mfa verify confirms enrolment; wrong codes are counted and a replay is refused', async () => {
    await enrolled('vic');
    now = T0 + 60 * STEP;
    expect((await errorOf(ssrun.verifyEnrollment('vic', '123123'))).code).toBe('AUTH_DENIED');
    expect((await ssrun.getUser('vic', { verbose: true })).FailedAttempts).toBe(1);
    const code = await codeAt(now);
    expect(await ssrun.verifyEnrollment('vic', code)).toEqual({ Principal: 'principal/internal/user/vic', Config: 'totp', Verified: true, Pending: false, WasPending: true });
    expect((await ssrun.getUser('vic', { verbose: true })).FailedAttempts).toBe(0);
    expect((await errorOf(login('vic', code))).code).toBe('AUTH_DENIED');
  });

  it('re-assigning starts a new enrolment: new secret, pending again, old codes refused', async () => {
    await enrolled('ray');
    now = T0 + 80 * STEP;
    await login('ray', await codeAt(now));
    const r = await ssrun.assignPrincipal('principal/internal/user/ray', undefined, 'totp');
    expect(r.Secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(r.OtpauthUri).toContain(`secret=${r.Secret}`);
    now += STEP;
    expect((await errorOf(login('ray', await codeAt(now)))).code).toBe('AUTH_DENIED');
    expect(await login('ray', await codeAt(now, r.Secret))).toMatchObject({ Factor: 'totp' });
  });

  it('imported secrets: shorter than 128 bits or not base32 are refused, never echoed', async () => {
    await ssrun.createUser('imp', PASSWORD);
    const short = await errorOf(ssrun.assignPrincipal('principal/internal/user/imp', 'JBSWY3DPEHPK3PXP', 'totp'));
    expect(short).toEqual({ code: 'INVALID_TOTP_SECRET', message: '-m: the secret has 80 bits; at least 128 are required' });
    const bad = await errorOf(ssrun.assignPrincipal('principal/internal/user/imp', 'not-base32-at-all-0189!', 'totp'));
    expect(bad.code).toBe('INVALID_TOTP_SECRET');
    expect(bad.message).not.toContain('0189');
    expect((await ssrun.getUser('imp')).Mfa).toBeNull();
  });
});

describe('recovery codes', () => {
  it('10 codes of 60 bits, each works once; the eleventh login with a used code fails; none left is said', async () => {
    await enrolled('rob');
    const { RecoveryCodes: codes } = await ssrun.recoveryCodes('principal/internal/user/rob');
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
    for (let i = 0; i < 10; i++) {
      // typed in upper case, as people do: still the same code
      const r = await login('rob', i % 2 ? codes[i]!.toUpperCase() : codes[i]!);
      expect(r).toMatchObject({ Factor: 'recovery-code', RecoveryCodesLeft: 9 - i });
      if (i === 3) expect((await errorOf(login('rob', codes[i]!))).code).toBe('AUTH_DENIED'); // used: refused
    }
    const e = await errorOf(login('rob', codes[0]!));
    expect(e.code).toBe('RECOVERY_CODES_EXHAUSTED');
    expect(e.message).toContain('has no recovery codes left');
  });

  it('regenerating invalidates the earlier codes', async () => {
    await enrolled('reg');
    const first = (await ssrun.recoveryCodes('principal/internal/user/reg')).RecoveryCodes;
    const second = (await ssrun.recoveryCodes('principal/internal/user/reg')).RecoveryCodes;
    expect((await errorOf(login('reg', first[0]!))).code).toBe('AUTH_DENIED');
    expect(await login('reg', second[0]!)).toMatchObject({ RecoveryCodesLeft: 9 });
  });

  it('a recovery code works whatever the provider (a Duo principal: Duo is not asked)', async () => {
    await ssrun.createConfig({ Type: 'duo', Name: 'Duo', Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: 'duo-secret-not-used', Host: 'api-x.duosecurity.com' } });
    await ssrun.createUser('dan', PASSWORD);
    await ssrun.assignPrincipal('principal/internal/user/dan', 'dan@example.com', 'Duo');
    const { RecoveryCodes: codes } = await ssrun.recoveryCodes('principal/internal/user/dan');
    expect(await login('dan', codes[5]!)).toMatchObject({ Factor: 'recovery-code', RecoveryCodesLeft: 9 });
  });
});
