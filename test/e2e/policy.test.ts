// MFA policies and groups end to end through the built binary (on both backends: see test/e2e/remote/):
// every `group` and `mfa policy` command with its refusals, the most stringent of several policies and
// `explain`, enforcement at login (enrolment window and deadline, allowed factors, re-verification),
// sessions revoked on activation, root never locked out, and the audit trail.
//
// The CLI runs on the real clock: deadlines and re-verification are reached by moving the recorded times in the
// store (policy_subjects.first_applied_at, principals.last_mfa_at): the SQLite file, or the server's PostgreSQL
// database (test/helpers/store-sql.ts).

import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, isRemote, json, ok, ROOT_PASSWORD, type RunResult, secret, ssrun, tempHome } from '../helpers/cli.js';
import { storeSql, storeValue } from '../helpers/store-sql.js';

afterAll(() => expectNoSecretsLeaked());

const PW = secret('policy-e2e-password-Vb93xQ');
const LOCAL_ROOT_PW = secret('policy-e2e-root-password-Kc4Nq8Wz');
const DENIED = 'ssrun: error: authentication denied: wrong user name, password or passcode (AUTH_DENIED)\n';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const user = (name: string) => `principal/internal/user/${name}`;
const group = (name: string) => `principal/internal/group/${name}`;

/** commander's own usage error, with the documented code and the help to read. */
function expectMissing(r: RunResult, option: string, command: string): void {
  expect([r.exitCode, r.stdout, r.stderr]).toEqual([2, '', `ssrun: error: required option '${option}' not specified; see \`ssrun ${command} --help\` (USAGE)\n`]);
}

// ---- the store, for time travel -----------------------------------------------------------------------------

const PRINCIPAL_ID = `(SELECT id FROM principals WHERE type = 'user' AND name = ?)`;
const firstApplied = (home: string, name: string) => storeValue<string>(home, `SELECT first_applied_at FROM policy_subjects WHERE principal_id = ${PRINCIPAL_ID}`, [name]);
const setFirstApplied = async (home: string, name: string, at: Date) =>
  (await storeSql(home, `UPDATE policy_subjects SET first_applied_at = ? WHERE principal_id = ${PRINCIPAL_ID}`, [at, name])).changes;
const setLastMfa = async (home: string, name: string, at: Date) => (await storeSql(home, `UPDATE principals SET last_mfa_at = ? WHERE type = 'user' AND name = ?`, [at, name])).changes;
const sessionsOf = async (home: string, names: string[]) =>
  (await storeSql<{ n: number }>(home, `SELECT count(*) AS n FROM sessions s JOIN principals p ON p.id = s.principal_id WHERE p.type = 'user' AND p.name IN (${names.map(() => '?').join(', ')})`, names)).rows[0]!.n;

// ---- commands ---------------------------------------------------------------------------------------------

/** The session the CLI keeps for its current context: declared a secret, returned. */
function declareSession(home: string): string {
  const conf = JSON.parse(readFileSync(join(home, 'cli.json'), 'utf8')) as { current?: string; sessions?: Record<string, { token: string }> };
  const token = conf.sessions?.[conf.current ?? 'local']?.token;
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return secret(token!);
}

async function login(home: string, name: string, mfa?: string, password = PW): Promise<RunResult> {
  const r = await ssrun(['login', '-u', name, '--password-stdin', ...(mfa === undefined ? [] : ['-m', mfa])], { home, input: `${password}\n` });
  if (r.exitCode === 0) declareSession(home);
  return r;
}

const createPolicy = (home: string, doc: unknown) => ssrun(['mfa', 'policy', 'create', '-f', '-'], { home, input: typeof doc === 'string' ? doc : JSON.stringify(doc) });
const updatePolicy = (home: string, name: string, doc: unknown) => ssrun(['mfa', 'policy', 'update', '-n', name, '-f', '-'], { home, input: JSON.stringify(doc) });
const policyNames = async (home: string) => json<any[]>(ok(await ssrun(['mfa', 'policy', 'get'], { home }))).map((p) => p.Name);
const explain = async (home: string, name: string) => json(ok(await ssrun(['mfa', 'policy', 'explain', '-u', name], { home })));

async function createUsers(home: string, names: string[]): Promise<void> {
  // One at a time for the first (a local store is created on first use), the rest in parallel.
  ok(await ssrun(['user', 'create', '-n', names[0]!, '--password-stdin'], { home, input: `${PW}\n` }));
  await Promise.all(names.slice(1).map((n) => ssrun(['user', 'create', '-n', n, '--password-stdin'], { home, input: `${PW}\n` }).then(ok)));
}

/** Assigns a TOTP configuration; returns the generated secret (declared). */
async function enrolTotp(home: string, name: string, config: string): Promise<string> {
  const out = json(ok(await ssrun(['mfa', 'assign-principal', '-p', user(name), '-c', config], { home, revealsSecrets: true })));
  return secret(out.Secret as string);
}

// TOTP codes (30 s steps, skew 1): every accepted code must be of a later step than the one before (replays are
// refused), so each principal's next code is of the next unused step, waiting when that is too far ahead.
const usedStep = new Map<string, number>();
const stepNow = () => Math.floor(Date.now() / 30_000);
async function nextCode(key: string, totpSecret: string): Promise<string> {
  const step = Math.max((usedStep.get(key) ?? -1) + 1, stepNow());
  if (step > stepNow() + 1) await new Promise((r) => setTimeout(r, (step - 1) * 30_000 - Date.now() + 200));
  usedStep.set(key, step);
  return generate({ secret: totpSecret, epoch: step * 30 });
}
/** A valid code that the test does not expect to be accepted (a refusal before the code is checked). */
const currentCode = (totpSecret: string) => generate({ secret: totpSecret, epoch: stepNow() * 30 });

const loginNotice = (policy: string, days: number, deadline: string, name: string) =>
  `ssrun: policy ${policy} requires MFA: ${days} day${days === 1 ? '' : 's'} left to enrol (until ${deadline}); ssrun mfa assign-principal -p ${user(name)} -c CONFIG (an administrator), then log in with -m\n`;

// =============================================================================================================

