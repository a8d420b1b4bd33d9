// Text from outside never reaches a terminal or the audit as itself (issue 15, S24, S25), on a real
// `ssrun serve` (plain HTTP on 127.0.0.1) and the embedded store: a name in a URL is validated before
// authorization (a user with no rights gets 400 INVALID_NAME, not 403), and is echoed only escaped; for every
// code point of the list (C0, DEL, C1, U+061C, U+200E, U+200F, U+2028, U+2029, U+202A–U+202E,
// U+2066–U+2069): a URL name holding it is a 400 with no raw character in the answer, and a Duo status_msg
// holding it (a preauth deny, a push progress line) reaches neither the answer, the CLI's stdout/stderr nor
// the audit raw. Duo is test/fakes/duo-server.ts (its fixed EVIL_STATUS_MSG) and test/helpers/unsafe.ts's
// hostile Duo (any status_msg).

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDuo, type FakeDuo } from '../fakes/duo-server.js';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { HOSTILE_STATUS_MSG, UNSAFE_CODE_POINTS, hex, rawUnsafe, rawUnsafeInLines, startHostileDuo, type HostileDuo } from '../helpers/unsafe.js';
import { clientHome, expectErrorAnswer, http, limited, loginUser, ok, savedToken } from './remote-helpers.js';

const PW_ROOT = secret('hostile-root-password-Nf3Wq8');
const PW = secret('hostile-user-password-Gs5Xk2');
const HOSTILE_SK = secret('hostile-duo-secret-key-Jt7Lm4Pc9Ra2Zd6Hv');

let fake: FakeDuo;
let hostile: HostileDuo;
let server: RunningServer;
let client: string;
let rootToken: string;
let noRights: string;

afterAll(async () => {
  await fake?.close();
  await hostile?.close();
  expectNoSecretsLeaked();
});

const USER = (n: string) => `principal/internal/user/${n}`;
const api = async (method: string, path: string, body?: unknown, token = rootToken) => {
  const a = await http(server.url, method, path, { token, body });
  if (a.status >= 300) throw new Error(`${method} ${path}: HTTP ${a.status} ${a.text}`);
  return a.body;
};
const asRoot = (args: string[]) => ssrun(args, { home: client, env: { SSRUN_TOKEN: rootToken } });

/** Every string in a decoded JSON value (what a table or a log line would print). */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) strings(x, out.concat(k));
  return out;
}
/** Unsafe characters raw in an answer: in its bytes, and in any string once decoded. */
const rawInJson = (text: string, body: unknown) => [...new Set([...rawUnsafe(text), ...strings(body).flatMap(rawUnsafe)])];
/**
 * Unsafe characters raw in the output of a CLI run (the LFs ending its lines aside; a line of stderr that does
 * not start with "ssrun: " is an LF that came from outside).
 */
const rawInRun = (r: RunResult) => {
  const found = [...rawUnsafeInLines(r.stdout), ...rawUnsafeInLines(r.stderr)];
  if (r.stderr.split('\n').slice(0, -1).some((l) => !l.startsWith('ssrun: '))) found.push('U+000A (a stderr line not written by ssrun)');
  return [...new Set(found)];
};

/** The audit trail as root reads it, over the API and through the CLI: no raw unsafe character anywhere. */
async function expectCleanAudit(): Promise<void> {
  const a = await http(server.url, 'GET', '/audit?limit=100000', { token: rootToken });
  expect(a.status, a.text.slice(0, 300)).toBe(200);
  expect(rawInJson(a.text, a.body)).toEqual([]);
  const r = ok(await asRoot(['audit', 'get', '--limit', '100000']));
  expect(rawInRun(r)).toEqual([]);
  expect(strings(json(r)).flatMap(rawUnsafe)).toEqual([]);
  const t = ok(await asRoot(['audit', 'get', '--limit', '100000', '--output', 'table']));
  expect(rawInRun(t)).toEqual([]);
}

