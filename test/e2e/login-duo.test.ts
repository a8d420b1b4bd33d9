// `ssrun login` end to end: the built binary, a real store, and the real Duo client talking HTTPS to the fake
// Duo Auth API on 127.0.0.1. Each concurrent test has its own user and its own Duo usernames (scenario#tag),
// so the fake's records can be read per test; tests that read all its records or change its clock run alone at the end.

import { constants as duoUniversal } from '@duosecurity/duo_universal';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { duoPinnedCa } from '../../dist/providers/duo/client.js';
import { GOOD_PASSCODE, startFakeDuo, type FakeDuo } from '../fakes/duo-server.js';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';

const PASSWORD = secret('correct horse battery staple');
const WRONG_PASSWORD = secret('incorrect horse battery staple');
const PASSCODE = secret(GOOD_PASSCODE);
const WRONG_PASSCODE = '654321';

let fake: FakeDuo;
let home: string;
let H: string; // the fake's host:port, as messages show it

beforeAll(async () => {
  fake = await startFakeDuo();
  secret(fake.skey);
  H = fake.host;
  home = tempHome('ssrun-login-duo-');
  const dir = dirname(home);
  const configs = {
    FakeDuo: fake.options(),
    BadIkey: fake.options({ IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX' }),
    BadSkey: fake.options({ SecretKey: secret('not-the-secret-key-0123456789abcdefghij') }),
    NoCa: (({ CaFile: _, ...o }) => o)(fake.options()),
  };
  for (const [Name, Options] of Object.entries(configs)) {
    const file = join(dir, `${Name}.json`);
    writeFileSync(file, JSON.stringify({ Type: 'duo', Name, Options }));
    const r = await ssrun(['mfa', 'create', '-f', file], { home });
    expect(r.exitCode, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  await fake?.close();
  expectNoSecretsLeaked();
});

async function createUser(name: string): Promise<void> {
  const r = await ssrun(['user', 'create', '-n', name, '--password-stdin'], { home, input: `${PASSWORD}\n` });
  expect(r.exitCode, r.stderr).toBe(0);
}

async function assign(user: string, duoUser: string, config = 'FakeDuo'): Promise<void> {
  const r = await ssrun(['mfa', 'assign-principal', '-p', `principal/internal/user/${user}`, '-m', duoUser, '-c', config], { home });
  expect(r.exitCode, r.stderr).toBe(0);
}

/** A user assigned to the given Duo user. */
async function userWith(name: string, duoUser: string, config = 'FakeDuo'): Promise<void> {
  await createUser(name);
  await assign(name, duoUser, config);
}

function login(user: string, mfa: string | undefined, opts: { password?: string; timeout?: number } = {}): Promise<RunResult> {
  const args = ['login', '-u', user, '--password-stdin', ...(mfa !== undefined ? ['-m', mfa] : []), ...(opts.timeout ? ['--timeout', String(opts.timeout)] : [])];
  return ssrun(args, { home, input: `${opts.password ?? PASSWORD}\n` });
}

async function failedAttempts(user: string): Promise<{ FailedAttempts: number; LockedUntil: string | null }> {
  const r = await ssrun(['user', 'get', '-n', user, '-v'], { home });
  expect(r.exitCode, r.stderr).toBe(0);
  const { FailedAttempts, LockedUntil } = json(r);
  return { FailedAttempts, LockedUntil };
}

/** The one line on stderr of a failed command, and its exit code. */
const outcome = (r: RunResult) => ({ exitCode: r.exitCode, stderr: r.stderr, stdout: r.stdout });
const failed = (exitCode: number, line: string) => ({ exitCode, stderr: `ssrun: error: ${line}\n`, stdout: '' });

function expectSession(r: RunResult, user: string, factor: string): void {
  expect(r.exitCode, r.stderr).toBe(0);
  const out = json(r);
  expect(Object.keys(out)).toEqual(['Principal', 'Factor', 'ExpiresAt']);
  expect(out).toMatchObject({ Principal: `principal/internal/user/${user}`, Factor: factor });
  expect(Math.abs(Date.parse(out.ExpiresAt) - (Date.now() + 3_600_000))).toBeLessThan(60_000);
}

/** The first progress line of a push or a call (a regular expression): the device Duo reported, and the seconds left of the 60. */
const WAIT = (what: string) => `ssrun: ${what} iOS \\(…0100\\): (60|59|58) s left\\n`;
const DENIED = 'authentication denied: wrong user name, password or passcode (AUTH_DENIED)';

describe.concurrent('ssrun login with Duo', () => {
  it('passcode: allowed; sent as factor=passcode, never as a push', async () => {
    await userWith('bob', 'alice#passcode');
    const r = await login('bob', PASSCODE);
    expectSession(r, 'bob', 'passcode');
    expect(r.stderr).toBe('');
    const sent = fake.requestsFor('alice#passcode');
    expect(sent.map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual(['POST /auth/v2/preauth 200', 'POST /auth/v2/auth 200']);
    expect(sent[1]!.params).toEqual({ username: 'alice#passcode', factor: 'passcode', passcode: PASSCODE });
    expect(sent.some((q) => q.params.factor === 'push' || 'async' in q.params || q.path === '/auth/v2/auth_status')).toBe(false);
  });

  it('wrong passcode reads like a wrong password; failures counted and reset by a success', async () => {
    await userWith('pat', 'alice#count');
    const badPassword = await login('pat', PASSCODE, { password: WRONG_PASSWORD });
    expect(outcome(badPassword)).toEqual(failed(5, DENIED));
    expect(fake.requestsFor('alice#count')).toEqual([]); // Duo is not asked before the password is right
    const badPasscode = await login('pat', WRONG_PASSCODE);
    expect(outcome(badPasscode)).toEqual(outcome(badPassword));
    expect(fake.requestsFor('alice#count').at(-1)!.params).toMatchObject({ factor: 'passcode', passcode: WRONG_PASSCODE });
    expect(await failedAttempts('pat')).toEqual({ FailedAttempts: 2, LockedUntil: null });
    expectSession(await login('pat', PASSCODE), 'pat', 'passcode');
    expect(await failedAttempts('pat')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it('push: the progress line, then the session', async () => {
    await userWith('bob-push', 'alice#push');
    const r = await login('bob-push', 'push');
    expectSession(r, 'bob-push', 'push');
    // which device Duo reported, and the time left (issue 13; counted down on a terminal: test/e2e/push-progress.test.ts)
    expect(r.stderr).toMatch(new RegExp(`^${WAIT('Waiting for approval on')}ssrun: Pushed a login request to your device\\.\\.\\.\\n$`));
    expect(fake.requestsFor('alice#push').map((q) => q.path)).toEqual(['/auth/v2/preauth', '/auth/v2/auth', '/auth/v2/auth_status', '/auth/v2/auth_status']);
    expect(fake.requestsFor('alice#push')[1]!.params).toEqual({ username: 'alice#push', factor: 'push', device: 'auto', async: '1' });
  });

  it('phone and auto', async () => {
    await userWith('bob-phone', 'alice#phone');
    const phone = await login('bob-phone', 'phone');
    expectSession(phone, 'bob-phone', 'phone');
    expect(phone.stderr).toMatch(new RegExp(`^${WAIT('Calling')}ssrun: Dialing XXX-XXX-0100\\.\\.\\.\\nssrun: Answered\\. Press any key on your phone to log in\\.\\n$`));
    expectSession(await login('bob-phone', 'auto'), 'bob-phone', 'auto');
    expect(fake.requestsFor('alice#phone').filter((q) => q.path === '/auth/v2/auth').map((q) => q.params.factor)).toEqual(['phone', 'auto']);
  });

  it('Duo bypass (preauth allow) and a rate limit that passes', async () => {
    await userWith('bob-bypass', 'bypass#e2e');
    const r = await login('bob-bypass', 'push');
    expectSession(r, 'bob-bypass', 'bypass');
    expect(r.stderr).toBe('');
    await assign('bob-bypass', 'ratelimit-2#e2e');
    expectSession(await login('bob-bypass', PASSCODE), 'bob-bypass', 'passcode');
    expect(fake.requestsFor('ratelimit-2#e2e').map((q) => q.status)).toEqual([429, 429, 200, 200]);
  });

  it('push denied and push reported as fraud', async () => {
    await userWith('bob-deny', 'push-deny#e2e');
    const deny = await login('bob-deny', 'push');
    expect(deny.exitCode).toBe(5);
    expect(deny.stderr).toMatch(new RegExp(`^${WAIT('Waiting for approval on')}ssrun: Pushed a login request to your device\\.\\.\\.\\nssrun: error: login denied: Login request denied\\. \\(MFA_DENIED\\)\\n$`));
    await assign('bob-deny', 'push-fraud#e2e');
    const fraud = await login('bob-deny', 'push');
    expect(fraud.exitCode).toBe(5);
    expect(fraud.stderr).toMatch(new RegExp(`^${WAIT('Waiting for approval on')}ssrun: error: login denied: the request was reported as fraudulent; your administrator has been alerted \\(MFA_FRAUD\\)\\n$`));
    expect(await failedAttempts('bob-deny')).toEqual({ FailedAttempts: 2, LockedUntil: null });
  });

  it('preauth refusals: enrolment, policy deny, and a hostile status_msg printed escaped (S24)', async () => {
    await userWith('bob-pre', 'enroll#e2e');
    expect(outcome(await login('bob-pre', 'push'))).toEqual(failed(5, 'login denied: bob-pre is not enrolled in Duo (Enroll an authentication device to proceed) (MFA_NOT_ENROLLED)'));
    await assign('bob-pre', 'denied#e2e');
    expect(outcome(await login('bob-pre', PASSCODE))).toEqual(failed(5, 'login denied: Your account is disabled (MFA_DENIED)'));
    await assign('bob-pre', 'evil#e2e');
    expect(outcome(await login('bob-pre', 'push'))).toEqual(failed(5, 'login denied: Access denied\\u000d\\u000assrun: login OK\\u001b[2J\\u001b[31m! (MFA_DENIED)'));
    // None of these was a guess: nothing counted, and no factor was ever started.
    expect(await failedAttempts('bob-pre')).toEqual({ FailedAttempts: 0, LockedUntil: null });
    for (const id of ['enroll#e2e', 'denied#e2e', 'evil#e2e']) expect(fake.requestsFor(id).map((q) => q.path)).toEqual(['/auth/v2/preauth']);
  });

  it('a hostile status_msg in the progress line is escaped too (S24)', async () => {
    await userWith('bob-evil', 'evil-push#e2e');
    const r = await login('bob-evil', 'push');
    expectSession(r, 'bob-evil', 'push');
    expect(r.stderr.replace(new RegExp(`^${WAIT('Waiting for approval on')}`), '')).toBe('ssrun: Access denied\\u000d\\u000assrun: login OK\\u001b[2J\\u001b[31m!\n');
  });

  it('SMS passcodes sent, and MFA required when -m is missing', async () => {
    await userWith('bob-sms', 'sms#e2e');
    expect(outcome(await login('bob-sms', 'sms'))).toEqual(failed(5, 'SMS passcodes sent; run the login again with -m CODE (MFA_SMS_SENT)'));
    expect(fake.requestsFor('sms#e2e').at(-1)!.params).toEqual({ username: 'sms#e2e', factor: 'sms', device: 'auto' });
    const before = fake.requestsFor('sms#e2e').length;
    expect(outcome(await login('bob-sms', undefined))).toEqual(failed(5, 'MFA required: pass -m with a passcode or one of push, phone, sms, auto (MFA_REQUIRED)'));
    expect(fake.requestsFor('sms#e2e')).toHaveLength(before);
    // Sending SMS counts as an attempt (so a stolen password cannot pump SMS); MFA required does not.
    expect(await failedAttempts('bob-sms')).toEqual({ FailedAttempts: 1, LockedUntil: null });
  });

  it('a push nobody answers ends at --timeout', async () => {
    await userWith('bob-never', 'push-never#e2e');
    const started = Date.now();
    const r = await login('bob-never', 'push', { timeout: 2 });
    expect(Date.now() - started).toBeLessThan(20_000); // far below the default 60 s, even on a loaded machine
    expect(r.exitCode).toBe(5);
    expect(r.stderr.split('\n').at(-2)).toBe('ssrun: error: login denied: no answer from your device in time (MFA_TIMEOUT)');
    expect(r.stdout).toBe('');
  });

  it('Duo answers that cannot be trusted: exit 7, one clear line', async () => {
    await createUser('bob-down');
    const cases: [string, string][] = [
      ['ratelimit-always', `login denied: Duo is rate-limiting requests (HTTP 429); gave up after 6 attempts (Duo at ${H}) (PROVIDER_RATE_LIMITED)`],
      ['error-500', `login denied: Duo answered HTTP 500 (Duo at ${H}) (PROVIDER_UNAVAILABLE)`],
      ['garbage', `login denied: Duo answered /auth/v2/preauth with HTTP 200 and a body that is not JSON (Duo at ${H}) (PROVIDER_UNAVAILABLE)`],
      ['statfail', `login denied: Duo returned an error for /auth/v2/preauth: 40002 Invalid request parameters (username) (Duo at ${H}) (PROVIDER_UNAVAILABLE)`],
      ['weird', `login denied: Duo's preauth answered an unknown result "maybe" (Duo at ${H}) (PROVIDER_UNAVAILABLE)`],
    ];
    for (const [scenario, line] of cases) {
      await assign('bob-down', `${scenario}#e2e`);
      expect(outcome(await login('bob-down', PASSCODE)), scenario).toEqual(failed(7, line));
    }
    expect(fake.requestsFor('ratelimit-always#e2e')).toHaveLength(6);
    expect(await failedAttempts('bob-down')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it('a Duo that never answers: exit 7 soon after --timeout', async () => {
    await userWith('bob-hang', 'hang#e2e');
    const started = Date.now();
    const r = await login('bob-hang', 'push', { timeout: 3 });
    expect(Date.now() - started).toBeLessThan(14_000); // below the 15 s request timeout, even on a loaded machine
    expect(outcome(r)).toEqual(failed(7, `login denied: Duo did not answer /auth/v2/preauth within 3 s (Duo at ${H}) (PROVIDER_UNAVAILABLE)`));
  });

  it('wrong integration key, wrong secret key, and TLS without CaFile (the pinned Duo CA): exit 7', async () => {
    await userWith('bob-conf', 'alice#conf', 'BadIkey');
    const check = 'check IntegrationKey, SecretKey and Host of the MFA configuration';
    expect(outcome(await login('bob-conf', PASSCODE))).toEqual(failed(7, `login denied: Duo rejected the credentials: 40102 Invalid integration key; ${check} (Duo at ${H}) (PROVIDER_MISCONFIGURED)`));
    await assign('bob-conf', 'alice#conf', 'BadSkey');
    expect(outcome(await login('bob-conf', PASSCODE))).toEqual(
      failed(7, `login denied: Duo rejected the credentials: 40103 Invalid signature in request credentials; ${check} (Duo at ${H}) (PROVIDER_MISCONFIGURED)`),
    );
    const before = fake.requestsFor('alice#conf').length;
    await assign('bob-conf', 'alice#conf', 'NoCa');
    expect(outcome(await login('bob-conf', PASSCODE))).toEqual(
      failed(7, `login denied: the TLS certificate of Duo at ${H} could not be verified (UNABLE_TO_VERIFY_LEAF_SIGNATURE); set Options.CaFile only for a trusted proxy (PROVIDER_UNAVAILABLE)`),
    );
    expect(fake.requestsFor('alice#conf')).toHaveLength(before); // nothing was sent over the unverified connection
    expect(await failedAttempts('bob-conf')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it('five MFA failures in a row lock the user out (exit 6), without asking Duo again', async () => {
    await userWith('carol', 'alice#lock');
    for (let i = 0; i < 5; i++) expect(outcome(await login('carol', WRONG_PASSCODE)), `attempt ${i + 1}`).toEqual(failed(5, DENIED));
    const sent = fake.requestsFor('alice#lock').length;
    expect(sent).toBe(10);
    const locked = await login('carol', PASSCODE);
    expect(locked.exitCode).toBe(6);
    const m = /^ssrun: error: principal\/internal\/user\/carol is locked until (\S+) after 5 failed attempts \(LOCKED_OUT\)\n$/.exec(locked.stderr);
    expect(m, locked.stderr).not.toBeNull();
    const until = Date.parse(m![1]!);
    expect(until - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(until - Date.now()).toBeLessThan(16 * 60_000);
    expect(fake.requestsFor('alice#lock')).toHaveLength(sent);
    expect(await failedAttempts('carol')).toEqual({ FailedAttempts: 5, LockedUntil: m![1] });
  });

  it("the CA bundle used without CaFile is the one Duo's SDKs pin", () => {
    expect(duoPinnedCa()).toBe(duoUniversal.DUO_PINNED_CERT);
    expect(duoPinnedCa()).toContain('-----BEGIN CERTIFICATE-----');
  });
});

// These read all of the fake's records or change its clock, so they run after the concurrent tests, one at a time.
describe('ssrun login, with the fake to itself', () => {
  beforeAll(async () => {
    await Promise.all([userWith('bob-clock', 'alice#clock'), createUser('dave')]);
  });
  beforeEach(() => fake.reset());
  afterEach(() => fake.reset());

  it('a principal with no MFA configuration needs only the password; Duo is not asked', async () => {
    const r = await login('dave', undefined);
    expectSession(r, 'dave', 'password');
    expect(r.stderr).toBe('');
    expect(fake.requests).toEqual([]);
  });

  it('clock skew: retries once with the time from /auth/v2/ping', async () => {
    fake.clockOffsetMs = 3_600_000;
    expectSession(await login('bob-clock', PASSCODE), 'bob-clock', 'passcode');
    expect(fake.requests.map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual([
      'POST /auth/v2/preauth 401',
      'GET /auth/v2/ping 200',
      'POST /auth/v2/preauth 200',
      'POST /auth/v2/auth 200',
    ]);
    expect(fake.requests[1]!.headers.authorization).toBeUndefined();
  });

  it('clock skew that the ping does not explain is a clear error (exit 7)', async () => {
    fake.clockOffsetMs = 3_600_000;
    fake.pingOffsetMs = 0; // the ping reports our own time: retrying with it cannot help
    const r = await login('bob-clock', PASSCODE);
    expect(r.exitCode).toBe(7);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^ssrun: error: login denied: Duo refused the request date \w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT: 40105 The request date is more than 300 seconds from the server time; check this machine's clock \(Duo at 127\.0\.0\.1:\d+\) \(PROVIDER_CLOCK_SKEW\)\n$/,
    );
    expect(fake.requests.map((q) => `${q.path} ${q.status}`)).toEqual(['/auth/v2/preauth 401', '/auth/v2/ping 200', '/auth/v2/preauth 401']);
  });
});
