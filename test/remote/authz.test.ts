// Authorization on a real `ssrun serve` over HTTPS, end to end through the built binary: every command group
// run as root, as a user with an allow rule for exactly that operation and resource (on the collection, so a
// rule on a parent covers its children), as a user with only deny rules, as a user with allow on the
// resource and deny on its parent (deny wins), as a user with no rule, and with no token. Refusals change
// nothing (root's `get` before and after), and end up in the audit trail with who, from where and why.
//
// Set-up data (users, rules, configurations) is made by root over the HTTP API to keep the suite fast; the
// matrix itself runs the CLI. scrypt (N=2^17) makes each user creation and login cost ~0.5 s.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/model.js';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';
import { startServer, testTls, type RunningServer, type Tls } from '../helpers/server.js';
import { cliClientHome, clientHome, expectRefused, http, ISO, limited, loginUser, ok, savedToken } from './remote-helpers.js';

afterAll(() => expectNoSecretsLeaked());

const PW_ROOT = secret('authz-root-password-Vb8Nq2');
const PW = secret('authz-user-password-Kp4Hs7');
const PW_NEW = secret('authz-new-password-Jw3Ld9');
const DUO_SK = secret('authz-duo-secret-key-Zr5Tm1Xc');
const HOST = 'api-original.duosecurity.com';

const USER = (n: string) => `principal/internal/user/${n}`;
const APP = (n: string) => `principal/internal/application/${n}`;

type Op = 'create' | 'read' | 'update' | 'delete';
interface Grant {
  op: Op;
  resource: string;
  /** Where `mixed` has its deny (its allow is on `resource`). */
  parent: string;
}

const GRANTS = {
  mfaRead: { op: 'read', resource: 'system/multi_factor', parent: 'system' },
  mfaCreate: { op: 'create', resource: 'system/multi_factor', parent: 'system' },
  mfaUpdate: { op: 'update', resource: 'system/multi_factor', parent: 'system' },
  mfaDelete: { op: 'delete', resource: 'system/multi_factor', parent: 'system' },
  userRead: { op: 'read', resource: 'principal/internal/user', parent: 'principal/internal' },
  userCreate: { op: 'create', resource: 'principal/internal/user', parent: 'principal/internal' },
  userUpdate: { op: 'update', resource: 'principal/internal/user', parent: 'principal/internal' },
  userDelete: { op: 'delete', resource: 'principal/internal/user', parent: 'principal/internal' },
  appRead: { op: 'read', resource: 'principal/internal/application', parent: 'principal/internal' },
  appCreate: { op: 'create', resource: 'principal/internal/application', parent: 'principal/internal' },
  appDelete: { op: 'delete', resource: 'principal/internal/application', parent: 'principal/internal' },
  authzRead: { op: 'read', resource: 'system/authorization', parent: 'system' },
  authzCreate: { op: 'create', resource: 'system/authorization', parent: 'system' },
  authzDelete: { op: 'delete', resource: 'system/authorization', parent: 'system' },
  auditRead: { op: 'read', resource: 'system/audit', parent: 'system' },
} satisfies Record<string, Grant>;
type GrantKey = keyof typeof GRANTS;
const allowUser = (k: GrantKey) => `allow-${k.toLowerCase()}`;

const ACTORS = ['root', 'allowed', 'denier', 'mixed', 'norules', 'anon'] as const;
type Actor = (typeof ACTORS)[number];
const REFUSED: Actor[] = ['denier', 'mixed', 'norules', 'anon'];
/** The target a command acts on: root and the allowed user each have their own, refusals share one kept. */
const t = (a: Actor) => (a === 'root' ? 'r' : a === 'allowed' ? 'a' : 'keep');

let tls: Tls;
let server: RunningServer;
let client: string; // a client home with the server as its current context and no session of its own
let dir: string;
const tokens = new Map<string, string>(); // principal name -> token

const api = async (method: string, path: string, body?: unknown, token = tokens.get('root')!) => {
  const a = await http(server.url, method, path, { token, body, ca: tls.caPem });
  if (a.status >= 300) throw new Error(`${method} ${path}: HTTP ${a.status} ${a.text}`);
  return a.body;
};