beforeAll(async () => {
  const home = tempHome('ssrun-hostile-server-');
  const [init, f, h] = await Promise.all([ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }), startFakeDuo(), startHostileDuo(HOSTILE_SK)]);
  ok(init);
  [fake, hostile] = [f, h];
  secret(fake.skey);
  server = await startServer({ home, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000'] });
  client = clientHome(server);
  rootToken = await loginUser(clientHome(server), 'root', PW_ROOT);
  await limited(2, ['norights', 'duo-a', 'duo-b', 'duo-c', 'evil', 'cli-deny', 'cli-push'].map((name) => () => api('POST', '/users', { name, password: PW })));
  await api('POST', '/multi_factor', { Type: 'duo', Name: 'Hostile', Options: hostile.options() });
  await api('POST', '/multi_factor', { Type: 'duo', Name: 'FakeDuo', Options: fake.options() });
  noRights = await loginUser(clientHome(server), 'norights', PW);
}, 120_000);

describe('names in URLs', { timeout: 120_000 }, () => {
  it('GET /groups/e2e%E2%80%AEtoor%20ot%20ssecca%20detnarg by a user with no rights: 400 INVALID_NAME (before authorization), U+202E only escaped', async () => {
    const a = await http(server.url, 'GET', '/groups/e2e%E2%80%AEtoor%20ot%20ssecca%20detnarg', { token: noRights });
    expectErrorAnswer(a, 400, 'INVALID_NAME');
    expect(a.text).not.toContain('\u202e');
    expect(a.body.error.message).not.toContain('\u202e');
    expect(a.body.error.message).toContain('e2e\\u202etoor ot ssecca detnarg');
    // the same through the CLI: exit 2, escaped on the terminal
    const r = await ssrun(['group', 'get', '-n', 'e2e\u202etoor ot ssecca detnarg'], { home: client, env: { SSRUN_TOKEN: noRights } });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\(INVALID_NAME\)\n$/);
    expect(rawInRun(r)).toEqual([]);
    // no refusal was recorded for it (it never became a resource), and nothing in the audit is raw
    const audit = json(ok(await asRoot(['audit', 'get', '--principal', USER('norights')]))) as { Action: string; Principal: string; Detail: string }[];
    expect(audit.filter((x) => x.Action.startsWith('authorize'))).toEqual([]);
    await expectCleanAudit();
  });

  it('every unsafe code point in a URL name (users, applications, groups, multi_factor, mfa_policies): 400, never the raw character', async () => {
    const bases = ['/users', '/applications', '/groups', '/multi_factor', '/mfa_policies'];
    const bad: string[] = [];
    await limited(4, UNSAFE_CODE_POINTS.map((cp, i) => async () => {
      const ch = String.fromCodePoint(cp);
      const path = `${bases[i % bases.length]}/e2e${encodeURIComponent(ch)}name`;
      const a = await http(server.url, 'GET', path, { token: noRights });
      const code = a.body?.error?.code;
      if (a.status !== 400 || !['INVALID_NAME', 'INVALID_POLICY', 'USAGE'].includes(code)) bad.push(`U+${hex(cp)} ${path}: HTTP ${a.status} ${a.text.slice(0, 160)}`);
      const raw = rawInJson(a.text, a.body);
      if (raw.length) bad.push(`U+${hex(cp)} ${path}: raw ${raw.join(' ')} in ${JSON.stringify(a.text.slice(0, 160))}`);
      if (a.body && Object.keys(a.body.error ?? {}).sort().join() !== 'code,message') bad.push(`U+${hex(cp)}: not our shape: ${a.text.slice(0, 160)}`);
    }));
    expect(bad).toEqual([]);
    // and as root (authorization is not what refuses them)
    for (const cp of [0x202e, 0x2066, 0x0085, 0x001b]) {
      const a = await http(server.url, 'GET', `/users/x${encodeURIComponent(String.fromCodePoint(cp))}y`, { token: rootToken });
      expect(a.status, a.text).toBe(400);
      expect(rawInJson(a.text, a.body)).toEqual([]);
    }
    await expectCleanAudit();
  });
});

