// The lockout per (principal, client address) and per principal (issue 15, S26), on a real `ssrun serve`
// (plain HTTP on 127.0.0.1): requests come from different loopback addresses (any 127.x.y.z is loopback on
// Linux) with node:http's localAddress. 5 failures from one address lock the principal from that address
// only; failures from all addresses together lock it everywhere (--lockout-all-addresses); unknown names are
// counted and answered exactly like known ones; `user get -v` shows the counters; `user unlock` clears them
// (audited; root's own by root only). And the embedded store (one address, `cli`) keeps today's numbers.
//
// scrypt makes each login cost ~0.5 s on the server: the counts are small, the timeouts generous.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome } from '../helpers/cli.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { ISO, clientHome, expectErrorAnswer, expectRefused, http, loginUser, ok, type HttpAnswer } from './remote-helpers.js';

afterAll(() => expectNoSecretsLeaked());

const PW_ROOT = secret('lockout-root-password-Qe5Tn2');
const PW_BOB = secret('lockout-bob-password-Hx7Wd3');
const PW_CAROL = secret('lockout-carol-password-Zm4Lp8');
const PW_HELP = secret('lockout-helpdesk-password-Rb6Kc1');
const PW_NORULE = secret('lockout-norule-password-Vg2Js9');
const WRONG = secret('lockout-wrong-password-Ty3Nf7');

const USER = (n: string) => `principal/internal/user/${n}`;
const LOCKED = (name: string, n: number, everywhere = false) =>
  new RegExp(`^${USER(name).replace(/\//g, '\\/')} is locked${everywhere ? ' from every address' : ''} until (\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z) after ${n} failed attempts$`);
const ROOT_ONLY = "only root may change root's password, MFA or recovery codes";

/**
 * A 423 LOCKED_OUT answer in our shape: {"error":{"code","message"}}, and the {"detail":{"lockedUntil"}} the
 * server sends today (as test/remote/parallel-login.test.ts accepts it) naming the same time; returns the time.
 */
function expectLocked(a: HttpAnswer, name: string, n: number, everywhere = false): string {
  expect({ status: a.status, code: a.body?.error?.code }, a.text).toEqual({ status: 423, code: 'LOCKED_OUT' });
  expect(String(a.headers['content-type'])).toMatch(/^application\/json/);
  expect(Object.keys(a.body)).toEqual(['error']);
  const { code: _code, message, detail, ...rest } = a.body.error as { code: string; message: string; detail?: { lockedUntil?: string } };
  expect(rest).toEqual({});
  const m = LOCKED(name, n, everywhere).exec(message);
  expect(message, 'the lock message').toMatch(LOCKED(name, n, everywhere));
  if (detail !== undefined) expect(detail).toEqual({ lockedUntil: m![1] });
  return m![1]!;
}

let server: RunningServer;
let client: string; // a client home on the server without a session (commands take SSRUN_TOKEN)
let rootToken: string;
const tokens = new Map<string, string>();

/** One HTTP request to the server from a given loopback address, and how long it took. */
async function from(localAddress: string, method: string, path: string, opts: { body?: unknown; token?: string } = {}): Promise<HttpAnswer & { ms: number }> {
  const started = performance.now();
  const a = await http(server.url, method, path, { ...opts, localAddress });
  return { ...a, ms: performance.now() - started };
}

const loginFrom = async (address: string, username: string, password: string) => {
  const a = await from(address, 'POST', '/connect/token/internal', { body: { username, password } });
  if (a.status === 200) secret(a.body.access_token as string);
  return a;
};

const asToken = (token: string, args: string[]) => ssrun(args, { home: client, env: { SSRUN_TOKEN: token } });
const asRoot = (args: string[]) => asToken(rootToken, args);

