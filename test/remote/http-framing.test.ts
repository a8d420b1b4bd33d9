// Every answer is in our shape {"error":{"code","message"}}, even for what Node's HTTP parser refuses before a
// request exists (issue 15): sent byte for byte over a raw TCP socket (node:net) to a real `ssrun serve`
// (plain HTTP on 127.0.0.1): headers over the limit (431), framing errors (400), a request that stops
// mid-way (408, with --request-timeout 2); each answer is read whole before the connection closes. And a
// 10 MB chunked upload gets its 413 answer, every time, never a reset before it.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, secret, ssrun, tempHome } from '../helpers/cli.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { API, clientHome, expectErrorAnswer, http, loginUser, ok } from './remote-helpers.js';

afterAll(() => expectNoSecretsLeaked());

const PW_ROOT = secret('framing-root-password-Lc6Vd9');

let server: RunningServer; // defaults
let slow: RunningServer; // --request-timeout 2
let rootToken: string;

beforeAll(async () => {
  const home = tempHome('ssrun-framing-server-');
  ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
  server = await startServer({ home, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000'] });
  slow = await startServer({ home: tempHome('ssrun-framing-slow-'), args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000', '--request-timeout', '2'] });
  rootToken = await loginUser(clientHome(server), 'root', PW_ROOT);
}, 120_000);

interface RawResult {
  /** Everything received, as latin1. */
  text: string;
  /** When the connection closed, in ms after the first byte was sent. */
  closedMs: number;
  /** When the answer was complete (headers and Content-Length bytes of body), if it was. */
  completeMs?: number;
  /** A socket error, and whether the answer was complete when it came. */
  error?: string;
  errorAfterAnswer?: boolean;
}

interface Parsed {
  statusLine: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parse(text: string): Parsed | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length']);
  const body = Buffer.from(text.slice(end + 4), 'latin1');
  if (!Number.isFinite(length) || body.length < length) return undefined;
  return { statusLine, status: Number(statusLine.split(' ')[1]), headers, body: body.subarray(0, length).toString('utf8') };
}

/** Sends the parts (with a pause before each of `later`), then reads until the server closes the connection. */
function raw(port: number, first: string | Buffer, later: { afterMs: number; data: string | Buffer }[] = [], giveUpMs = 20_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let started = 0;
    const result: RawResult = { text: '', closedMs: -1 };
    const timers: NodeJS.Timeout[] = [];
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('connect', () => {
      started = performance.now();
      socket.write(first);
      for (const l of later) timers.push(setTimeout(() => socket.writable && socket.write(l.data), l.afterMs));
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (result.completeMs === undefined && parse(Buffer.concat(chunks).toString('latin1'))) result.completeMs = performance.now() - started;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      result.error ??= e.code ?? e.message;
      result.errorAfterAnswer ??= result.completeMs !== undefined;
    });
    socket.on('close', () => {
      clearTimeout(giveUp);
      for (const t of timers) clearTimeout(t);
      result.text = Buffer.concat(chunks).toString('latin1');
      result.closedMs = performance.now() - started;
      resolve(result);
    });
  });
}

/** The raw answer: complete before the close (no error before it), our JSON error shape, this status and code. */
function expectRawError(r: RawResult, status: number, code: string): Parsed {
  const p = parse(r.text);
  expect(p, `an answer read whole before the close; received ${JSON.stringify(r.text.slice(0, 300))} (error ${r.error ?? 'none'})`).toBeDefined();
  if (r.error) expect(r.errorAfterAnswer, `socket error ${r.error} before the answer was read`).toBe(true);
  expect(p!.statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(p!.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(p!.body) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message']);
  expect(body.error.code, p!.body).toBe(code);
  expect(body.error.message).toMatch(/^[^\r\n]+$/);
  return p!;
}

const H = 'Host: 127.0.0.1\r\n';

describe('HTTP the parser refuses, answered in our shape (raw TCP)', { timeout: 60_000 }, () => {
  it('a 100 KB header: 431 HEADERS_TOO_LARGE', async () => {
    const r = await raw(server.port, `GET ${API}/whoami HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`);
    expectRawError(r, 431, 'HEADERS_TOO_LARGE');
  });

  it('a request line over the limit too: 431 or 414, in our shape', async () => {
    const r = await raw(server.port, `GET ${API}/users/${'a'.repeat(100 * 1024)} HTTP/1.1\r\n${H}\r\n`);
    const p = parse(r.text);
    expect(p, JSON.stringify(r.text.slice(0, 200))).toBeDefined();
    expect([414, 431]).toContain(p!.status);
    expectRawError(r, p!.status, p!.status === 414 ? 'URI_TOO_LONG' : 'HEADERS_TOO_LARGE');
  });

  it('both Content-Length and Transfer-Encoding: 400 BAD_REQUEST', async () => {
    const r = await raw(server.port, `POST ${API}/users HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
    expectRawError(r, 400, 'BAD_REQUEST');
  });

  it('two different Content-Lengths: 400 BAD_REQUEST', async () => {
    const r = await raw(server.port, `POST ${API}/users HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`);
    expectRawError(r, 400, 'BAD_REQUEST');
  });

  it('Content-Length: abc: 400 BAD_REQUEST', async () => {
    const r = await raw(server.port, `POST ${API}/users HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`);
    expectRawError(r, 400, 'BAD_REQUEST');
  });

  it('an invalid chunk size: 400 BAD_REQUEST', async () => {
    const r = await raw(server.port, `POST ${API}/users HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`);
    expectRawError(r, 400, 'BAD_REQUEST');
  });

  it('the server still answers after all that', async () => {
    expect((await http(server.url, 'GET', '/whoami', { token: rootToken })).status).toBe(200);
  });
});

describe('ssrun serve --request-timeout 2: a request that stops mid-way', { timeout: 60_000 }, () => {
  it('in its headers: 408 REQUEST_TIMEOUT within a few seconds, read whole before the close', async () => {
    const r = await raw(slow.port, `GET ${API}/whoami HTTP/1.1\r\n${H}X-Partial: yes`);
    expectRawError(r, 408, 'REQUEST_TIMEOUT');
    expect(r.completeMs!).toBeGreaterThan(1000);
    expect(r.completeMs!).toBeLessThan(6000);
  });

  it('in its body: 408 REQUEST_TIMEOUT within a few seconds, read whole before the close', async () => {
    const r = await raw(slow.port, `POST ${API}/users HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`);
    expectRawError(r, 408, 'REQUEST_TIMEOUT');
    expect(r.completeMs!).toBeGreaterThan(1500);
    expect(r.completeMs!).toBeLessThan(6000);
  });

  it('the 408 message names the timeout the server was given (2 s), not the default 30 s', async () => {
    const r = await raw(slow.port, `GET ${API}/whoami HTTP/1.1\r\n${H}`);
    const p = expectRawError(r, 408, 'REQUEST_TIMEOUT');
    const message = (JSON.parse(p.body) as { error: { message: string } }).error.message;
    expect(message).not.toContain('30 s');
    expect(message).toMatch(/\b2 s\b/);
  });

  it('a request sent in time is served by the same server', async () => {
    const r = await raw(slow.port, `GET ${API}/whoami HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    expectRawError(r, 401, 'UNAUTHENTICATED');
  });
});

describe('a 10 MB upload to POST /multi_factor (valid token)', { timeout: 120_000 }, () => {
  const big = Buffer.alloc(10 * 1024 * 1024, 'x');

  it('chunked, 5 times: always a 413 INPUT_TOO_LARGE answer, never ECONNRESET / EPIPE before it', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        const a = await http(server.url, 'POST', '/multi_factor', { token: rootToken, body: big, chunked: true });
        expectErrorAnswer(a, 413, 'INPUT_TOO_LARGE');
        outcomes.push(`${a.status} ${a.body.error.code}`);
      } catch (e) {
        outcomes.push(`error ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    expect(outcomes).toEqual(Array.from({ length: 5 }, () => '413 INPUT_TOO_LARGE'));
  });

  it('with a Content-Length, 5 times: the same', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        const a = await http(server.url, 'POST', '/multi_factor', { token: rootToken, body: big });
        expectErrorAnswer(a, 413, 'INPUT_TOO_LARGE');
        outcomes.push(`${a.status} ${a.body.error.code}`);
      } catch (e) {
        outcomes.push(`error ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    expect(outcomes).toEqual(Array.from({ length: 5 }, () => '413 INPUT_TOO_LARGE'));
    // nothing was made, and the server serves on
    const list = await http(server.url, 'GET', '/multi_factor', { token: rootToken });
    expect([list.status, (list.body as { Name: string }[]).map((c) => c.Name)]).toEqual([200, ['totp', 'webauthn']]); // a fresh store's own totp and webauthn
  });
});
