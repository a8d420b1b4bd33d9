// The Auth API's transport (S20–S22): signed requests (Duo's canonicalization and HMAC-SHA512, through
// @duosecurity/duo_api's own signer), TLS pinned to the CA bundle Duo's SDKs ship (or Options.CaFile),
// bounded timeouts, 429 back-off, clock-skew retry, and every unexpected answer turned into a PROVIDER_* error.

import type { Agent } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { SsrunError, type ErrorCode } from '../../core/errors.js';
import { sanitizeLine } from '../../core/validate.js';
import type { DuoOptions, DuoRequestContext } from './types.js';

const require = createRequire(import.meta.url);

type Sign = (ikey: string, skey: string, method: string, host: string, path: string, params: Record<string, string>, date: string) => string;

let signer: Sign | undefined;
let pinnedCa: string | undefined;
function duoSign(...args: Parameters<Sign>): string {
  signer ??= (require('@duosecurity/duo_api/lib/duo_sig.js') as { sign: Sign }).sign;
  return signer(...args);
}
/** The CA bundle Duo's SDKs pin (duo_api and duo_universal ship the same bundle; a test checks it). */
export function duoPinnedCa(): string {
  pinnedCa ??= (require('@duosecurity/duo_api/lib/constants.js') as { DUO_PINNED_CERT: string }).DUO_PINNED_CERT;
  return pinnedCa;
}

export interface DuoClientDeps {
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Upper bound of one HTTP exchange (connect + answer). */
  requestTimeoutMs?: number;
  pollIntervalMs?: number;
  maxRateLimitRetries?: number;
}

const DEFAULTS = { requestTimeoutMs: 15_000, pollIntervalMs: 1_000, maxRateLimitRetries: 5 };

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const cancelled = () => new SsrunError('CANCELLED', 'login cancelled');

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;


/** The client's settings, resolved. */
export interface Cfg {
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  requestTimeoutMs: number;
  pollIntervalMs: number;
  maxRetries: number;
}

export function settings(deps: DuoClientDeps = {}): Cfg {
  return {
    now: deps.now ?? Date.now,
    sleep: deps.sleep ?? defaultSleep,
    requestTimeoutMs: deps.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    pollIntervalMs: deps.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
    maxRetries: deps.maxRateLimitRetries ?? DEFAULTS.maxRateLimitRetries,
  };
}

export function fail(code: ErrorCode, host: string, why: string): never {
  throw new SsrunError(code, `login denied: ${why} (Duo at ${host})`);
}

/** One HTTPS exchange, bounded by the request timeout and the login deadline. */
function send(cfg: Cfg, opts: DuoOptions, agent: Agent, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body: string, ctx: DuoRequestContext): Promise<RawAnswer> {
  const [hostname, portText] = opts.Host.split(':') as [string, string | undefined];
  const remaining = ctx.deadline - cfg.now();
  // Marks a wait cut short by the login's deadline (not Duo's fault when polling for the user's answer).
  const byDeadline = remaining < cfg.requestTimeoutMs ? { loginDeadline: true } : undefined;
  if (remaining <= 0) throw new SsrunError('PROVIDER_UNAVAILABLE', `login denied: Duo did not answer in time (Duo at ${opts.Host})`, byDeadline);
  const timeout = Math.min(cfg.requestTimeoutMs, remaining);
  return new Promise<RawAnswer>((resolve, reject) => {
    let settled = false;
    const done = (fn: () => void) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        ctx.signal?.removeEventListener('abort', onAbort);
        fn();
      }
    };
    const req = httpsRequest(
      { hostname, port: portText ? Number(portText) : 443, method, path, headers, agent, servername: /^[\d.]+$/.test(hostname) ? undefined : hostname },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 1024 * 1024) {
            req.destroy();
            done(() => reject(new SsrunError('PROVIDER_UNAVAILABLE', `login denied: Duo's answer to ${path} is too large (Duo at ${opts.Host})`)));
          } else chunks.push(c);
        });
        res.on('end', () => done(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })));
        res.on('error', (e) => done(() => reject(transportError(opts.Host, e))));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done(() => reject(new SsrunError('PROVIDER_UNAVAILABLE', `login denied: Duo did not answer ${path} within ${Math.ceil(timeout / 1000)} s (Duo at ${opts.Host})`, byDeadline)));
    }, timeout);
    const onAbort = () => {
      req.destroy();
      done(() => reject(cancelled()));
    };
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => done(() => reject(transportError(opts.Host, e))));
    req.end(body);
  });
}

export function transportError(host: string, e: Error): SsrunError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|ERR_TLS/i.test(code) || /certificate/i.test(e.message)) {
    return new SsrunError('PROVIDER_UNAVAILABLE', `login denied: the TLS certificate of Duo at ${host} could not be verified (${code || 'TLS error'}); set Options.CaFile only for a trusted proxy`);
  }
  return new SsrunError('PROVIDER_UNAVAILABLE', `login denied: cannot reach Duo at ${host} (${code || sanitizeLine(e.message)})`);
}