describe('Duo status_msg', { timeout: 240_000 }, () => {
  it('every unsafe code point in a preauth deny and in a push progress line (API, NDJSON): no raw character in the answer', async () => {
    const users = ['duo-a', 'duo-b', 'duo-c'];
    const bad: string[] = [];
    // one user per lane: assign, then log in (a preauth deny is no guess: nothing is counted)
    const lanes = users.map((user, lane) => async () => {
      for (let i = lane; i < UNSAFE_CODE_POINTS.length; i += users.length) {
        const cp = UNSAFE_CODE_POINTS[i]!;
        const kind = i % 2 === 0 ? 'deny' : 'push';
        await api('POST', '/multi_factor_assignments', { principal: USER(user), mfa_identity: `${kind}-${hex(cp)}`, config: 'Hostile' });
        const a = await http(server.url, 'POST', '/connect/token/internal', { body: { username: user, password: PW, mfa: 'push' }, headers: { accept: kind === 'push' ? 'application/x-ndjson' : 'application/json' } });
        if (kind === 'deny') {
          if (a.status !== 401 || a.body?.error?.code !== 'MFA_DENIED') bad.push(`U+${hex(cp)} deny: HTTP ${a.status} ${a.text.slice(0, 200)}`);
          else if (!a.body.error.message.includes(`\\u${hex(cp)}`)) bad.push(`U+${hex(cp)} deny: not escaped as \\u${hex(cp)}: ${a.text.slice(0, 200)}`);
          const raw = rawInJson(a.text, a.body);
          if (raw.length) bad.push(`U+${hex(cp)} deny: raw ${raw.join(' ')}`);
        } else {
          const lines = a.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
          const raw = [...new Set(lines.flatMap((l) => rawInJson(JSON.stringify(l), l)).concat(rawUnsafe(a.text.replace(/\n/g, ''))))];
          if (raw.length) bad.push(`U+${hex(cp)} push: raw ${raw.join(' ')}`);
          const result = lines.at(-1)?.result;
          if (!result?.access_token) bad.push(`U+${hex(cp)} push: no session: ${a.text.slice(0, 200)}`);
          else secret(result.access_token);
          if (!lines.some((l) => typeof l.progress === 'string' && l.progress.includes(`\\u${hex(cp)}`))) bad.push(`U+${hex(cp)} push: no escaped progress line: ${a.text.slice(0, 200)}`);
        }
      }
    });
    await Promise.all(lanes.map((l) => l()));
    expect(bad).toEqual([]);
    await expectCleanAudit();
  });

  it('the CLI through the server: a deny and a push progress line holding every unsafe character; stdout, stderr and the audit stay clean', async () => {
    await api('POST', '/multi_factor_assignments', { principal: USER('cli-deny'), mfa_identity: 'deny-all', config: 'Hostile' });
    await api('POST', '/multi_factor_assignments', { principal: USER('cli-push'), mfa_identity: 'push-all', config: 'Hostile' });
    const home = clientHome(server);
    const denied = await ssrun(['login', '-u', 'cli-deny', '--password-stdin', '-m', 'push'], { home, input: `${PW}\n` });
    expect(denied.exitCode, denied.stderr).toBe(5);
    expect(denied.stderr).toMatch(/\(MFA_DENIED\)\n$/);
    expect(rawInRun(denied)).toEqual([]);
    // (the message is cut at 200 characters once escaped: the C0 controls come first)
    expect(denied.stderr).toContain('Access denied\\u0000\\u0001');
    const pushed = ok(await ssrun(['login', '-u', 'cli-push', '--password-stdin', '-m', 'push'], { home, input: `${PW}\n` }));
    savedToken(home);
    expect(rawInRun(pushed)).toEqual([]);
    expect(pushed.stderr).toContain('Access denied\\u0000\\u0001');
    expect(HOSTILE_STATUS_MSG.length).toBeGreaterThan(UNSAFE_CODE_POINTS.length);
    await expectCleanAudit();
  });

  it("the fake's EVIL_STATUS_MSG (CR, LF, escapes), preauth deny and push, through the server: stdout, stderr and the audit stay clean", async () => {
    const home = clientHome(server);
    await api('POST', '/multi_factor_assignments', { principal: USER('evil'), mfa_identity: 'evil#hostile', config: 'FakeDuo' });
    const denied = await ssrun(['login', '-u', 'evil', '--password-stdin', '-m', 'push'], { home, input: `${PW}\n` });
    expect(denied.exitCode, denied.stderr).toBe(5);
    expect(denied.stderr).toBe('ssrun: error: login denied: Access denied\\u000d\\u000assrun: login OK\\u001b[2J\\u001b[31m! (MFA_DENIED)\n');
    expect(rawInRun(denied)).toEqual([]);
    await api('POST', '/multi_factor_assignments', { principal: USER('evil'), mfa_identity: 'evil-push#hostile', config: 'FakeDuo' });
    const pushed = ok(await ssrun(['login', '-u', 'evil', '--password-stdin', '-m', 'push'], { home, input: `${PW}\n` }));
    savedToken(home);
    expect(rawInRun(pushed)).toEqual([]);
    expect(pushed.stderr).toContain('Access denied\\u000d\\u000assrun: login OK\\u001b[2J\\u001b[31m!');
    await expectCleanAudit();
  });
});

