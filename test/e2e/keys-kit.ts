// Shared by the security-key e2e files (keys*.test.ts): headless Chromium with a virtual authenticator, a fake
// BROWSER that hands the ceremony URLs to it, and runs of bin/ssrun that go through a ceremony. On the remote
// backends the servers run with --public-url (usePublicUrl), and a user acts with their own session token.

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { expect } from 'vitest';
import { browserHook, launchBrowser, type BrowserHook, type PageOutcome, type TestBrowser } from '../helpers/browser.js';
import { isRemote, json, ok, secret, ssrun, type RunOptions, type RunResult } from '../helpers/cli.js';

export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
export const user = (name: string) => `principal/internal/user/${name}`;

export interface Keys {
  browser: TestBrowser;
  hook: BrowserHook;
  close(): Promise<void>;
}

export async function startKeys(): Promise<Keys> {
  const hook = browserHook();
  const browser = await launchBrowser();
  return {
    browser,
    hook,
    async close() {
      await browser.close();
      hook.cleanup();
    },
  };
}

export interface Running {
  /** The ceremony URL the CLI asked the browser to open. */
  url: string;
  done: Promise<RunResult>;
}

/** Starts ssrun with the browser hook; resolves with the URL, or fails with the output if ssrun ended first. */
export async function startCeremony(k: Keys, args: string[], opts: RunOptions): Promise<Running> {
  const done = ssrun(args, { ...opts, env: { ...k.hook.env, ...opts.env } });
  let ended = false;
  void done.then(() => (ended = true));
  const until = Date.now() + 30_000;
  for (;;) {
    const url = await k.hook.nextUrl(250).catch(() => undefined);
    if (url) return { url, done };
    if (ended) {
      const r = await done;
      throw new Error(`ssrun ${args.join(' ')} ended before asking for a browser (exit ${r.exitCode})\n${r.stdout}\n${r.stderr}`);
    }
    if (Date.now() > until) throw new Error(`ssrun ${args.join(' ')}: no ceremony URL within 30 s`);
  }
}

/** The page's challenge (a secret of the ceremony: it must never reach the CLI's output). */
export async function declareChallenge(k: Keys): Promise<void> {
  const html = await k.browser.page.content();
  const m = /"challenge":"([A-Za-z0-9_-]{16,})"/.exec(html);
  if (m) secret(m[1]!);
}

export interface Ceremonied {
  r: RunResult;
  page: PageOutcome;
  url: string;
}

/** Runs a command through its ceremony in the browser. */
export async function ceremony(k: Keys, args: string[], opts: RunOptions): Promise<Ceremonied> {
  const { url, done } = await startCeremony(k, args, opts);
  const page = await k.browser.open(url, 30_000).catch((e: Error) => ({ state: 'error' as const, text: `no outcome: ${e.message}` }));
  await declareChallenge(k);
  return { r: await done, page, url };
}

/** A user created with this password. */
export async function createUser(home: string, name: string, pw: string): Promise<void> {
  ok(await ssrun(['user', 'create', '-n', name, '--password-stdin'], { home, input: `${pw}\n` }));
}

/** The token of the session the CLI saved for its current context (declared a secret). */
export function savedToken(home: string): string {
  const conf = JSON.parse(readFileSync(join(home, 'cli.json'), 'utf8')) as { current?: string; sessions?: Record<string, { token: string }> };
  const token = conf.sessions?.[conf.current ?? 'local']?.token;
  expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  return secret(token!);
}

/** Logs in with the password alone; the env that makes later runs act with that session (remote only). */
export async function passwordSession(home: string, name: string, pw: string): Promise<Record<string, string>> {
  ok(await ssrun(['login', '-u', name, '--password-stdin'], { home, input: `${pw}\n` }));
  return actingAs(home);
}

/** On the remote backends: the env of the session last saved in home; locally: none (the local operator). */
export function actingAs(home: string): Record<string, string> {
  return isRemote() ? { SSRUN_TOKEN: savedToken(home) } : {};
}

/** Registers a key: `mfa key add -u NAME …` through the browser; expects success, returns the JSON. */
export async function addKey(k: Keys, home: string, name: string, extra: string[] = [], env: Record<string, string> = {}): Promise<any> {
  const { r, page } = await ceremony(k, ['mfa', 'key', 'add', '-u', name, ...extra], { home, env });
  expect(page, `${r.stdout}\n${r.stderr}`).toEqual({ state: 'done', text: 'Done: you can close this window' });
  return json(ok(r));
}

/** `login -u NAME -m key` through the browser. */
export async function keyLogin(k: Keys, home: string, name: string, pw: string, extra: string[] = ['-m', 'key']): Promise<Ceremonied> {
  return ceremony(k, ['login', '-u', name, '--password-stdin', ...extra], { home, input: `${pw}\n` });
}

/** The keys of a user, as `mfa key get -u` prints them. */
export async function keysOf(home: string, name: string): Promise<any[]> {
  return json<any[]>(ok(await ssrun(['mfa', 'key', 'get', '-u', name], { home })));
}

export interface Reply {
  status: number;
  body: string;
}

/** A raw request to a ceremony URL, sent to 127.0.0.1 at its port, with any Host and Origin. */
export function raw(url: string, opts: { method?: string; host?: string; origin?: string; contentType?: string; body?: string } = {}): Promise<Reply> {
  const u = new URL(url);
  const headers: Record<string, string> = { host: opts.host ?? u.host };
  if (opts.origin) headers.origin = opts.origin;
  if (opts.contentType) headers['content-type'] = opts.contentType;
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  const base = { host: '127.0.0.1', port: Number(u.port), path: u.pathname, method: opts.method ?? 'GET', headers, timeout: 10_000 };
  return new Promise((resolve, reject) => {
    const callback = (res: import('node:http').IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    };
    const req = u.protocol === 'https:' ? httpsRequest({ ...base, servername: 'localhost', rejectUnauthorized: false }, callback) : httpRequest(base, callback);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A refusal after a ceremony started: this exit code, nothing on stdout; stderr is the URL on its own line,
 * the ceremony's progress line, and the error as the last line (message and code).
 */
export function expectCeremonyRefused(c: { r: RunResult; url: string }, exitCode: number, code: string, message?: string | RegExp): void {
  const { r, url } = c;
  expect(r.stdout, `stdout of a refusal (stderr: ${r.stderr})`).toBe('');
  const lines = r.stderr.split('\n');
  expect(lines[0], r.stderr).toBe(url);
  expect(lines.at(-1), r.stderr).toBe('');
  expect(lines.at(-2), r.stderr).toMatch(new RegExp(`^ssrun: error: [^\\n]+ \\(${code}\\)$`));
  expect(lines.slice(1, -2).every((l) => l.startsWith('ssrun: ') && !l.startsWith('ssrun: error')), r.stderr).toBe(true);
  if (typeof message === 'string') expect(lines.at(-2)).toContain(message);
  else if (message) expect(lines.at(-2)).toMatch(message);
  expect(r.exitCode, r.stderr).toBe(exitCode);
}

/** Logs in with the key (the authenticator must hold it); the env that makes later runs act with that session. */
export async function keySession(k: Keys, home: string, name: string, pw: string): Promise<Record<string, string>> {
  const { r, page } = await keyLogin(k, home, name, pw);
  expect(page.state, `${r.stdout}\n${r.stderr}`).toBe('done');
  expect(json(ok(r)).Factor).toBe('webauthn');
  return actingAs(home);
}