/** A signed Auth API call; returns Duo's `response` object or throws a PROVIDER_* error. */
export async function call(cfg: Cfg, opts: DuoOptions, agent: Agent, method: 'GET' | 'POST', path: string, params: Record<string, string>, ctx: DuoRequestContext, clock: { offsetMs: number; retriedSkew: boolean }): Promise<Json> {
  const query = new URLSearchParams(params).toString();
  for (let attempt = 0; ; attempt++) {
    if (ctx.signal?.aborted) throw cancelled();
    const date = new Date(cfg.now() + clock.offsetMs).toUTCString();
    const headers: Record<string, string> = {
      Date: date,
      Host: opts.Host,
      Authorization: duoSign(opts.IntegrationKey, opts.SecretKey, method, opts.Host, path, params, date),
      'User-Agent': 'ssrun',
      Accept: 'application/json',
    };
    let body = '';
    let fullPath = path;
    if (method === 'POST') {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = query;
    } else if (query) fullPath = `${path}?${query}`;
    const answer = await send(cfg, opts, agent, method, fullPath, headers, body, ctx);

    if (answer.status === 429) {
      if (attempt >= cfg.maxRetries) fail('PROVIDER_RATE_LIMITED', opts.Host, `Duo is rate-limiting requests (HTTP 429); gave up after ${attempt + 1} attempts`);
      const retryAfter = Number(answer.headers['retry-after']);
      const wait = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : 1000 * 2 ** attempt + Math.floor(Math.random() * 1000);
      if (cfg.now() + wait >= ctx.deadline) fail('PROVIDER_RATE_LIMITED', opts.Host, 'Duo is rate-limiting requests (HTTP 429) and the login timeout is near');
      await cfg.sleep(wait, ctx.signal);
      continue;
    }
    let json: Json;
    try {
      json = JSON.parse(answer.body);
    } catch {
      fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo answered ${path} with HTTP ${answer.status} and a body that is not JSON`);
    }
    if (typeof json !== 'object' || json === null) fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo answered ${path} with an unexpected body`);
    const code = Number(json.code);
    const message = typeof json.message === 'string' ? sanitizeLine(json.message) : '';
    const detail = typeof json.message_detail === 'string' ? ` (${sanitizeLine(json.message_detail)})` : '';
    if (answer.status === 401) {
      if ((code === 40104 || code === 40105 || /date|time/i.test(message)) && !clock.retriedSkew) {
        clock.retriedSkew = true;
        clock.offsetMs = await duoClockOffset(cfg, opts, agent, ctx);
        continue;
      }
      if (code === 40104 || code === 40105 || /date|time/i.test(message)) {
        fail('PROVIDER_CLOCK_SKEW', opts.Host, `Duo refused the request date ${date}: ${code} ${message}; check this machine's clock`);
      }
      fail('PROVIDER_MISCONFIGURED', opts.Host, `Duo rejected the credentials: ${Number.isFinite(code) ? code : 401} ${message}${detail}; check IntegrationKey, SecretKey and Host of the MFA configuration`);
    }
    if (answer.status >= 500) fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo answered HTTP ${answer.status}`);
    if (json.stat !== 'OK') fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo returned an error for ${path}: ${Number.isFinite(code) ? code : answer.status} ${message}${detail}`);
    if (answer.status !== 200 || typeof json.response !== 'object' || json.response === null) {
      fail('PROVIDER_UNAVAILABLE', opts.Host, `Duo answered ${path} with HTTP ${answer.status} and no response object`);
    }
    return json.response;
  }
}

/** S21: Duo's own time from /auth/v2/ping (unsigned), as an offset from ours. */
async function duoClockOffset(cfg: Cfg, opts: DuoOptions, agent: Agent, ctx: DuoRequestContext): Promise<number> {
  const answer = await send(cfg, opts, agent, 'GET', '/auth/v2/ping', { Host: opts.Host, 'User-Agent': 'ssrun' }, '', ctx);
  try {
    const time = Number(JSON.parse(answer.body).response.time);
    if (Number.isFinite(time) && time > 0) return time * 1000 - cfg.now();
  } catch {
    // fall through
  }
  fail('PROVIDER_CLOCK_SKEW', opts.Host, "Duo refused the request date and its time could not be read; check this machine's clock");
}

/**
 * Options.CaFile, read with care: on a server the path comes from whoever may edit configurations, so only
 * a regular file of at most 1 MiB holding a PEM certificate is read (never a FIFO, a device, /dev/zero…), and
 * without blocking the event loop. The reason given does not reveal the file's content.
 */
export async function readCaFile(path: string, host: string): Promise<string> {
  const { open } = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  // One answer whatever the cause (missing, unreadable, not a file, too large, no PEM): on a server the path
  // comes from a caller, who must not learn which of the server's paths exist.
  const refuse = (): never => fail('PROVIDER_MISCONFIGURED', host, `Options.CaFile ${path} is not a readable PEM file`);
  let text: string | undefined;
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      if (st.isFile() && st.size <= 1024 * 1024) text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    // refused below
  }
  if (text === undefined || !text.includes('-----BEGIN CERTIFICATE-----')) return refuse();
  return text;
}