/** Runs ssrun in the client home with the token of `who` in SSRUN_TOKEN (none for anon). */
function as(who: string, args: string[], opts: { input?: string; revealsSecrets?: boolean } = {}): Promise<RunResult> {
  const token = who === 'anon' ? undefined : tokens.get(who);
  if (who !== 'anon' && !token) throw new Error(`no token for ${who}`);
  return ssrun(args, { home: client, env: token ? { SSRUN_TOKEN: token } : {}, ...opts });
}
const root = (args: string[], opts: { input?: string; revealsSecrets?: boolean } = {}) => as('root', args, opts);

const configDoc = (name: string, host = HOST) => ({ Type: 'duo', Name: name, Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: DUO_SK, Host: host } });
function configFile(name: string, host = HOST): string {
  const file = join(dir, `${name}-${host}.json`);
  writeFileSync(file, JSON.stringify(configDoc(name, host)));
  return file;
}


async function httpLogin(path: string, body: Record<string, string>): Promise<string> {
  const a = await http(server.url, 'POST', path, { body, ca: tls.caPem });
  if (a.status !== 200) throw new Error(`login ${JSON.stringify(body.username ?? body.name)}: HTTP ${a.status} ${a.text}`);
  return secret(a.body.access_token as string);
}

beforeAll(async () => {
  const serverHome = tempHome('ssrun-authz-server-');
  dir = join(dirname(serverHome), 'files');
  mkdirSync(dir, { recursive: true });
  ok(await ssrun(['init', '--password-stdin'], { home: serverHome, input: `${PW_ROOT}\n` }));
  tls = await testTls();
  server = await startServer({ home: serverHome, tls, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000'] });

  // The CLI's own way to a server: context create --ca, set-current, login.
  client = await cliClientHome(server, { ca: tls.caFile });
  const rootHome = clientHome(server, tls.caFile);
  tokens.set('root', await loginUser(rootHome, 'root', PW_ROOT));

  // Users (scrypt each), a few at a time.
  const keys = Object.keys(GRANTS) as GrantKey[];
  const users = [...keys.map(allowUser), 'denier', 'mixed', 'norules', 'target-user', 'del-keep', 'del-r', 'del-a', 'pw-target'];
  await limited(3, users.map((name) => () => api('POST', '/users', { name, password: PW })));

  // Rules: each allow user has exactly its grant; denier only denies; mixed allows the resource and denies its parent.
  const rules: [string, Op, 'allow' | 'deny', string][] = [];
  for (const k of keys) {
    const g = GRANTS[k];
    rules.push([USER(allowUser(k)), g.op, 'allow', g.resource], [USER('denier'), g.op, 'deny', g.resource], [USER('mixed'), g.op, 'allow', g.resource]);
    if (!rules.some(([p, op, e, r]) => p === USER('mixed') && op === g.op && e === 'deny' && r === g.parent)) rules.push([USER('mixed'), g.op, 'deny', g.parent]);
  }
  // Fixtures the rows act on.
  for (const name of ['cfg-shared', 'cfg-upd', 'cfg-del-keep', 'cfg-del-r', 'cfg-del-a']) await api('POST', '/multi_factor', configDoc(name));
  const apps = ['app-target', 'app-secret', 'asg-keep', 'asg-r', 'asg-a', 'rm-keep', 'rm-r', 'rm-a', 'appdel-keep', 'appdel-r', 'appdel-a', 'rule-target', 'self-app', 'scoped-app', 'parent-app', 'secrets-app'];
  const keysOf = new Map<string, string>();
  for (const name of apps) keysOf.set(name, secret((await api('POST', '/applications', { name })).ApiKey as string));
  for (const name of ['rm-keep', 'rm-r', 'rm-a']) await api('POST', '/multi_factor_assignments', { principal: APP(name), mfa_identity: `duo-${name}`, config: 'cfg-shared' });
  for (const x of ['keep', 'r', 'a']) rules.push([APP('rule-target'), 'read', 'allow', APP(`del-${x}`)]);
  rules.push(
    [APP('scoped-app'), 'read', 'allow', APP('app-target')],
    [APP('parent-app'), 'read', 'allow', 'principal/internal/application'],
    [APP('parent-app'), 'read', 'deny', APP('app-secret')],
    [APP('secrets-app'), 'read', 'allow', 'system/multi_factor'],
    [APP('secrets-app'), 'update', 'allow', 'system/multi_factor'],
  );
  for (const [principal, operation, effect, resource] of rules) await api('POST', '/authorizations', { principal, operation, effect, resource });

  // Tokens: the named actors log in with the CLI (each in its own client home), the allow users over the API.
  await limited(3, [
    ...['denier', 'mixed', 'norules'].map((name) => async () => tokens.set(name, await loginUser(clientHome(server, tls.caFile), name, PW))),
    ...keys.map((k) => async () => tokens.set(allowUser(k), await httpLogin('/connect/token/internal', { username: allowUser(k), password: PW }))),
  ]);
  for (const name of ['scoped-app', 'parent-app', 'secrets-app']) tokens.set(name, await httpLogin('/connect/api_key_token', { name, api_key: keysOf.get(name)! }));
  const selfHome = clientHome(server, tls.caFile);
  const r = ok(await ssrun(['login', '-a', 'self-app', '--api-key-stdin'], { home: selfHome, input: `${keysOf.get('self-app')}\n` }));
  expect(json(r)).toMatchObject({ Principal: APP('self-app'), Factor: 'api-key' });
  tokens.set('self-app', savedToken(selfHome));
}, 240_000);

// ---- the matrix ----------------------------------------------------------------------------------------------

interface Row {
  title: string;
  grant: GrantKey;
  args: (a: Actor) => string[];
  input?: (a: Actor) => string;
  /** The resource the server checks for this actor's request. */
  resource: (a: Actor) => string;
  revealsSecrets?: boolean;
  /** Root's view (a `get`) of what the command changes; equal before and after the refusals. */
  state?: () => Promise<unknown>;
  /** After root and the allowed user succeeded. */
  changed?: (before: any, after: any) => void;
  output?: (r: RunResult, a: Actor) => void;
}

/** Root's list of names, only those starting with prefix (rows running at the same time change the others). */
const names = async (args: string[], prefix = '') => (json(ok(await root(args))) as { Name: string }[]).map((x) => x.Name).filter((n) => n.startsWith(prefix));
const mfaOf = async (prefix: string) =>
  Object.fromEntries((json(ok(await root(['application', 'get']))) as { Name: string; Mfa: unknown }[]).filter((x) => x.Name.startsWith(prefix)).map((x) => [x.Name, x.Mfa]));
const rulesOf = async (prefix: string) =>
  (json(ok(await root(['authorization', 'get', '-p', APP('rule-target')]))) as { Resource: string }[]).map((z) => z.Resource).filter((r) => r.startsWith(APP(prefix)));
const SYSTEM_MFA = () => 'system/multi_factor';

const ROWS: Row[] = [
  {
    title: 'mfa get',
    grant: 'mfaRead',
    args: () => ['mfa', 'get', '-n', 'cfg-shared'],
    resource: SYSTEM_MFA,
    output: (r) => expect(json(r)).toEqual({ Type: 'duo', Name: 'cfg-shared', Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: '********', Host: HOST } }),
  },
  {
    title: 'mfa create',
    grant: 'mfaCreate',
    args: (a) => ['mfa', 'create', '-f', configFile(`cfg-new-${a}`)],
    resource: SYSTEM_MFA,
    state: () => names(['mfa', 'get'], 'cfg-new-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([[], ['cfg-new-allowed', 'cfg-new-root']]),
    output: (r, a) => expect(json(r)).toMatchObject({ Name: `cfg-new-${a}`, Options: { SecretKey: '********' } }),
  },
  {
    title: 'mfa update',
    grant: 'mfaUpdate',
    args: (a) => ['mfa', 'update', '-n', 'cfg-upd', '-f', configFile('cfg-upd', `api-${a}.duosecurity.com`)],
    resource: SYSTEM_MFA,
    state: async () => json(ok(await root(['mfa', 'get', '-n', 'cfg-upd', '-v']))),
    changed: (before, after) => {
      expect(before.Options.Host).toBe(HOST);
      expect(after.Options.Host).toBe('api-allowed.duosecurity.com');
      expect(after.UpdatedAt > before.UpdatedAt).toBe(true);
    },
  },
  {
    title: 'mfa delete',
    grant: 'mfaDelete',
    args: (a) => ['mfa', 'delete', '-n', `cfg-del-${t(a)}`],
    resource: SYSTEM_MFA,
    state: () => names(['mfa', 'get'], 'cfg-del-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([['cfg-del-a', 'cfg-del-keep', 'cfg-del-r'], ['cfg-del-keep']]),
    output: (r, a) => expect(json(r)).toEqual({ Deleted: `cfg-del-${t(a)}`, PrincipalsUnassigned: 0 }),
  },
  {
    title: 'mfa assign-principal',
    grant: 'mfaUpdate',
    args: (a) => ['mfa', 'assign-principal', '-p', APP(`asg-${t(a)}`), '-m', `duo-${a}`, '-c', 'cfg-shared'],
    resource: SYSTEM_MFA,
    state: () => mfaOf('asg-'),
    changed: (before, after) => {
      expect([before['asg-keep'], before['asg-r'], before['asg-a']]).toEqual([null, null, null]);
      expect(after['asg-keep']).toBeNull();
      expect(after['asg-r']).toEqual({ Config: 'cfg-shared', Type: 'duo', ProviderUserId: 'duo-root' });
      expect(after['asg-a']).toEqual({ Config: 'cfg-shared', Type: 'duo', ProviderUserId: 'duo-allowed' });
    },
  },
  {
    title: 'mfa remove-principal',
    grant: 'mfaUpdate',
    args: (a) => ['mfa', 'remove-principal', '-p', APP(`rm-${t(a)}`)],
    resource: SYSTEM_MFA,
    state: () => mfaOf('rm-'),
    changed: (before, after) => {
      expect(before['rm-keep']).toEqual({ Config: 'cfg-shared', Type: 'duo', ProviderUserId: 'duo-rm-keep' });
      expect(after['rm-keep']).toEqual(before['rm-keep']);
      expect([after['rm-r'], after['rm-a']]).toEqual([null, null]);
    },
    output: (r, a) => expect(json(r)).toEqual({ Principal: APP(`rm-${t(a)}`), Removed: 'cfg-shared' }),
  },
  {
    title: 'user get',
    grant: 'userRead',
    args: () => ['user', 'get', '-n', 'target-user'],
    resource: () => USER('target-user'),
    output: (r) => expect(json(r)).toEqual({ Name: 'target-user', Principal: USER('target-user'), Mfa: null }),
  },
  {
    title: 'user create',
    grant: 'userCreate',
    args: (a) => ['user', 'create', '-n', `new-${a}`, '--password-stdin'],
    input: () => `${PW}\n`,
    resource: (a) => USER(`new-${a}`),
    state: () => names(['user', 'get'], 'new-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([[], ['new-allowed', 'new-root']]),
    output: (r, a) => expect(json(r)).toEqual({ Name: `new-${a}`, Principal: USER(`new-${a}`), Mfa: null }),
  },
  {
    title: 'user delete',
    grant: 'userDelete',
    args: (a) => ['user', 'delete', '-n', `del-${t(a)}`],
    resource: (a) => USER(`del-${t(a)}`),
    state: () => names(['user', 'get'], 'del-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([['del-a', 'del-keep', 'del-r'], ['del-keep']]),
    output: (r, a) => expect(json(r)).toEqual({ Deleted: USER(`del-${t(a)}`), MfaAssignmentRemoved: false }),
  },
  {
    title: 'user set-password',
    grant: 'userUpdate',
    args: () => ['user', 'set-password', '-n', 'pw-target', '--password-stdin'],
    input: () => `${PW_NEW}\n`,
    resource: () => USER('pw-target'),
    state: async () => json(ok(await root(['user', 'get', '-n', 'pw-target', '-v']))).UpdatedAt,
    changed: (before: string, after: string) => expect(after > before).toBe(true),
    output: (r) => expect(json(r)).toEqual({ Principal: USER('pw-target'), PasswordChanged: true, SessionsRevoked: true }),
  },
  {
    title: 'application get',
    grant: 'appRead',
    args: () => ['application', 'get', '-n', 'app-target'],
    resource: () => APP('app-target'),
    output: (r) => expect(json(r)).toEqual({ Name: 'app-target', Principal: APP('app-target'), Mfa: null }),
  },
  {
    title: 'application create',
    grant: 'appCreate',
    args: (a) => ['application', 'create', '-n', `newapp-${a}`],
    resource: (a) => APP(`newapp-${a}`),
    revealsSecrets: true,
    state: () => names(['application', 'get'], 'newapp-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([[], ['newapp-allowed', 'newapp-root']]),
    output: (r, a) => expect(json(r)).toMatchObject({ Name: `newapp-${a}`, ApiKey: expect.stringMatching(/^ssk_/) }),
  },
  {
    title: 'application delete',
    grant: 'appDelete',
    args: (a) => ['application', 'delete', '-n', `appdel-${t(a)}`],
    resource: (a) => APP(`appdel-${t(a)}`),
    state: () => names(['application', 'get'], 'appdel-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([['appdel-a', 'appdel-keep', 'appdel-r'], ['appdel-keep']]),
  },
  {
    title: 'authorization get',
    grant: 'authzRead',
    args: () => ['authorization', 'get', '-p', APP('scoped-app')],
    resource: () => 'system/authorization',
    output: (r) => expect(json(r)).toEqual([{ Principal: APP('scoped-app'), Operation: 'read', Effect: 'allow', Resource: APP('app-target'), CreatedAt: expect.stringMatching(ISO) }]),
  },
  {
    title: 'authorization create',
    grant: 'authzCreate',
    args: (a) => ['authorization', 'create', '-p', APP('rule-target'), '-o', 'read', '-a', 'allow', APP(`res-${a}`)],
    resource: () => 'system/authorization',
    state: () => rulesOf('res-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([[], [APP('res-allowed'), APP('res-root')]]),
  },
  {
    title: 'authorization delete',
    grant: 'authzDelete',
    args: (a) => ['authorization', 'delete', '-p', APP('rule-target'), '-o', 'read', APP(`del-${t(a)}`)],
    resource: () => 'system/authorization',
    state: () => rulesOf('del-'),
    changed: (before: string[], after: string[]) => expect([before, after]).toEqual([[APP('del-a'), APP('del-keep'), APP('del-r')], [APP('del-keep')]]),
  },
  {
    title: 'audit get',
    grant: 'auditRead',
    args: () => ['audit', 'get', '--limit', '3'],
    resource: () => 'system/audit',
    output: (r) => expect((json(r) as unknown[]).length).toBe(3),
  },
];

function expectForbidden(r: RunResult, a: Actor, row: Row): void {
  const g: Grant = GRANTS[row.grant];
  const who = USER(a);
  const base = `${who} may not ${g.op} ${row.resource(a)}`;
  if (a === 'denier') expectRefused(r, 9, 'FORBIDDEN', `${base} (denied by the rule on ${g.resource});`);
  else if (a === 'mixed') expectRefused(r, 9, 'FORBIDDEN', `${base} (denied by the rule on ${g.parent});`);
  else expectRefused(r, 9, 'FORBIDDEN', `${base}; ask root for \`ssrun authorization create -p ${who} -o ${g.op} -a allow ${row.resource(a)}\``);
}

describe('every command group: root 0, allowed 0, deny 9, parent deny 9, no rule 9, no token 5; refusals change nothing', () => {
  it.concurrent.each(ROWS.map((row) => [row.title, row] as const))('%s', { timeout: 180_000 }, async (_title, row) => {
    const actorName = (a: Actor) => (a === 'allowed' ? allowUser(row.grant) : a);
    const run = (a: Actor) => as(actorName(a), row.args(a), { input: row.input?.(a), revealsSecrets: row.revealsSecrets && (a === 'root' || a === 'allowed') });

    const before = await row.state?.();
    const refusals = await Promise.all(REFUSED.map(async (a) => [a, await run(a)] as const));
    for (const [a, r] of refusals) {
      if (a === 'anon') expectRefused(r, 5, 'UNAUTHENTICATED', 'not logged in');
      else expectForbidden(r, a, row);
    }
    if (row.state) expect(await row.state()).toEqual(before);

    for (const a of ['root', 'allowed'] as const) {
      const r = await run(a);
      expect(r.exitCode, `${row.title} as ${a}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
      row.output?.(r, a);
    }
    if (row.state) row.changed?.(before, await row.state());
  });
});

// ---- rules: what they cover ----------------------------------------------------------------------------------

describe('rules', () => {
  it.concurrent('an allow rule is for its operation only: the reader may not create, the creator may not delete', async () => {
    expectRefused(await as(allowUser('mfaRead'), ['mfa', 'create', '-f', configFile('cfg-by-reader')]), 9, 'FORBIDDEN', `${USER('allow-mfaread')} may not create system/multi_factor;`);
    expectRefused(await as(allowUser('userCreate'), ['user', 'delete', '-n', 'target-user']), 9, 'FORBIDDEN', `may not delete ${USER('target-user')};`);
    expectRefused(await as(allowUser('appRead'), ['user', 'get', '-n', 'target-user']), 9, 'FORBIDDEN', `may not read ${USER('target-user')};`);
    expect(await names(['mfa', 'get'])).not.toContain('cfg-by-reader');
    expect(await names(['user', 'get'])).toContain('target-user');
  });

  it.concurrent('a rule on a parent covers its children; a rule on a child covers neither its siblings, nor names it prefixes, nor the collection', async () => {
    // parent: read on principal/internal/user covers principal/internal/user/NAME, and listing.
    expect(json(ok(await as(allowUser('userRead'), ['user', 'get', '-n', 'target-user'])))).toMatchObject({ Name: 'target-user' });
    expect(json(ok(await as(allowUser('userRead'), ['user', 'get'])))).toContainEqual({ Name: 'target-user', Principal: USER('target-user'), Mfa: null });
    // child: read on principal/internal/application/app-target (case-insensitively)
    expect(json(ok(await as('scoped-app', ['application', 'get', '-n', 'app-target'])))).toMatchObject({ Name: 'app-target' });
    expect(json(ok(await as('scoped-app', ['application', 'get', '-n', 'APP-TARGET'])))).toMatchObject({ Name: 'app-target' });
    expectRefused(await as('scoped-app', ['application', 'get', '-n', 'app-targetx']), 9, 'FORBIDDEN', `${APP('scoped-app')} may not read ${APP('app-targetx')};`);
    expectRefused(await as('scoped-app', ['application', 'get', '-n', 'app-secret']), 9, 'FORBIDDEN', `may not read ${APP('app-secret')};`);
    expectRefused(await as('scoped-app', ['application', 'get']), 9, 'FORBIDDEN', `may not read principal/internal/application;`);
    // a refusal comes before the lookup: a name that does not exist is FORBIDDEN, not "not found"
    expectRefused(await as('scoped-app', ['application', 'get', '-n', 'no-such-app']), 9, 'FORBIDDEN');
  });

  it.concurrent('allow on the parent and deny on a child: the child is refused, its siblings are not', async () => {
    expect(json(ok(await as('parent-app', ['application', 'get', '-n', 'app-target'])))).toMatchObject({ Name: 'app-target' });
    expectRefused(await as('parent-app', ['application', 'get', '-n', 'app-secret']), 9, 'FORBIDDEN', `(denied by the rule on ${APP('app-secret')})`);
    expectRefused(await as('parent-app', ['application', 'get', '-n', 'App-Secret']), 9, 'FORBIDDEN', `(denied by the rule on ${APP('app-secret')})`);
  });

  it.concurrent('mfa get --show-secrets needs update on system/multi_factor as well as read (README: "--show-secrets … are update on it")', async () => {
    // read and update: the secret is shown
    const shown = await as('secrets-app', ['mfa', 'get', '-n', 'cfg-shared', '--show-secrets'], { revealsSecrets: true });
    expect(json(ok(shown)).Options.SecretKey).toBe(DUO_SK);
    // read only: refused, and the secret never printed
    const r = await as(allowUser('mfaRead'), ['mfa', 'get', '-n', 'cfg-shared', '--show-secrets'], { revealsSecrets: true });
    expect(r.stdout).not.toContain(DUO_SK);
    expectRefused(r, 9, 'FORBIDDEN', `${USER('allow-mfaread')} may not update system/multi_factor`);
    const list = await as(allowUser('mfaRead'), ['mfa', 'get', '--show-secrets'], { revealsSecrets: true });
    expect(list.stdout).not.toContain(DUO_SK);
    expectRefused(list, 9, 'FORBIDDEN');
  });
});

// ---- what everyone may do ------------------------------------------------------------------------------------

describe('every principal may read itself and run whoami', () => {
  it.concurrent.each(['denier', 'mixed', 'norules'])('%s', async (name) => {
    const who = json(ok(await as(name, ['whoami'])));
    expect(who).toEqual({ Principal: USER(name), Factor: 'password', ExpiresAt: expect.stringMatching(ISO), Context: 'srv' });
    expect(json(ok(await as(name, ['user', 'get', '-n', name])))).toEqual({ Name: name, Principal: USER(name), Mfa: null });
    const verbose = json(ok(await as(name, ['user', 'get', '-n', name.toUpperCase(), '-v'])));
    expect(verbose).toMatchObject({ Name: name, Principal: USER(name), Mfa: null, CreatedAt: expect.stringMatching(ISO), FailedAttempts: 0, LockedUntil: null });
    // but nobody else
    expectRefused(await as(name, ['user', 'get', '-n', 'target-user']), 9, 'FORBIDDEN', `${USER(name)} may not read ${USER('target-user')}`);
    expectRefused(await as(name, ['user', 'get']), 9, 'FORBIDDEN', `${USER(name)} may not read principal/internal/user`);
  });

  it.concurrent('an application reads itself, not a user of the same name', async () => {
    const home = clientHome(server, tls.caFile);
    const who = json(ok(await ssrun(['whoami'], { home, env: { SSRUN_TOKEN: tokens.get('self-app')! } })));
    expect(who).toEqual({ Principal: APP('self-app'), Factor: 'api-key', ExpiresAt: expect.stringMatching(ISO), Context: 'srv' });
    expect(json(ok(await as('self-app', ['application', 'get', '-n', 'self-app'])))).toEqual({ Name: 'self-app', Principal: APP('self-app'), Mfa: null });
    expectRefused(await as('self-app', ['user', 'get', '-n', 'self-app']), 9, 'FORBIDDEN', `${APP('self-app')} may not read ${USER('self-app')}`);
    expectRefused(await as('self-app', ['application', 'get', '-n', 'app-target']), 9, 'FORBIDDEN');
  });

  it.concurrent('with no token: whoami is not logged in (exit 3, as on the embedded store), reading oneself is refused with exit 5', async () => {
    expectRefused(await as('anon', ['whoami']), 3, 'NOT_LOGGED_IN', 'not logged in');
    expectRefused(await as('anon', ['user', 'get', '-n', 'denier']), 5, 'UNAUTHENTICATED');
  });
});

// ---- the audit trail (after the matrix) ----------------------------------------------------------------------


describe('audit trail', () => {
  let all: AuditRecord[];
  let text: string;
  beforeAll(async () => {
    const r = ok(await root(['audit', 'get']));
    text = r.stdout;
    all = json(r);
  });

  it('records every refused command with actor, source 127.0.0.1, the resource, and why', () => {
    const denied = all.filter((x) => x.Outcome === 'denied' && x.Action.startsWith('authorize.'));
    for (const row of ROWS) {
      const g: Grant = GRANTS[row.grant];
      for (const a of ['denier', 'mixed', 'norules'] as const) {
        const why = a === 'denier' ? `deny rule on ${g.resource}` : a === 'mixed' ? `deny rule on ${g.parent}` : 'no allow rule';
        const want = { Actor: USER(a), Source: '127.0.0.1', Action: `authorize.${g.op}`, Principal: row.resource(a), Outcome: 'denied', Detail: why };
        expect(denied, `${row.title} by ${a}`).toContainEqual({ ...want, Id: expect.any(Number), At: expect.stringMatching(ISO) });
      }
    }
    // and what was allowed: root's and the allowed users' changes, from the same address
    expect(all).toContainEqual(expect.objectContaining({ Actor: USER('root'), Source: '127.0.0.1', Action: 'user.create', Principal: USER('new-root'), Outcome: 'ok' }));
    expect(all).toContainEqual(expect.objectContaining({ Actor: USER(allowUser('userCreate')), Source: '127.0.0.1', Action: 'user.create', Principal: USER('new-allowed'), Outcome: 'ok' }));
    expect(all).toContainEqual(expect.objectContaining({ Actor: 'anonymous', Source: '127.0.0.1', Action: 'login', Principal: USER('denier'), Outcome: 'allowed' }));
    // none of the refused ones happened
    expect(all.filter((x) => x.Outcome === 'ok' && REFUSED.some((a) => x.Actor === USER(a)))).toEqual([]);
  });

  it('never holds a secret', () => {
    for (const s of [PW_ROOT, PW, PW_NEW, DUO_SK, ...tokens.values()]) expect(text).not.toContain(s);
  });

  it('--since 1h --principal filters: records by or about that principal only', async () => {
    const mine: AuditRecord[] = json(ok(await root(['audit', 'get', '--since', '1h', '--principal', USER('denier')])));
    expect(mine.length).toBeGreaterThan(ROWS.length);
    for (const x of mine) expect([x.Actor, x.Principal]).toContain(USER('denier'));
    expect(mine.filter((x) => x.Actor === USER('denier') && x.Outcome === 'denied')).toHaveLength(ROWS.length + 2); // the matrix, then the self tests (target-user, the list)
    expect(mine).toContainEqual(expect.objectContaining({ Actor: USER('root'), Action: 'user.create', Principal: USER('denier') }));
    expect(mine.some((x) => x.Actor === USER('mixed'))).toBe(false);
    const ids = mine.map((x) => x.Id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // exactly the records of the full trail that are by or about denier (the trail read before, and since)
    const byId = new Map(all.map((x) => [x.Id, x]));
    expect(mine.filter((x) => byId.has(x.Id))).toEqual(all.filter((x) => x.Actor === USER('denier') || x.Principal === USER('denier')));

    // case-insensitive, limited to the newest
    const two: AuditRecord[] = json(ok(await root(['audit', 'get', '--since', '1h', '--principal', USER('DENIER'), '--limit', '2'])));
    expect(two.map((x) => x.Id)).toEqual(ids.slice(-2));
    // nothing from the future
    expect(json(ok(await root(['audit', 'get', '--since', '2999-01-01'])))).toEqual([]);
  });

  it('requests refused for want of a valid token are recorded too (README: "every … refused request is recorded")', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const anonymous = await as('anon', ['mfa', 'delete', '-n', 'cfg-shared']);
    expectRefused(anonymous, 5, 'UNAUTHENTICATED');
    const forged = await ssrun(['mfa', 'delete', '-n', 'cfg-shared'], { home: client, env: { SSRUN_TOKEN: secret('F'.repeat(43)) } });
    expectRefused(forged, 5, 'SESSION_EXPIRED');
    const recent: AuditRecord[] = json(ok(await root(['audit', 'get', '--since', since])));
    // (by actor: a refusal of the previous test may fall inside the one-second margin of `since`)
    const refused = recent.filter((x) => x.Outcome === 'denied' && x.Source === '127.0.0.1' && x.Action !== 'login' && x.Actor === 'anonymous');
    expect(refused, JSON.stringify(recent)).toHaveLength(2);
    expect(refused.map((x) => x.Detail)).toEqual(['UNAUTHENTICATED', 'SESSION_EXPIRED']);
    expect(JSON.stringify(refused)).not.toContain('F'.repeat(43));
  });

  it('reading the trail needs read on system/audit: others are refused, and that too is recorded', async () => {
    expectRefused(await as('norules', ['audit', 'get', '--principal', USER('norules')]), 9, 'FORBIDDEN', `${USER('norules')} may not read system/audit`);
    const mine: AuditRecord[] = json(ok(await root(['audit', 'get', '--principal', USER('norules'), '--limit', '1'])));
    expect(mine).toEqual([expect.objectContaining({ Actor: USER('norules'), Source: '127.0.0.1', Action: 'authorize.read', Principal: 'system/audit', Outcome: 'denied', Detail: 'no allow rule' })]);
  });
});