describe('Duo status_msg on the embedded store', { timeout: 240_000 }, () => {
  it('a deny and a push holding every unsafe character, and the fake\'s EVIL_STATUS_MSG: stdout, stderr and `audit get` stay clean', async () => {
    const home = tempHome('ssrun-hostile-local-');
    const dir = dirname(home);
    ok(await ssrun(['user', 'get'], { home }));
    for (const [Name, Options] of [['Hostile', hostile.options()], ['FakeDuo', fake.options()]] as const) {
      const file = join(dir, `${Name}.json`);
      writeFileSync(file, JSON.stringify({ Type: 'duo', Name, Options }));
      ok(await ssrun(['mfa', 'create', '-f', file], { home }));
    }
    const cases: [string, string, string][] = [
      ['ldeny', 'deny-all', 'Hostile'],
      ['lpush', 'push-all', 'Hostile'],
      ['levil', 'evil#local', 'FakeDuo'],
      ['levilpush', 'evil-push#local', 'FakeDuo'],
    ];
    for (const [user, identity, cfg] of cases) {
      ok(await ssrun(['user', 'create', '-n', user, '--password-stdin'], { home, input: `${PW}\n` }));
      ok(await ssrun(['mfa', 'assign-principal', '-p', USER(user), '-m', identity, '-c', cfg], { home }));
      const r = await ssrun(['login', '-u', user, '--password-stdin', '-m', 'push'], { home, input: `${PW}\n` });
      expect(rawInRun(r), `${user}: ${JSON.stringify(r.stderr)}`).toEqual([]);
      expect(r.exitCode, `${user}: ${r.stderr}`).toBe(identity.startsWith('deny') || identity.startsWith('evil#') ? 5 : 0);
      if (r.exitCode === 0) {
        const conf = JSON.parse((await import('node:fs')).readFileSync(join(home, 'cli.json'), 'utf8')) as { sessions?: Record<string, { token: string }> };
        for (const s of Object.values(conf.sessions ?? {})) secret(s.token);
      }
    }
    const audit = ok(await ssrun(['audit', 'get'], { home }));
    expect(rawInRun(audit)).toEqual([]);
    expect(strings(json(audit)).flatMap(rawUnsafe)).toEqual([]);
    const table = ok(await ssrun(['audit', 'get', '--output', 'table'], { home }));
    expect(rawInRun(table)).toEqual([]);
  });
});
