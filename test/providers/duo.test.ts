// The Duo client (createDuoProvider) against the fake Duo Auth API: real HTTPS, real signing, fast polls.

import { request } from 'node:https';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SsrunError } from '../../src/core/errors.js';
import type { Factor, MfaMethod } from '../../src/core/model.js';
import type { DuoRequestContext, ProgressEvent } from '../../src/core/ports.js';
import { createDuoProvider } from '../../src/providers/duo/client.js';
import { EVIL_STATUS_MSG, canonicalize, signature, startFakeDuo, type FakeDuo } from '../fakes/duo-server.js';

let fake: FakeDuo;
beforeAll(async () => {
  fake = await startFakeDuo();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => fake.reset());

const duo = createDuoProvider({ pollIntervalMs: 5, requestTimeoutMs: 2_000 });
const passcode = (code: string): MfaMethod => ({ kind: 'passcode', passcode: code });
const factor = (f: Factor): MfaMethod => ({ kind: 'factor', factor: f });

function ctx(user: string, method: MfaMethod | undefined, more: Partial<DuoRequestContext> = {}): DuoRequestContext & { progress: string[] } {
  const progress: string[] = [];
  return {
    options: fake.options(),
    providerUserId: user,
    method,
    deadline: Date.now() + 5_000,
    onProgress: (e: ProgressEvent) => progress.push(e.message),
    progress,
    ...more,
  };
}

async function failure(p: Promise<unknown>): Promise<SsrunError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SsrunError);
    return e as SsrunError;
  }
  throw new Error('expected a failure, but the call succeeded');
}

