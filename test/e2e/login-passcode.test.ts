// A Duo passcode is opaque: `ssrun login -m CODE` sends what was typed, exactly, as factor=passcode, whatever
// its length or alphabet (5 digits, 20 digits, a 44-character YubiKey OTP), up to 64 characters. Only values
// that cannot be a passcode (a space in them, more than 64 characters) are refused on the spot, exit 2
// INVALID_METHOD, before anything is sent to Duo or counted as an attempt. A passcode is never turned into a
// push. The built binary, a real store, and the real Duo client talking HTTPS to the fake Duo Auth API.
//
// The steps share one user (bob) and read the fake's records by position, so they run in order, not at once.

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LONG_PASSCODE, SHORT_PASSCODE, YUBIKEY_OTP, startFakeDuo, type FakeDuo, type RecordedRequest } from '../fakes/duo-server.js';
import { expectNoSecretsLeaked, expectRefused, json, ok, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';

const PASSWORD = secret('bob-passcode-password-Vr6Nq2');
const DUO_USER = 'bob#passcode'; // the fake's 'bob' scenario: preauth "auth", and it accepts the three passcodes below
secret(SHORT_PASSCODE);
secret(LONG_PASSCODE);
secret(YUBIKEY_OTP);
/** 64 characters: the longest passcode; the fake does not know it (Duo denies it). */
const PASSCODE_64 = `${YUBIKEY_OTP}${'0123456789abcdefghij'}`;
/** 65 characters: one too many. */
const PASSCODE_65 = `${PASSCODE_64}k`;

let fake: FakeDuo;
let home: string;

beforeAll(async () => {
  fake = await startFakeDuo();
  secret(fake.skey);
  home = tempHome('ssrun-login-passcode-');
  const file = join(dirname(home), 'FakeDuo.json');
  writeFileSync(file, JSON.stringify({ Type: 'duo', Name: 'FakeDuo', Options: fake.options() }));
  ok(await ssrun(['mfa', 'create', '-f', file], { home }));
  ok(await ssrun(['user', 'create', '-n', 'bob', '--password-stdin'], { home, input: `${PASSWORD}\n` }));
  ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/bob', '-m', DUO_USER, '-c', 'FakeDuo'], { home }));
}, 120_000);

afterAll(async () => {
  await fake?.close();
  expectNoSecretsLeaked();
});

function login(mfa: string): Promise<RunResult> {
  return ssrun(['login', '-u', 'bob', '--password-stdin', '-m', mfa], { home, input: `${PASSWORD}\n` });
}

async function authState(): Promise<{ FailedAttempts: number; LockedUntil: string | null }> {
  const { FailedAttempts, LockedUntil } = json(ok(await ssrun(['user', 'get', '-v', '-n', 'bob'], { home })));
  return { FailedAttempts, LockedUntil };
}

function expectSession(r: RunResult): void {
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  expect(json(r)).toMatchObject({ Principal: 'principal/internal/user/bob', Factor: 'passcode' });
}

/** Whatever was sent: nothing ever started a push, a call, SMS or an async transaction. */
function expectNoPush(sent: RecordedRequest[]): void {
  const started = sent.filter((q) => q.path === '/auth/v2/auth_status' || 'async' in q.params || (q.params.factor !== undefined && q.params.factor !== 'passcode'));
  expect(started.map((q) => `${q.method} ${q.path} ${JSON.stringify(q.params)}`)).toEqual([]);
}

/**
 * Runs the login and returns what it sent to the fake: exactly one /auth/v2/auth, factor=passcode with the
 * passcode byte for byte as typed, and besides it only the preauth (no push, ever).
 */
async function expectSentAsPasscode(passcode: string): Promise<{ r: RunResult; sent: RecordedRequest[] }> {
  const before = fake.requests.length;
  const r = await login(passcode);
  const sent = fake.requests.slice(before);
  expectNoPush(sent);
  expect(sent.map((q) => q.path).filter((p) => p !== '/auth/v2/preauth'), r.stderr).toEqual(['/auth/v2/auth']);
  const auth = sent.find((q) => q.path === '/auth/v2/auth')!;
  expect(auth.method).toBe('POST');
  expect(auth.params).toEqual({ username: DUO_USER, factor: 'passcode', passcode });
  expect(auth.params.passcode).toHaveLength(passcode.length);
  return { r, sent };
}

describe('ssrun login -m PASSCODE: a Duo passcode is opaque', () => {
  it('-m 77552 (5 digits): allowed; Duo received factor=passcode, passcode "77552", and no push', async () => {
    const { r, sent } = await expectSentAsPasscode(SHORT_PASSCODE);
    expectSession(r);
    expect(sent.find((q) => q.path === '/auth/v2/auth')!.status).toBe(200);
    expect(await authState()).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it('-m 12345678901234567890 (20 digits): reaches Duo as a passcode (the fake allows it for bob)', async () => {
    const { r } = await expectSentAsPasscode(LONG_PASSCODE);
    expectSession(r);
  });

  it('a 44-character YubiKey OTP: reaches Duo as a passcode, as typed', async () => {
    expect(YUBIKEY_OTP).toMatch(/^[a-z]{44}$/);
    const { r } = await expectSentAsPasscode(YUBIKEY_OTP);
    expectSession(r);
  });

  it('a 64-character passcode Duo does not know: sent as a passcode, denied by Duo (exit 5 AUTH_DENIED), counted', async () => {
    expect(PASSCODE_64).toHaveLength(64);
    const { r } = await expectSentAsPasscode(PASSCODE_64);
    expectRefused(r, 5, 'AUTH_DENIED', 'authentication denied: wrong user name, password or passcode');
    expect(await authState()).toEqual({ FailedAttempts: 1, LockedUntil: null });
  });

  describe('values that cannot be a passcode: exit 2 INVALID_METHOD, nothing sent to Duo, nothing counted', () => {
    it.each<[string, string]>([
      ['"1234 56" (a space inside)', '1234 56'],
      ['"77552 " (a trailing space: not trimmed, so not a passcode)', `${SHORT_PASSCODE} `],
      ['65 characters', PASSCODE_65],
      ['65 digits', '1'.repeat(65)],
    ])('%s', async (_title, value) => {
      const state = await authState(); // 1 failure, from the 64-character passcode above: "unchanged" says something
      const before = fake.requests.length;
      const r = await login(value);
      // The one line: `ssrun: error: -m: … (INVALID_METHOD)`, as every refusal prints it.
      expectRefused(r, 2, 'INVALID_METHOD', /^ssrun: error: -m: /);
      expect(fake.requests.slice(before)).toEqual([]); // not even a preauth or a ping
      expect(await authState()).toEqual(state);
    });
  });

  it('a success after all that resets the count; across every case above, no request ever started a push', async () => {
    const { r } = await expectSentAsPasscode(SHORT_PASSCODE);
    expectSession(r);
    expect(await authState()).toEqual({ FailedAttempts: 0, LockedUntil: null });
    expectNoPush(fake.requests);
    expect(fake.requestsTo('/auth/v2/auth').map((q) => q.params.passcode)).toEqual([SHORT_PASSCODE, LONG_PASSCODE, YUBIKEY_OTP, PASSCODE_64, SHORT_PASSCODE]);
    expect(fake.requests.filter((q) => q.path !== '/auth/v2/ping').every((q) => q.identity === DUO_USER)).toBe(true);
  });
});
