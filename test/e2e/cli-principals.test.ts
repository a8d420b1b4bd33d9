// Users, applications, init, login/logout, lockout and the command line itself, end to end through the built
// binary. scrypt (N=2^17) makes each password hash or check cost ~0.3 s: hashes are kept to what each case
// needs.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, isRemote, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { storeSql } from '../helpers/store-sql.js';

afterAll(() => expectNoSecretsLeaked());

const PW_ALICE = secret('alice-password-Tq4Wm9');
const PW_BOB = secret('bob-password-Lk2Xn7');
const PW_ROOT = secret('root-password-Hs8Cv3');
const PW_LOCKY = secret('locky-password-Pa5Zr1');
const PW_OTHER = secret('other-password-Jd6Fy4');
const WRONG = secret('wrong-password-Ue3Gb8');
const DUO_SK = secret('principals-e2e-duo-secret-Mw7Rt2');

const DENIED = 'ssrun: error: authentication denied: wrong user name, password or passcode (AUTH_DENIED)\n';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const config = (name: string, host = 'api-aaaaaaaa.duosecurity.com') =>
  JSON.stringify({ Type: 'duo', Name: name, Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: DUO_SK, Host: host } });

/** The session token the CLI keeps (for its current context): declared a secret, so no output may ever carry it. */
function declareSessionToken(home: string): void {
  const conf = JSON.parse(readFileSync(join(home, 'cli.json'), 'utf8')) as { current?: string; sessions?: Record<string, { token: string }> };
  const token = conf.sessions?.[conf.current ?? 'local']?.token;
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  secret(token!);
}

// A server store is administered by root, so on the remote backend root exists from the start; with the
// names used here it sorts last.
const withRoot = <T>(list: T[], root: T): T[] => (isRemote() ? [...list, root] : list);
const ROOT_VIEW = { Name: 'root', Principal: 'principal/internal/user/root', Mfa: null };

const authState = async (home: string, name: string) => {
  const v = json(ok(await ssrun(['user', 'get', '-n', name, '-v'], { home })));
  return { FailedAttempts: v.FailedAttempts, LockedUntil: v.LockedUntil };
};