describe('groups, policies and enforcement (one store)', () => {
  let home: string;
  let bobSecret: string;
  let carolSecret: string;
  let apiKey: string;

  beforeAll(async () => {
    home = tempHome('ssrun-policy-');
    await createUsers(home, ['bob', 'carol', 'dave']);
    apiKey = secret(json(ok(await ssrun(['application', 'create', '-n', 'ci-bot'], { home, revealsSecrets: true }))).ApiKey);
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: '{"Type":"totp","Name":"Soft"}' }));
  });

  describe('groups', () => {
    it('group create: the view; names are case-insensitive; bad names refused', async () => {
      const r = ok(await ssrun(['group', 'create', '-n', 'eng'], { home }));
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${JSON.stringify({ Name: 'eng', Group: group('eng'), Members: 0 }, null, 2)}\n`);
      expect(json(ok(await ssrun(['group', 'create', '--name', 'ops'], { home })))).toEqual({ Name: 'ops', Group: group('ops'), Members: 0 });
      expectRefused(await ssrun(['group', 'create', '-n', 'ENG'], { home }), 4, 'GROUP_EXISTS', 'principal/internal/group/ENG already exists (names are case-insensitive)');
      expectRefused(await ssrun(['group', 'create', '-n', 'a/b'], { home }), 2, 'INVALID_NAME', 'group name: "a/b" is not valid; expected 1–120 characters of letters, digits and . _ @ + -');
      expectRefused(await ssrun(['group', 'create', '-n', '..'], { home }), 2, 'INVALID_NAME', 'group name: ".." is not valid');
      expectMissing(await ssrun(['group', 'create'], { home }), '-n, --name <name>', 'group create');
    });

    it('group add-member / remove-member: users and applications; duplicates and unknowns refused', async () => {
      expect(json(ok(await ssrun(['group', 'add-member', '-n', 'eng', '-p', user('bob')], { home })))).toEqual({ Group: group('eng'), Member: user('bob'), NewlyCoveredByPolicy: false });
      ok(await ssrun(['group', 'add-member', '-n', 'ENG', '-p', user('carol')], { home }));
      expect(json(ok(await ssrun(['group', 'add-member', '-n', 'ops', '-p', 'principal/internal/application/ci-bot'], { home })))).toMatchObject({ Member: 'principal/internal/application/ci-bot' });
      expectRefused(await ssrun(['group', 'add-member', '-n', 'eng', '-p', user('BOB')], { home }), 4, 'MEMBER_EXISTS', 'principal/internal/user/bob is already a member of principal/internal/group/eng');
      expectRefused(await ssrun(['group', 'add-member', '-n', 'nope', '-p', user('bob')], { home }), 3, 'GROUP_NOT_FOUND', 'principal/internal/group/nope not found');
      expectRefused(await ssrun(['group', 'add-member', '-n', 'eng', '-p', user('nobody')], { home }), 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/user/nobody not found');
      expectRefused(await ssrun(['group', 'add-member', '-n', 'eng', '-p', group('ops')], { home }), 2, 'UNSUPPORTED_PRINCIPAL_TYPE');
      expectRefused(await ssrun(['group', 'add-member', '-n', 'eng', '-p', 'bob'], { home }), 2, 'INVALID_PRINCIPAL');

      expect(json(ok(await ssrun(['group', 'remove-member', '-n', 'eng', '-p', user('carol')], { home })))).toEqual({ Group: group('eng'), Removed: user('carol') });
      expectRefused(await ssrun(['group', 'remove-member', '-n', 'eng', '-p', user('carol')], { home }), 3, 'MEMBER_NOT_FOUND', 'principal/internal/user/carol is not a member of principal/internal/group/eng');
      expectRefused(await ssrun(['group', 'remove-member', '-n', 'nope', '-p', user('carol')], { home }), 3, 'GROUP_NOT_FOUND');
    });

    it('group get: sorted by name; -n without regard to case; -v lists members; table; not found', async () => {
      expect(json(ok(await ssrun(['group', 'get'], { home })))).toEqual([
        { Name: 'eng', Group: group('eng'), Members: 1 },
        { Name: 'ops', Group: group('ops'), Members: 1 },
      ]);
      const v = json(ok(await ssrun(['group', 'get', '-n', 'ENG', '-v'], { home })));
      expect(v).toEqual({ Name: 'eng', Group: group('eng'), Members: [user('bob')], CreatedAt: expect.stringMatching(ISO) });
      expect(json<any[]>(ok(await ssrun(['group', 'get', '-v'], { home })))[1].Members).toEqual(['principal/internal/application/ci-bot']);
      const table = ok(await ssrun(['group', 'get', '--output', 'table'], { home }));
      expect(table.stdout.split('\n')[1]).toMatch(/^│ Name +│ Group +│ Members +│$/);
      expect(table.stdout).toContain('principal/internal/group/ops');
      expectRefused(await ssrun(['group', 'get', '-n', 'nope'], { home }), 3, 'GROUP_NOT_FOUND', 'principal/internal/group/nope not found');
    });
  });

  describe('policy commands', () => {
    const ENGINEERS = {
      Name: 'engineers',
      Factors: 'any',
      EnrollWithinDays: 7,
      ReverifyAfterHours: 12,
      Targets: [group('eng'), user('carol')],
      Active: true,
    };

    it('create -f FILE: the stored policy with SessionsRevoked, and a notice', async () => {
      const file = join(dirname(home), 'engineers.json');
      writeFileSync(file, JSON.stringify(ENGINEERS));
      const r = ok(await ssrun(['mfa', 'policy', 'create', '-f', file], { home }));
      const out = json(r);
      expect(Object.keys(out)).toEqual(['Name', 'Factors', 'EnrollWithinDays', 'ReverifyAfterHours', 'Targets', 'Active', 'CreatedAt', 'UpdatedAt', 'SessionsRevoked']);
      expect(out).toEqual({ ...ENGINEERS, CreatedAt: expect.stringMatching(ISO), UpdatedAt: out.CreatedAt, SessionsRevoked: 0 });
      expect(r.stderr).toBe('ssrun: policy engineers is active; 0 sessions of newly covered principals revoked\n');
      // The enrolment window of every newly covered principal starts now.
      for (const n of ['bob', 'carol']) expect(Math.abs(Date.parse((await firstApplied(home, n))!) - Date.parse(out.CreatedAt))).toBeLessThan(5000);
      expect(await firstApplied(home, 'dave')).toBeUndefined();
    });

    it('create -f -: keys in any case, defaults filled in, target paths as stored; inactive: no notice', async () => {
      const r = ok(await createPolicy(home, { name: 'ops-review', FACTORS: ['totp'], targets: [group('OPS')], active: false }));
      expect(r.stderr).toBe('');
      expect(json(r)).toEqual({
        Name: 'ops-review',
        Factors: ['totp'],
        EnrollWithinDays: 0,
        ReverifyAfterHours: null,
        Targets: [group('ops')],
        Active: false,
        CreatedAt: expect.stringMatching(ISO),
        UpdatedAt: expect.stringMatching(ISO),
        SessionsRevoked: 0,
      });
    });

    it.concurrent.each<[string, string | object, number, string, string]>([
      ['an upper-case name', { Name: 'Eng' }, 2, 'INVALID_POLICY', 'Name: "Eng" is not a policy name; expected 1–63 characters of a–z, 0–9 and -, starting with a letter'],
      ['a name starting with a digit', { Name: '1eng' }, 2, 'INVALID_POLICY', 'Name: "1eng" is not a policy name'],
      ['a name with _', { Name: 'eng_x' }, 2, 'INVALID_POLICY', 'Name: "eng_x" is not a policy name'],
      ['a 64-character name', { Name: `a${'b'.repeat(63)}` }, 2, 'INVALID_POLICY', 'is not a policy name'],
      ['an empty name', { Name: '' }, 2, 'INVALID_POLICY', 'Name: "" is not a policy name'],
      ['no name', { Factors: 'any' }, 2, 'INVALID_POLICY', 'Name: required, but missing'],
      ['a misspelt key', { Name: 'x1', Factor: 'any' }, 2, 'INVALID_POLICY', 'Factor: unknown key; did you mean "Factors"?'],
      ['another misspelt key', { Name: 'x2', EnrolWithinDays: 3 }, 2, 'INVALID_POLICY', 'EnrolWithinDays: unknown key; did you mean "EnrollWithinDays"?'],
      ['a key given twice', { Name: 'x3', active: true, Active: false }, 2, 'INVALID_POLICY', 'Active: given twice (keys are case-insensitive)'],
      ['an unknown group target', { Name: 'x4', Targets: [group('nope')] }, 3, 'GROUP_NOT_FOUND', 'Targets: principal/internal/group/nope not found; `ssrun group create -n nope` first'],
      ['an unknown user target', { Name: 'x5', Targets: [user('nobody')] }, 3, 'PRINCIPAL_NOT_FOUND', 'Targets: principal/internal/user/nobody not found'],
      ['a target that is no principal path', { Name: 'x6', Targets: ['principal/external/user/x'] }, 2, 'INVALID_POLICY', 'Targets[0]: "principal/external/user/x" is not a target; expected principal/internal/user/NAME, principal/internal/application/NAME or principal/internal/group/NAME'],
      ['Targets not a list', { Name: 'x7', Targets: group('eng') }, 2, 'INVALID_POLICY', 'Targets: expected a list of principal paths, received a string'],
      ['an unknown configuration in Factors', { Name: 'x8', Factors: ['totp', 'nope'] }, 2, 'INVALID_POLICY', 'Factors[1]: no MFA configuration named "nope"; `ssrun mfa get` lists them'],
      ['an empty Factors list', { Name: 'x9', Factors: [] }, 2, 'INVALID_POLICY', 'Factors: an empty list allows no factor at all; expected "any", "phishing-resistant" or configuration names'],
      ['a Factors word that is not one', { Name: 'x10', Factors: 'all' }, 2, 'INVALID_POLICY', 'Factors: expected "any", "phishing-resistant" or a list of configuration names, received "all"'],
      ['a negative EnrollWithinDays', { Name: 'x11', EnrollWithinDays: -1 }, 2, 'INVALID_POLICY', 'EnrollWithinDays: expected a whole number from 0 to 365, received -1'],
      ['a fractional EnrollWithinDays', { Name: 'x12', EnrollWithinDays: 1.5 }, 2, 'INVALID_POLICY', 'EnrollWithinDays: expected a whole number from 0 to 365, received 1.5'],
      ['EnrollWithinDays as a string', { Name: 'x13', EnrollWithinDays: '7' }, 2, 'INVALID_POLICY', 'EnrollWithinDays: expected a whole number from 0 to 365, received a string'],
      ['ReverifyAfterHours 0', { Name: 'x14', ReverifyAfterHours: 0 }, 2, 'INVALID_POLICY', 'ReverifyAfterHours: expected a whole number from 1 to 8760, received 0'],
      ['Active as a string', { Name: 'x15', Active: 'yes' }, 2, 'INVALID_POLICY', 'Active: expected true or false, received a string'],
      ['not an object', '["engineers"]', 2, 'INVALID_POLICY', 'expected a JSON object such as {"Name":"engineers","Factors":"any","Targets":[…]}, received an array'],
      ['malformed JSON', '{"Name":', 2, 'INVALID_JSON', 'stdin: malformed JSON'],
    ])('create refused: %s (nothing created)', async (_t, doc, exitCode, code, message) => {
      expectRefused(await createPolicy(home, doc), exitCode, code, message);
    });

    it('create refused: a name that exists (exit 4 POLICY_EXISTS); a missing file (exit 2); the refusals created nothing', async () => {
      expectRefused(await createPolicy(home, { ...ENGINEERS, Active: false }), 4, 'POLICY_EXISTS', 'MFA policy "engineers" already exists; use `ssrun mfa policy update`');
      expectRefused(await ssrun(['mfa', 'policy', 'create', '-f', join(dirname(home), 'missing.json')], { home }), 2, 'FILE_UNREADABLE', 'no such file');
      expect(await policyNames(home)).toEqual(['engineers', 'ops-review']);
      expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'engineers'], { home }))).Active).toBe(true);
    });

    it('get: every policy sorted by name, -n one, table; not found and bad names refused', async () => {
      const list = json<any[]>(ok(await ssrun(['mfa', 'policy', 'get'], { home })));
      expect(list.map((p) => p.Name)).toEqual(['engineers', 'ops-review']);
      expect(list[0]).toEqual({ ...ENGINEERS, CreatedAt: expect.stringMatching(ISO), UpdatedAt: expect.stringMatching(ISO) });
      expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'ops-review'], { home })))).toEqual(list[1]);
      const table = ok(await ssrun(['mfa', 'policy', 'get', '--output', 'table'], { home }));
      expect(table.stdout.split('\n')[1]).toMatch(/^│ Name +│ Factors +│ EnrollWithinDays +│ ReverifyAfterHours +│ Targets +│ Active +│ CreatedAt +│ UpdatedAt +│$/);
      expectRefused(await ssrun(['mfa', 'policy', 'get', '-n', 'nope'], { home }), 3, 'POLICY_NOT_FOUND', 'MFA policy "nope" not found; `ssrun mfa policy get` lists them');
      expectRefused(await ssrun(['mfa', 'policy', 'get', '-n', 'Engineers'], { home }), 2, 'INVALID_POLICY', 'policy name (-n): "Engineers" is not a policy name');
    });

    it('update: replaces the policy (Name omitted or the same); the name never changes', async () => {
      const before = json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'ops-review'], { home })));
      const r = ok(await updatePolicy(home, 'ops-review', { Factors: ['totp', 'Soft'], EnrollWithinDays: 3, ReverifyAfterHours: 24, Targets: [group('ops')], Active: false }));
      expect(r.stderr).toBe('');
      expect(json(r)).toEqual({
        Name: 'ops-review',
        Factors: ['totp', 'Soft'],
        EnrollWithinDays: 3,
        ReverifyAfterHours: 24,
        Targets: [group('ops')],
        Active: false,
        CreatedAt: before.CreatedAt,
        UpdatedAt: expect.stringMatching(ISO),
        SessionsRevoked: 0,
      });
      expect(Date.parse(json(r).UpdatedAt)).toBeGreaterThan(Date.parse(before.UpdatedAt));
      ok(await updatePolicy(home, 'ops-review', { Name: 'ops-review', Factors: ['totp', 'Soft'], EnrollWithinDays: 3, ReverifyAfterHours: 24, Targets: [group('ops')], Active: false }));

      expectRefused(await updatePolicy(home, 'ops-review', { Name: 'ops-renamed', Factors: 'any', Active: false }), 2, 'NAME_IMMUTABLE', 'Name: the file says "ops-renamed" but -n says "ops-review"; a policy\'s name cannot change');
      expectRefused(await updatePolicy(home, 'nope', { Factors: 'any' }), 3, 'POLICY_NOT_FOUND', 'MFA policy "nope" not found');
      expectRefused(await updatePolicy(home, 'OPS', { Factors: 'any' }), 2, 'INVALID_POLICY', 'policy name (-n): "OPS" is not a policy name');
      expectRefused(await updatePolicy(home, 'ops-review', { Factors: ['nope'], Active: false }), 2, 'INVALID_POLICY', 'Factors[0]: no MFA configuration named "nope"');
      expectRefused(await updatePolicy(home, 'ops-review', { Targts: [] }), 2, 'INVALID_POLICY', 'Targts: unknown key; did you mean "Targets"?');
      expectRefused(await updatePolicy(home, 'ops-review', { Targets: [group('nope')], Active: false }), 3, 'GROUP_NOT_FOUND');
      expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'ops-review'], { home })))).toMatchObject({ Name: 'ops-review', EnrollWithinDays: 3, Targets: [group('ops')], Active: false });
      expect(await policyNames(home)).toEqual(['engineers', 'ops-review']);
    });

    it('activate / deactivate: Active flips; activation says how many sessions it revoked', async () => {
      const a = ok(await ssrun(['mfa', 'policy', 'activate', '-n', 'ops-review'], { home }));
      expect(json(a)).toMatchObject({ Name: 'ops-review', Active: true, SessionsRevoked: 0 });
      expect(a.stderr).toBe('ssrun: policy ops-review is active; 0 sessions of newly covered principals revoked\n');
      const d = ok(await ssrun(['mfa', 'policy', 'deactivate', '-n', 'ops-review'], { home }));
      expect(json(d)).toMatchObject({ Name: 'ops-review', Active: false, SessionsRevoked: 0 });
      expect(d.stderr).toBe('');
      expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'ops-review'], { home }))).Active).toBe(false);
      expectRefused(await ssrun(['mfa', 'policy', 'activate', '-n', 'nope'], { home }), 3, 'POLICY_NOT_FOUND', 'MFA policy "nope" not found');
      expectRefused(await ssrun(['mfa', 'policy', 'deactivate', '-n', 'nope'], { home }), 3, 'POLICY_NOT_FOUND');
      expectRefused(await ssrun(['mfa', 'policy', 'activate', '-n', 'Bad Name'], { home }), 2, 'INVALID_POLICY');
      expectMissing(await ssrun(['mfa', 'policy', 'activate'], { home }), '-n, --name <name>', 'mfa policy activate');
    });

    it('explain: no policy; one through a group; the most stringent of several, each requirement with the policy that set it; inactive ones ignored', async () => {
      expect(await explain(home, 'dave')).toEqual({ Principal: user('dave'), Groups: [], Policies: [], Enforced: false, Requirements: null });
      expect(json(ok(await ssrun(['mfa', 'policy', 'explain', '-p', 'principal/internal/application/ci-bot'], { home })))).toEqual({
        Principal: 'principal/internal/application/ci-bot',
        Groups: [group('ops')],
        Policies: [{ Name: 'ops-review', Active: false }],
        Enforced: false,
        Requirements: null,
      });

      const start = Date.parse((await firstApplied(home, 'bob'))!);
      expect(await explain(home, 'bob')).toEqual({
        Principal: user('bob'),
        Groups: [group('eng')],
        Policies: [{ Name: 'engineers', Active: true }],
        Enforced: true,
        Requirements: {
          Factors: { Value: 'any', From: ['engineers'] },
          EnrollWithinDays: { Value: 7, From: ['engineers'] },
          ReverifyAfterHours: { Value: 12, From: ['engineers'] },
        },
        Status: { Factor: null, EnrollBy: new Date(start + 7 * DAY).toISOString(), DeadlinePassed: false },
      });

      // Two more on bob: the smallest window, the shortest re-verification, the intersection of the factor sets.
      ok(await createPolicy(home, { Name: 'oncall', Factors: ['totp', 'Soft'], EnrollWithinDays: 3, ReverifyAfterHours: 24, Targets: [user('bob')] }));
      ok(await createPolicy(home, { Name: 'pager', Factors: ['Totp'], EnrollWithinDays: 5, ReverifyAfterHours: 12, Targets: [group('eng')] }));
      ok(await createPolicy(home, { Name: 'slow', Factors: ['Soft'], EnrollWithinDays: 1, ReverifyAfterHours: 1, Targets: [user('bob')], Active: false }));
      expect(await explain(home, 'bob')).toEqual({
        Principal: user('bob'),
        Groups: [group('eng')],
        Policies: [
          { Name: 'engineers', Active: true },
          { Name: 'oncall', Active: true },
          { Name: 'pager', Active: true },
          { Name: 'slow', Active: false },
        ],
        Enforced: true,
        Requirements: {
          Factors: { Value: 'totp', From: ['oncall', 'pager'] },
          EnrollWithinDays: { Value: 3, From: ['oncall'] },
          ReverifyAfterHours: { Value: 12, From: ['engineers', 'pager'] },
        },
        // The window still starts when a policy first applied to bob.
        Status: { Factor: null, EnrollBy: new Date(start + 3 * DAY).toISOString(), DeadlinePassed: false },
      });
      // -u and -p name the same principal; exactly one of them.
      expect(json(ok(await ssrun(['mfa', 'policy', 'explain', '-p', user('BOB')], { home }))).Requirements.EnrollWithinDays).toEqual({ Value: 3, From: ['oncall'] });
      expectRefused(await ssrun(['mfa', 'policy', 'explain'], { home }), 2, 'USAGE', 'mfa policy explain: pass either -u USER or -p PRINCIPAL');
      expectRefused(await ssrun(['mfa', 'policy', 'explain', '-u', 'bob', '-p', user('bob')], { home }), 2, 'USAGE');
      expectRefused(await ssrun(['mfa', 'policy', 'explain', '-u', 'nobody'], { home }), 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/user/nobody not found');
    });

    it('delete: gone, and no longer applies; deleting again: not found', async () => {
      for (const n of ['oncall', 'pager', 'slow']) {
        const r = ok(await ssrun(['mfa', 'policy', 'delete', '-n', n], { home }));
        expect(json(r)).toEqual({ Deleted: n });
        expect(r.stderr).toBe('');
      }
      expectRefused(await ssrun(['mfa', 'policy', 'delete', '-n', 'oncall'], { home }), 3, 'POLICY_NOT_FOUND', 'MFA policy "oncall" not found');
      expectRefused(await ssrun(['mfa', 'policy', 'get', '-n', 'oncall'], { home }), 3, 'POLICY_NOT_FOUND');
      expectRefused(await ssrun(['mfa', 'policy', 'delete', '-n', 'X'], { home }), 2, 'INVALID_POLICY');
      expect(await policyNames(home)).toEqual(['engineers', 'ops-review']);
      expect((await explain(home, 'bob')).Requirements).toEqual({
        Factors: { Value: 'any', From: ['engineers'] },
        EnrollWithinDays: { Value: 7, From: ['engineers'] },
        ReverifyAfterHours: { Value: 12, From: ['engineers'] },
      });
    });

    it('an empty intersection of factor sets is refused (exit 2 EMPTY_FACTOR_SET), on create, activate and update; nothing changed', async () => {
      ok(await createPolicy(home, { Name: 'totp-only', Factors: ['totp'], EnrollWithinDays: 7, Targets: [group('eng')] }));
      expectRefused(
        await createPolicy(home, { Name: 'soft-only', Factors: ['Soft'], EnrollWithinDays: 7, Targets: [user('bob')] }),
        2,
        'EMPTY_FACTOR_SET',
        'principal/internal/user/bob would be allowed no factor at all: soft-only and totp-only together allow (none), and no configuration satisfies that; nothing was changed',
      );
      expectRefused(
        await createPolicy(home, { Name: 'phish', Factors: 'phishing-resistant', EnrollWithinDays: 7, Targets: [group('eng')] }),
        2,
        'EMPTY_FACTOR_SET',
        'phish and totp-only together allow phishing-resistant and totp',
      );
      expect(await policyNames(home)).toEqual(['engineers', 'ops-review', 'totp-only']);
      // Inactive, it enforces nothing and conflicts with nothing; activated, it would.
      ok(await createPolicy(home, { Name: 'soft-only', Factors: ['Soft'], EnrollWithinDays: 7, Targets: [user('bob')], Active: false }));
      expectRefused(await ssrun(['mfa', 'policy', 'activate', '-n', 'soft-only'], { home }), 2, 'EMPTY_FACTOR_SET', 'principal/internal/user/bob would be allowed no factor at all');
      expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'soft-only'], { home }))).Active).toBe(false);
      // An update that would make it so.
      ok(await createPolicy(home, { Name: 'either', Factors: ['Soft', 'totp'], EnrollWithinDays: 7, Targets: [user('dave')] }));
      expectRefused(await updatePolicy(home, 'either', { Factors: ['Soft'], EnrollWithinDays: 7, Targets: [user('dave'), user('bob')] }), 2, 'EMPTY_FACTOR_SET', 'either and totp-only together allow (none)');
      expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'either'], { home })))).toMatchObject({ Factors: ['Soft', 'totp'], Targets: [user('dave')] });
      // Not every combination is empty: Soft or totp, and totp: totp.
      ok(await updatePolicy(home, 'either', { Factors: ['Soft', 'totp'], EnrollWithinDays: 7, Targets: [user('dave'), user('bob')] }));
      expect((await explain(home, 'bob')).Requirements.Factors).toEqual({ Value: 'totp', From: ['either', 'totp-only'] });
      for (const n of ['totp-only', 'soft-only', 'either']) ok(await ssrun(['mfa', 'policy', 'delete', '-n', n], { home }));

      // Nor by deleting a configuration a policy names: refused while it would leave someone covered no factor.
      ok(await createPolicy(home, { Name: 'soft-users', Factors: ['Soft'], EnrollWithinDays: 7, Targets: [user('dave')] }));
      expectRefused(
        await ssrun(['mfa', 'delete', '-n', 'Soft'], { home }),
        2,
        'EMPTY_FACTOR_SET',
        'principal/internal/user/dave would be allowed no factor at all: soft-users allows soft, and no configuration satisfies that; nothing was changed',
      );
      expect(json(ok(await ssrun(['mfa', 'get', '-n', 'Soft'], { home }))).Name).toBe('Soft');
      // Unrelated policy changes are not blocked by it.
      ok(await createPolicy(home, { Name: 'nobody', Targets: [] }));
      for (const n of ['soft-users', 'nobody']) ok(await ssrun(['mfa', 'policy', 'delete', '-n', n], { home }));
    });

    it('group delete: gone, and removed from the targets of the policies that named it', async () => {
      ok(await ssrun(['group', 'create', '-n', 'tmp'], { home }));
      ok(await ssrun(['group', 'add-member', '-n', 'tmp', '-p', user('dave')], { home }));
      ok(await createPolicy(home, { Name: 'tmp-policy', EnrollWithinDays: 7, Targets: [group('tmp'), user('dave')], Active: false }));
      const r = ok(await ssrun(['group', 'delete', '-n', 'TMP'], { home }));
      expect(json(r)).toEqual({ Deleted: group('tmp'), RemovedFromPolicies: ['tmp-policy'] });
      expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'tmp-policy'], { home }))).Targets).toEqual([user('dave')]);
      expectRefused(await ssrun(['group', 'get', '-n', 'tmp'], { home }), 3, 'GROUP_NOT_FOUND');
      expectRefused(await ssrun(['group', 'delete', '-n', 'tmp'], { home }), 3, 'GROUP_NOT_FOUND', 'principal/internal/group/tmp not found');
      expect((await explain(home, 'dave')).Groups).toEqual([]);
      // A group no policy names.
      ok(await ssrun(['group', 'create', '-n', 'tmp2'], { home }));
      expect(json(ok(await ssrun(['group', 'delete', '-n', 'tmp2'], { home })))).toEqual({ Deleted: group('tmp2'), RemovedFromPolicies: [] });
      ok(await ssrun(['mfa', 'policy', 'delete', '-n', 'tmp-policy'], { home }));
      expect(json<any[]>(ok(await ssrun(['group', 'get'], { home }))).map((g) => g.Name)).toEqual(['eng', 'ops']);
    });
  });

  describe('enforcement at login', () => {
    // engineers (active): group eng (bob) and carol; any factor; enrol within 7 days; re-verify every 12 h.

    it('within the enrolment window: the password alone logs in; the answer says the days left and how to enrol', async () => {
      const start = Date.parse((await firstApplied(home, 'bob'))!);
      const deadline = new Date(start + 7 * DAY).toISOString();
      const r = ok(await login(home, 'bob'));
      const out = json(r);
      expect(Object.keys(out)).toEqual(['Principal', 'Factor', 'ExpiresAt', 'Enrollment']);
      expect(out).toMatchObject({ Principal: user('bob'), Factor: 'password' });
      expect(out.Enrollment).toEqual({
        Policy: 'engineers',
        DaysLeft: 7,
        Deadline: deadline,
        How: 'ssrun mfa assign-principal -p principal/internal/user/bob -c CONFIG (an administrator), then log in with -m',
      });
      expect(r.stderr).toBe(loginNotice('engineers', 7, deadline, 'bob'));

      // A day before the end: "1 day".
      const late = new Date(Date.now() - 6 * DAY - HOUR);
      expect(await setFirstApplied(home, 'bob', late)).toBe(1);
      const r1 = ok(await login(home, 'bob'));
      const lateDeadline = new Date(late.getTime() + 7 * DAY).toISOString();
      expect(json(r1).Enrollment).toMatchObject({ Policy: 'engineers', DaysLeft: 1, Deadline: lateDeadline });
      expect(r1.stderr).toBe(loginNotice('engineers', 1, lateDeadline, 'bob'));

      // Someone no policy covers: no Enrollment, no notice.
      const d = ok(await login(home, 'dave'));
      expect(Object.keys(json(d))).toEqual(['Principal', 'Factor', 'ExpiresAt']);
      expect(d.stderr).toBe('');
    });

    it('after the deadline: login denied (exit 5 MFA_ENROLLMENT_REQUIRED) after the password is checked; not counted as a failure', async () => {
      const started = new Date(Date.now() - 8 * DAY);
      await setFirstApplied(home, 'bob', started);
      const deadline = new Date(started.getTime() + 7 * DAY).toISOString();
      expectRefused(
        await login(home, 'bob'),
        5,
        'MFA_ENROLLMENT_REQUIRED',
        `login denied: policy engineers requires MFA for principal/internal/user/bob since ${deadline}; ask an administrator to enrol you (ssrun mfa assign-principal -p principal/internal/user/bob -c CONFIG) or to reset your deadline`,
      );
      expect(json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home }))).FailedAttempts).toBe(0);
      // A wrong password says nothing about policies.
      const wrong = await login(home, 'bob', undefined, 'wrong-password-for-bob');
      expect([wrong.exitCode, wrong.stdout, wrong.stderr]).toEqual([5, '', DENIED]);
      expect((await explain(home, 'bob')).Status).toEqual({ Factor: null, EnrollBy: deadline, DeadlinePassed: true });
    });

    it('mfa policy reset-deadline restarts the window', async () => {
      const before = Date.now();
      const r = ok(await ssrun(['mfa', 'policy', 'reset-deadline', '-p', user('bob')], { home }));
      const out = json(r);
      expect(out).toEqual({ Principal: user('bob'), EnrolmentWindowStarts: expect.stringMatching(ISO) });
      expect(Date.parse(out.EnrolmentWindowStarts)).toBeGreaterThanOrEqual(before - 1000);
      expect(await firstApplied(home, 'bob')).toBe(out.EnrolmentWindowStarts);
      const l = ok(await login(home, 'bob'));
      expect(json(l).Enrollment).toMatchObject({ Policy: 'engineers', DaysLeft: 7, Deadline: new Date(Date.parse(out.EnrolmentWindowStarts) + 7 * DAY).toISOString() });
      expectRefused(await ssrun(['mfa', 'policy', 'reset-deadline', '-p', user('nobody')], { home }), 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/user/nobody not found');
      expectRefused(await ssrun(['mfa', 'policy', 'reset-deadline', '-p', group('eng')], { home }), 2, 'UNSUPPORTED_PRINCIPAL_TYPE');
      expectMissing(await ssrun(['mfa', 'policy', 'reset-deadline'], { home }), '-p, --principal <path>', 'mfa policy reset-deadline');
    });

    it('an application covered through a group: the API key alone within its window, refused after it', async () => {
      const a = ok(await ssrun(['mfa', 'policy', 'activate', '-n', 'ops-review'], { home }));
      expect(json(a)).toMatchObject({ Active: true, SessionsRevoked: 0 });
      const appLogin = () => ssrun(['login', '-a', 'ci-bot', '--api-key-stdin'], { home, input: `${apiKey}\n` });
      const l = ok(await appLogin());
      declareSession(home);
      const app = 'principal/internal/application/ci-bot';
      expect(json(l)).toMatchObject({ Principal: app, Factor: 'api-key', Enrollment: { Policy: 'ops-review', DaysLeft: 3, How: `ssrun mfa assign-principal -p ${app} -c CONFIG (an administrator), then log in with -m` } });
      const started = new Date(Date.now() - 4 * DAY);
      expect((await storeSql(home, `UPDATE policy_subjects SET first_applied_at = ? WHERE principal_id = (SELECT id FROM principals WHERE type = 'application' AND name = 'ci-bot')`, [started])).changes).toBe(1);
      expectRefused(await appLogin(), 5, 'MFA_ENROLLMENT_REQUIRED', `login denied: policy ops-review requires MFA for ${app} since ${new Date(started.getTime() + 3 * DAY).toISOString()}`);
      ok(await ssrun(['mfa', 'policy', 'deactivate', '-n', 'ops-review'], { home }));
      expect(Object.keys(json(ok(await appLogin())))).toEqual(['Principal', 'Factor', 'ExpiresAt']);
      declareSession(home);
    });

    it('enrolled with an allowed factor: the factor is required, and there is no Enrollment any more', async () => {
      bobSecret = await enrolTotp(home, 'bob', 'totp');
      expectRefused(await login(home, 'bob'), 5, 'MFA_REQUIRED', 'MFA required: pass -m with the code from your authenticator app');
      const r = ok(await login(home, 'bob', await nextCode('bob', bobSecret)));
      expect(Object.keys(json(r))).toEqual(['Principal', 'Factor', 'ExpiresAt']);
      expect(json(r)).toMatchObject({ Principal: user('bob'), Factor: 'totp' });
      expect(r.stderr).toBe('');
      const status = (await explain(home, 'bob')).Status;
      expect(status).toEqual({ Factor: 'totp', Allowed: true, LastVerifiedAt: expect.stringMatching(ISO) });
      expect(Date.now() - Date.parse(status.LastVerifiedAt)).toBeLessThan(30_000);
    });

    it('re-verification: a last second factor older than ReverifyAfterHours refuses the session (exit 5 REVERIFY_REQUIRED) until MFA again', async () => {
      expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: user('bob'), Factor: 'totp' });
      await setLastMfa(home, 'bob', new Date(Date.now() - 11 * HOUR));
      expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: user('bob') });

      const last = new Date(Date.now() - 13 * HOUR);
      await setLastMfa(home, 'bob', last);
      const message = `re-verification required: policy engineers asks for the second factor every 12 h (last at ${last.toISOString()}); run \`ssrun login\` again with -m`;
      expectRefused(await ssrun(['whoami'], { home }), 5, 'REVERIFY_REQUIRED', message);
      // The session is not ended, only refused: still refused, and MFA again lifts it.
      expectRefused(await ssrun(['whoami'], { home }), 5, 'REVERIFY_REQUIRED', message);
      ok(await login(home, 'bob', await nextCode('bob', bobSecret)));
      expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: user('bob'), Factor: 'totp' });
      expect(Date.now() - Date.parse((await explain(home, 'bob')).Status.LastVerifiedAt)).toBeLessThan(30_000);
    });

    it('a factor the policy does not allow is refused with the reason (exit 5 MFA_FACTOR_NOT_ALLOWED)', async () => {
      carolSecret = await enrolTotp(home, 'carol', 'Soft');
      ok(await createPolicy(home, { Name: 'strict', Factors: ['totp'], EnrollWithinDays: 7, Targets: [user('carol')] }));
      const message = 'login denied: principal/internal/user/carol uses "Soft" (totp), which policy strict does not allow (allowed: totp); ask an administrator to assign an allowed factor';
      expectRefused(await login(home, 'carol', await currentCode(carolSecret)), 5, 'MFA_FACTOR_NOT_ALLOWED', message);
      expectRefused(await login(home, 'carol'), 5, 'MFA_FACTOR_NOT_ALLOWED', message);
      expect(json(ok(await ssrun(['user', 'get', '-n', 'carol', '-v'], { home }))).FailedAttempts).toBe(0);
      expect(await explain(home, 'carol')).toMatchObject({
        Policies: [
          { Name: 'engineers', Active: true },
          { Name: 'strict', Active: true },
        ],
        Requirements: { Factors: { Value: 'totp', From: ['strict'] } },
        Status: { Factor: 'Soft', Allowed: false, LastVerifiedAt: null },
      });

      // Phishing-resistant only: no TOTP configuration qualifies.
      ok(await updatePolicy(home, 'strict', { Factors: 'phishing-resistant', EnrollWithinDays: 7, Targets: [user('carol'), user('bob')] }));
      expectRefused(
        await login(home, 'bob', await currentCode(bobSecret)),
        5,
        'MFA_FACTOR_NOT_ALLOWED',
        'login denied: principal/internal/user/bob uses "totp" (totp), which policy strict does not allow (allowed: phishing-resistant)',
      );
    });

    it('mfa remove-principal works under enforcement: the principal is back in its enrolment window', async () => {
      expect(json(ok(await ssrun(['mfa', 'remove-principal', '-p', user('carol')], { home })))).toEqual({ Principal: user('carol'), Removed: 'Soft' });
      const r = ok(await login(home, 'carol'));
      const start = Date.parse((await firstApplied(home, 'carol'))!);
      expect(json(r)).toMatchObject({ Factor: 'password', Enrollment: { Policy: 'engineers', DaysLeft: 7, Deadline: new Date(start + 7 * DAY).toISOString() } });
      ok(await ssrun(['mfa', 'policy', 'delete', '-n', 'strict'], { home }));
    });

    it('an inactive policy is not enforced; activated again, the window still counts from when a policy first applied', async () => {
      await setFirstApplied(home, 'carol', new Date(Date.now() - 8 * DAY));
      expectRefused(await login(home, 'carol'), 5, 'MFA_ENROLLMENT_REQUIRED', 'login denied: policy engineers requires MFA for principal/internal/user/carol');

      const d = ok(await ssrun(['mfa', 'policy', 'deactivate', '-n', 'engineers'], { home }));
      expect(json(d)).toMatchObject({ Name: 'engineers', Active: false, SessionsRevoked: 0 });
      const r = ok(await login(home, 'carol'));
      expect(Object.keys(json(r))).toEqual(['Principal', 'Factor', 'ExpiresAt']);
      expect(r.stderr).toBe('');
      expect(await explain(home, 'carol')).toEqual({ Principal: user('carol'), Groups: [], Policies: [{ Name: 'engineers', Active: false }], Enforced: false, Requirements: null });

      // Re-activated: bob and carol are newly covered, so their sessions end, but for the caller's own (the one
      // this home keeps, carol's, on the embedded store; root's token on a server).
      const live = await sessionsOf(home, ['bob', 'carol']);
      const a = ok(await ssrun(['mfa', 'policy', 'activate', '-n', 'engineers'], { home }));
      const revoked = isRemote() ? live : live - 1;
      expect(json(a)).toMatchObject({ Name: 'engineers', Active: true, SessionsRevoked: revoked });
      expect(a.stderr).toBe(`ssrun: policy engineers is active; ${revoked} session${revoked === 1 ? '' : 's'} of newly covered principals revoked\n`);
      expect(await sessionsOf(home, ['bob', 'carol'])).toBe(isRemote() ? 0 : 1);
      expectRefused(await login(home, 'carol'), 5, 'MFA_ENROLLMENT_REQUIRED');
      ok(await ssrun(['mfa', 'policy', 'reset-deadline', '-p', user('carol')], { home }));
      expect(json(ok(await login(home, 'carol'))).Enrollment).toMatchObject({ DaysLeft: 7 });
    });

    it('the audit trail records every policy decision', async () => {
      const audit = json<any[]>(ok(await ssrun(['audit', 'get', '--limit', '100000'], { home })));
      const has = (e: Record<string, unknown>) => expect(audit).toContainEqual(expect.objectContaining(e));
      has({ Action: 'group.create', Principal: group('eng'), Outcome: 'ok' });
      has({ Action: 'group.add-member', Principal: user('bob'), Outcome: 'ok', Detail: group('eng') });
      has({ Action: 'group.remove-member', Principal: user('carol'), Outcome: 'ok', Detail: group('eng') });
      has({ Action: 'group.delete', Principal: group('tmp'), Outcome: 'ok', Detail: 'removed from policies tmp-policy' });
      has({ Action: 'policy.create', Principal: 'policy/engineers', Outcome: 'ok', Detail: 'active; 0 sessions revoked' });
      has({ Action: 'policy.create', Principal: 'policy/ops-review', Outcome: 'ok', Detail: 'inactive; 0 sessions revoked' });
      has({ Action: 'policy.update', Principal: 'policy/strict', Outcome: 'ok' });
      has({ Action: 'policy.activate', Principal: 'policy/ops-review', Outcome: 'ok' });
      has({ Action: 'policy.activate', Principal: 'policy/engineers', Outcome: 'ok', Detail: expect.stringMatching(/^active; \d+ sessions? revoked$/) });
      has({ Action: 'policy.deactivate', Principal: 'policy/engineers', Outcome: 'ok', Detail: 'inactive; 0 sessions revoked' });
      has({ Action: 'policy.delete', Principal: 'policy/oncall', Outcome: 'ok' });
      has({ Action: 'policy.reset-deadline', Principal: user('bob'), Outcome: 'ok' });
      has({ Action: 'policy.reset-deadline', Principal: user('carol'), Outcome: 'ok' });
      has({ Action: 'mfa.unassign', Principal: user('carol'), Outcome: 'ok', Detail: 'Soft' });
      has({ Action: 'login', Principal: user('bob'), Outcome: 'denied', Detail: expect.stringMatching(/^enrolment deadline \S+ passed \(policy engineers\)$/) });
      has({ Action: 'login', Principal: user('carol'), Outcome: 'denied', Detail: 'Soft not allowed by strict' });
      has({ Action: 'login', Principal: user('bob'), Outcome: 'denied', Detail: 'totp not allowed by strict' });
      // Logins allowed without a factor, in the enrolment window, say so.
      has({ Action: 'login', Principal: user('bob'), Outcome: 'allowed', Detail: expect.stringMatching(/^password; not enrolled, enrolment deadline \S+ \(policy engineers\)$/) });
      // Sessions refused for re-verification are recorded with the principal.
      has({ Action: 'reverify', Principal: user('bob'), Outcome: 'denied', Detail: expect.stringContaining('policy engineers asks for the second factor every 12 h') });
      // No secret in the trail.
      expect(JSON.stringify(audit)).not.toContain(bobSecret);
    });
  });
});

