// The one-shot ceremony slot, transport-neutral: one secret path that serves the page once and takes one
// answer, for one site. The CLI's loopback server and `ssrun serve` put it behind their HTTP layer, passing
// each request's method, path, Host, Origin, Content-Type and body, and sending back what it returns.
//
// Rules: another Host → 421 (DNS rebinding: a page of evil.example resolving to 127.0.0.1 must not read the
// page or post to it); another path → 404; the first GET → the page; a second GET → 410; one POST, after the
// GET, from the site's exact origin, as JSON ≤ 64 KiB holding exactly `response` (an object) or `refused` (a
// string) → 200 and the answer; anything else → a 4xx line, and the slot keeps waiting. Errors never echo
// the options (the challenge) or the answer.

import { randomBytes } from 'node:crypto';
import type { CeremonyAnswer, CeremonySite } from '../core/ceremony.js';
import { SsrunError } from '../core/errors.js';
import { ceremonyPage, pageHeaders, type CeremonyKind } from './page.js';

export const MAX_BODY_BYTES = 64 * 1024;
const MAX_REFUSAL = 200;

export interface SlotOptions {
  site: CeremonySite;
  /** The Host header the browser must send, exactly (`localhost:PORT`, or the public host). */
  host: string;
  /** The slot's secret path (randomPath()). */
  path: string;
  kind: CeremonyKind;
  title: string;
  options: unknown;
  /** Shown on the page, which then waits for a click (see CeremonyPageInput). */
  context?: string;
  /** Absolute deadline, ms since epoch. */
  deadline: number;
  signal?: AbortSignal;
  now?: () => number;
}

export interface SlotRequest {
  method: string;
  /** The request's path, without the query. */
  path: string;
  host: string | undefined;
  origin: string | undefined;
  contentType: string | undefined;
  body: string;
}

export interface SlotResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Slot {
  handle(req: SlotRequest): SlotResponse;
  /** The browser's answer; rejects with MFA_TIMEOUT at the deadline, CANCELLED on the signal or close(). */
  answer: Promise<CeremonyAnswer>;
  /** Stops the slot: its timer and listener go; if no answer came yet, `answer` rejects with CANCELLED. */
  close(): void;
}

/** What the CLI says while a ceremony waits for the browser (both the loopback page and a server's). */
export const waitingMessage = (kind: CeremonyKind) => (kind === 'register' ? 'Touch your security key in the browser window to register it' : 'Touch your security key in the browser window');

/** A fresh secret path: `/` and 32 random bytes in base64url (256 bits). */
export function randomPath(): string {
  return `/${randomBytes(32).toString('base64url')}`;
}

/** The headers of a plain-text answer of a ceremony (no caching, no sniffing, no referrer). */
export const TEXT_HEADERS = {
  'content-type': 'text/plain; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function text(status: number, line: string, extra: Record<string, string> = {}): SlotResponse {
  return { status, headers: { ...TEXT_HEADERS, ...extra }, body: `${line}\n` };
}

function isJson(contentType: string | undefined): boolean {
  const media = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  return media === 'application/json';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The posted body as an answer, or the line saying why it is not one (never quoting it). */
function parseAnswer(body: string): { response: unknown } | { refused: string } | string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'the body is not JSON';
  }
  if (!isObject(value)) return 'the body is not a JSON object';
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'response' && isObject(value.response)) return { response: value.response };
  if (keys.length === 1 && keys[0] === 'refused' && typeof value.refused === 'string') {
    // The browser's words, shown by the CLI: one line, no control characters, at most 200 characters.
    return { refused: Array.from(value.refused.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')).slice(0, MAX_REFUSAL).join('') };
  }
  return 'the body must hold exactly "response" (an object) or "refused" (a string)';
}

export function createSlot(opts: SlotOptions): Slot {
  const now = opts.now ?? Date.now;
  const seconds = Math.max(0, Math.ceil((opts.deadline - now()) / 1000));
  let state: 'fresh' | 'served' | 'over' = 'fresh';
  let timer: NodeJS.Timeout | undefined;
  let settle!: (result: CeremonyAnswer | SsrunError) => void;

  const answer = new Promise<CeremonyAnswer>((resolve, reject) => {
    settle = (result) => {
      if (state === 'over') return;
      state = 'over';
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (result instanceof SsrunError) reject(result);
      else resolve(result);
    };
  });
  // The owner may close() without awaiting the answer: that rejection is not an unhandled one.
  answer.catch(() => undefined);

  const cancelled = () => new SsrunError('CANCELLED', 'cancelled');
  const onAbort = () => settle(cancelled());
  const onDeadline = () => settle(new SsrunError('MFA_TIMEOUT', `no answer from the browser within ${seconds} s`));

  if (opts.signal?.aborted) onAbort();
  else {
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(onDeadline, Math.max(0, opts.deadline - now()));
  }

  const serve = (): SlotResponse => {
    if (state === 'served') {
      // Two browsers have the URL: the first may not be the user's. The ceremony fails closed (nothing it sends counts).
      settle(new SsrunError('KEY_REJECTED', 'the ceremony page was opened twice (someone else may have its URL): nothing was accepted; start again'));
      return text(410, 'this ceremony page was already used');
    }
    state = 'served';
    const nonce = randomBytes(18).toString('base64');
    return { status: 200, headers: pageHeaders(nonce), body: ceremonyPage({ kind: opts.kind, title: opts.title, options: opts.options, nonce, ...(opts.context ? { context: opts.context } : {}) }) };
  };

  const receive = (req: SlotRequest): SlotResponse => {
    if (state === 'fresh') return text(409, 'open the ceremony page first');
    if (req.origin !== opts.site.origin) return text(403, 'the request does not come from the ceremony page');
    if (!isJson(req.contentType)) return text(415, 'the body must be application/json');
    if (Buffer.byteLength(req.body, 'utf8') > MAX_BODY_BYTES) return text(413, 'the body is too large');
    const parsed = parseAnswer(req.body);
    if (typeof parsed === 'string') return text(400, parsed);
    settle({ site: { ...opts.site }, ...parsed });
    return { status: 200, headers: { ...TEXT_HEADERS, 'content-type': 'application/json' }, body: '{"ok":true}' };
  };

  const handle = (req: SlotRequest): SlotResponse => {
    if (req.host !== opts.host) return text(421, 'misdirected request: wrong Host');
    if (req.path !== opts.path) return text(404, 'not found');
    if (state !== 'over' && now() >= opts.deadline) onDeadline();
    if (state === 'over') return text(410, 'this ceremony is over');
    if (req.method === 'GET') return serve();
    if (req.method === 'POST') return receive(req);
    return text(405, 'method not allowed', { allow: 'GET, POST' });
  };

  return { handle, answer, close: () => settle(cancelled()) };
}
