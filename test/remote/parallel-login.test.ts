// Many login requests for one user at the same moment on a real `ssrun serve` (HTTPS, the test CA): the
// lockout counts guesses, not logins in flight. 50 correct logins at once all get a token; 12 wrong ones at
// once are checked at most MAX_FAILURES (5) times (401 AUTH_DENIED), the rest answer 423 LOCKED_OUT, and the
// store holds exactly 5 failures and a lock. The per-address limits are raised (--rate-limit,
// --login-rate-limit) so that only the lockout is under test.
//
// The server hashes passwords with scrypt one at a time (~0.5 s each): 50 logins take ~25–30 s, more on a
// busy machine. (The embedded store's side of this is test/e2e/parallel-login.test.ts.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { startServer, testTls, type RunningServer, type Tls } from '../helpers/server.js';
import { ISO, expectErrorAnswer, http, type HttpAnswer } from './remote-helpers.js';

const PW_ROOT = secret('parallel-server-root-password-Nw3Kd8');
const PASSWORD = secret('parallel-server-user-password-Rb7Yc2');
const WRONG = secret('parallel-server-wrong-password-Fm5Gt1');
const MAX_FAILURES = 5;
const USER = (n: string) => `principal/internal/user/${n}`;
const TIMEOUT = 240_000;

let tls: Tls;
let server: RunningServer;
let rootToken: string;

const login = (username: string, password: string): Promise<HttpAnswer> =>
  http(server.url, 'POST', '/connect/token/internal', { body: { username, password }, ca: tls.caPem });

async function authState(name: string): Promise<{ FailedAttempts: number; LockedUntil: string | null }> {
  const a = await http(server.url, 'GET', `/users/${name}?verbose=true`, { token: rootToken, ca: tls.caPem });
  expect(a.status, a.text).toBe(200);
  return { FailedAttempts: a.body.FailedAttempts, LockedUntil: a.body.LockedUntil };
}

/**
 * A 423 LOCKED_OUT answer: {"error":{"code","message"}} as expectErrorAnswer checks it, except that a lock may
 * also carry {"detail":{"lockedUntil"}} (the server sends it today); returns the time the message names.
 */
function expectLocked(a: HttpAnswer, user: string): string {
  expect({ status: a.status, code: a.body?.error?.code }, a.text).toEqual({ status: 423, code: 'LOCKED_OUT' });
  expect(String(a.headers['content-type'])).toMatch(/^application\/json/);
  expect(Object.keys(a.body)).toEqual(['error']);
  const { code: _code, message, detail, ...rest } = a.body.error as { code: string; message: string; detail?: { lockedUntil?: string } };
  expect(rest).toEqual({});
  const m = new RegExp(`^principal/internal/user/${user} is locked until (\\S+) after ${MAX_FAILURES} failed attempts$`).exec(message);
  expect(m, message).not.toBeNull();
  expect(m![1]).toMatch(ISO);
  if (detail !== undefined) expect(detail).toEqual({ lockedUntil: m![1] });
  return m![1]!;
}

beforeAll(async () => {
  const home = tempHome('ssrun-server-parallel-login-');
  ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
  for (const name of ['bob', 'carol']) ok(await ssrun(['user', 'create', '-n', name, '--password-stdin'], { home, input: `${PASSWORD}\n` }));
  tls = await testTls();
  server = await startServer({ home, tls, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000'] });
  const a = await login('root', PW_ROOT);
  expect(a.status, a.text).toBe(200);
  rootToken = secret(a.body.access_token);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  expectNoSecretsLeaked();
});

describe('parallel logins of one user on ssrun serve', { timeout: TIMEOUT }, () => {
  it('50 login requests at once with the correct password: all 50 answer 200 with a token of their own', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => login('bob', PASSWORD)));
    for (const a of answers) if (typeof a.body?.access_token === 'string') secret(a.body.access_token);
    expect(answers.map((a) => (a.status === 200 ? 200 : `${a.status} ${a.body?.error?.code ?? a.text}`))).toEqual(Array(50).fill(200));
    for (const a of answers) {
      expect(a.body).toMatchObject({ Principal: USER('bob'), Factor: 'password', token_type: 'Bearer', ExpiresAt: expect.stringMatching(ISO) });
      expect(a.body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(new Set(answers.map((a) => a.body.access_token)).size).toBe(50);
    expect(await authState('bob')).toEqual({ FailedAttempts: 0, LockedUntil: null });
    // and each token works
    const whoami = await http(server.url, 'GET', '/whoami', { token: answers[49]!.body.access_token, ca: tls.caPem });
    expect(whoami.status, whoami.text).toBe(200);
    expect(server.stderr()).not.toMatch(/internal error/);
  });

  it(`12 wrong-password requests at once: at most ${MAX_FAILURES} answer 401 AUTH_DENIED, the rest 423 LOCKED_OUT; 5 failures stored`, async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => login('carol', WRONG)));
    const statuses = answers.map((a) => a.status);
    for (const a of answers) {
      if (a.status === 401) expectErrorAnswer(a, 401, 'AUTH_DENIED', 'authentication denied: wrong user name, password or passcode');
      else expectLocked(a, 'carol');
    }
    const denied = statuses.filter((s) => s === 401).length;
    expect(denied, JSON.stringify(statuses)).toBeGreaterThanOrEqual(1);
    expect(denied, JSON.stringify(statuses)).toBeLessThanOrEqual(MAX_FAILURES);
    expect(statuses.filter((s) => s === 423)).toHaveLength(12 - denied);

    const state = await authState('carol');
    expect(state.FailedAttempts).toBe(MAX_FAILURES);
    expect(state.LockedUntil).toMatch(ISO);
    expect(Date.parse(state.LockedUntil!) - Date.now()).toBeGreaterThan(14 * 60_000);

    // the correct password is refused now, and changes nothing
    expect(expectLocked(await login('carol', PASSWORD), 'carol')).toBe(state.LockedUntil);
    expect(await authState('carol')).toEqual(state);
    expect(server.stderr()).not.toMatch(/internal error/);
  });
});