// =============================================================================================================

describe('activation revokes the sessions of the principals it newly covers, except the caller\'s own', () => {
  let home: string;
  const saved = (name: string) => join(dirname(home), `cli-${name}.json`);
  const keep = (name: string) => copyFileSync(join(home, 'cli.json'), saved(name));
  const restore = (name: string) => copyFileSync(saved(name), join(home, 'cli.json'));

  beforeAll(async () => {
    home = tempHome('ssrun-policy-sessions-');
    await createUsers(home, ['erin', 'frank', 'gus', 'hal', 'ivy']);
    ok(await ssrun(['group', 'create', '-n', 'team'], { home }));
    await Promise.all(['erin', 'frank'].map((n) => ssrun(['group', 'add-member', '-n', 'team', '-p', user(n)], { home }).then(ok)));
    // gus is covered already (by gus-policy): a second policy does not newly cover him.
    ok(await createPolicy(home, { Name: 'gus-policy', EnrollWithinDays: 7, Targets: [user('gus')] }));
    ok(await createPolicy(home, { Name: 'team', EnrollWithinDays: 7, Targets: [group('team'), user('gus')], Active: false }));
  });

  it('activate: SessionsRevoked counts them; the revoked sessions fail with SESSION_EXPIRED, the others live on', async () => {
    ok(await login(home, 'gus'));
    keep('gus');
    ok(await login(home, 'erin'));
    keep('erin');
    // Last: frank's is the session this home keeps, the caller's own on the embedded store (a server knows its
    // caller by its bearer token: root's, here).
    ok(await login(home, 'frank'));
    keep('frank');

    const r = ok(await ssrun(['mfa', 'policy', 'activate', '-n', 'team'], { home }));
    const revoked = isRemote() ? 2 : 1;
    expect(json(r)).toMatchObject({ Name: 'team', Active: true, SessionsRevoked: revoked });
    expect(r.stderr).toBe(`ssrun: policy team is active; ${revoked} session${revoked === 1 ? '' : 's'} of newly covered principals revoked\n`);

    const expired = 'the session is not valid (expired, logged out, or revoked by a password or MFA change): run `ssrun login` again';
    if (isRemote()) expectRefused(await ssrun(['whoami'], { home }), 5, 'SESSION_EXPIRED', expired);
    else expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: user('frank') });
    restore('erin');
    expectRefused(await ssrun(['whoami'], { home }), 5, 'SESSION_EXPIRED', expired);
    restore('gus');
    expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: user('gus'), Factor: 'password' });

    // Already active: nobody newly covered, nothing revoked.
    const again = ok(await ssrun(['mfa', 'policy', 'activate', '-n', 'team'], { home }));
    expect(json(again).SessionsRevoked).toBe(0);
    expect(again.stderr).toBe('ssrun: policy team is active; 0 sessions of newly covered principals revoked\n');
  });

  it('an update that newly covers a principal revokes its sessions too', async () => {
    ok(await login(home, 'hal'));
    keep('hal');
    ok(await login(home, 'frank'));
    const r = ok(await updatePolicy(home, 'team', { EnrollWithinDays: 7, Targets: [group('team'), user('gus'), user('hal')] }));
    expect(json(r)).toMatchObject({ Name: 'team', Active: true, SessionsRevoked: 1, Targets: [group('team'), user('gus'), user('hal')] });
    expect(r.stderr).toBe('ssrun: policy team is active; 1 session of newly covered principals revoked\n');
    expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: user('frank') });
    restore('hal');
    expectRefused(await ssrun(['whoami'], { home }), 5, 'SESSION_EXPIRED');
  });

  it('group add-member says when the new member is newly covered by an active policy; its window starts then', async () => {
    const r = ok(await ssrun(['group', 'add-member', '-n', 'team', '-p', user('ivy')], { home }));
    expect(json(r)).toEqual({ Group: group('team'), Member: user('ivy'), NewlyCoveredByPolicy: true });
    expect(Date.now() - Date.parse((await firstApplied(home, 'ivy'))!)).toBeLessThan(10_000);
    expect(json(ok(await login(home, 'ivy'))).Enrollment).toMatchObject({ Policy: 'team', DaysLeft: 7 });
    // gus is covered already (gus-policy, and team names him).
    expect(json(ok(await ssrun(['group', 'add-member', '-n', 'team', '-p', user('gus')], { home }))).NewlyCoveredByPolicy).toBe(false);
  });

  it('the audit trail says how many sessions each activation revoked', async () => {
    const audit = json<any[]>(ok(await ssrun(['audit', 'get'], { home })));
    const revoked = isRemote() ? 2 : 1;
    expect(audit).toContainEqual(expect.objectContaining({ Action: 'policy.activate', Principal: 'policy/team', Outcome: 'ok', Detail: `active; ${revoked} session${revoked === 1 ? '' : 's'} revoked` }));
    expect(audit).toContainEqual(expect.objectContaining({ Action: 'policy.update', Principal: 'policy/team', Outcome: 'ok', Detail: 'active; 1 session revoked' }));
  });
});

