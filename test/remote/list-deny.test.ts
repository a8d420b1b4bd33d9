// Deny wins on lists too (issue 15): a user allowed to read every collection, with deny rules on one user
// (root), one group, one application and one MFA configuration, reads each list without the denied children
// (the denied principal is also left out of each configuration's Principals, and of the rules and audit
// records about it); root still sees everything. On a real `ssrun serve` (plain HTTP on 127.0.0.1), rules
// made with the CLI (`ssrun authorization create`) as the authz suite does.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome } from '../helpers/cli.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { clientHome, expectRefused, http, loginUser, ok } from './remote-helpers.js';

afterAll(() => expectNoSecretsLeaked());

const PW_ROOT = secret('listdeny-root-password-Kd4Mx7');
const PW = secret('listdeny-user-password-Wq2Hn5');
const DUO_SK = secret('listdeny-duo-secret-key-Pz8Rt3Vb');

const USER = (n: string) => `principal/internal/user/${n}`;
const APP = (n: string) => `principal/internal/application/${n}`;
const GROUP = (n: string) => `principal/internal/group/${n}`;
const config = (Name: string) => ({ Type: 'duo', Name, Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: DUO_SK, Host: 'api-aaaaaaaa.duosecurity.com' } });

const ALLOWED = ['principal/internal/user', 'principal/internal/application', 'principal/internal/group', 'system/multi_factor', 'system/authorization', 'system/audit'];
const DENIED = [USER('root'), GROUP('hidgroup'), APP('hiddenapp'), 'system/multi_factor/Hidden'];

let server: RunningServer;
let client: string;
let rootToken: string;
let readerToken: string;

const as = (token: string, args: string[]) => ssrun(args, { home: client, env: { SSRUN_TOKEN: token } });
const api = async (method: string, path: string, body?: unknown, token = rootToken) => {
  const a = await http(server.url, method, path, { token, body });
  if (a.status >= 300) throw new Error(`${method} ${path}: HTTP ${a.status} ${a.text}`);
  return a.body;
};

