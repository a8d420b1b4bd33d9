// The CLI's browser ceremony, end to end in a real browser: loopbackCeremony() serves the one-shot page on
// 127.0.0.1, headless Chromium (Debian's, driven by playwright-core) runs it with a CDP virtual authenticator,
// and @simplewebauthn/server verifies what comes back: a registration, then an authentication with the key it
// registered. The page is single-use (second GET → 410), answers only its secret path (404), its own Host
// (421, DNS rebinding) and its own Origin; the ceremony ends at the deadline (MFA_TIMEOUT, port closed), on
// abort (CANCELLED) and with the browser's refusal. showCeremony prints the URL alone on a line and opens it
// with BROWSER (a hook here), never with BROWSER=none.

import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { scriptJson } from '../../src/ceremony/page.js';
import { loopbackCeremony, showCeremony, type CeremonyEvent } from '../../src/cli/ceremony.js';
import type { CeremonyAnswer, CeremonyRequest, CeremonySite } from '../../src/core/ceremony.js';
import { SsrunError } from '../../src/core/errors.js';
import { browserHook, hasChromium, launchBrowser, type BrowserHook, type TestBrowser } from '../helpers/browser.js';

interface Started {
  event: Promise<CeremonyEvent>;
  answer: Promise<CeremonyAnswer>;
}

/** Starts a loopback ceremony; `event` is its `ceremony` progress event (the URL). */
function start(kind: CeremonyRequest['kind'], build: CeremonyRequest['build'], opts: { ms?: number; signal?: AbortSignal; title?: string } = {}): Started {
  let got!: (e: CeremonyEvent) => void;
  const event = new Promise<CeremonyEvent>((resolve) => (got = resolve));
  const answer = loopbackCeremony().run({
    kind,
    title: opts.title ?? 'Register a security key for bob',
    build,
    deadline: Date.now() + (opts.ms ?? 30_000),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (e) => {
      if (e.kind === 'ceremony') got(e);
    },
  });
  answer.catch(() => undefined);
  return { event, answer };
}

const placeholder = async () => ({ challenge: 'AAAA', rp: { id: 'localhost', name: 'ssrun' } });

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request to the ceremony's port, with any Host and Origin. */
function http(url: string, opts: { method?: string; host?: string; origin?: string; contentType?: string; body?: string } = {}): Promise<Reply> {
  const u = new URL(url);
  const headers: Record<string, string> = { host: opts.host ?? u.host };
  if (opts.origin) headers.origin = opts.origin;
  if (opts.contentType) headers['content-type'] = opts.contentType;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: u.port, path: u.pathname, method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function refusesConnections(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function rejection(p: Promise<unknown>): Promise<SsrunError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SsrunError);
  return e as SsrunError;
}

