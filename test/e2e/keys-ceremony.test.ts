// The security-key ceremony's page against the real CLI and server (on every backend: see test/e2e/remote/
// and remote-pg/): a reused URL (410), a foreign Host (421) and a wrong Origin (403) are refused while the
// ceremony keeps waiting; the URL is dead once the ceremony ends; nobody opening the URL ends it at --timeout
// (MFA_TIMEOUT), Ctrl-C ends it (CANCELLED). Over a server: a user registers, reads and changes only their
// own keys (FORBIDDEN otherwise), and a server without --public-url runs no ceremony (CEREMONY_UNAVAILABLE).

import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { http } from '../remote/remote-helpers.js';
import { BIN, currentBackend, expectNoSecretsLeaked, expectRefused, isRemote, json, ok, secret, serverOf, ssrun, tempHome, usePublicUrl } from '../helpers/cli.js';
import { startServer, testTls } from '../helpers/server.js';
import { createUser, expectCeremonyRefused, ISO, keysOf, passwordSession, raw, startCeremony, startKeys, type Keys } from './keys-kit.js';

usePublicUrl();

const PW = secret('keys-ceremony-password-Rt58wQ');

let k: Keys;
let home: string;
const gina: Record<string, string> = {};

beforeAll(async () => {
  home = tempHome('ssrun-keys-ceremony-');
  if (hasChromium) k = await startKeys();
  await createUser(home, 'gina', PW);
  Object.assign(gina, isRemote() ? await passwordSession(home, 'gina', PW) : {});
});

afterAll(async () => {
  await k?.close();
  expectNoSecretsLeaked();
});

/** The URL no longer answers: the loopback page is closed (refused), the server has no such ceremony (404). */
async function expectGone(url: string): Promise<void> {
  if (isRemote()) expect(await raw(url)).toEqual({ status: 404, body: 'no such ceremony (it ended, or the URL is wrong)\n' });
  else await expect(raw(url)).rejects.toThrow(/ECONNREFUSED/);
}