beforeAll(async () => {
  const home = tempHome('ssrun-listdeny-server-');
  ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
  server = await startServer({ home, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000'] });
  client = clientHome(server);
  rootToken = await loginUser(clientHome(server), 'root', PW_ROOT);
  for (const name of ['reader', 'alice']) await api('POST', '/users', { name, password: PW });
  for (const name of ['visibleapp', 'hiddenapp']) secret((await api('POST', '/applications', { name })).ApiKey as string);
  for (const name of ['visgroup', 'hidgroup']) await api('POST', '/groups', { name });
  await api('POST', '/groups/visgroup/members', { principal: USER('alice') });
  await api('POST', '/groups/hidgroup/members', { principal: USER('alice') });
  for (const name of ['Visible', 'Hidden']) await api('POST', '/multi_factor', config(name));
  await api('POST', '/multi_factor_assignments', { principal: USER('alice'), mfa_identity: 'alice', config: 'Visible' });
  await api('POST', '/multi_factor_assignments', { principal: APP('hiddenapp'), mfa_identity: 'hiddenapp', config: 'Visible' });
  await api('POST', '/multi_factor_assignments', { principal: APP('visibleapp'), mfa_identity: 'visibleapp', config: 'Hidden' });

  // the rules, with the CLI as root
  const rule = async (who: string, op: string, effect: string, resource: string) => ok(await as(rootToken, ['authorization', 'create', '-p', who, '-o', op, '-a', effect, resource]));
  for (const r of ALLOWED) await rule(USER('reader'), 'read', 'allow', r);
  for (const r of DENIED) await rule(USER('reader'), 'read', 'deny', r);
  // rules about a denied principal and a visible one (the rule list is by the principal a rule is about)
  await rule(APP('hiddenapp'), 'read', 'allow', 'system/audit');
  await rule(USER('alice'), 'read', 'allow', 'system/audit');
  readerToken = await loginUser(clientHome(server), 'reader', PW);
  // root and hiddenapp appear in the audit trail (root logged in; hiddenapp was created, assigned, given a rule)
}, 120_000);

const names = (xs: { Name: string }[]) => xs.map((x) => x.Name);

describe('deny wins on lists', { timeout: 120_000 }, () => {
  it('GET /users (user get): root is left out for the reader; root sees everyone', async () => {
    expect(names(json(ok(await as(readerToken, ['user', 'get']))))).toEqual(['alice', 'reader']);
    expect(names(json(ok(await as(readerToken, ['user', 'get', '-v']))))).toEqual(['alice', 'reader']);
    const raw = await http(server.url, 'GET', '/users?verbose=true', { token: readerToken });
    expect(raw.status, raw.text).toBe(200);
    expect(raw.text).not.toContain(USER('root'));
    expect(names(json(ok(await as(rootToken, ['user', 'get']))))).toEqual(['alice', 'reader', 'root']);
    // and one by name: deny wins (exit 9)
    expectRefused(await as(readerToken, ['user', 'get', '-n', 'root']), 9, 'FORBIDDEN', 'denied by the rule on principal/internal/user/root');
  });

  it('GET /applications (application get): hiddenapp is left out; root sees both', async () => {
    expect(names(json(ok(await as(readerToken, ['application', 'get']))))).toEqual(['visibleapp']);
    expect((await http(server.url, 'GET', '/applications?verbose=true', { token: readerToken })).text).not.toContain('hiddenapp');
    expect(names(json(ok(await as(rootToken, ['application', 'get']))))).toEqual(['hiddenapp', 'visibleapp']);
  });

  it('GET /groups (group get): hidgroup is left out; root sees both', async () => {
    expect(names(json(ok(await as(readerToken, ['group', 'get']))))).toEqual(['visgroup']);
    const raw = await http(server.url, 'GET', '/groups?verbose=true', { token: readerToken });
    expect(raw.status, raw.text).toBe(200);
    expect(raw.text).not.toContain('hidgroup');
    expect(names(json(ok(await as(rootToken, ['group', 'get']))))).toEqual(['hidgroup', 'visgroup']);
  });

  it('GET /multi_factor?verbose=true (mfa get -v): Hidden is left out, and hiddenapp is left out of Visible\'s Principals; root sees all', async () => {
    // (a fresh store has `totp` and `webauthn` configurations of its own besides the two made here)
    const mine = json(ok(await as(readerToken, ['mfa', 'get', '-v']))) as { Name: string; Principals: { Principal: string }[] }[];
    expect(names(mine)).toEqual(['totp', 'Visible', 'webauthn']);
    expect(mine.find((c) => c.Name === 'Visible')!.Principals.map((p) => p.Principal)).toEqual([USER('alice')]);
    const raw = await http(server.url, 'GET', '/multi_factor?verbose=true', { token: readerToken });
    expect(raw.status, raw.text).toBe(200);
    expect(raw.text).not.toContain('hiddenapp');
    expect(raw.text).not.toContain('Hidden');
    // without -v: the list is filtered too
    expect(names(json(ok(await as(readerToken, ['mfa', 'get']))))).toEqual(['totp', 'Visible', 'webauthn']);

    const all = json(ok(await as(rootToken, ['mfa', 'get', '-v']))) as { Name: string; Principals: { Principal: string }[] }[];
    expect(names(all)).toEqual(['Hidden', 'totp', 'Visible', 'webauthn']);
    expect(all.find((c) => c.Name === 'Visible')!.Principals.map((p) => p.Principal).sort()).toEqual([APP('hiddenapp'), USER('alice')]);
    expect(all.find((c) => c.Name === 'Hidden')!.Principals.map((p) => p.Principal)).toEqual([APP('visibleapp')]);
  });

  it('GET /authorizations (authorization get): the rule about hiddenapp is left out; root sees it', async () => {
    const mine = json(ok(await as(readerToken, ['authorization', 'get']))) as { Principal: string; Resource: string }[];
    expect(mine.some((z) => z.Principal === APP('hiddenapp'))).toBe(false);
    expect(mine.some((z) => z.Principal === USER('alice'))).toBe(true);
    expect(mine.filter((z) => z.Principal === USER('reader')).length).toBe(ALLOWED.length + DENIED.length);
    const raw = await http(server.url, 'GET', '/authorizations', { token: readerToken });
    expect((raw.body as { Principal: string }[]).filter((z) => z.Principal === APP('hiddenapp'))).toEqual([]);
    const all = json(ok(await as(rootToken, ['authorization', 'get']))) as { Principal: string }[];
    expect(all.some((z) => z.Principal === APP('hiddenapp'))).toBe(true);
    expect(all.length).toBe(mine.length + 1);
  });

  it('GET /audit (audit get): no record about root, hiddenapp or hidgroup for the reader; root sees them', async () => {
    const mine = json(ok(await as(readerToken, ['audit', 'get']))) as { Principal: string }[];
    const about = (xs: { Principal: string }[], p: string) => xs.filter((x) => x.Principal.toLowerCase() === p.toLowerCase()).length;
    expect(mine.length).toBeGreaterThan(0);
    expect({ root: about(mine, USER('root')), hiddenapp: about(mine, APP('hiddenapp')), hidgroup: about(mine, GROUP('hidgroup')) }).toEqual({ root: 0, hiddenapp: 0, hidgroup: 0 });
    expect(about(mine, USER('alice'))).toBeGreaterThan(0);
    const raw = await http(server.url, 'GET', '/audit', { token: readerToken });
    expect(raw.status, raw.text).toBe(200);
    expect((raw.body as { Principal: string }[]).filter((x) => [USER('root'), APP('hiddenapp'), GROUP('hidgroup')].includes(x.Principal))).toEqual([]);

    const all = json(ok(await as(rootToken, ['audit', 'get']))) as { Principal: string }[];
    expect(about(all, USER('root'))).toBeGreaterThan(0);
    expect(about(all, APP('hiddenapp'))).toBeGreaterThan(0);
    expect(about(all, GROUP('hidgroup'))).toBeGreaterThan(0);
  });
});
