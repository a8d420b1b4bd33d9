// `ssrun login -m browser` through Duo's Universal Prompt, end to end: the built binary, a real store, the real
// @duosecurity/duo_universal SDK talking HTTPS to a local stand-in of Duo's OIDC endpoints. The "browser" is
// the test (as $BROWSER): it fetches the authorize URL trusting the test CA and follows Duo's redirect to the
// CLI's loopback address (or tampers with it first), and one run goes through real headless Chromium.
// Outcomes are chosen by Duo username (scenario#tag): each test has its own user and its own Duo username.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUniversal, type FakeUniversal } from '../fakes/duo-universal.js';
import { browserHook, hasChromium, launchBrowser, type BrowserHook } from '../helpers/browser.js';
import { expectNoSecretsLeaked, expectRefused, json, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';
import { onTty, shownJson } from '../helpers/terminal.js';

const PASSWORD = secret('correct horse battery staple');
const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}$/;

let fake: FakeUniversal;
let home: string;
/** One fake BROWSER per login (tests run concurrently): each is cleaned up at the end. */
const hooks: BrowserHook[] = [];
function newHook(): BrowserHook {
  const h = browserHook();
  hooks.push(h);
  return h;
}

async function createConfig(Name: string, Options: Record<string, string>): Promise<RunResult> {
  const file = join(dirname(home), `${Name}.json`);
  writeFileSync(file, JSON.stringify({ Type: 'duo', Name, Options }));
  return ssrun(['mfa', 'create', '-f', file], { home });
}

beforeAll(async () => {
  fake = await startFakeUniversal();
  home = tempHome('ssrun-login-universal-');
  for (const [name, kind] of [['Universal', 'healthy'], ['SickUniversal', 'sick'], ['HangUniversal', 'hang']] as const) {
    const c = fake.client(kind);
    secret(c.clientSecret);
    const r = await createConfig(name, fake.options(c));
    expect(r.exitCode, r.stderr).toBe(0);
  }
});

afterAll(async () => {
  await fake?.close();
  for (const h of hooks) h.cleanup();
  expectNoSecretsLeaked();
});

async function userWith(name: string, duoUser: string, config = 'Universal'): Promise<void> {
  let r = await ssrun(['user', 'create', '-n', name, '--password-stdin'], { home, input: `${PASSWORD}\n` });
  expect(r.exitCode, r.stderr).toBe(0);
  r = await ssrun(['mfa', 'assign-principal', '-p', `principal/internal/user/${name}`, '-m', duoUser, '-c', config], { home });
  expect(r.exitCode, r.stderr).toBe(0);
}

const loginArgs = (user: string, extra: string[] = []) => ['login', '-u', user, '--password-stdin', '-m', 'browser', ...extra];

interface Answer {
  status: number;
  location?: string;
  body: string;
}

/** One GET, as a browser would send it (https trusting the test CA, or the plain loopback). */
function get(url: string): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const done = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }));
    };
    const req = u.protocol === 'https:' ? httpsRequest(u, { ca: fake.caPem }, done) : httpRequest(u, done);
    req.on('error', reject);
    req.end();
  });
}

/** Starts the login; the test is the browser: resolves with the URL ssrun asked it to open. */
async function start(user: string, extra: string[] = []) {
  const hook = newHook();
  const done = ssrun(loginArgs(user, extra), { home, input: `${PASSWORD}\n`, env: hook.env });
  let ended = false;
  void done.then(() => (ended = true));
  for (let i = 0; i < 120; i++) {
    const url = await hook.nextUrl(250).catch(() => undefined);
    if (url) return { url, done };
    if (ended) throw new Error(`login ended before opening a browser: ${JSON.stringify(await done)}`);
  }
  throw new Error('no browser URL within 30 s');
}

/** Duo's prompt, as the stand-in plays it: the authorize URL answers a redirect to the CLI's loopback. */
async function duoRedirect(url: string): Promise<URL> {
  const a = await get(url);
  expect(a.status, a.body).toBe(302);
  const back = new URL(a.location!);
  expect(`${back.origin}${back.pathname}`).toMatch(LOOPBACK);
  secret(back.searchParams.get('duo_code')!);
  return back;
}

