// Shared by the test/remote suites: client homes pointing at a running `ssrun serve`, tokens taken from a
// client home's cli.json (declared secrets), refusal checks in the style of the e2e suites, and raw HTTP
// (node:http/https, so paths are sent byte for byte, without the URL normalisation fetch applies).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import type { RunningServer } from '../helpers/server.js';

export const API = '/secretssafe/api/v1';

/** A refusal: nothing on stdout, one `ssrun: error: … (CODE)` line on stderr, the exit code. */
export { expectRefused, ok } from '../helpers/cli.js';

export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * A client home whose current context is the server, made with the CLI itself
 * (`context create` + `context set-current`); `ca` for an HTTPS server, `secure: false` for `-s false`.
 */
export async function cliClientHome(server: RunningServer, opts: { ca?: string; secure?: boolean; name?: string } = {}): Promise<string> {
  const home = tempHome('ssrun-remote-client-');
  const name = opts.name ?? 'srv';
  const address = server.url.startsWith('http:') ? 'http://127.0.0.1' : '127.0.0.1';
  const args = ['context', 'create', '-n', name, '-a', address, '-p', String(server.port)];
  if (opts.ca) args.push('--ca', opts.ca);
  if (opts.secure === false) args.push('-s', 'false');
  ok(await ssrun(args, { home }));
  ok(await ssrun(['context', 'set-current', '-n', name], { home }));
  return home;
}

/** The same as cliClientHome, written directly (as test/helpers/cli.ts does): for the many homes of a suite. */
export function clientHome(server: RunningServer, ca?: string): string {
  const home = tempHome('ssrun-remote-client-');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const url = new URL(server.url);
  const context = { host: '127.0.0.1', port: server.port, scheme: url.protocol === 'https:' ? 'https' : 'http', verify: true, ...(ca ? { ca } : {}), version: 'v1' };
  writeFileSync(join(home, 'cli.json'), JSON.stringify({ current: 'srv', contexts: { srv: context } }), { mode: 0o600 });
  return home;
}

/** The token the client home keeps for its current context, declared a secret. */
export function savedToken(home: string): string {
  const conf = JSON.parse(readFileSync(join(home, 'cli.json'), 'utf8')) as { current?: string; sessions?: Record<string, { token: string }> };
  const token = conf.sessions?.[conf.current ?? 'local']?.token;
  expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  return secret(token!);
}

/** `ssrun login -u USER --password-stdin` in the client home; returns the token it saved. */
export async function loginUser(home: string, user: string, password: string): Promise<string> {
  const r = ok(await ssrun(['login', '-u', user, '--password-stdin'], { home, input: `${password}\n` }));
  expect(JSON.parse(r.stdout)).toMatchObject({ Principal: `principal/internal/user/${user}`, Factor: 'password' });
  return savedToken(home);
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

export interface HttpOptions {
  token?: string;
  /** An object is sent as JSON; a string or Buffer as is. */
  body?: unknown;
  contentType?: string | null;
  headers?: Record<string, string>;
  ca?: string;
  /** Send the body chunked (no content-length). */
  chunked?: boolean;
  /** Send from this local address (any 127.x.y.z is loopback on Linux: a client address of its own). */
  localAddress?: string;
}

/** One raw HTTP(S) request to the server: `path` is sent as given (relative to the API base unless absolute). */
export function http(baseUrl: string, method: string, path: string, opts: HttpOptions = {}): Promise<HttpAnswer> {
  const base = new URL(baseUrl);
  const fullPath = path.startsWith('/secretssafe/') || path.startsWith('//') || path === '/' ? path : `${API}${path}`;
  const payload =
    opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body), 'utf8');
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (payload && opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'application/json';
  if (payload && !opts.chunked) headers['content-length'] = String(payload.length);
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const request = base.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: base.hostname, port: base.port, method, path: fullPath, headers, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.localAddress ? { localAddress: opts.localAddress } : {}), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload && opts.chunked) {
      // Several writes: no content-length, so the server sees a chunked body.
      for (let i = 0; i < payload.length; i += 8192) req.write(payload.subarray(i, i + 8192));
      req.end();
    } else req.end(payload);
  });
}

/** An ssrun error answer: exactly {"error":{"code","message"}}, JSON, the status and the code. */
export function expectErrorAnswer(a: HttpAnswer, status: number, code: string, message?: string | RegExp): void {
  expect({ status: a.status, code: a.body?.error?.code }, a.text).toEqual({ status, code });
  expect(String(a.headers['content-type'])).toMatch(/^application\/json/);
  expect(Object.keys(a.body)).toEqual(['error']);
  expect(Object.keys(a.body.error).sort()).toEqual(['code', 'message']);
  expect(typeof a.body.error.message).toBe('string');
  expect(a.body.error.message).not.toMatch(/[\r\n]/);
  if (typeof message === 'string') expect(a.body.error.message).toContain(message);
  else if (message) expect(a.body.error.message).toMatch(message);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the tasks at most n at a time (scrypt on the server: a few at once keeps 2 cores busy, not swamped). */
export async function limited<T>(n: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}