/** Has the run ended within ms? */
const endedWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe(`the ceremony page (${currentBackend()})`, () => {
  const add = (extra: string[] = []) => startCeremony(k, ['mfa', 'key', 'add', '-u', 'gina', '--timeout', '30', ...extra], { home, env: gina });

  it.skipIf(!hasChromium)('a foreign Host is misdirected (421) and does not use up the page: the browser then registers the key', async () => {
    const c = await add(['-n', 'after 421']);
    const u = new URL(c.url);
    expect(await raw(c.url, { host: 'evil.example' })).toEqual({ status: 421, body: 'misdirected request: wrong Host\n' });
    expect(await raw(c.url, { host: `127.0.0.1:${u.port}` })).toEqual({ status: 421, body: 'misdirected request: wrong Host\n' });
    expect(await raw(c.url, { host: `evil.example:${u.port}`, method: 'POST', origin: u.origin, contentType: 'application/json', body: '{"refused":"x"}' })).toMatchObject({ status: 421 });
    const page = await k.browser.open(c.url);
    expect(page).toEqual({ state: 'done', text: 'Done: you can close this window' });
    const r = ok(await c.done);
    expect(json(r)).toMatchObject({ User: 'gina', Name: 'after 421', CreatedAt: expect.stringMatching(ISO) });
    await expectGone(c.url);

    // A login ceremony nobody answers (BROWSER=none: printed, not opened) ends at login's --timeout.
    const calls = k.hook.calls().length;
    const login = await ssrun(['login', '-u', 'gina', '--password-stdin', '-m', 'key', '--timeout', '5'], { home, input: `${PW}\n`, env: { BROWSER: 'none' } });
    const url = login.stderr.split('\n')[0]!;
    expect(url).toMatch(/^https?:\/\/localhost:\d+\//);
    expectCeremonyRefused({ r: login, url }, 5, 'MFA_TIMEOUT');
    expect(k.hook.calls()).toHaveLength(calls);
    await expectGone(url);

    // The key was an MFA change: gina's session went with it. Back to no factor, and a new session.
    ok(await ssrun(['mfa', 'remove-principal', '-p', 'principal/internal/user/gina'], { home }));
    Object.assign(gina, isRemote() ? await passwordSession(home, 'gina', PW) : {});
  });

  it.skipIf(!hasChromium)('a reused URL is gone (410), and the ceremony fails closed: two browsers had it', async () => {
    const c = await add();
    const page = await raw(c.url);
    expect(page.status).toBe(200);
    const challenge = /"challenge":"([A-Za-z0-9_-]{16,})"/.exec(page.body)?.[1];
    expect(challenge).toBeDefined();
    secret(challenge!);
    expect(await raw(c.url)).toEqual({ status: 410, body: 'this ceremony page was already used\n' });
    expectCeremonyRefused({ r: await c.done, url: c.url }, 5, 'KEY_REJECTED', 'the ceremony page was opened twice (someone else may have its URL): nothing was accepted; start again');
    await expectGone(c.url);
    expect(json(ok(await ssrun(['mfa', 'key', 'get', '-u', 'gina'], { home })))).toEqual([]);
  });

  it.skipIf(!hasChromium)('a post from another origin is refused (403) and the ceremony still waits', async () => {
    const c = await add();
    const origin = new URL(c.url).origin;
    const page = await raw(c.url);
    expect(page.status).toBe(200);
    const challenge = /"challenge":"([A-Za-z0-9_-]{16,})"/.exec(page.body)?.[1];
    if (challenge) secret(challenge);
    const post = (from: string | undefined, body = '{"refused":"NotAllowedError: test"}', contentType = 'application/json') => raw(c.url, { method: 'POST', origin: from, contentType, body });
    const foreign = 'the request does not come from the ceremony page\n';
    expect(await post('https://evil.example')).toEqual({ status: 403, body: foreign });
    expect(await post(`${origin.startsWith('https') ? 'http' : 'https'}://${new URL(c.url).host}`)).toEqual({ status: 403, body: foreign });
    expect(await post('null')).toEqual({ status: 403, body: foreign });
    expect(await post(undefined)).toEqual({ status: 403, body: foreign });
    expect(await post(origin, '{"refused":"x"}', 'text/plain')).toEqual({ status: 415, body: 'the body must be application/json\n' });
    expect(await post(origin, '{"response":{},"refused":"x"}')).toMatchObject({ status: 400 });
    expect(await endedWithin(c.done, 500)).toBe(false);
    // The page's own origin: taken (here a refusal, as the browser posts one).
    expect(await post(origin)).toEqual({ status: 200, body: '{"ok":true}' });
    expectCeremonyRefused({ r: await c.done, url: c.url }, 5, 'KEY_REJECTED', 'security key not registered: the browser said "NotAllowedError: test"');
    await expectGone(c.url);
    expect(json(ok(await ssrun(['mfa', 'key', 'get', '-u', 'gina'], { home })))).toEqual([]);
  });

  it.skipIf(!hasChromium)('a post before the page was served is refused (409), the ceremony still waits', async () => {
    const c = await add();
    const origin = new URL(c.url).origin;
    expect(await raw(c.url, { method: 'POST', origin, contentType: 'application/json', body: '{"refused":"x"}' })).toEqual({ status: 409, body: 'open the ceremony page first\n' });
    expect(await raw(`${origin}/ceremony-or-not/other`)).toMatchObject({ status: 404 });
    expect(await endedWithin(c.done, 300)).toBe(false);
    expect((await raw(c.url)).status).toBe(200);
    expect(await raw(c.url, { method: 'POST', origin, contentType: 'application/json', body: '{"refused":"AbortError: test"}' })).toMatchObject({ status: 200 });
    expectCeremonyRefused({ r: await c.done, url: c.url }, 5, 'KEY_REJECTED', '"AbortError: test"');
  });

  it.skipIf(!hasChromium)('Ctrl-C ends the ceremony: exit 130 (CANCELLED), and its page is gone', async () => {
    const child = execa(BIN, ['mfa', 'key', 'add', '-u', 'gina', '--timeout', '60'], { env: { SSRUN_HOME: home, NO_COLOR: '1', ...gina, ...k.hook.env }, reject: false, timeout: 60_000, stripFinalNewline: false });
    const url = await k.hook.nextUrl(30_000);
    expect((await raw(url, { host: 'evil.example' })).status).toBe(421);
    child.kill('SIGINT');
    const r = await child;
    expect([r.exitCode, String(r.stdout)]).toEqual([130, '']);
    expect(String(r.stderr).split('\n').at(-2)).toMatch(/^ssrun: error: .*\(CANCELLED\)$/);
    // The server notices the closed stream: its slot goes (at once, or within a few seconds).
    for (let i = 0; isRemote() && i < 30 && (await raw(url).catch(() => ({ status: 0 }))).status !== 404; i++) await new Promise((res) => setTimeout(res, 100));
    await expectGone(url);
  });

  it('nobody opens the URL: MFA_TIMEOUT at --timeout (--no-browser prints it, opens nothing)', async () => {
    const calls = k?.hook.calls().length ?? 0;
    const started = Date.now();
    const r = await ssrun(['mfa', 'key', 'add', '-u', 'gina', '--timeout', '5', '--no-browser'], { home, env: { ...gina, ...(k ? k.hook.env : {}) } });
    const url = r.stderr.split('\n')[0]!;
    expect(url).toMatch(/^https?:\/\/localhost:\d+\//);
    expectCeremonyRefused({ r, url }, 5, 'MFA_TIMEOUT', 'no answer from the browser within 5 s');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    expect(r.stderr).toContain('ssrun: Touch your security key in the browser window to register it (5 s left, Ctrl-C to cancel)');
    expect(k?.hook.calls().length ?? 0).toBe(calls);
    await expectGone(url);
  });
});

describe.runIf(isRemote())(`over a server (${currentBackend()})`, () => {
  it('a user registers only their own keys: root, or another user, for gina → FORBIDDEN (exit 9), no ceremony', async () => {
    const calls = k?.hook.calls().length ?? 0;
    const forbidden = (actor: string) => `${actor} may not register a security key for principal/internal/user/gina: users register their own keys`;
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'gina'], { home, env: k?.hook.env ?? {} }), 9, 'FORBIDDEN', forbidden('principal/internal/user/root'));
    await createUser(home, 'ivan', PW);
    const ivan = await passwordSession(home, 'ivan', PW);
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'gina'], { home, env: { ...ivan, ...(k?.hook.env ?? {}) } }), 9, 'FORBIDDEN', forbidden('principal/internal/user/ivan'));
    expect(k?.hook.calls().length ?? 0).toBe(calls);
    // Nor read, rename or delete them without rights on gina; their own (none) they may read.
    expectRefused(await ssrun(['mfa', 'key', 'get', '-u', 'gina'], { home, env: ivan }), 9, 'FORBIDDEN');
    expectRefused(await ssrun(['mfa', 'key', 'get'], { home, env: ivan }), 9, 'FORBIDDEN');
    expectRefused(await ssrun(['mfa', 'key', 'rename', '-u', 'gina', '--id', 'AAAAAAAAAAAAAAAAAAAAAA', '-n', 'x'], { home, env: ivan }), 9, 'FORBIDDEN');
    expectRefused(await ssrun(['mfa', 'key', 'delete', '-u', 'gina', '--id', 'AAAAAAAAAAAAAAAAAAAAAA'], { home, env: ivan }), 9, 'FORBIDDEN');
    expect(ok(await ssrun(['mfa', 'key', 'get', '-u', 'ivan'], { home, env: ivan })).stdout).toBe('[]\n');
  });

  it('the server\'s page says who asked for it and waits for a click before it uses the key', async () => {
    // A fresh login (a change of one's own keys needs one less than 5 minutes old).
    Object.assign(gina, await passwordSession(home, 'gina', PW));
    const run = await startCeremony(k!, ['mfa', 'key', 'add', '-u', 'gina', '-n', 'clicked', '--timeout', '30'], { home, env: gina });
    await k!.browser.goto(run.url);
    expect(await k!.browser.page.textContent('#context')).toMatch(/^Only continue if you started this yourself, just now: asked for by a command line at 127\.0\.0\.1 on \d{4}-\d\d-\d\d \d\d:\d\d UTC\. A link someone sent you is not a reason to touch your key\.$/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await k!.browser.page.getAttribute('#status', 'data-state')).toBe('waiting');
    await k!.browser.page.click('#start');
    await k!.browser.page.locator('#status[data-state="done"]').waitFor({ timeout: 20_000 });
    expect(json(ok(await run.done))).toMatchObject({ User: 'gina', Name: 'clicked' });
  });

  it("a request naming another user in the body and itself in the query (or the reverse) cannot touch gina's keys", async () => {
    const before = await keysOf(home, 'gina');
    expect(before.length).toBeGreaterThan(0);
    const id = before[0].KeyId as string;
    const server = await serverOf(home);
    const { readFileSync } = await import('node:fs');
    const ca = readFileSync((await testTls()).caFile, 'utf8');
    const token = (await passwordSession(home, 'ivan', PW)).SSRUN_TOKEN!;
    // DELETE reads its user from the query only: a body naming ivan does not make it ivan's own request.
    const del = await http(server.url, 'DELETE', `/multi_factor_keys/${id}?user=gina`, { token, ca, body: { user: 'ivan', password: PW } });
    expect([del.status, del.body?.error?.code]).toEqual([403, 'FORBIDDEN']);
    // Its own, with a body naming anyone: refused as a malformed request (the body holds the password only).
    const own = await http(server.url, 'DELETE', `/multi_factor_keys/${id}?user=ivan`, { token, ca, body: { user: 'gina' } });
    expect([own.status, own.body?.error?.code]).toEqual([400, 'USAGE']);
    const del2 = await http(server.url, 'DELETE', `/multi_factor_keys/${id}?user=gina`, { token, ca });
    expect([del2.status, del2.body?.error?.code]).toEqual([403, 'FORBIDDEN']);
    // PUT reads its user from the body only.
    const put = await http(server.url, 'PUT', `/multi_factor_keys/${id}?user=ivan`, { token, ca, body: { user: 'gina', name: 'owned' } });
    expect([put.status, put.body?.error?.code]).toEqual([403, 'FORBIDDEN']);
    expect(await keysOf(home, 'gina')).toEqual(before);
  });
});