/** The whole browser side: Duo's redirect followed to the CLI, whose page is returned. */
async function browse(url: string): Promise<Answer> {
  return get((await duoRedirect(url)).href);
}

/** A run that went through the browser: its stderr starts with the URL on a line of its own and the waiting line; the rest. */
function afterCeremony(r: RunResult): RunResult {
  const lines = r.stderr.split('\n');
  expect(lines[0]!.startsWith(`https://${fake.host}/oauth/v1/authorize?`), r.stderr).toBe(true);
  expect(lines[1]).toMatch(/^ssrun: Complete Duo's prompt in the browser window \(\d+ s left, Ctrl-C to cancel\)$/);
  return { ...r, stderr: lines.slice(2).join('\n') };
}

function expectSession(r: RunResult, user: string): void {
  expect(r.exitCode, r.stderr).toBe(0);
  expect(json(r)).toMatchObject({ Principal: `principal/internal/user/${user}`, Factor: 'universal-prompt' });
}

async function failedAttempts(user: string): Promise<number> {
  const r = await ssrun(['user', 'get', '-n', user, '-v'], { home });
  return json(r).FailedAttempts;
}

describe.concurrent("ssrun login -m browser (Duo's Universal Prompt)", () => {
  it('allow: the URL on stderr on its own line, the page says so, a session', async () => {
    await userWith('uma', 'allow#uma');
    const { url, done } = await start('uma');
    const authorize = new URL(url);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`https://${fake.host}/oauth/v1/authorize`);
    expect(authorize.searchParams.get('redirect_uri')).toMatch(LOOPBACK);
    const page = await browse(url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Duo approved the login. You may close this window.');
    const r = await done;
    expectSession(r, 'uma');
    expect(afterCeremony(r).stderr).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(url);
    expect(fake.requestsFor('allow#uma').map((q) => `${q.path} ${q.status}`)).toEqual(['/oauth/v1/authorize 302', '/oauth/v1/token 200']);
    const audit = json(await ssrun(['audit', 'get', '--principal', 'principal/internal/user/uma'], { home }));
    expect(audit.at(-1)).toMatchObject({ Action: 'login', Outcome: 'allowed', Detail: 'Universal Prompt (Duo Push)' });
  });

  it("deny: Duo's status message, escaped; the page says why; counted", async () => {
    await userWith('dan', 'evil#dan');
    const { url, done } = await start('dan');
    const page = await browse(url);
    expect(page.body).toContain('login failed');
    const r = await done;
    expect(r.stderr).not.toMatch(/[\u001b\r]/);
    expectRefused(afterCeremony(r), 5, 'MFA_DENIED', /error: login denied: Denied/);
    expect(await failedAttempts('dan')).toBe(1);
  });

  it('fraud: MFA_FRAUD', async () => {
    await userWith('fred', 'fraud#fred');
    const { url, done } = await start('fred');
    await browse(url);
    expectRefused(afterCeremony(await done), 5, 'MFA_FRAUD');
  });

  for (const [scenario, why] of [['wrong-user', /username is invalid/], ['bad-signature', /Error decoding JWT/], ['expired', /Error decoding JWT/]] as const) {
    it(`${scenario}: the token does not verify, denied`, async () => {
      const name = `u-${scenario}`;
      await userWith(name, `${scenario}#${name}`);
      const { url, done } = await start(name);
      await browse(url);
      expectRefused(afterCeremony(await done), 5, 'MFA_DENIED', why);
      expect(await failedAttempts(name)).toBe(1);
    });
  }

  it('a tampered state is refused before any code is exchanged, and audited', async () => {
    await userWith('tess', 'allow#tess');
    const { url, done } = await start('tess');
    const back = await duoRedirect(url);
    back.searchParams.set('state', `${back.searchParams.get('state')}x`);
    const page = await get(back.href);
    expect(page.body).toContain('state');
    expectRefused(afterCeremony(await done), 5, 'MFA_DENIED', /state that is not this login's/);
    expect(fake.requestsFor('allow#tess').map((q) => q.path)).toEqual(['/oauth/v1/authorize']);
    const audit = json(await ssrun(['audit', 'get', '--principal', 'principal/internal/user/tess'], { home }));
    expect(audit.at(-1)).toMatchObject({ Action: 'login', Outcome: 'denied' });
    expect(audit.at(-1).Detail).toMatch(/state mismatch/);
  });

  it("a replayed code is refused by Duo's token endpoint", async () => {
    await userWith('rita', 'allow#rita');
    const first = await start('rita');
    const firstBack = await duoRedirect(first.url);
    await get(firstBack.href);
    expectSession(await first.done, 'rita');
    const second = await start('rita');
    const back = await duoRedirect(second.url);
    back.searchParams.set('duo_code', firstBack.searchParams.get('duo_code')!);
    await get(back.href);
    expectRefused(afterCeremony(await second.done), 5, 'MFA_DENIED', /already used/);
    expect(fake.requestsFor('allow#rita').filter((q) => q.error === 'code replay')).toHaveLength(1);
  });

  it('an abandoned flow (--no-browser: the URL printed, nothing opened) times out and counts like an unanswered push', async () => {
    await userWith('abe', 'allow#abe');
    const hook = newHook();
    const r = await ssrun(loginArgs('abe', ['--timeout', '3', '--no-browser']), { home, input: `${PASSWORD}\n`, env: hook.env });
    expectRefused(afterCeremony(r), 5, 'MFA_TIMEOUT', "login denied: nothing came back from Duo's Universal Prompt in time");
    expect(hook.calls()).toEqual([]);
    expect(await failedAttempts('abe')).toBe(1);
  });

  it("health check FAIL: denied with Duo's message and the provider-unavailable code; no browser", async () => {
    await userWith('sid', 'allow#sid', 'SickUniversal');
    const hook = newHook();
    const r = await ssrun(loginArgs('sid'), { home, input: `${PASSWORD}\n`, env: hook.env });
    expectRefused(r, 7, 'PROVIDER_UNAVAILABLE', /health check failed: Service temporarily unavailable: maintenance/);
    expect(hook.calls()).toEqual([]);
  });

  it('a Duo that hangs: denied at the timeout, never open', async () => {
    await userWith('hank', 'allow#hank', 'HangUniversal');
    const r = await ssrun(loginArgs('hank', ['--timeout', '3']), { home, input: `${PASSWORD}\n`, env: newHook().env });
    expectRefused(r, 7, 'PROVIDER_UNAVAILABLE', /did not answer in time/);
  });

  it("a token endpoint that hangs past the login's timeout: denied, counted as the user's timeout", async () => {
    await userWith('tina', 'token-hang#tina');
    const { url, done } = await start('tina', ['--timeout', '4']);
    const back = await duoRedirect(url);
    void get(back.href).catch(() => undefined);
    expectRefused(afterCeremony(await done), 5, 'MFA_TIMEOUT', "login denied: nothing came back from Duo's Universal Prompt in time");
    expect(await failedAttempts('tina')).toBe(1);
  });

  it('-m push for a Universal Prompt user, -m browser for an Auth API user: refused before anything is counted', async () => {
    await userWith('pia', 'allow#pia');
    expectRefused(await ssrun(['login', '-u', 'pia', '--password-stdin', '-m', 'push'], { home, input: `${PASSWORD}\n` }), 2, 'INVALID_METHOD', /pass -m browser/);
    expect(await failedAttempts('pia')).toBe(0);
    const made = await createConfig('AuthApi', { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: secret('auth-api-secret-key-for-the-test-0123456'), Host: 'api-xxxxxxxx.duosecurity.com' });
    expect(made.exitCode, made.stderr).toBe(0);
    await userWith('paul', 'paul', 'AuthApi');
    expectRefused(await ssrun(loginArgs('paul'), { home, input: `${PASSWORD}\n` }), 2, 'INVALID_METHOD', /uses Duo's Auth API \("AuthApi"\), not the Universal Prompt/);
    expect(await failedAttempts('paul')).toBe(0);
  });

  it('without -m and without a terminal: MFA required, saying -m browser', async () => {
    await userWith('mo', 'allow#mo');
    const r = await ssrun(['login', '-u', 'mo', '--password-stdin'], { home, input: `${PASSWORD}\n` });
    expectRefused(r, 5, 'MFA_REQUIRED', "MFA required: pass -m browser to use Duo's Universal Prompt (a browser window opens)");
  });

  it('a Duo user id (DU…) cannot be assigned to a Universal Prompt configuration', async () => {
    const r = await ssrun(['user', 'create', '-n', 'ida', '--password-stdin'], { home, input: `${PASSWORD}\n` });
    expect(r.exitCode, r.stderr).toBe(0);
    const a = await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/ida', '-m', 'DUABCDEFGHIJKLMNOPQR', '-c', 'Universal'], { home });
    expectRefused(a, 2, 'USAGE', /identifies users by their Duo username/);
  });

  it('validation names the field and the expected length, never the secret', async () => {
    const c = fake.client();
    const short = await createConfig('ShortId', { ...fake.options(c), IntegrationKey: 'DI123' });
    expectRefused(short, 2, 'INVALID_CONFIG', "Options.IntegrationKey: with \"Prompt\": \"universal\" it is the Web SDK application's Client ID, 20 characters; received 5");
    const badSecret = secret('this-is-not-forty-characters');
    const longSecret = await createConfig('ShortSecret', { ...fake.options(c), SecretKey: badSecret });
    expectRefused(longSecret, 2, 'INVALID_CONFIG', `Options.SecretKey: with "Prompt": "universal" it is the Web SDK application's Client secret, 40 characters; received ${badSecret.length}`);
    const prompt = await createConfig('BadPrompt', { ...fake.options(c), Prompt: 'web' });
    expectRefused(prompt, 2, 'INVALID_CONFIG', 'Options.Prompt: expected one of "auth-api", "universal", received "web"');
    const shown = json(await ssrun(['mfa', 'get', '-n', 'Universal'], { home }));
    expect(shown.Options).toMatchObject({ SecretKey: '********', Prompt: 'universal' });
  });
});

describe('ssrun login on a terminal, no -m', () => {
  it("a Universal Prompt user goes straight to the browser (no menu), Factor universal-prompt", async () => {
    await userWith('terry', 'allow#terry');
    const hook = newHook();
    const tty = onTty(['login', '-u', 'terry'], { home, env: hook.env, waitFor: 'Password:', send: `${PASSWORD}\r` });
    const url = await hook.nextUrl(30_000);
    expect((await browse(url)).body).toContain('Duo approved the login');
    const { output, exitCode } = await tty;
    expect(exitCode, output).toBe(0);
    expect(output).toContain(url);
    expect(output).not.toContain('Second factor');
    expect(shownJson(output)).toMatchObject({ Principal: 'principal/internal/user/terry', Factor: 'universal-prompt' });
  });
});

describe.skipIf(!hasChromium)('ssrun login -m browser in real Chromium', () => {
  it('Chromium follows Duo to the loopback page, and the login succeeds', async () => {
    await userWith('chris', 'allow#chris');
    const browser = await launchBrowser({ authenticator: false });
    try {
      const { url, done } = await start('chris');
      await browser.page.goto(url);
      await browser.page.locator('#outcome').waitFor({ timeout: 15_000 });
      expect(await browser.page.locator('#outcome').getAttribute('data-ok')).toBe('true');
      expect(await browser.page.textContent('#outcome')).toBe('Duo approved the login. You may close this window.');
      expectSession(await done, 'chris');
    } finally {
      await browser.close();
    }
  });
});
