// A fake Duo Auth API v2 for tests: HTTPS on 127.0.0.1 (random port) with a CA made at test time, and an
// independent implementation of Duo's v2 request signing (it deliberately does not use @duosecurity/duo_api,
// so the client's signer is checked against a second implementation). Behaviour is chosen by the Duo
// username (the `-m` identity of `mfa assign-principal`); the part before an optional '#' picks the
// scenario, so tests can use distinct usernames with the same behaviour. Every request is recorded.
//
// A Duo passcode is opaque: besides GOOD_PASSCODE (accepted for every scenario whose preauth answers "auth"),
// EXTRA_PASSCODES lists, per scenario, more passcodes the fake accepts, of any length and alphabet (a 5-digit
// code, a 20-digit token code, a 44-character YubiKey OTP). The 'bob' scenario (Duo usernames "bob" and
// "bob#tag") behaves like 'alice' and accepts them all. Passcodes are compared exactly as received: nothing is
// trimmed or case-folded, and the request records keep params.passcode byte for byte.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../helpers/tls.js';

/** A status_msg with CR/LF and terminal escapes (S24): clients must never print it raw. */
export const EVIL_STATUS_MSG = 'Access denied\r\nssrun: login OK\u001b[2J\u001b[31m!';

export const SCENARIOS = [
  'alice', // preauth auth (push, phone, sms); passcode 123456 allowed; push/phone/auto allowed after waiting polls
  'bob', // like alice, and the passcodes of EXTRA_PASSCODES.bob allowed too (77552, a 20-digit code, a YubiKey OTP)
  'sms', // preauth auth with an SMS-only device
  'push-deny', // push denied by the user after one waiting poll
  'push-fraud', // push reported as fraud
  'push-never', // push never answered (always waiting)
  'push-hang', // push started, but auth_status never answers
  'enroll', // preauth enroll
  'denied', // preauth deny (policy)
  'bypass', // preauth allow
  'ratelimit-2', // 429 (Retry-After: 0) twice, then like alice
  'ratelimit-always', // always 429 (Retry-After: 0)
  'error-500', // HTTP 500
  'garbage', // HTTP 200 with a body that is not JSON
  'hang', // never answers
  'statfail', // HTTP 200 with stat FAIL
  'weird', // preauth result "maybe"
  'evil', // preauth deny with EVIL_STATUS_MSG
  'evil-push', // push waiting with EVIL_STATUS_MSG, then allow
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const GOOD_PASSCODE = '123456';
/** A 5-digit passcode: shorter than the 6 digits a TOTP app shows, still a valid Duo passcode (bob). */
export const SHORT_PASSCODE = '77552';
/** A 20-digit passcode, as some hardware tokens give (bob). */
export const LONG_PASSCODE = '12345678901234567890';
/** A YubiKey OTP: 44 modhex characters, 12 of public id and 32 of OTP (bob). */
export const YUBIKEY_OTP = 'ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded';
/** Passcodes accepted besides GOOD_PASSCODE, by scenario (compared exactly as received). */
export const EXTRA_PASSCODES: Partial<Record<Scenario, readonly string[]>> = {
  bob: [SHORT_PASSCODE, LONG_PASSCODE, YUBIKEY_OTP],
};
/** Duo user ids (user_id, sent for DU… identities) that stand for a scenario. */
export const USER_IDS: Record<string, Scenario> = { DUALICE0000000000000: 'alice' };

export interface RecordedRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** The Duo user the request is about (username or user_id; for auth_status, its transaction's). */
  identity?: string;
  /** HTTP status answered; undefined while pending (hang). */
  status?: number;
}

// ---- Duo's v2 canonicalization, written from the documentation --------------------------------------------

/** RFC 3986 percent-encoding: encodeURIComponent leaves ! ' ( ) * alone, Duo does not. */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function canonicalize(date: string, method: string, host: string, path: string, params: [string, string][]): string {
  const sorted = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = sorted.map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&');
  return [date, method.toUpperCase(), host.toLowerCase(), path, query].join('\n');
}

export function signature(skey: string, canonical: string): string {
  return createHmac('sha512', skey).update(canonical).digest('hex');
}

// ---- the server ---------------------------------------------------------------------------------------------

interface Txn {
  identity: string;
  scenario: Scenario | undefined;
  factor: string;
  polls: number;
}

export interface FakeDuoOptions {
  ikey?: string;
  skey?: string;
}

export interface FakeDuo {
  /** host:port as the client must send it (Options.Host). */
  host: string;
  port: number;
  ikey: string;
  skey: string;
  /** PEM of the CA that issued the server certificate, and a file holding it (Options.CaFile). */
  caPem: string;
  caFile: string;
  requests: RecordedRequest[];
  /** The fake's clock is Date.now() + clockOffsetMs (date check and ping). */
  clockOffsetMs: number;
  /** When set, ping reports Date.now() + pingOffsetMs instead of the fake's clock (a lying ping). */
  pingOffsetMs: number | undefined;
  /** Options for a Duo configuration pointing at this fake. */
  options(overrides?: Partial<{ IntegrationKey: string; SecretKey: string; Host: string; CaFile: string }>): { IntegrationKey: string; SecretKey: string; Host: string; CaFile?: string };
  /** Requests to one path (e.g. '/auth/v2/auth'). */
  requestsTo(path: string): RecordedRequest[];
  /** Requests about one Duo user (tests running at the same time use distinct users). */
  requestsFor(identity: string): RecordedRequest[];
  /** Forget requests, transactions and counters; the clock and ping are set right again. */
  reset(): void;
  close(): Promise<void>;
}

const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const randomIkey = () => `DI${Array.from(randomBytes(18), (b) => CHARS[b % CHARS.length]).join('')}`;

function send(res: ServerResponse, rec: RecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
  rec.status = status;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': typeof body === 'string' ? 'text/html' : 'application/json', ...headers });
  res.end(text);
}

const fail = (code: number, message: string, detail?: string) => ({ stat: 'FAIL', code, message, ...(detail ? { message_detail: detail } : {}) });
const ok = (response: unknown) => ({ stat: 'OK', response });

const DEVICES = {
  full: [{ device: 'DPFZRS9FB0D46QFTM891', type: 'phone', number: 'XXX-XXX-0100', name: 'My iPhone', display_name: 'iOS (XXX-XXX-0100)', capabilities: ['auto', 'push', 'sms', 'phone', 'mobile_otp'] }],
  sms: [{ device: 'DPFZRS9FB0D46QFTM892', type: 'phone', number: 'XXX-XXX-0101', name: 'Old phone', capabilities: ['sms'] }],
};

export async function startFakeDuo(opts: FakeDuoOptions = {}): Promise<FakeDuo> {
  const { caPem, key, cert } = await makeCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'ssrun-fake-duo-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caPem);
  const ikey = opts.ikey ?? randomIkey();
  const skey = opts.skey ?? randomBytes(30).toString('base64url');

  const txns = new Map<string, Txn>();
  const hits = new Map<string, number>();

  const fake: FakeDuo = {
    host: '',
    port: 0,
    ikey,
    skey,
    caPem,
    caFile,
    requests: [],
    clockOffsetMs: 0,
    pingOffsetMs: undefined,
    options: (o = {}) => ({ IntegrationKey: ikey, SecretKey: skey, Host: fake.host, CaFile: caFile, ...o }),
    requestsTo: (path) => fake.requests.filter((r) => r.path === path),
    requestsFor: (identity) => fake.requests.filter((r) => r.identity === identity),
    reset() {
      fake.requests.length = 0;
      txns.clear();
      hits.clear();
      fake.clockOffsetMs = 0;
      fake.pingOffsetMs = undefined;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  /** 401 answers as Duo gives them, or undefined when the request is signed right and on time. */
  function checkSignature(req: IncomingMessage, path: string, pairs: [string, string][]): { code: number; message: string } | undefined {
    const auth = req.headers.authorization;
    const m = auth ? /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth) : null;
    if (!m) return { code: 40101, message: 'Missing request credentials' };
    const [givenIkey, givenSig = ''] = Buffer.from(m[1]!, 'base64').toString('utf8').split(':');
    if (givenIkey !== ikey) return { code: 40102, message: 'Invalid integration key' };
    const date = req.headers.date ?? '';
    const at = Date.parse(date);
    if (!date || !Number.isFinite(at)) return { code: 40105, message: 'The request date is missing or not a valid RFC 2822 date' };
    const expected = Buffer.from(signature(skey, canonicalize(date, req.method ?? '', req.headers.host ?? '', path, pairs)));
    const given = Buffer.from(givenSig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { code: 40103, message: 'Invalid signature in request credentials' };
    if (Math.abs(at - (Date.now() + fake.clockOffsetMs)) > 300_000) return { code: 40105, message: 'The request date is more than 300 seconds from the server time' };
    return undefined;
  }

  function scenarioOf(identity: string | undefined): Scenario | undefined {
    if (identity === undefined) return undefined;
    const name = USER_IDS[identity] ?? identity.split('#')[0]!;
    return (SCENARIOS as readonly string[]).includes(name) ? (name as Scenario) : undefined;
  }

  function preauth(s: Scenario | undefined): unknown {
    switch (s) {
      case 'alice':
      case 'bob':
      case 'ratelimit-2':
      case 'push-deny':
      case 'push-fraud':
      case 'push-never':
      case 'push-hang':
      case 'evil-push':
        return { result: 'auth', status_msg: 'Account is active', devices: DEVICES.full };
      case 'sms':
        return { result: 'auth', status_msg: 'Account is active', devices: DEVICES.sms };
      case 'enroll':
        return { result: 'enroll', status_msg: 'Enroll an authentication device to proceed', enroll_portal_url: 'https://api-xxxxxxxx.duosecurity.com/portal?code=48bac5d9393fb2c2&akey=DAKXXXXXXXXXXXXXXXXX' };
      case 'denied':
        return { result: 'deny', status_msg: 'Your account is disabled' };
      case 'evil':
        return { result: 'deny', status_msg: EVIL_STATUS_MSG };
      case 'bypass':
        return { result: 'allow', status_msg: 'Allowing unknown user' };
      case 'weird':
        return { result: 'maybe', status_msg: 'Who knows' };
      default:
        return { result: 'deny', status_msg: 'Unknown user' };
    }
  }

  /** The answer to auth_status after `polls` polls (1 = first). */
  function status(t: Txn): unknown {
    const waiting = (msg: string) => ({ result: 'waiting', status: t.factor === 'phone' ? 'calling' : 'pushed', status_msg: msg });
    const allow = { result: 'allow', status: 'allow', status_msg: 'Success. Logging you in...' };
    switch (t.scenario) {
      case 'push-deny':
        return t.polls < 2 ? waiting('Pushed a login request to your device...') : { result: 'deny', status: 'deny', status_msg: 'Login request denied.' };
      case 'push-fraud':
        return { result: 'deny', status: 'fraud', status_msg: 'Reported as fraudulent.' };
      case 'push-never':
        return waiting('Pushed a login request to your device...');
      case 'evil-push':
        return t.polls < 2 ? waiting(EVIL_STATUS_MSG) : allow;
      default:
        if (t.factor === 'phone') return t.polls === 1 ? waiting('Dialing XXX-XXX-0100...') : t.polls === 2 ? { ...waiting('Answered. Press any key on your phone to log in.'), status: 'answered' } : allow;
        return t.polls < 2 ? waiting('Pushed a login request to your device...') : allow;
    }
  }

  function auth(identity: string, s: Scenario | undefined, params: Record<string, string>): { status: number; body: unknown } {
    const factor = params.factor;
    if ((preauth(s) as { result: string }).result !== 'auth') return { status: 400, body: fail(40002, 'Invalid request parameters', 'username') };
    if (factor === 'passcode') {
      if (!params.passcode) return { status: 400, body: fail(40002, 'Missing required request parameters', 'passcode') };
      return params.passcode === GOOD_PASSCODE || (s !== undefined && (EXTRA_PASSCODES[s] ?? []).includes(params.passcode))
        ? { status: 200, body: ok({ result: 'allow', status: 'allow', status_msg: 'Success. Logging you in...' }) }
        : { status: 200, body: ok({ result: 'deny', status: 'deny', status_msg: 'Incorrect passcode. Please try again.' }) };
    }
    if (factor === 'sms') return { status: 200, body: ok({ result: 'deny', status: 'sent', status_msg: 'New SMS passcodes sent.' }) };
    if (factor !== 'push' && factor !== 'phone' && factor !== 'auto') return { status: 400, body: fail(40002, 'Invalid request parameters', 'factor') };
    if (s === 'sms') return { status: 400, body: fail(40002, 'Invalid request parameters', 'device') };
    const t: Txn = { identity, scenario: s, factor: factor === 'auto' ? 'push' : factor, polls: 0 };
    if (params.async !== '1') {
      // Synchronous: Duo answers once the user has; the fake answers with the final state at once.
      for (t.polls = 1; (status(t) as { result: string }).result === 'waiting' && t.polls < 10; t.polls++);
      return { status: 200, body: ok(status(t)) };
    }
    const txid = `${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}-${randomBytes(2).toString('hex')}-${randomBytes(6).toString('hex')}`;
    txns.set(txid, t);
    return { status: 200, body: ok({ txid }) };
  }

  function handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const path = url.pathname;
    const form = req.method === 'POST' && /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
    const pairs = [...(req.method === 'GET' ? url.searchParams : form ? new URLSearchParams(body) : new URLSearchParams())] as [string, string][];
    const params = Object.fromEntries(pairs);
    const rec: RecordedRequest = { method: req.method ?? '', path, params, headers: { ...req.headers } };
    fake.requests.push(rec);

    const routes: Record<string, string> = { '/auth/v2/ping': 'GET', '/auth/v2/check': 'GET', '/auth/v2/preauth': 'POST', '/auth/v2/auth': 'POST', '/auth/v2/auth_status': 'GET' };
    if (!routes[path]) return send(res, rec, 404, fail(40401, 'Resource not found'));
    if (routes[path] !== req.method) return send(res, rec, 405, fail(40501, 'Method not allowed'));
    if (path === '/auth/v2/ping') {
      const t = Date.now() + (fake.pingOffsetMs ?? fake.clockOffsetMs);
      return send(res, rec, 200, ok({ time: Math.floor(t / 1000) }));
    }
    const txn = path === '/auth/v2/auth_status' ? txns.get(params.txid ?? '') : undefined;
    const identity = txn ? txn.identity : (params.username ?? params.user_id);
    rec.identity = identity;
    const denied = checkSignature(req, path, pairs);
    if (denied) return send(res, rec, 401, fail(denied.code, denied.message));
    // check: signed like every call, about no user (Duo answers its time)
    if (path === '/auth/v2/check') return send(res, rec, 200, ok({ time: Math.floor((Date.now() + fake.clockOffsetMs) / 1000) }));

    const s = txn ? txn.scenario : scenarioOf(identity);
    const n = (hits.get(identity ?? '') ?? 0) + 1;
    hits.set(identity ?? '', n);
    switch (s) {
      case 'hang':
        return; // never answered; close() drops the connection
      case 'ratelimit-always':
        return send(res, rec, 429, fail(42901, 'Too Many Requests'), { 'Retry-After': '0' });
      case 'ratelimit-2':
        if (n <= 2) return send(res, rec, 429, fail(42901, 'Too Many Requests'), { 'Retry-After': '0' });
        break;
      case 'error-500':
        return send(res, rec, 500, fail(50000, 'Internal server error'));
      case 'garbage':
        return send(res, rec, 200, '<html><body>Service temporarily unavailable</body></html>');
      case 'statfail':
        return send(res, rec, 200, fail(40002, 'Invalid request parameters', 'username'));
    }
    if (path === '/auth/v2/preauth') {
      if (identity === undefined) return send(res, rec, 400, fail(40001, 'Missing required request parameters', 'username'));
      return send(res, rec, 200, ok(preauth(s)));
    }
    if (path === '/auth/v2/auth') {
      if (identity === undefined) return send(res, rec, 400, fail(40001, 'Missing required request parameters', 'username'));
      const a = auth(identity, s, params);
      return send(res, rec, a.status, a.body);
    }
    // auth_status
    if (!txn) return send(res, rec, 400, fail(40002, 'Invalid request parameters', 'txid'));
    if (s === 'push-hang') return;
    txn.polls++;
    return send(res, rec, 200, ok(status(txn)));
  }

  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  fake.port = (server.address() as AddressInfo).port;
  fake.host = `127.0.0.1:${fake.port}`;
  return fake;
}