const paths = () => fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`);

describe('the fake verifies Duo v2 signatures independently', () => {
  const { sign } = createRequire(import.meta.url)('@duosecurity/duo_api/lib/duo_sig.js') as {
    sign: (ikey: string, skey: string, method: string, host: string, path: string, params: Record<string, string>, date: string) => string;
  };

  it("matches @duosecurity/duo_api's signer on awkward parameters", () => {
    const params = { username: "a b!'()*~é&=+/%", zeta: '1', Alpha: 'x', factor: 'push', '\u469a': '\u0f45' };
    const date = 'Tue, 21 Aug 2012 17:29:18 -0000';
    const theirs = sign('DIWJ8X6AEYOR5OMC6TQ1', 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep', 'post', 'API-XXXXXXXX.duosecurity.com', '/auth/v2/auth', params, date);
    const canon = canonicalize(date, 'post', 'API-XXXXXXXX.duosecurity.com', '/auth/v2/auth', Object.entries(params));
    expect(canon).toBe(
      [date, 'POST', 'api-xxxxxxxx.duosecurity.com', '/auth/v2/auth', 'Alpha=x&factor=push&username=a%20b%21%27%28%29%2A~%C3%A9%26%3D%2B%2F%25&zeta=1&%E4%9A%9A=%E0%BD%85'].join('\n'),
    );
    const ours = `Basic ${Buffer.from(`DIWJ8X6AEYOR5OMC6TQ1:${signature('Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep', canon)}`).toString('base64')}`;
    expect(ours).toBe(theirs);
  });

  /** A raw request to the fake, signed (or not) by the test. */
  function raw(method: 'GET' | 'POST', path: string, params: Record<string, string>, headers: Record<string, string>): Promise<{ status: number; body: any }> {
    const query = new URLSearchParams(params).toString();
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: fake.port,
          method,
          path: method === 'GET' && query ? `${path}?${query}` : path,
          ca: fake.caPem,
          headers: { Host: fake.host, ...(method === 'POST' ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}), ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(method === 'POST' ? query : '');
    });
  }
  const signed = (method: 'GET' | 'POST', path: string, params: Record<string, string>, o: { date?: string; ikey?: string; skey?: string; host?: string } = {}) => {
    const date = o.date ?? new Date().toUTCString();
    return { Date: date, Authorization: sign(o.ikey ?? fake.ikey, o.skey ?? fake.skey, method, o.host ?? fake.host, path, params, date) };
  };

  it('accepts a correctly signed request and answers ping unsigned', async () => {
    const params = { username: "alice#x y!'()*é" };
    expect(await raw('POST', '/auth/v2/preauth', params, signed('POST', '/auth/v2/preauth', params))).toMatchObject({ status: 200, body: { stat: 'OK', response: { result: 'auth' } } });
    const ping = await raw('GET', '/auth/v2/ping', {}, {});
    expect(ping.status).toBe(200);
    expect(Math.abs(ping.body.response.time - Date.now() / 1000)).toBeLessThan(5);
    expect(fake.requestsTo('/auth/v2/preauth')[0]!.params).toEqual(params);
  });

  it('rejects what Duo rejects, with Duo’s codes', async () => {
    const p = { username: 'alice' };
    const url = '/auth/v2/preauth';
    const cases: [Record<string, string>, number][] = [
      [{ Date: new Date().toUTCString() }, 40101],
      [signed('POST', url, p, { ikey: 'DIXXXXXXXXXXXXXXXXXX' }), 40102],
      [signed('POST', url, p, { skey: 'not-the-secret-key-000000000000000000000' }), 40103],
      [signed('POST', url, { username: 'bob' }), 40103], // signed other params
      [signed('GET', url, p), 40103], // signed another method
      [signed('POST', url, p, { host: '127.0.0.1:1' }), 40103], // signed another host
      [signed('POST', '/auth/v2/auth', p), 40103], // signed another path
      [signed('POST', url, p, { date: new Date(Date.now() - 301_000).toUTCString() }), 40105],
      [{ Authorization: signed('POST', url, p).Authorization }, 40105], // no Date header
    ];
    for (const [headers, code] of cases) {
      const r = await raw('POST', url, p, headers);
      expect({ status: r.status, code: r.body.code, stat: r.body.stat }).toEqual({ status: 401, code, stat: 'FAIL' });
    }
    expect((await raw('POST', url, p, signed('POST', url, p, { ikey: 'DIXXXXXXXXXXXXXXXXXX' }))).body.message).toBe('Invalid integration key');
    expect((await raw('POST', url, p, { Date: new Date().toUTCString() }))).toMatchObject({ body: { message: 'Missing request credentials' } });
  });

  it('takes GET parameters from the query and POST parameters from the form body', async () => {
    const st = { txid: 'no-such-txid' };
    expect(await raw('GET', '/auth/v2/auth_status', st, signed('GET', '/auth/v2/auth_status', st))).toMatchObject({ status: 400, body: { code: 40002, message_detail: 'txid' } });
    // A POST body that is not a form carries no parameters: the signature over them fails.
    const p = { username: 'alice' };
    expect(await raw('POST', '/auth/v2/preauth', p, { ...signed('POST', '/auth/v2/preauth', p), 'Content-Type': 'text/plain' })).toMatchObject({ status: 401, body: { code: 40103 } });
    expect(await raw('GET', '/auth/v2/preauth', p, signed('GET', '/auth/v2/preauth', p))).toMatchObject({ status: 405 });
  });
});

describe('createDuoProvider against the fake', () => {
  it('passcode: allowed, sent as factor=passcode and never as a push', async () => {
    expect(await duo.authenticate(ctx('alice', passcode('123456')))).toEqual({ result: 'allow', factor: 'passcode', bypass: false, message: '' });
    const auth = fake.requestsTo('/auth/v2/auth');
    expect(auth.map((r) => r.params)).toEqual([{ username: 'alice', factor: 'passcode', passcode: '123456' }]);
    expect(fake.requests.map((r) => r.path)).toEqual(['/auth/v2/preauth', '/auth/v2/auth']);
    for (const r of fake.requests) {
      expect(r.headers.host).toBe(fake.host);
      expect(r.headers.authorization).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
      expect(Buffer.from(String(r.headers.authorization).slice(6), 'base64').toString()).toMatch(new RegExp(`^${fake.ikey}:[0-9a-f]{128}$`));
      expect(r.headers.date).toMatch(/GMT$/);
    }
  });

  it('signs awkward usernames the way the fake (Duo) checks them', async () => {
    const user = "alice#Zoë ~!'()*&=+/%\u469a";
    expect(await duo.authenticate(ctx(user, passcode('123456')))).toMatchObject({ result: 'allow' });
    expect(fake.requests.map((r) => [r.status, r.params.username])).toEqual([
      [200, user],
      [200, user],
    ]);
  });

  it('wrong passcode: invalid_passcode', async () => {
    expect(await duo.authenticate(ctx('alice', passcode('654321')))).toEqual({ result: 'deny', reason: 'invalid_passcode', message: 'Incorrect passcode. Please try again.' });
  });

  it('push: async transaction polled until allowed, progress reported', async () => {
    const c = ctx('alice', factor('push'));
    expect(await duo.authenticate(c)).toEqual({ result: 'allow', factor: 'push', bypass: false, message: 'Success. Logging you in...' });
    // the device Duo's `device: auto` uses (its display_name, the number's last digits), then Duo's own words
    expect(c.progress).toEqual(['Waiting for approval on iOS (…0100)', 'Pushed a login request to your device...']);
    const [auth] = fake.requestsTo('/auth/v2/auth');
    expect(auth!.params).toEqual({ username: 'alice', factor: 'push', device: 'auto', async: '1' });
    const polls = fake.requestsTo('/auth/v2/auth_status');
    expect(polls).toHaveLength(2);
    expect(polls.every((p) => p.method === 'GET' && typeof p.params.txid === 'string' && p.params.txid.length > 0)).toBe(true);
  });

  it('phone and auto', async () => {
    const phone = ctx('alice', factor('phone'));
    expect(await duo.authenticate(phone)).toMatchObject({ result: 'allow', factor: 'phone' });
    expect(phone.progress).toEqual(['Calling iOS (…0100)', 'Dialing XXX-XXX-0100...', 'Answered. Press any key on your phone to log in.']);
    expect(await duo.authenticate(ctx('alice', factor('auto')))).toMatchObject({ result: 'allow', factor: 'auto' });
    expect(fake.requestsTo('/auth/v2/auth').map((r) => r.params.factor)).toEqual(['phone', 'auto']);
  });

  it('sms: passcodes sent is a denial that says so', async () => {
    expect(await duo.authenticate(ctx('sms', factor('sms')))).toEqual({ result: 'deny', reason: 'sms_sent', message: 'New SMS passcodes sent.' });
    expect(fake.requestsTo('/auth/v2/auth')[0]!.params).toEqual({ username: 'sms', factor: 'sms', device: 'auto' });
  });

  it('push denied, fraud, and never answered', async () => {
    expect(await duo.authenticate(ctx('push-deny', factor('push')))).toEqual({ result: 'deny', reason: 'denied', message: 'Login request denied.' });
    expect(await duo.authenticate(ctx('push-fraud', factor('push')))).toEqual({ result: 'deny', reason: 'fraud', message: 'Reported as fraudulent.' });
    const started = Date.now();
    expect(await duo.authenticate(ctx('push-never', factor('push'), { deadline: Date.now() + 300 }))).toEqual({ result: 'deny', reason: 'timeout', message: '' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a poll still waiting for Duo when the login deadline falls is a timeout, not an outage', async () => {
    const started = Date.now();
    expect(await duo.authenticate(ctx('push-hang', factor('push'), { deadline: Date.now() + 1_000 }))).toEqual({ result: 'deny', reason: 'timeout', message: '' });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(fake.requestsTo('/auth/v2/auth_status').map((r) => r.status)).toEqual([undefined]);
  });

  it('preauth: enroll, deny, allow (bypass) and an unknown result', async () => {
    expect(await duo.authenticate(ctx('enroll', factor('push')))).toEqual({ result: 'deny', reason: 'enroll', message: 'Enroll an authentication device to proceed' });
    expect(await duo.authenticate(ctx('denied', factor('push')))).toEqual({ result: 'deny', reason: 'policy', message: 'Your account is disabled' });
    expect(await duo.authenticate(ctx('bypass', factor('push')))).toEqual({ result: 'allow', factor: 'bypass', bypass: true, message: 'Allowing unknown user' });
    expect(fake.requestsTo('/auth/v2/auth')).toHaveLength(0);
    const e = await failure(duo.authenticate(ctx('weird', factor('push'))));
    expect(e.code).toBe('PROVIDER_UNAVAILABLE');
    expect(e.message).toBe(`login denied: Duo's preauth answered an unknown result "maybe" (Duo at ${fake.host})`);
  });

  it('status_msg with CR/LF and escapes is escaped (S24)', async () => {
    const deny = await duo.authenticate(ctx('evil', factor('push')));
    expect(deny).toMatchObject({ result: 'deny', reason: 'policy' });
    expect(deny.message).toBe('Access denied\\u000d\\u000assrun: login OK\\u001b[2J\\u001b[31m!');
    const c = ctx('evil-push', factor('push'));
    expect(await duo.authenticate(c)).toMatchObject({ result: 'allow' });
    expect(c.progress[1]).toBe(deny.message);
    // eslint-disable-next-line no-control-regex
    for (const m of [...c.progress, deny.message]) expect(m).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(EVIL_STATUS_MSG).toMatch(/\r\n/);
  });

  it('no method: MFA required, or the factors offered to chooseFactor', async () => {
    expect((await failure(duo.authenticate(ctx('alice', undefined)))).code).toBe('MFA_REQUIRED');
    const offered: Factor[][] = [];
    const chooseFactor = async (f: Factor[]) => (offered.push(f), passcode('123456'));
    expect(await duo.authenticate(ctx('alice', undefined, { chooseFactor }))).toMatchObject({ result: 'allow', factor: 'passcode' });
    expect(await duo.authenticate(ctx('sms', undefined, { chooseFactor }))).toMatchObject({ result: 'allow' });
    expect(offered).toEqual([['push', 'phone', 'sms'], ['sms']]);
  });

  it('a Duo user id is sent as user_id', async () => {
    expect(await duo.authenticate(ctx('DUALICE0000000000000', passcode('123456')))).toMatchObject({ result: 'allow' });
    expect(fake.requests.map((r) => r.params.user_id)).toEqual(['DUALICE0000000000000', 'DUALICE0000000000000']);
    expect(fake.requests.some((r) => 'username' in r.params)).toBe(false);
  });

  it('429: retried after Retry-After, then given up', async () => {
    expect(await duo.authenticate(ctx('ratelimit-2', passcode('123456')))).toMatchObject({ result: 'allow' });
    expect(paths()).toEqual(['POST /auth/v2/preauth 429', 'POST /auth/v2/preauth 429', 'POST /auth/v2/preauth 200', 'POST /auth/v2/auth 200']);
    fake.reset();
    const e = await failure(duo.authenticate(ctx('ratelimit-always', passcode('123456'))));
    expect(e.code).toBe('PROVIDER_RATE_LIMITED');
    expect(e.message).toBe(`login denied: Duo is rate-limiting requests (HTTP 429); gave up after 6 attempts (Duo at ${fake.host})`);
    expect(fake.requests).toHaveLength(6);
  });

  it('server errors, garbage, stat FAIL and silence fail closed', async () => {
    const cases: [string, string][] = [
      ['error-500', `login denied: Duo answered HTTP 500 (Duo at ${fake.host})`],
      ['garbage', `login denied: Duo answered /auth/v2/preauth with HTTP 200 and a body that is not JSON (Duo at ${fake.host})`],
      ['statfail', `login denied: Duo returned an error for /auth/v2/preauth: 40002 Invalid request parameters (username) (Duo at ${fake.host})`],
    ];
    for (const [user, message] of cases) {
      const e = await failure(duo.authenticate(ctx(user, factor('push'))));
      expect({ code: e.code, message: e.message }).toEqual({ code: 'PROVIDER_UNAVAILABLE', message });
    }
    const quick = createDuoProvider({ pollIntervalMs: 5, requestTimeoutMs: 300 });
    const started = Date.now();
    const e = await failure(quick.authenticate(ctx('hang', factor('push'))));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect({ code: e.code, message: e.message }).toEqual({ code: 'PROVIDER_UNAVAILABLE', message: `login denied: Duo did not answer /auth/v2/preauth within 1 s (Duo at ${fake.host})` });
  });

  it('the login deadline bounds a silent Duo', async () => {
    const started = Date.now();
    const e = await failure(duo.authenticate(ctx('hang', factor('push'), { deadline: Date.now() + 400 })));
    expect(e.code).toBe('PROVIDER_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('a cancelled login stops polling', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const e = await failure(duo.authenticate(ctx('push-never', factor('push'), { signal: abort.signal })));
    expect(e.code).toBe('CANCELLED');
  });

  it('bad integration key or secret key: misconfigured, no secret in the message', async () => {
    const badIkey = await failure(duo.authenticate({ ...ctx('alice', factor('push')), options: fake.options({ IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX' }) }));
    expect({ code: badIkey.code, message: badIkey.message }).toEqual({
      code: 'PROVIDER_MISCONFIGURED',
      message: `login denied: Duo rejected the credentials: 40102 Invalid integration key; check IntegrationKey, SecretKey and Host of the MFA configuration (Duo at ${fake.host})`,
    });
    const wrongSkey = 'wrong-secret-key-000000000000000000000000';
    const badSkey = await failure(duo.authenticate({ ...ctx('alice', factor('push')), options: fake.options({ SecretKey: wrongSkey }) }));
    expect(badSkey.code).toBe('PROVIDER_MISCONFIGURED');
    expect(badSkey.message).toContain('40103 Invalid signature in request credentials');
    expect(badSkey.message).not.toContain(wrongSkey);
    expect(badSkey.message).not.toContain(fake.skey);
  });

  it('TLS: the pinned Duo CA does not trust the fake; an unreadable CaFile is a misconfiguration', async () => {
    const { CaFile: _, ...noCa } = fake.options();
    const tls = await failure(duo.authenticate({ ...ctx('alice', factor('push')), options: noCa }));
    expect(tls.code).toBe('PROVIDER_UNAVAILABLE');
    expect(tls.message).toMatch(new RegExp(`^login denied: the TLS certificate of Duo at ${fake.host} could not be verified \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\); set Options.CaFile only for a trusted proxy`));
    expect(fake.requests).toHaveLength(0);
    const missing = await failure(duo.authenticate({ ...ctx('alice', factor('push')), options: fake.options({ CaFile: '/nonexistent/ca.pem' }) }));
    expect(missing.code).toBe('PROVIDER_MISCONFIGURED');
  });

  it('clock skew: one retry with the time from /auth/v2/ping', async () => {
    fake.clockOffsetMs = 3_600_000;
    expect(await duo.authenticate(ctx('alice', passcode('123456')))).toMatchObject({ result: 'allow' });
    expect(paths()).toEqual(['POST /auth/v2/preauth 401', 'GET /auth/v2/ping 200', 'POST /auth/v2/preauth 200', 'POST /auth/v2/auth 200']);
    expect(fake.requestsTo('/auth/v2/ping')[0]!.headers.authorization).toBeUndefined();
    const retried = Date.parse(String(fake.requests[2]!.headers.date));
    expect(Math.abs(retried - (Date.now() + 3_600_000))).toBeLessThan(5_000);
  });

  it('clock skew that the ping does not explain: a clear error, no endless retries', async () => {
    fake.clockOffsetMs = 3_600_000;
    fake.pingOffsetMs = 0;
    const e = await failure(duo.authenticate(ctx('alice', passcode('123456'))));
    expect(e.code).toBe('PROVIDER_CLOCK_SKEW');
    expect(e.message).toMatch(/^login denied: Duo refused the request date .+ GMT: 40105 The request date is more than 300 seconds from the server time; check this machine's clock \(Duo at 127\.0\.0\.1:\d+\)$/);
    expect(paths()).toEqual(['POST /auth/v2/preauth 401', 'GET /auth/v2/ping 200', 'POST /auth/v2/preauth 401']);
  });

  it("the client's own clock may be the wrong one", async () => {
    const skewed = () => Date.now() - 2 * 3_600_000;
    const client = createDuoProvider({ pollIntervalMs: 5, now: skewed });
    expect(await client.authenticate(ctx('alice', factor('push'), { deadline: skewed() + 5_000 }))).toMatchObject({ result: 'allow' });
    expect(fake.requestsTo('/auth/v2/ping')).toHaveLength(1);
    expect(fake.requests.filter((r) => r.status === 401)).toHaveLength(1);
  });
});