describe.skipIf(!hasChromium)('loopback ceremony in headless Chromium', () => {
  let browser: TestBrowser;
  let credential: WebAuthnCredential | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('registers a security key: the answer verifies for the site it ran at', async () => {
    let challenge = '';
    const { event, answer } = start('register', async (site: CeremonySite) => {
      const options = await generateRegistrationOptions({ rpName: 'ssrun', rpID: site.rpId, userName: 'bob', userID: new Uint8Array(16), attestationType: 'none', authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' } });
      challenge = options.challenge;
      return options;
    });
    const e = await event;
    expect(e.url).toMatch(/^http:\/\/localhost:\d+\/[A-Za-z0-9_-]{43}$/);
    expect(e.message).toBe('Touch your security key in the browser window to register it');
    expect(await browser.open(e.url)).toEqual({ state: 'done', text: 'Done: you can close this window' });
    expect(await browser.page.textContent('h1')).toBe('Register a security key for bob');
    const got = await answer;
    expect(got.site).toEqual({ rpId: 'localhost', origin: new URL(e.url).origin });
    if (!('response' in got)) throw new Error(`refused: ${got.refused}`);
    const verified = await verifyRegistrationResponse({ response: got.response as RegistrationResponseJSON, expectedChallenge: challenge, expectedOrigin: got.site.origin, expectedRPID: 'localhost', requireUserVerification: true });
    expect(verified.verified).toBe(true);
    credential = verified.registrationInfo?.credential;
    expect(await browser.credentials()).toHaveLength(1);
    // The ceremony is over: its server is gone.
    expect(await refusesConnections(new URL(e.url).port)).toBe(true);
  });

  it('authenticates with the registered key, on another port (the rpId is localhost either way)', async () => {
    if (!credential) throw new Error('the registration test did not run');
    const cred = credential;
    let challenge = '';
    const { event, answer } = start(
      'authenticate',
      async (site) => {
        const options = await generateAuthenticationOptions({ rpID: site.rpId, allowCredentials: [{ id: cred.id }], userVerification: 'required' });
        challenge = options.challenge;
        return options;
      },
      { title: 'Log in as <b>bob</b> & co' },
    );
    const e = await event;
    expect(e.message).toBe('Touch your security key in the browser window');
    expect((await browser.open(e.url)).state).toBe('done');
    expect(await browser.page.textContent('h1')).toBe('Log in as <b>bob</b> & co');
    const got = await answer;
    if (!('response' in got)) throw new Error(`refused: ${got.refused}`);
    const verified = await verifyAuthenticationResponse({ response: got.response as AuthenticationResponseJSON, expectedChallenge: challenge, expectedOrigin: got.site.origin, expectedRPID: 'localhost', credential: cred, requireUserVerification: true });
    expect(verified.verified).toBe(true);
    expect(verified.authenticationInfo.newCounter).toBeGreaterThan(cred.counter);
  });

  it('the page is single-use: a second GET is 410, and the ceremony then fails closed (two browsers had the URL)', async () => {
    const { event, answer } = start('register', placeholder);
    const { url } = await event;
    const first = await http(url);
    expect(first.status).toBe(200);
    expect(first.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'nonce-[^']+'; style-src 'nonce-[^']+'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$/);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.headers['x-frame-options']).toBe('DENY');
    expect(first.body).not.toMatch(/<script[^>]*\bsrc=/i);
    const again = await http(url);
    expect(again).toMatchObject({ status: 410, body: 'this ceremony page was already used\n' });
    // Whoever opened it first may not be the user: nothing is accepted, and the page is gone.
    const e = await rejection(answer);
    expect([e.code, e.message]).toEqual(['KEY_REJECTED', 'the ceremony page was opened twice (someone else may have its URL): nothing was accepted; start again']);
    await expect(http(url)).rejects.toThrow();
  });

  it('answers only its path, its Host and its Origin; a bad POST does not end the ceremony', async () => {
    const { event, answer } = start('register', placeholder);
    const { url } = await event;
    const u = new URL(url);
    expect((await http(`${u.origin}/`)).status).toBe(404);
    expect((await http(`${url}x`)).status).toBe(404);
    const post = { method: 'POST', origin: u.origin, contentType: 'application/json', body: '{"refused":"NotAllowedError: no"}' };
    expect((await http(url, post)).status).toBe(409); // before the GET
    // DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends its own Host.
    expect(await http(url, { host: `evil.example:${u.port}` })).toMatchObject({ status: 421 });
    expect(await http(url, { host: `127.0.0.1:${u.port}` })).toMatchObject({ status: 421 });
    expect((await http(url)).status).toBe(200);
    expect((await http(url, { ...post, origin: 'http://evil.example' })).status).toBe(403);
    expect((await http(url, { ...post, origin: undefined })).status).toBe(403);
    expect((await http(url, { ...post, host: `evil.example:${u.port}` })).status).toBe(421);
    expect((await http(url, { ...post, contentType: 'text/plain' })).status).toBe(415);
    expect((await http(url, { ...post, body: '{"refused":' })).status).toBe(400);
    expect((await http(url, { ...post, body: '{"refused":"x","response":{}}' })).status).toBe(400);
    expect((await http(url, { ...post, body: '{"response":"not an object"}' })).status).toBe(400);
    expect((await http(url, { ...post, body: JSON.stringify({ refused: 'x'.repeat(70_000) }) })).status).toBe(413);
    expect((await http(url, { ...post, method: 'PUT' })).status).toBe(405);
    const settled = await Promise.race([answer.then(() => 'settled', () => 'settled'), new Promise((r) => setTimeout(() => r('waiting'), 100))]);
    expect(settled).toBe('waiting');
    // The right POST ends it (a refusal is cut to 200 characters).
    expect(await http(url, { ...post, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ refused: `NotAllowedError: ${'y'.repeat(300)}` }) })).toMatchObject({ status: 200, body: '{"ok":true}' });
    const got = await answer;
    expect('refused' in got && got.refused.length).toBe(200);
    expect(await refusesConnections(u.port)).toBe(true);
  });

  it('nobody opens the page: MFA_TIMEOUT at the deadline, and the port is closed', async () => {
    const t0 = Date.now();
    const { event, answer } = start('register', placeholder, { ms: 1_500 });
    const { url } = await event;
    const e = await rejection(answer);
    expect(e.code).toBe('MFA_TIMEOUT');
    expect(e.message).toBe('no answer from the browser within 2 s');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
    expect(await refusesConnections(new URL(url).port)).toBe(true);
  });

  it('abort: CANCELLED, and the port is closed', async () => {
    const ac = new AbortController();
    const { event, answer } = start('register', placeholder, { signal: ac.signal });
    const { url } = await event;
    ac.abort();
    expect((await rejection(answer)).code).toBe('CANCELLED');
    expect(await refusesConnections(new URL(url).port)).toBe(true);
    const pre = new AbortController();
    pre.abort();
    expect((await rejection(loopbackCeremony().run({ kind: 'register', title: 't', build: placeholder, deadline: Date.now() + 5_000, signal: pre.signal }))).code).toBe('CANCELLED');
  });

  it('no security key: the browser refuses, and the answer says why', async () => {
    const bare = await launchBrowser({ authenticator: false });
    try {
      const { event, answer } = start('register', async (site) => generateRegistrationOptions({ rpName: 'ssrun', rpID: site.rpId, userName: 'bob', userID: new Uint8Array(16), attestationType: 'none', timeout: 1_000 }));
      const outcome = await bare.open((await event).url);
      expect(outcome.state).toBe('error');
      const got = await answer;
      expect(got).toEqual({ site: expect.anything(), refused: expect.stringMatching(/^NotAllowedError: /) });
    } finally {
      await bare.close();
    }
  });

  it('showCeremony and loopbackCeremony together: ssrun opens the URL with BROWSER, the browser answers', async () => {
    const hook = browserHook();
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      let stop = () => {};
      const answer = loopbackCeremony().run({
        kind: 'register',
        title: 'Register',
        build: async (site) => generateRegistrationOptions({ rpName: 'ssrun', rpID: site.rpId, userName: 'bob', userID: new Uint8Array(16), attestationType: 'none' }),
        deadline: Date.now() + 30_000,
        onProgress: (e) => {
          if (e.kind === 'ceremony') stop = showCeremony(e, { notice: () => {}, stderrIsTTY: false }, { env: { ...process.env, ...hook.env } }).stop;
        },
      });
      expect((await browser.open(await hook.nextUrl())).state).toBe('done');
      expect('response' in (await answer)).toBe(true);
      stop();
    } finally {
      write.mockRestore();
      hook.cleanup();
    }
  });
});

