// Logging in over a server: the login request (JSON, or NDJSON progress lines then the result), the provider's
// question when MFA turns out to be required, and a redirect ceremony carried on for the server (Duo's
// Universal Prompt: the browser comes back to this machine, the server judges what it brought). Everything a
// server says is checked and escaped before it reaches the terminal or an opener.

import type { Ceremony } from '../core/ceremony.js';
import { SsrunError } from '../core/errors.js';
import type { CodePrompt, FactorPrompt } from '../core/factor.js';
import type { ProgressEvent } from '../core/ports.js';
import type { EnrollmentNotice, LoginRequest, LoginResult } from '../core/service.js';
import { sanitizeLine } from '../core/validate.js';
import type { RemoteTarget } from './client.js';

export const REQUEST_TIMEOUT_MS = 30_000;

export interface CallOptions {
  query?: Record<string, string | boolean | number | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
  stream?: (line: unknown) => void;
  token?: string | null;
}

export type Call = <T>(method: string, path: string, opts?: CallOptions) => Promise<T>;

const FALLBACK_PROMPT: FactorPrompt = { kind: 'code', code: { message: 'Code:', chars: 'alphanumeric', min: 1, max: 64, hint: 'a code is 1–64 letters and digits; a recovery code is xxxx-xxxx-xxxx' } };

/** The question a server sent with MFA_REQUIRED, checked and escaped (it is text from outside); a fallback else. */
export function promptFrom(raw: unknown): FactorPrompt {
  const text = (v: unknown, max = 120) => (typeof v === 'string' && v.length <= max ? sanitizeLine(v, max) : undefined);
  const length = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64 ? v : undefined);
  const code = (c: unknown): CodePrompt | undefined => {
    const o = c as Record<string, unknown> | null;
    const [message, hint, min, max] = [text(o?.message), text(o?.hint, 200), length(o?.min), length(o?.max)];
    const chars = o?.chars === 'digits' || o?.chars === 'alphanumeric' ? o.chars : undefined;
    return message && hint && chars && min && max && min <= max ? { message, chars, min, max, hint } : undefined;
  };
  const p = raw as Record<string, unknown> | null;
  if (p?.kind === 'code') {
    const c = code(p.code);
    if (c) return { kind: 'code', code: c };
  }
  if (p?.kind === 'ceremony') {
    const message = text(p.message);
    // Only a short word (`key`): what is sent back as -m.
    const method = typeof p.method === 'string' && /^[a-z]{1,16}$/.test(p.method) ? p.method : undefined;
    if (message && method) return { kind: 'ceremony', message, method };
  }
  if (p?.kind === 'menu' && Array.isArray(p.choices) && p.choices.length <= 10) {
    const c = code(p.code);
    const message = text(p.message);
    const codeChoice = text(p.codeChoice, 40);
    const choices = p.choices.map((x: Record<string, unknown>) => ({ value: text(x?.value, 40), name: text(x?.name), disabled: x?.disabled === true }));
    if (c && message && codeChoice && choices.every((x) => x.value && x.name)) return { kind: 'menu', message, codeChoice, code: c, choices: choices as { value: string; name: string; disabled: boolean }[] };
  }
  return FALLBACK_PROMPT;
}

/**
 * A progress line of a streamed answer as the event it stands for: a line to show (escaped like Duo's words),
 * or a browser ceremony to open: only `https://HOST[:PORT]/ceremony/<43 base64url characters>`, rebuilt from its
 * parts (nothing else of what a server sends reaches a browser or an opener), with a numeric deadline.
 */