describe('users', () => {
  let home: string;
  beforeAll(async () => {
    home = tempHome();
    const first = ok(await ssrun(['user', 'get'], { home }));
    expect(json(first)).toEqual(withRoot([], ROOT_VIEW));
    if (isRemote()) expect(first.stderr).toBe('');
    // a read creates no store (issue 13): it says so and shows an empty one; the first write creates it
    else expect(first.stderr).toBe(`ssrun: no store at ${home} yet; it is created by the first command that writes\n`);
  });

  it('user create --password-stdin', async () => {
    const r = ok(await ssrun(['user', 'create', '-n', 'alice', '--password-stdin'], { home, input: `${PW_ALICE}\n` }));
    // the first write creates the store (the read before it did not)
    if (isRemote()) expect(r.stderr).toBe('');
    else expect(r.stderr).toMatch(/^ssrun: created a new store at [^\n]+\n$/);
    expect(r.stdout).toBe(`${JSON.stringify({ Name: 'alice', Principal: 'principal/internal/user/alice', Mfa: null }, null, 2)}\n`);
  });

  it('user create -p', async () => {
    const r = ok(await ssrun(['user', 'create', '--name', 'Bob', '-p', PW_BOB], { home }));
    expect(json(r)).toEqual({ Name: 'Bob', Principal: 'principal/internal/user/Bob', Mfa: null });
  });

  describe('refusals create nobody', () => {
    it.concurrent.each<[string, string[], string | undefined, number, string, string]>([
      ['no password on a non-TTY', ['-n', 'carol'], undefined, 2, 'USAGE', 'password required: pass --password-stdin (or -p) when not on a terminal'],
      ['-p and --password-stdin together', ['-n', 'carol', '-p', PW_ALICE, '--password-stdin'], `${PW_ALICE}\n`, 2, 'USAGE', '-p and --password-stdin cannot be used together'],
      ['a 7-character password', ['-n', 'carol', '-p', 'Short7!'], undefined, 2, 'INVALID_PASSWORD', 'password: too short; at least 8 characters required'],
      ['an empty stdin', ['-n', 'carol', '--password-stdin'], '', 2, 'INVALID_PASSWORD', 'password: too short'],
      ['a 1025-byte password', ['-n', 'carol', '--password-stdin'], `${'p'.repeat(1025)}\n`, 2, 'INVALID_PASSWORD', 'password: 1025 bytes, at most 1024 allowed'],
      ['342 three-byte characters (1026 bytes)', ['-n', 'carol', '-p', '€'.repeat(342)], undefined, 2, 'INVALID_PASSWORD', 'password: 1026 bytes, at most 1024 allowed'],
      ['far too much on stdin', ['-n', 'carol', '--password-stdin'], 'p'.repeat(5000), 2, 'INPUT_TOO_LARGE', '--password-stdin: more than 1024 bytes on stdin, at most 1024 allowed'],
      ['a duplicate in another case', ['-n', 'ALICE', '-p', PW_BOB], undefined, 4, 'PRINCIPAL_EXISTS', 'principal/internal/user/ALICE already exists'],
      ['root', ['-n', 'root', '-p', PW_BOB], undefined, 4, 'PRINCIPAL_EXISTS', '"root" is reserved; `ssrun init` sets the root password'],
      ['a name with a space', ['-n', 'carol smith', '-p', PW_BOB], undefined, 2, 'INVALID_NAME', 'user name: "carol smith" is not valid; expected 1–120 characters of letters, digits and . _ @ + -'],
      ['a 121-character name', ['-n', 'c'.repeat(121), '-p', PW_BOB], undefined, 2, 'INVALID_NAME', 'user name: '],
    ])('%s', async (_title, args, input, exitCode, code, message) => {
      const r = await ssrun(['user', 'create', ...args], { home, input });
      expectRefused(r, exitCode, code, message);
    });

    it('-n is required', async () => {
      const r = await ssrun(['user', 'create', '-p', PW_BOB], { home });
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([2, '', "ssrun: error: required option '-n, --name <name>' not specified; see `ssrun user create --help` (USAGE)\n"]);
    });

    it('only alice and Bob exist', async () => {
      expect(json<any[]>(ok(await ssrun(['user', 'get'], { home }))).map((u) => u.Name)).toEqual(withRoot(['alice', 'Bob'], 'root'));
    });
  });

  it('a password of exactly 1024 bytes is accepted, and logs in', async () => {
    const long = secret(`${'Long-pw-'.repeat(128)}`);
    expect(Buffer.byteLength(long)).toBe(1024);
    ok(await ssrun(['user', 'create', '-n', 'longpw', '--password-stdin'], { home, input: `${long}\r\n` }));
    ok(await ssrun(['login', '-u', 'longpw', '--password-stdin'], { home, input: long }));
    ok(await ssrun(['user', 'delete', '-n', 'longpw'], { home }));
  });

  it('user get: sorted by name; -n finds without regard to case; -v adds timestamps and lockout state', async () => {
    const list = json<any[]>(ok(await ssrun(['user', 'get'], { home })));
    expect(list).toEqual(
      withRoot(
        [
          { Name: 'alice', Principal: 'principal/internal/user/alice', Mfa: null },
          { Name: 'Bob', Principal: 'principal/internal/user/Bob', Mfa: null },
        ],
        ROOT_VIEW,
      ),
    );
    expect(json(ok(await ssrun(['user', 'get', '-n', 'ALICE'], { home })))).toEqual(list[0]);
    const v = json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home })));
    // FailedAttempts: from every address together; Lockout: the counters by client address (issue: both shown).
    expect(Object.keys(v)).toEqual(['Name', 'Principal', 'Mfa', 'CreatedAt', 'UpdatedAt', 'FailedAttempts', 'LockedUntil', 'RecoveryCodesLeft', 'Lockout']);
    expect(v.RecoveryCodesLeft).toBe(0);
    expect(v.Lockout).toEqual([]);
    expect(v.CreatedAt).toMatch(ISO);
    expect(v.UpdatedAt).toMatch(ISO);
    expect([v.FailedAttempts, v.LockedUntil]).toEqual([0, null]);
    for (const u of json<any[]>(ok(await ssrun(['user', 'get', '-v'], { home })))) expect(u.FailedAttempts).toBe(0);
    const table = ok(await ssrun(['user', 'get', '--output', 'table'], { home }));
    expect(table.stdout.split('\n')[1]).toMatch(/^│ Name +│ Principal +│ Mfa +│$/);
    expect(table.stdout).toContain('principal/internal/user/alice');
    expectRefused(await ssrun(['user', 'get', '-n', 'nobody'], { home }), 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/user/nobody not found');
  });

  it('login without an MFA configuration: the password alone; stdout is Principal/Factor/ExpiresAt', async () => {
    const before = Date.now();
    const r = ok(await ssrun(['login', '-u', 'alice', '-p', PW_ALICE], { home }));
    expect(r.stderr).toBe('');
    const out = json(r);
    expect(Object.keys(out)).toEqual(['Principal', 'Factor', 'ExpiresAt']);
    expect(out.Principal).toBe('principal/internal/user/alice');
    expect(out.Factor).toBe('password');
    expect(out.ExpiresAt).toMatch(ISO);
    const expires = Date.parse(out.ExpiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
    declareSessionToken(home);
  });

  it('logout ends the session; logging out again: not logged in (exit 3)', async () => {
    const r = ok(await ssrun(['logout'], { home }));
    expect(r.stderr).toBe('');
    expect(json(r)).toEqual({ Principal: 'principal/internal/user/alice', LoggedOut: true });
    expectRefused(await ssrun(['logout'], { home }), 3, 'NOT_LOGGED_IN', 'ssrun: error: not logged in (NOT_LOGGED_IN)');
  });

  it('login --password-stdin', async () => {
    const r = ok(await ssrun(['login', '--user', 'Bob', '--password-stdin'], { home, input: `${PW_BOB}\n` }));
    expect(json(r)).toMatchObject({ Principal: 'principal/internal/user/Bob', Factor: 'password' });
    declareSessionToken(home);
  });

  it('a wrong password and an unknown user: the same message and exit 5', async () => {
    const [wrong, unknown] = await Promise.all([
      ssrun(['login', '-u', 'alice', '-p', WRONG], { home }),
      ssrun(['login', '-u', 'zed', '-p', WRONG], { home }),
    ]);
    expect([wrong.exitCode, wrong.stdout, wrong.stderr]).toEqual([5, '', DENIED]);
    expect([unknown.exitCode, unknown.stdout, unknown.stderr]).toEqual([5, '', DENIED]);
    expect(await authState(home, 'alice')).toEqual({ FailedAttempts: 1, LockedUntil: null });
  });

  it('a success resets the failure count', async () => {
    expectRefused(await ssrun(['login', '-u', 'alice', '-p', WRONG], { home }), 5, 'AUTH_DENIED');
    expect(await authState(home, 'alice')).toEqual({ FailedAttempts: 2, LockedUntil: null });
    ok(await ssrun(['login', '-u', 'alice', '-p', PW_ALICE], { home }));
    declareSessionToken(home);
    expect(await authState(home, 'alice')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  describe('login refuses bad usage before any attempt is counted', () => {
    it.concurrent.each<[string, string[], string | undefined, string, string]>([
      ['-m "1234 56" (a space)', ['-u', 'alice', '-p', PW_ALICE, '-m', '1234 56'], undefined, 'INVALID_METHOD', '-m: contains white space (a code is taken exactly as typed); expected a Duo passcode (1–64 letters and digits) or one of push, phone, sms, auto'],
      ['-m of 65 characters', ['-u', 'alice', '-p', PW_ALICE, '-m', '7'.repeat(65)], undefined, 'INVALID_METHOD', '-m: has 65 characters, at most 64 allowed'],
      ['neither -u nor -a', ['-p', PW_ALICE], undefined, 'USAGE', 'login: pass either -u USER or -a APPLICATION'],
      ['both -u and -a', ['-u', 'alice', '-a', 'app', '-p', PW_ALICE], undefined, 'USAGE', 'login: pass either -u USER or -a APPLICATION'],
      ['no password on a non-TTY', ['-u', 'alice'], undefined, 'USAGE', 'password required: pass --password-stdin (or -p) when not on a terminal'],
      ['-p and --password-stdin', ['-u', 'alice', '-p', PW_ALICE, '--password-stdin'], `${PW_ALICE}\n`, 'USAGE', '-p and --password-stdin cannot be used together'],
      ['--timeout 0', ['-u', 'alice', '-p', PW_ALICE, '--timeout', '0'], undefined, 'USAGE', '--timeout: expected whole seconds between 1 and 3600, received "0"'],
      ['--timeout 3601', ['-u', 'alice', '-p', PW_ALICE, '--timeout', '3601'], undefined, 'USAGE', 'received "3601"'],
      ['a password too short to be one', ['-u', 'alice', '-p', 'short'], undefined, 'INVALID_PASSWORD', 'password: too short'],
      ['a bad user name', ['-u', 'bad name', '-p', PW_ALICE], undefined, 'INVALID_NAME', 'user name: "bad name" is not valid'],
    ])('%s: exit 2', async (_title, args, input, code, message) => {
      expectRefused(await ssrun(['login', ...args], { home, input }), 2, code, message);
    });

    it('alice has no failures recorded', async () => {
      expect(await authState(home, 'alice')).toEqual({ FailedAttempts: 0, LockedUntil: null });
    });
  });

  describe('with an MFA configuration', () => {
    beforeAll(async () => {
      ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: config('Unreachable', '127.0.0.1:1') }));
      ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/Bob', '-m', 'bob', '-c', 'Unreachable'], { home }));
    });

    it('without -m (not on a terminal): MFA required, exit 5, not counted as a failure', async () => {
      expectRefused(await ssrun(['login', '-u', 'bob', '-p', PW_BOB], { home }), 5, 'MFA_REQUIRED', 'MFA required: pass -m with a passcode or one of push, phone, sms, auto');
      expect(await authState(home, 'bob')).toEqual({ FailedAttempts: 0, LockedUntil: null });
    });

    it('a provider that cannot be reached: exit 7, login denied, not counted as a failure', async () => {
      const r = await ssrun(['login', '-u', 'bob', '-p', PW_BOB, '-m', 'push', '--timeout', '10'], { home });
      expectRefused(r, 7, 'PROVIDER_UNAVAILABLE', /login denied: cannot reach Duo at 127\.0\.0\.1:1/);
      expect(await authState(home, 'bob')).toEqual({ FailedAttempts: 0, LockedUntil: null });
    });

    it('the wrong password still fails first, with the same message', async () => {
      const r = await ssrun(['login', '-u', 'bob', '-p', WRONG, '-m', 'push'], { home });
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([5, '', DENIED]);
      expect(await authState(home, 'bob')).toEqual({ FailedAttempts: 1, LockedUntil: null });
    });
  });

  it('user delete removes its MFA assignment too', async () => {
    ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/alice', '-m', 'alice', '-c', 'Unreachable'], { home }));
    const listed = async () => json(ok(await ssrun(['mfa', 'get', '-n', 'Unreachable', '-v'], { home }))).Principals.map((p: any) => p.Principal).sort();
    expect(await listed()).toEqual(['principal/internal/user/Bob', 'principal/internal/user/alice']);
    const r = ok(await ssrun(['user', 'delete', '-n', 'Alice'], { home }));
    expect(json(r)).toEqual({ Deleted: 'principal/internal/user/alice', MfaAssignmentRemoved: true });
    expect(await listed()).toEqual(['principal/internal/user/Bob']);
    expectRefused(await ssrun(['user', 'get', '-n', 'alice'], { home }), 3, 'PRINCIPAL_NOT_FOUND');
    expectRefused(await ssrun(['user', 'delete', '-n', 'alice'], { home }), 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/user/alice not found');
    expectRefused(await ssrun(['user', 'delete', '-n', 'a b'], { home }), 2, 'INVALID_NAME');
  });
});