// =============================================================================================================

describe('root is never locked out', () => {
  let home: string;
  let rootPw: string;
  let codes: string[];
  const ROOT = user('root');
  const lockout = (policies: string) =>
    `${policies} would cover root, who has no allowed factor and no recovery codes: assign root a factor the policy allows, or issue root recovery codes (ssrun mfa recovery-codes -p principal/internal/user/root), first; nothing was changed`;

  beforeAll(async () => {
    home = tempHome('ssrun-policy-root-');
    // A server's store has root from the start; the embedded one after `ssrun init`.
    if (isRemote()) rootPw = ROOT_PASSWORD;
    else {
      rootPw = LOCAL_ROOT_PW;
      ok(await ssrun(['init', '--password-stdin'], { home, input: `${LOCAL_ROOT_PW}\n` }));
    }
    ok(await ssrun(['group', 'create', '-n', 'admins'], { home }));
  });

  it('a policy that would cover root while root has no allowed factor and no recovery codes is refused (exit 4 ROOT_LOCKOUT)', async () => {
    expectRefused(await createPolicy(home, { Name: 'root-policy', EnrollWithinDays: 0, Targets: [ROOT] }), 4, 'ROOT_LOCKOUT', lockout('root-policy'));
    expect(await policyNames(home)).toEqual([]);
    // Inactive it may exist; activating it is the same refusal.
    ok(await createPolicy(home, { Name: 'root-policy', EnrollWithinDays: 0, Targets: [ROOT], Active: false }));
    expectRefused(await ssrun(['mfa', 'policy', 'activate', '-n', 'root-policy'], { home }), 4, 'ROOT_LOCKOUT', lockout('root-policy'));
    expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'root-policy'], { home }))).Active).toBe(false);
    // Through a group, or an update.
    ok(await createPolicy(home, { Name: 'admins-policy', EnrollWithinDays: 0, Targets: [group('admins')] }));
    expectRefused(await ssrun(['group', 'add-member', '-n', 'admins', '-p', ROOT], { home }), 4, 'ROOT_LOCKOUT', lockout('admins-policy'));
    expect(json(ok(await ssrun(['group', 'get', '-n', 'admins', '-v'], { home }))).Members).toEqual([]);
    expectRefused(await updatePolicy(home, 'admins-policy', { EnrollWithinDays: 0, Targets: [group('admins'), ROOT] }), 4, 'ROOT_LOCKOUT', lockout('admins-policy'));
    expect(json(ok(await ssrun(['mfa', 'policy', 'get', '-n', 'admins-policy'], { home }))).Targets).toEqual([group('admins')]);
    expect((await explain(home, 'root')).Enforced).toBe(false);
  });

  it('with recovery codes it is enforced: the password alone is refused after the deadline, a recovery code logs root in', async () => {
    const r = ok(await ssrun(['mfa', 'recovery-codes', '-p', ROOT], { home, revealsSecrets: true }));
    codes = json(r).RecoveryCodes;
    for (const c of codes) secret(c);
    const a = ok(await ssrun(['mfa', 'policy', 'activate', '-n', 'root-policy'], { home }));
    // Root's own session (a server's caller) is kept.
    expect(json(a)).toMatchObject({ Name: 'root-policy', Active: true, SessionsRevoked: 0 });
    ok(await ssrun(['group', 'add-member', '-n', 'admins', '-p', ROOT], { home }));

    // EnrollWithinDays 0: enrol before the next login.
    expectRefused(await login(home, 'root', undefined, rootPw), 5, 'MFA_ENROLLMENT_REQUIRED', 'login denied: policy admins-policy requires MFA for principal/internal/user/root since');
    const l = ok(await login(home, 'root', codes[0]!, rootPw));
    expect(json(l)).toMatchObject({ Principal: ROOT, Factor: 'recovery-code' });
    expect(json(l).Enrollment).toBeUndefined();
    expect(l.stderr).toBe('ssrun: 9 recovery codes left\n');
    expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: ROOT, Factor: 'recovery-code' });

    // The administrator (root, on a server) still works.
    expect(await explain(home, 'root')).toMatchObject({
      Groups: [group('admins')],
      Policies: [
        { Name: 'admins-policy', Active: true },
        { Name: 'root-policy', Active: true },
      ],
      Enforced: true,
      Status: { Factor: null, DeadlinePassed: true },
    });
    for (const n of ['admins-policy', 'root-policy']) ok(await ssrun(['mfa', 'policy', 'deactivate', '-n', n], { home }));
    expect(json(ok(await login(home, 'root', undefined, rootPw))).Factor).toBe('password');
  });
});