describe.runIf(currentBackend() === 'remote')('a server without --public-url', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssrun-keys-nourl-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs no key ceremony: CEREMONY_UNAVAILABLE (exit 7); an administrator may still assign keys (pending)', async () => {
    const tls = await testTls();
    const server = await startServer({ home: join(dir, 'server'), tls });
    try {
      const client = join(dir, 'client');
      mkdirSync(client, { mode: 0o700 });
      const state = { current: 'srv', contexts: { srv: { host: '127.0.0.1', port: server.port, scheme: 'https', verify: true, ca: tls.caFile, version: 'v1' } } };
      writeFileSync(join(client, 'cli.json'), JSON.stringify(state), { mode: 0o600 });
      const run = async (args: string[], input = '') => {
        const r = await execa(BIN, args, { input, env: { SSRUN_HOME: client, NO_COLOR: '1', BROWSER: 'none' }, reject: false, timeout: 60_000, stripFinalNewline: false });
        return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
      };
      ok(await run(['init', '--password-stdin'], `${PW}\n`));
      ok(await run(['login', '-u', 'root', '--password-stdin'], `${PW}\n`));
      ok(await run(['user', 'create', '-n', 'bob', '--password-stdin'], `${PW}\n`));
      expect(json(ok(await run(['mfa', 'assign-principal', '-p', 'principal/internal/user/bob', '-c', 'webauthn'])))).toMatchObject({ Pending: true });
      const login = ok(await run(['login', '-u', 'bob', '--password-stdin'], `${PW}\n`));
      expect(json(login).Factor).toBe('password (key enrolment only)');
      const message = 'security keys need a browser ceremony, and none can run here (a server needs `ssrun serve --public-url`)';
      expectRefused(await run(['mfa', 'key', 'add', '-u', 'bob']), 7, 'CEREMONY_UNAVAILABLE', message);
    } finally {
      await server.stop();
    }
  });
});