describe('applications', () => {
  let home: string;
  let apiKey: string;
  beforeAll(() => {
    home = tempHome();
  });

  it('application create prints the API key, once', async () => {
    const r = ok(await ssrun(['application', 'create', '-n', 'ci-bot'], { home, revealsSecrets: true }));
    const out = json(r);
    expect(Object.keys(out)).toEqual(['Name', 'Principal', 'Mfa', 'ApiKey']);
    expect(out).toMatchObject({ Name: 'ci-bot', Principal: 'principal/internal/application/ci-bot', Mfa: null });
    apiKey = secret(out.ApiKey);
    expect(apiKey).toMatch(/^ssk_[A-Za-z0-9_-]{43}$/);
  });

  it('application get never shows it', async () => {
    const list = json<any[]>(ok(await ssrun(['application', 'get'], { home })));
    expect(list).toEqual([{ Name: 'ci-bot', Principal: 'principal/internal/application/ci-bot', Mfa: null }]);
    const one = json(ok(await ssrun(['application', 'get', '-n', 'CI-BOT', '-v'], { home })));
    expect(Object.keys(one)).toEqual(['Name', 'Principal', 'Mfa', 'CreatedAt', 'UpdatedAt', 'FailedAttempts', 'LockedUntil', 'RecoveryCodesLeft', 'Lockout']);
    const table = ok(await ssrun(['application', 'get', '--output', 'table', '-v'], { home }));
    expect(table.stdout).toContain('ci-bot');
    expect(table.stdout).not.toContain('ssk_');
    expectRefused(await ssrun(['application', 'get', '-n', 'other'], { home }), 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/application/other not found');
  });

  it('a duplicate (in another case) is refused', async () => {
    expectRefused(await ssrun(['application', 'create', '-n', 'CI-Bot'], { home }), 4, 'PRINCIPAL_EXISTS', 'principal/internal/application/CI-Bot already exists');
    expectRefused(await ssrun(['application', 'create', '-n', 'bad name'], { home }), 2, 'INVALID_NAME', 'application name: "bad name" is not valid');
  });

  it('login -a NAME -k KEY and --api-key-stdin', async () => {
    const k = ok(await ssrun(['login', '-a', 'ci-bot', '-k', apiKey], { home }));
    expect(json(k)).toMatchObject({ Principal: 'principal/internal/application/ci-bot', Factor: 'api-key' });
    declareSessionToken(home);
    const s = ok(await ssrun(['login', '--application', 'ci-bot', '--api-key-stdin'], { home, input: `${apiKey}\n` }));
    expect(Object.keys(json(s))).toEqual(['Principal', 'Factor', 'ExpiresAt']);
    declareSessionToken(home);
    expect(json(ok(await ssrun(['logout'], { home })))).toEqual({ Principal: 'principal/internal/application/ci-bot', LoggedOut: true });
  });

  it('a wrong key and an unknown application: the same message and exit 5', async () => {
    const wrongKey = secret(`ssk_${'A'.repeat(43)}`);
    for (const args of [['-a', 'ci-bot', '-k', wrongKey], ['-a', 'nobody', '-k', apiKey]]) {
      const r = await ssrun(['login', ...args], { home });
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([5, '', DENIED]);
    }
    expect(json(ok(await ssrun(['application', 'get', '-n', 'ci-bot', '-v'], { home }))).FailedAttempts).toBe(1);
  });

  it('usage errors', async () => {
    expectRefused(await ssrun(['login', '-a', 'ci-bot'], { home }), 2, 'USAGE', 'API key required: pass --api-key-stdin (or -k) when not on a terminal');
    expectRefused(await ssrun(['login', '-a', 'ci-bot', '-k', apiKey, '--api-key-stdin'], { home, input: apiKey }), 2, 'USAGE', '-k and --api-key-stdin cannot be used together');
  });

  it('application delete', async () => {
    expect(json(ok(await ssrun(['application', 'delete', '-n', 'ci-bot'], { home })))).toEqual({ Deleted: 'principal/internal/application/ci-bot', MfaAssignmentRemoved: false });
    const r = await ssrun(['login', '-a', 'ci-bot', '-k', apiKey], { home });
    expect([r.exitCode, r.stderr]).toEqual([5, DENIED]);
    expectRefused(await ssrun(['application', 'delete', '-n', 'ci-bot'], { home }), 3, 'PRINCIPAL_NOT_FOUND');
    expect(ok(await ssrun(['application', 'get'], { home })).stdout).toBe('[]\n');
  });
});

// The embedded store only: a server is initialized once, before it is administered (see test/remote/).
describe.skipIf(isRemote())('init', () => {
  let home: string;
  beforeAll(async () => {
    home = tempHome();
    // a store (a read would not make one)
    ok(await ssrun(['mfa', 'create', '-f', 'fixtures/mfa/duo.json'], { home }));
  });

  it('needs --password-stdin when not on a terminal', async () => {
    expectRefused(await ssrun(['init'], { home }), 2, 'USAGE', 'ssrun: error: root password required: pass --password-stdin when not on a terminal (USAGE)');
    expectRefused(await ssrun(['init', '--password-stdin'], { home, input: 'short\n' }), 2, 'INVALID_PASSWORD', 'root password: too short; at least 10 characters required');
  });

  it('sets the root password once; root logs in; root cannot be deleted or re-created', async () => {
    const r = ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
    expect(json(r)).toEqual({ Initialized: true, Principal: 'principal/internal/user/root' });
    expectRefused(await ssrun(['init', '--password-stdin'], { home, input: `${PW_OTHER}\n` }), 4, 'ALREADY_INITIALIZED', 'this store is already initialized (root has a password)');
    expect(json(ok(await ssrun(['login', '-u', 'root', '--password-stdin'], { home, input: `${PW_ROOT}\n` }))).Principal).toBe('principal/internal/user/root');
    declareSessionToken(home);
    expectRefused(await ssrun(['user', 'delete', '-n', 'ROOT'], { home }), 4, 'ROOT_PROTECTED', 'root cannot be deleted');
    expectRefused(await ssrun(['user', 'create', '-n', 'root', '-p', PW_OTHER], { home }), 4, 'PRINCIPAL_EXISTS', 'is reserved');
    expect(json<any[]>(ok(await ssrun(['user', 'get'], { home }))).map((u) => u.Name)).toEqual(['root']);
  });
});

describe('lockout', () => {
  let home: string;
  beforeAll(async () => {
    home = tempHome();
    ok(await ssrun(['user', 'get'], { home }));
    await Promise.all([
      ssrun(['user', 'create', '-n', 'locky', '-p', PW_LOCKY], { home }).then(ok),
      ssrun(['user', 'create', '-n', 'other', '-p', PW_OTHER], { home }).then(ok),
    ]);
    expect(json<any[]>(ok(await ssrun(['user', 'get'], { home }))).map((u) => u.Name)).toEqual(withRoot(['locky', 'other'], 'root'));
  });

  it('5 wrong passwords lock the user: the 6th attempt, even with the right password, exits 6', async () => {
    for (let i = 1; i <= 5; i++) {
      const r = await ssrun(['login', '-u', 'locky', '-p', WRONG], { home });
      expect([r.exitCode, r.stderr]).toEqual([5, DENIED]);
    }
    const state = await authState(home, 'locky');
    expect(state.FailedAttempts).toBe(5);
    expect(state.LockedUntil).toMatch(ISO);
    const minutes = (Date.parse(state.LockedUntil) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(14);
    expect(minutes).toBeLessThanOrEqual(15);
    const r = await ssrun(['login', '-u', 'locky', '-p', PW_LOCKY], { home });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([6, '', `ssrun: error: principal/internal/user/locky is locked until ${state.LockedUntil} after 5 failed attempts (LOCKED_OUT)\n`]);
    expect(await authState(home, 'locky')).toEqual(state);
  });

  it('the lock of one user never blocks another', async () => {
    const r = ok(await ssrun(['login', '-u', 'other', '-p', PW_OTHER], { home }));
    expect(json(r).Principal).toBe('principal/internal/user/other');
    declareSessionToken(home);
    expect(await authState(home, 'other')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it('once the lock has expired the right password logs in and resets the count', async () => {
    // The lockout counters are kept by subject (the principal path) and client address.
    expect((await storeSql(home, `UPDATE throttle SET locked_until = ? WHERE subject = 'principal/internal/user/locky' AND locked_until IS NOT NULL`, [new Date(Date.now() - 1000)])).changes).toBeGreaterThan(0);
    ok(await ssrun(['login', '-u', 'locky', '-p', PW_LOCKY], { home }));
    declareSessionToken(home);
    expect(await authState(home, 'locky')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it('after an expired lock, an attempt that is refunded (MFA required) does not lock the user again', async () => {
    const expired = new Date(Date.now() - 1000).toISOString();
    expect((await storeSql(home, `INSERT INTO throttle (subject, address, failed_count, locked_until) VALUES ('principal/internal/user/locky', '*', 5, ?)`, [expired])).changes).toBe(1);
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: config('LockCfg') }));
    ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/locky', '-m', 'locky', '-c', 'LockCfg'], { home }));
    expectRefused(await ssrun(['login', '-u', 'locky', '-p', PW_LOCKY], { home }), 5, 'MFA_REQUIRED');
    expect(await authState(home, 'locky')).toEqual({ FailedAttempts: 5, LockedUntil: expired });
    ok(await ssrun(['mfa', 'remove-principal', '-p', 'principal/internal/user/locky'], { home }));
    ok(await ssrun(['login', '-u', 'locky', '-p', PW_LOCKY], { home }));
    declareSessionToken(home);
    expect(await authState(home, 'locky')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });

  it('8 parallel wrong guesses: exactly 5 are checked, 3 are refused as locked', async () => {
    ok(await ssrun(['user', 'create', '-n', 'rushed', '-p', PW_OTHER], { home }));
    const results = await Promise.all(Array.from({ length: 8 }, () => ssrun(['login', '-u', 'rushed', '-p', WRONG], { home })));
    const codes = results.map((r) => r.exitCode).sort();
    expect(codes, results.map((r) => `${r.exitCode}: ${r.stderr}`).join('')).toEqual([5, 5, 5, 5, 5, 6, 6, 6]);
    for (const r of results) expect(r.stderr).toMatch(r.exitCode === 5 ? /^ssrun: error: authentication denied/ : /^ssrun: error: principal\/internal\/user\/rushed is locked until /);
    expect((await authState(home, 'rushed')).FailedAttempts).toBe(5);
    // Nobody else is affected.
    expect(await authState(home, 'other')).toEqual({ FailedAttempts: 0, LockedUntil: null });
  });
});

// The command line itself, and failures of the embedded store: nothing here depends on the backend.
describe.skipIf(isRemote())('the command line', () => {
  let home: string;
  beforeAll(async () => {
    home = tempHome();
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: config('Cfg') }));
  });

  it('--help, help and --version exit 0 on stdout', async () => {
    const h = ok(await ssrun(['--help'], { home }));
    expect(h.stdout).toMatch(/^Usage: ssrun \[options\] \[command\]\n/);
    expect(h.stdout).toContain('  mfa ');
    expect(h.stderr).toBe('');
    const sub = ok(await ssrun(['mfa', 'get', '--help'], { home }));
    expect(sub.stdout).toMatch(/^Usage: ssrun mfa get \[options\]\n/);
    expect(sub.stdout).toContain('--show-secrets');
    expect(ok(await ssrun(['help', 'user'], { home })).stdout).toMatch(/^Usage: ssrun user \[options\] \[command\]\n/);
    expect(ok(await ssrun(['login', '-h'], { home })).stdout).toContain('--api-key-stdin');
    const v = ok(await ssrun(['--version'], { home }));
    expect([v.stdout, v.stderr]).toEqual(['0.1.0\n', '']);
  });

  it('an unknown command or option: exit 2, one line (with a suggestion when one is close)', async () => {
    const cmd = await ssrun(['frobnicate'], { home });
    expect([cmd.exitCode, cmd.stdout, cmd.stderr]).toEqual([2, '', "ssrun: error: unknown command 'frobnicate'; see `ssrun --help` (USAGE)\n"]);
    const sub = await ssrun(['mfa', 'gte'], { home });
    expect([sub.exitCode, sub.stdout, sub.stderr]).toEqual([2, '', "ssrun: error: unknown command 'gte' (Did you mean get?); see `ssrun mfa --help` (USAGE)\n"]);
    const opt = await ssrun(['mfa', 'get', '--bogus'], { home });
    expect([opt.exitCode, opt.stdout, opt.stderr]).toEqual([2, '', "ssrun: error: unknown option '--bogus'; see `ssrun mfa get --help` (USAGE)\n"]);
    const near = await ssrun(['mfa', 'get', '--verbos'], { home });
    expect([near.exitCode, near.stderr]).toEqual([2, "ssrun: error: unknown option '--verbos' (Did you mean --verbose?); see `ssrun mfa get --help` (USAGE)\n"]);
    const arg = await ssrun(['mfa', 'get', 'extra'], { home });
    expect([arg.exitCode, arg.stdout]).toEqual([2, '']);
    expect(arg.stderr).toBe("ssrun: error: too many arguments for 'get'. Expected 0 arguments but got 1; see `ssrun mfa get --help` (USAGE)\n");
    const value = await ssrun(['mfa', 'get', '-n'], { home });
    expect([value.exitCode, value.stderr]).toEqual([2, "ssrun: error: option '-n, --name <name>' argument missing; see `ssrun mfa get --help` (USAGE)\n"]);
  });

  it('a command group without its subcommand prints usage on stderr and exits 2', async () => {
    for (const group of [[], ['mfa']]) {
      const r = await ssrun(group, { home });
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^Usage: ssrun/);
    }
  });

  it('errors are one line with no stack trace; SSRUN_DEBUG=1 adds the stack', async () => {
    const plain = await ssrun(['mfa', 'get', '-n', 'missing'], { home });
    expect([plain.exitCode, plain.stdout, plain.stderr]).toEqual([3, '', 'ssrun: error: MFA configuration "missing" not found; `ssrun mfa get` lists them (CONFIG_NOT_FOUND)\n']);
    const debug = await ssrun(['mfa', 'get', '-n', 'missing'], { home, env: { SSRUN_DEBUG: '1' } });
    expect(debug.exitCode).toBe(3);
    const lines = debug.stderr.split('\n');
    expect(lines[0]).toBe('ssrun: error: MFA configuration "missing" not found; `ssrun mfa get` lists them (CONFIG_NOT_FOUND)');
    expect(lines[1]).toMatch(/^SsrunError: /);
    expect(lines.filter((l) => /^\s+at /.test(l)).length).toBeGreaterThan(0);
  });

  it('an unexpected failure (a row damaged by hand) is an internal error: exit 1, one line, stack only with SSRUN_DEBUG=1', async () => {
    const damaged = tempHome();
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home: damaged, input: config('Damaged') }));
    expect((await storeSql(damaged, `UPDATE mfa_configs SET options = '{'`)).changes).toBeGreaterThan(0);
    const r = await ssrun(['mfa', 'get'], { home: damaged });
    expect([r.exitCode, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toMatch(/^ssrun: internal error: [^\n]+ \(INTERNAL\); set SSRUN_DEBUG=1 for details\n$/);
    const debug = await ssrun(['mfa', 'get'], { home: damaged, env: { SSRUN_DEBUG: '1' } });
    expect(debug.exitCode).toBe(1);
    expect(debug.stderr).toMatch(/^ssrun: internal error: [^\n]+ \(INTERNAL\)\n\w*Error: [^\n]+\n\s+at /);
  });

  it('a store that cannot be used: exit 8, nothing changed', async () => {
    const key = await ssrun(['mfa', 'get'], { home, env: { SSRUN_MASTER_KEY: 'not-a-key' } });
    expectRefused(key, 8, 'MASTER_KEY_INVALID', 'SSRUN_MASTER_KEY: expected a 256-bit key as 44 base64 or 64 hex characters, received 9 characters');
    const file = join(dirname(home), 'a-file');
    writeFileSync(file, 'not a directory\n');
    expectRefused(await ssrun(['--home', join(file, 'home'), 'mfa', 'get'], { home }), 8, 'STORE_READ_ONLY', `the store at ${join(file, 'home')} cannot be opened or created (ENOTDIR)`);
    const notDb = join(dirname(home), 'not-a-store');
    mkdirSync(notDb, { mode: 0o700 });
    writeFileSync(join(notDb, 'ssrun.db'), 'this is not SQLite at all, just text\n');
    expectRefused(await ssrun(['--home', notDb, 'mfa', 'get'], { home }), 8, 'STORE_CORRUPT', 'is not an SQLite database; refusing to use or overwrite it');
    expect(readFileSync(join(notDb, 'ssrun.db'), 'utf8')).toBe('this is not SQLite at all, just text\n');
    expect(json<any[]>(ok(await ssrun(['mfa', 'get'], { home }))).map((c) => c.Name)).toEqual(['Cfg', 'totp', 'webauthn']);
  });
});