export function progressFrom(raw: unknown): ProgressEvent {
  const line = raw as { progress: string; ceremony?: { url?: unknown; deadline?: unknown }; redirect?: { flow?: unknown; leftMs?: unknown } };
  const message = sanitizeLine(String(line.progress));
  const r = line.redirect;
  if (r && typeof r.flow === 'string' && /^[A-Za-z0-9_-]{43}$/.test(r.flow) && typeof r.leftMs === 'number' && r.leftMs >= 0 && r.leftMs <= 3_600_000) {
    // By this machine's clock (the server's may differ), a second after the server's own end: the server's
    // answer (a counted timeout) is the one that reports it.
    return { kind: 'redirect', flow: r.flow, message, deadline: Date.now() + r.leftMs + 1000 };
  }
  const c = line.ceremony;
  if (c && typeof c.url === 'string' && c.url.length <= 500 && typeof c.deadline === 'number' && Number.isFinite(c.deadline)) {
    let u: URL | undefined;
    try {
      u = new URL(c.url);
    } catch {
      u = undefined;
    }
    if (u && u.protocol === 'https:' && !u.username && !u.password && !u.search && !u.hash && /^\/ceremony\/[A-Za-z0-9_-]{43}$/.test(u.pathname) && /^[a-z0-9.-]+$/.test(u.hostname)) {
      return { kind: 'ceremony', url: `https://${u.host}${u.pathname}`, message, deadline: c.deadline };
    }
  }
  const w = (raw as { waiting?: { factor?: unknown; device?: unknown; leftMs?: unknown } }).waiting;
  if (w && (w.factor === 'push' || w.factor === 'phone') && typeof w.leftMs === 'number' && Number.isFinite(w.leftMs) && w.leftMs >= 0) {
    const device = typeof w.device === 'string' ? sanitizeLine(w.device, 60) : undefined;
    return { kind: 'waiting', factor: w.factor, device, deadline: Date.now() + Math.min(w.leftMs, 3_600_000), message };
  }
  return { kind: 'info', message };
}

/**
 * The provider's page a server's redirect ceremony sends the browser to, rebuilt from its parts: only an https
 * URL with a plain host name and no user part, whose redirect_uri is the loopback address this client gave
 * (what else a server says never reaches an opener).
 */
export function providerUrlFrom(raw: unknown, redirectUri: string): string {
  let u: URL | undefined;
  try {
    u = typeof raw === 'string' && raw.length <= 8192 ? new URL(raw) : undefined;
  } catch {
    u = undefined;
  }
  if (!u || u.protocol !== 'https:' || u.username || u.password || u.hash || !/^[a-z0-9.-]+$/.test(u.hostname)) {
    throw new SsrunError('SERVER_PROTOCOL', 'the server answered a browser login with a URL that is not a plain https address; login denied');
  }
  // A provider's page that sends the browser back here, and nowhere else.
  if (u.searchParams.get('redirect_uri') !== redirectUri) {
    throw new SsrunError('SERVER_PROTOCOL', "the server answered a browser login with a URL that does not send the browser back to this machine's address; login denied");
  }
  return `https://${u.host}${u.pathname}${u.search}`;
}

