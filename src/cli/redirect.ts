// The loopback end of a redirect ceremony (Duo's Universal Prompt), for every factor that sends the browser
// to someone else's page and back: one server on 127.0.0.1, a random port, a path of 256 random bits (S29). It
// takes one GET there, with its own Host (DNS rebinding), holds the browser while the factor reads what came
// back, then answers a small page saying how it ended (never a code or a token) and closes. Other paths: 404;
// another Host: 421; not GET: 405; anything after the one: 410. It closes at the deadline (MFA_TIMEOUT) or on
// the signal (CANCELLED) too.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_REDIRECT_VALUE, REDIRECT_KEYS, type RedirectOutcome, type RedirectRequest, type RedirectReturn } from '../core/ceremony.js';
import { SsrunError } from '../core/errors.js';
import { escapeHtml } from '../ceremony/page.js';
import { randomPath, TEXT_HEADERS as TEXT } from '../ceremony/slot.js';
import { listen, send } from './ceremony.js';

/** The page the browser ends on: the outcome in one sentence, no script, no link, no referrer. */
export function resultPage(page: { ok: boolean; message: string }): { headers: Record<string, string>; body: string } {
  const title = page.ok ? 'ssrun: logged in' : 'ssrun: login failed';
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p id="outcome" data-ok="${page.ok}">${escapeHtml(page.message)}</p><p>You may close this window and return to the terminal.</p></body></html>\n`;
  return {
    headers: { ...TEXT, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", connection: 'close' },
    body,
  };
}

/** The query of the one request, the kept keys only (a value too long is left out: the factor sees it missing). */
function paramsOf(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of REDIRECT_KEYS) {
    const v = url.searchParams.get(k);
    if (v !== null && v.length <= MAX_REDIRECT_VALUE) out[k] = v;
  }
  return out;
}

type Returned = RedirectReturn & { respond(page: { ok: boolean; message: string }): Promise<void> };

export async function loopbackRedirect<T>(req: RedirectRequest, answer: (back: RedirectReturn) => Promise<RedirectOutcome<T>>): Promise<T> {
  if (req.signal?.aborted) throw new SsrunError('CANCELLED', 'cancelled');
  const path = randomPath();
  let host = '';
  let redirectUri = '';
  let taken = false;
  let onReturn!: (r: Returned) => void;
  const returned = new Promise<Returned>((resolve) => (onReturn = resolve));

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const refuse = (status: number, line: string) => void send(response, status, TEXT, `${line}\n`, true);
    if (request.headers.host !== host) return refuse(421, 'misdirected request: wrong Host');
    const url = new URL(request.url ?? '/', `http://${host}`);
    if (url.pathname !== path) return refuse(404, 'not found');
    if (request.method !== 'GET') return refuse(405, 'method not allowed');
    if (taken) return refuse(410, 'this login already came back here');
    taken = true;
    onReturn({ params: paramsOf(url), redirectUri, respond: (page) => {
      const p = resultPage(page);
      return send(response, 200, p.headers, p.body, true);
    } });
  };
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 1_000, maxHeaderSize: 16 * 1024 }, handle);
  server.on('error', () => undefined);
  await listen(server, '127.0.0.1', 0);
  const { port } = server.address() as AddressInfo;
  host = `127.0.0.1:${port}`;
  redirectUri = `http://${host}${path}`;

  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const ended = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SsrunError('MFA_TIMEOUT', `nothing came back to ${host} in time`)), Math.max(0, req.deadline - Date.now()));
    onAbort = () => reject(new SsrunError('CANCELLED', 'cancelled'));
    req.signal?.addEventListener('abort', onAbort, { once: true });
  });
  ended.catch(() => undefined);
  try {
    const url = await Promise.race([req.build(redirectUri), ended]);
    req.onProgress?.({ kind: 'ceremony', url, message: req.message, deadline: req.deadline });
    const back = await Promise.race([returned, ended]);
    let outcome: RedirectOutcome<T>;
    try {
      outcome = await answer({ params: back.params, redirectUri: back.redirectUri });
    } catch (e) {
      await back.respond({ ok: false, message: e instanceof SsrunError ? e.message : 'the login failed; see the terminal' });
      throw e;
    }
    await back.respond(outcome.page);
    return outcome.result;
  } finally {
    clearTimeout(timer);
    if (onAbort) req.signal?.removeEventListener('abort', onAbort);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}
