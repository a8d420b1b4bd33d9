// Many `ssrun login` processes for one user at the same moment, on the embedded store: the lockout counts
// guesses, not logins in flight. Correct passwords all succeed however many run at once; wrong ones are
// checked at most MAX_FAILURES (5) times before the user is locked, however many run at once; and a correct
// login is never refused LOCKED_OUT unless 5 failures were really recorded.
//
// Each login hashes a password with scrypt (~0.5 s, ~128 MiB) and the machine may have 2 cores: the cases run
// one after another, with generous timeouts. (The server's side of this is test/remote/parallel-login.test.ts.)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, json, ok, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';

const PASSWORD = secret('parallel-login-password-Hk4Tz9');
const WRONG = secret('parallel-login-wrong-password-Qe2Lw5');
const MAX_FAILURES = 5;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TIMEOUT = 120_000;

let home: string;

beforeAll(async () => {
  home = tempHome('ssrun-parallel-login-');
  for (const name of ['bob', 'carol', 'dave']) ok(await ssrun(['user', 'create', '-n', name, '--password-stdin'], { home, input: `${PASSWORD}\n` }));
}, TIMEOUT);

afterAll(() => expectNoSecretsLeaked());

function login(user: string, password: string): Promise<RunResult> {
  return ssrun(['login', '-u', user, '--password-stdin'], { home, input: `${password}\n`, timeout: TIMEOUT - 10_000 });
}

/** n logins started at once (all spawned before any is awaited). */
function atOnce(n: number, user: string, password: (i: number) => string): Promise<RunResult[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => login(user, password(i))));
}

async function authState(user: string): Promise<{ FailedAttempts: number; LockedUntil: string | null }> {
  const { FailedAttempts, LockedUntil } = json(ok(await ssrun(['user', 'get', '-v', '-n', user], { home })));
  return { FailedAttempts, LockedUntil };
}

function expectSession(r: RunResult, user: string): void {
  expect(r.exitCode, `exit ${r.exitCode}: ${r.stderr}`).toBe(0);
  expect(json(r)).toMatchObject({ Principal: `principal/internal/user/${user}`, Factor: 'password' });
}

/** The token the last login kept in cli.json: a secret like the others. */
function declareSessionToken(): void {
  const conf = JSON.parse(readFileSync(join(home, 'cli.json'), 'utf8')) as { current?: string; sessions?: Record<string, { token: string }> };
  const token = conf.sessions?.[conf.current ?? 'local']?.token;
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  secret(token!);
}

/** The code of a refusal, checked in full: stdout empty, one `ssrun: error: … (CODE)` line, the exit code of that code. */
function refusalCode(r: RunResult): 'AUTH_DENIED' | 'LOCKED_OUT' {
  const code = /\((AUTH_DENIED|LOCKED_OUT)\)\n$/.exec(r.stderr)?.[1] as 'AUTH_DENIED' | 'LOCKED_OUT' | undefined;
  expect(code, `exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`).toBeDefined();
  expectRefused(r, code === 'AUTH_DENIED' ? 5 : 6, code!);
  return code!;
}

describe('parallel logins of one user, embedded store', { timeout: TIMEOUT }, () => {
  it('8 logins at once with the correct password: all 8 succeed, nothing is left counted or locked', async () => {
    const runs = await atOnce(8, 'bob', () => PASSWORD);
    declareSessionToken();
    expect(runs.map((r) => (r.exitCode === 0 ? 'ok' : `exit ${r.exitCode}: ${r.stderr.trim()}`))).toEqual(Array(8).fill('ok'));
    for (const r of runs) expectSession(r, 'bob');
    expect(await authState('bob')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it(`12 logins at once with a wrong password: at most ${MAX_FAILURES} are checked (AUTH_DENIED), the rest LOCKED_OUT; then the correct password is refused too`, async () => {
    const runs = await atOnce(12, 'carol', () => WRONG);
    const codes = runs.map(refusalCode);
    const denied = codes.filter((c) => c === 'AUTH_DENIED').length;
    expect(denied, JSON.stringify(codes)).toBeGreaterThanOrEqual(1);
    expect(denied, JSON.stringify(codes)).toBeLessThanOrEqual(MAX_FAILURES);
    expect(codes.filter((c) => c === 'LOCKED_OUT')).toHaveLength(12 - denied);

    const state = await authState('carol');
    expect(state.FailedAttempts).toBe(MAX_FAILURES);
    expect(state.LockedUntil).toMatch(ISO);
    const until = Date.parse(state.LockedUntil!);
    expect(until - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(until - Date.now()).toBeLessThan(16 * 60_000);

    const after = await login('carol', PASSWORD);
    expectRefused(after, 6, 'LOCKED_OUT', `principal/internal/user/carol is locked until ${state.LockedUntil} after ${MAX_FAILURES} failed attempts`);
    expect(await authState('carol')).toEqual(state);
  });

  it('4 wrong and 4 correct at once: fewer than 5 failures, so every correct login succeeds and no wrong one is LOCKED_OUT', async () => {
    const passwords = [WRONG, PASSWORD, WRONG, PASSWORD, WRONG, PASSWORD, WRONG, PASSWORD];
    const runs = await atOnce(passwords.length, 'dave', (i) => passwords[i]!);
    declareSessionToken();
    const outcome = runs.map((r, i) => `${passwords[i] === PASSWORD ? 'correct' : 'wrong'}: ${r.exitCode === 0 ? 'ok' : r.stderr.trim()}`);
    runs.forEach((r, i) => {
      if (passwords[i] === PASSWORD) {
        expect(r.exitCode, outcome.join('\n')).toBe(0);
        expectSession(r, 'dave');
      } else {
        expect(refusalCode(r), outcome.join('\n')).toBe('AUTH_DENIED');
      }
    });
    // Successes reset the count, so what is left depends on the order; but never a lock with 4 failures.
    const state = await authState('dave');
    expect(state.LockedUntil).toBeNull();
    expect(state.FailedAttempts).toBeGreaterThanOrEqual(0);
    expect(state.FailedAttempts).toBeLessThanOrEqual(4);
    // and the user is not stuck: one more correct login resets it all
    expectSession(await login('dave', PASSWORD), 'dave');
    declareSessionToken();
    expect(await authState('dave')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });
});