export interface RemoteDeps {
  /** Where a server's redirect ceremony comes back to (the CLI's loopback); absent: such a login fails closed. */
  ceremony?: Ceremony;
}
/** The login of createRemoteSsrun, over `call`. */
export function remoteLogin(call: Call, target: RemoteTarget, deps: RemoteDeps): (req: LoginRequest) => Promise<LoginResult> {

  /**
   * A server's redirect ceremony, carried on here: the loopback address goes to the server, which answers the
   * provider's URL; what the browser brings back goes to the server, which judges it and says what the page says.
   */
  async function carryRedirect(e: Extract<ProgressEvent, { kind: 'redirect' }>, req: LoginRequest, signal: AbortSignal): Promise<void> {
    const redirect = deps.ceremony?.redirect;
    if (!redirect) throw new SsrunError('CEREMONY_UNAVAILABLE', 'this login needs a browser, and this client cannot open one');
    await redirect.call(deps.ceremony, {
      subject: req.name,
      message: e.message,
      deadline: e.deadline,
      signal,
      ...(req.onProgress ? { onProgress: req.onProgress } : {}),
      build: async (redirectUri) => providerUrlFrom((await call<{ url?: unknown }>('POST', '/connect/redirect', { body: { flow: e.flow, redirect_uri: redirectUri }, token: null, signal }))?.url, redirectUri),
    }, async (back) => {
      const page = await call<{ ok?: unknown; message?: unknown }>('POST', '/connect/redirect/answer', { body: { flow: e.flow, params: back.params }, token: null, signal, timeoutMs: 60_000 });
      return { result: undefined, page: { ok: page?.ok === true, message: sanitizeLine(String(page?.message ?? ''), 300) } };
    });
  }

  async function login(req: LoginRequest): Promise<LoginResult> {
    const path = req.type === 'user' ? '/connect/token/internal' : '/connect/api_key_token';
    const send = async (mfa: string | undefined) => {
      // A redirect ceremony that fails on this side (the browser never came back, Ctrl-C) ends the login with its reason.
      const local = new AbortController();
      const signal = req.signal ? AbortSignal.any([req.signal, local.signal]) : local.signal;
      let failed: { e: unknown } | undefined;
      const onLine = (line: unknown) => {
        const event = progressFrom(line);
        if (event.kind !== 'redirect') return req.onProgress?.(event);
        carryRedirect(event, req, signal).catch((e) => {
          // The server's own deadline ends the login at the same time, as a counted denial: wait for its answer.
          if (e instanceof SsrunError && e.code === 'MFA_TIMEOUT') return;
          failed ??= { e };
          local.abort();
        });
      };
      const body: Record<string, unknown> =
        req.type === 'user' ? { username: req.name, password: req.secret } : { name: req.name, api_key: req.secret };
      if (mfa !== undefined) body.mfa = mfa;
      if (req.timeoutMs !== undefined) body.timeout = Math.ceil(req.timeoutMs / 1000);
      let r: { Principal: string; Factor: string; ExpiresAt: string; access_token: string; RecoveryCodesLeft?: number; Enrollment?: EnrollmentNotice; KeyEnrollment?: LoginResult['KeyEnrollment'] };
      try {
        r = await call('POST', path, {
          body,
          token: null,
          signal,
          // The longest a factor waits by default (a browser's prompt, 120 s), when no timeout was set.
          timeoutMs: (req.timeoutMs ?? 120_000) + REQUEST_TIMEOUT_MS,
          // A server's words, escaped like Duo's before they reach the terminal.
          stream: onLine,
        });
      } catch (e) {
        throw failed ? failed.e : e;
      }
      if (!r || typeof r.access_token !== 'string' || typeof r.Principal !== 'string') throw new SsrunError('SERVER_PROTOCOL', `the server at ${target.url} answered the login without a token; login denied`);
      return {
        Principal: r.Principal,
        Factor: r.Factor,
        ExpiresAt: r.ExpiresAt,
        token: r.access_token,
        ...(typeof r.RecoveryCodesLeft === 'number' ? { RecoveryCodesLeft: r.RecoveryCodesLeft } : {}),
        // A server's words, escaped before they reach the terminal.
        ...(r.Enrollment ? { Enrollment: { ...r.Enrollment, Policy: sanitizeLine(String(r.Enrollment.Policy), 80), How: sanitizeLine(String(r.Enrollment.How), 300), Deadline: sanitizeLine(String(r.Enrollment.Deadline), 40) } } : {}),
        ...(r.KeyEnrollment ? { KeyEnrollment: { Config: sanitizeLine(String(r.KeyEnrollment.Config), 120), How: sanitizeLine(String(r.KeyEnrollment.How), 300) } } : {}),
      };
    };
    try {
      return await send(req.mfa);
    } catch (e) {
      // Like the embedded store: with no -m on a terminal, ask the provider's question once MFA turns out to be required.
      if (!(e instanceof SsrunError && e.code === 'MFA_REQUIRED' && req.mfa === undefined && req.chooseFactor)) throw e;
      return send(await req.chooseFactor(promptFrom(e.detail?.prompt)));
    }
  }

  return login;
}