describe('showCeremony', () => {
  const url = 'http://localhost:4567/abcDEF_-123';
  const event: CeremonyEvent = { kind: 'ceremony', url, message: 'Touch your security key in the browser window', deadline: 0 };
  let hook: BrowserHook;
  let stderr: string[];
  let notices: string[];
  const io = (tty = false) => ({ notice: (t: string) => void notices.push(t), stderrIsTTY: tty });
  const show = (tty: boolean, opts: Parameters<typeof showCeremony>[2]) => showCeremony({ ...event, deadline: Date.now() + 120_000 }, io(tty), opts);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(() => {
    hook = browserHook();
  });
  afterAll(() => hook.cleanup());
  let write: { mockRestore(): void } | undefined;
  const capture = () => {
    stderr = [];
    notices = [];
    write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
  };
  afterEach(() => write?.mockRestore());

  it('prints the URL alone on its line, opens it with BROWSER (one argument: the URL), then the message once', async () => {
    capture();
    show(false, { env: { ...process.env, ...hook.env } }).stop();
    expect(await hook.nextUrl(5_000)).toBe(url);
    expect(stderr.join('').split('\n')).toContain(url);
    expect(stderr).toEqual([`${url}\n`]);
    expect(notices).toEqual(['Touch your security key in the browser window (120 s left, Ctrl-C to cancel)']);
  });

  it('BROWSER with arguments: split on spaces, the URL last', async () => {
    capture();
    show(false, { env: { ...process.env, BROWSER: `${hook.env.BROWSER} --new-window` } }).stop();
    await hook.nextUrl(5_000).catch(() => undefined);
    expect(hook.calls().at(-1)).toEqual(['--new-window', url]);
  });

  it('no BROWSER: xdg-open from PATH on Linux; BROWSER=none and --no-browser run nothing', async () => {
    capture();
    show(false, { env: { PATH: hook.dir }, platform: 'linux' }).stop();
    expect(await hook.nextUrl(5_000)).toBe(url);
    const before = hook.calls().length;
    show(false, { env: { PATH: hook.dir, BROWSER: 'none' }, platform: 'linux' }).stop();
    show(false, { env: { ...hook.env, PATH: hook.dir }, platform: 'linux', noBrowser: true }).stop();
    await sleep(500);
    expect(hook.calls()).toHaveLength(before);
    expect(stderr.filter((s) => s === `${url}\n`)).toHaveLength(3);
    expect(notices.filter((n) => n.startsWith('could not open'))).toEqual([]);
  });

  it('no way to open a browser: says so, the URL is still printed', async () => {
    capture();
    const a = show(false, { env: { PATH: '' }, platform: 'linux' });
    const b = show(false, { env: { BROWSER: '/nonexistent/browser' } });
    await sleep(300);
    a.stop();
    b.stop();
    expect(notices.filter((n) => n === 'could not open a browser: open the URL above')).toHaveLength(2);
    expect(stderr.filter((s) => s === `${url}\n`)).toHaveLength(2);
  });

  it('on a terminal: a countdown line redrawn with \\r until stop()', async () => {
    capture();
    let t = 1_000_000;
    const shown = showCeremony({ ...event, deadline: t + 90_000 }, io(true), { env: { BROWSER: 'none' }, now: () => t });
    t += 1_000;
    await sleep(1_100);
    shown.stop();
    const countdown = stderr.filter((s) => s.startsWith('\r'));
    expect(countdown[0]).toBe('\r\x1b[2Kssrun: Touch your security key in the browser window (90 s left, Ctrl-C to cancel)');
    expect(countdown).toContain('\r\x1b[2Kssrun: Touch your security key in the browser window (89 s left, Ctrl-C to cancel)');
    expect(stderr.at(-1)).toBe('\r\x1b[2K');
    const after = stderr.length;
    await sleep(1_100);
    expect(stderr).toHaveLength(after);
  });

  it('the options JSON is inert inside a <script>', () => {
    const evil = { s: '</script><script>alert(1)</script><!-- \u2028\u2029 & >' };
    const text = scriptJson(evil);
    expect(text).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(text)).toEqual(evil);
  });
});