beforeAll(async () => {
  const home = tempHome('ssrun-lockout-server-');
  ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
  for (const [name, pw] of [['bob', PW_BOB], ['carol', PW_CAROL], ['dana', PW_CAROL], ['helpdesk', PW_HELP], ['norule', PW_NORULE]] as const) {
    ok(await ssrun(['user', 'create', '-n', name, '--password-stdin'], { home, input: `${pw}\n` }));
  }
  server = await startServer({ home, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000', '--lockout-all-addresses', '12'] });
  client = clientHome(server);
  rootToken = await loginUser(clientHome(server), 'root', PW_ROOT);
  // `authorization create` through the context, as root
  ok(await asRoot(['authorization', 'create', '-p', USER('helpdesk'), '-o', 'update', '-a', 'allow', 'principal/internal/user']));
  tokens.set('helpdesk', await loginUser(clientHome(server), 'helpdesk', PW_HELP));
  tokens.set('norule', await loginUser(clientHome(server), 'norule', PW_NORULE));
}, 120_000);

describe('the lockout on a server, per (principal, address) and per principal', { timeout: 240_000 }, () => {
  // Times of the failed attempts (each pays a password hash), to compare known and unknown names.
  const failureMs: Record<'known' | 'unknown', number[]> = { known: [], unknown: [] };
  let bobLocked: HttpAnswer;

  it('5 wrong passwords from 127.0.0.2 lock bob from .2 (423 even with the right password); from .3 the right password logs in', async () => {
    for (let i = 1; i <= 5; i++) {
      const a = await loginFrom('127.0.0.2', 'bob', WRONG);
      expectErrorAnswer(a, 401, 'AUTH_DENIED');
      failureMs.known.push(a.ms);
    }
    bobLocked = await loginFrom('127.0.0.2', 'bob', PW_BOB);
    const until = expectLocked(bobLocked, 'bob', 5);
    const minutes = (Date.parse(until) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(14);
    expect(minutes).toBeLessThanOrEqual(15);
    // still locked from .2, whatever the password
    expectLocked(await loginFrom('127.0.0.2', 'bob', WRONG), 'bob', 5);

    // user get -v: the total from every address, and the counters by address (root, through the context)
    const v = json(ok(await asRoot(['user', 'get', '-n', 'bob', '-v'])));
    expect(v.FailedAttempts).toBe(5);
    expect(v.Lockout).toEqual([
      { Address: 'all addresses', FailedAttempts: 5, LockedUntil: null },
      { Address: '127.0.0.2', FailedAttempts: 5, LockedUntil: until },
    ]);
    // the same over the API
    const api = await from('127.0.0.1', 'GET', '/users/bob?verbose=true', { token: rootToken });
    expect(api.status, api.text).toBe(200);
    expect(api.body.Lockout).toEqual(v.Lockout);

    // another address is not locked out: the right password logs in
    const other = await loginFrom('127.0.0.3', 'bob', PW_BOB);
    expect(other.status, other.text).toBe(200);
    expect(other.body.Principal).toBe(USER('bob'));
    // ... and .2 stays locked
    expectLocked(await loginFrom('127.0.0.2', 'bob', PW_BOB), 'bob', 5);
    const after = json(ok(await asRoot(['user', 'get', '-n', 'bob', '-v'])));
    expect(after.Lockout).toContainEqual({ Address: '127.0.0.2', FailedAttempts: 5, LockedUntil: until });

    // the refusals are audited with the address they came from
    const audit = json(ok(await asRoot(['audit', 'get', '--principal', USER('bob')]))) as Record<string, string>[];
    const logins = audit.filter((x) => x.Action === 'login');
    expect(logins.filter((x) => x.Source === '127.0.0.2' && x.Outcome === 'denied').length).toBeGreaterThanOrEqual(7);
    expect(logins.filter((x) => x.Source === '127.0.0.3' && x.Outcome === 'allowed').length).toBe(1);
  });

  it('an unknown name is answered exactly like a known one: 5 wrong from one address, then the same 423, code and message shape; similar times', async () => {
    for (let i = 1; i <= 5; i++) {
      const a = await loginFrom('127.0.0.8', 'nobody', WRONG);
      expectErrorAnswer(a, 401, 'AUTH_DENIED');
      failureMs.unknown.push(a.ms);
    }
    const sixth = await loginFrom('127.0.0.8', 'nobody', WRONG);
    expectLocked(sixth, 'nobody', 5);
    // the same answer as for bob, but for the name and the time
    const shape = (a: HttpAnswer, name: string) => ({
      status: a.status,
      keys: Object.keys(a.body.error),
      detailKeys: Object.keys(a.body.error.detail ?? {}),
      code: a.body.error.code,
      message: String(a.body.error.message).replace(USER(name), 'NAME').replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, 'ISO'),
      contentType: a.headers['content-type'],
      retryAfter: a.headers['retry-after'],
    });
    expect(shape(sixth, 'nobody')).toEqual(shape(bobLocked, 'bob'));
    // the wrong password of a known name and of an unknown one: the first 401s are identical too
    const known = await loginFrom('127.0.0.9', 'bob', WRONG);
    const unknown = await loginFrom('127.0.0.9', 'nobody-else', WRONG);
    expect(unknown.text).toBe(known.text);
    expect(unknown.status).toBe(known.status);

    // both pay a password hash: medians within 3x of each other
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [k, u] = [median(failureMs.known), median(failureMs.unknown)];
    expect(u, `unknown ${u.toFixed(0)} ms vs known ${k.toFixed(0)} ms`).toBeGreaterThan(k / 3);
    expect(u, `unknown ${u.toFixed(0)} ms vs known ${k.toFixed(0)} ms`).toBeLessThan(k * 3);
    // locked answers are quick for both (no hash): neither is told apart by time either
    expect(sixth.ms).toBeLessThan(Math.max(k, u) * 3);
  });

  it('--lockout-all-addresses 12: 4 failures from each of 3 addresses lock carol everywhere (a 4th address gets 423 "from every address")', async () => {
    for (const address of ['127.0.0.4', '127.0.0.5', '127.0.0.6']) {
      for (let i = 1; i <= 4; i++) expectErrorAnswer(await loginFrom(address, 'carol', WRONG), 401, 'AUTH_DENIED');
    }
    const fourth = await loginFrom('127.0.0.7', 'carol', PW_CAROL);
    const until = expectLocked(fourth, 'carol', 12, true);
    expectLocked(await loginFrom('127.0.0.4', 'carol', PW_CAROL), 'carol', 12, true);
    const v = json(ok(await asRoot(['user', 'get', '-n', 'carol', '-v'])));
    expect(v.FailedAttempts).toBe(12);
    expect(v.Lockout).toEqual([
      { Address: 'all addresses', FailedAttempts: 12, LockedUntil: until },
      { Address: '127.0.0.4', FailedAttempts: 4, LockedUntil: null },
      { Address: '127.0.0.5', FailedAttempts: 4, LockedUntil: null },
      { Address: '127.0.0.6', FailedAttempts: 4, LockedUntil: null },
    ]);
    expect(v.LockedUntil).toBe(until);
  });

  it('an address dana logged in from within 30 days still logs her in after the all-address lock; any other address is refused', async () => {
    expect((await loginFrom('127.0.0.9', 'dana', PW_CAROL)).status).toBe(200);
    for (const address of ['127.0.0.10', '127.0.0.11', '127.0.0.12']) {
      for (let i = 1; i <= 4; i++) expectErrorAnswer(await loginFrom(address, 'dana', WRONG), 401, 'AUTH_DENIED');
    }
    expectLocked(await loginFrom('127.0.0.13', 'dana', PW_CAROL), 'dana', 12, true);
    expect((await loginFrom('127.0.0.9', 'dana', PW_CAROL)).status).toBe(200);
  });

  it('user unlock: needs update on the principal; root\'s own by root only; clears every counter; audited as user.unlock', async () => {
    // no rule: refused, and nothing cleared
    expectRefused(await asToken(tokens.get('norule')!, ['user', 'unlock', '-n', 'carol']), 9, 'FORBIDDEN');
    expectErrorAnswer(await from('127.0.0.1', 'POST', '/users/carol/unlock', { token: tokens.get('norule')! }), 403, 'FORBIDDEN');
    expect(json(ok(await asRoot(['user', 'get', '-n', 'carol', '-v']))).FailedAttempts).toBe(12);
    // root's own: only root, whatever the rules say
    expectRefused(await asToken(tokens.get('helpdesk')!, ['user', 'unlock', '-n', 'root']), 9, 'FORBIDDEN', ROOT_ONLY);
    expectErrorAnswer(await from('127.0.0.1', 'POST', '/users/ROOT/unlock', { token: tokens.get('helpdesk')! }), 403, 'FORBIDDEN', ROOT_ONLY);
    expect(json(ok(await asRoot(['user', 'unlock', '-n', 'root'])))).toMatchObject({ Principal: USER('root'), Unlocked: true });

    // helpdesk may unlock carol (CLI) and bob (HTTP)
    expect(json(ok(await asToken(tokens.get('helpdesk')!, ['user', 'unlock', '-n', 'carol'])))).toEqual({ Principal: USER('carol'), Unlocked: true, CountersCleared: 4 });
    const b = await from('127.0.0.1', 'POST', '/users/bob/unlock', { token: tokens.get('helpdesk')! });
    expect(b.status, b.text).toBe(200);
    expect(b.body).toMatchObject({ Principal: USER('bob'), Unlocked: true });
    for (const name of ['carol', 'bob']) {
      const v = json(ok(await asRoot(['user', 'get', '-n', name, '-v'])));
      expect([v.FailedAttempts, v.LockedUntil, v.Lockout], name).toEqual([0, null, []]);
    }
    // the locked addresses may log in again
    expect((await loginFrom('127.0.0.2', 'bob', PW_BOB)).status).toBe(200);
    expect((await loginFrom('127.0.0.7', 'carol', PW_CAROL)).status).toBe(200);

    const audit = json(ok(await asRoot(['audit', 'get', '--since', '1h']))) as Record<string, string>[];
    const unlocks = audit.filter((x) => x.Action === 'user.unlock' && x.Outcome === 'ok');
    expect(unlocks.map((x) => [x.Actor, x.Principal])).toEqual([
      [USER('root'), USER('root')],
      [USER('helpdesk'), USER('carol')],
      [USER('helpdesk'), USER('bob')],
    ]);
    expect(unlocks[1]!.Detail).toBe('4 lockout counters cleared');
  });
});

describe('the lockout on the embedded store (one address: cli)', { timeout: 120_000 }, () => {
  it('5 wrong `ssrun login` lock the user (exit 6, even with the right password); user get -v shows it; user unlock clears it', async () => {
    const home = tempHome('ssrun-lockout-local-');
    ok(await ssrun(['user', 'create', '-n', 'dave', '--password-stdin'], { home, input: `${PW_BOB}\n` }));
    for (let i = 1; i <= 5; i++) expectRefused(await ssrun(['login', '-u', 'dave', '--password-stdin'], { home, input: `${WRONG}\n` }), 5, 'AUTH_DENIED');
    const v = json(ok(await ssrun(['user', 'get', '-n', 'dave', '-v'], { home })));
    expect(v.FailedAttempts).toBe(5);
    expect(v.LockedUntil).toMatch(ISO);
    expect(v.Lockout).toEqual([
      { Address: 'all addresses', FailedAttempts: 5, LockedUntil: null },
      { Address: 'cli', FailedAttempts: 5, LockedUntil: v.LockedUntil },
    ]);
    const r = await ssrun(['login', '-u', 'dave', '--password-stdin'], { home, input: `${PW_BOB}\n` });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([6, '', `ssrun: error: ${USER('dave')} is locked until ${v.LockedUntil} after 5 failed attempts (LOCKED_OUT)\n`]);
    expect(json(ok(await ssrun(['user', 'unlock', '-n', 'dave'], { home })))).toEqual({ Principal: USER('dave'), Unlocked: true, CountersCleared: 2 });
    expect(json(ok(await ssrun(['login', '-u', 'dave', '--password-stdin'], { home, input: `${PW_BOB}\n` }))).Principal).toBe(USER('dave'));
    const audit = json(ok(await ssrun(['audit', 'get'], { home }))) as Record<string, string>[];
    expect(audit.filter((x) => x.Action === 'user.unlock')).toEqual([expect.objectContaining({ Principal: USER('dave'), Outcome: 'ok', Source: 'cli' })]);
  });
});
