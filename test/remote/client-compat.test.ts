// Clients and proxies as they are (issue 15), on real `ssrun serve`s: the bearer scheme in any case; a TLS
// client offering only ALPN http/1.0 (curl --http1.0) completes the handshake and gets an answer;
// --trust-proxy takes the client address from X-Forwarded-For (audit Source, login rate limit per forwarded
// address) only from the proxies it names, and without it the header is ignored; an invalid --trust-proxy is
// refused at start; Options.CaFile problems all say "is not a readable PEM file".

import { mkdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDuo, type FakeDuo } from '../fakes/duo-server.js';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome } from '../helpers/cli.js';
import { startServer, testTls, type RunningServer, type Tls } from '../helpers/server.js';
import { API, clientHome, expectErrorAnswer, expectRefused, http, loginUser, ok, type HttpAnswer } from './remote-helpers.js';

let fake: FakeDuo | undefined;
afterAll(async () => {
  await fake?.close();
  expectNoSecretsLeaked();
});

const PW_ROOT = secret('compat-root-password-Bv6Ys3');
const PW = secret('compat-user-password-Mn4Qe8');
const WRONG = secret('compat-wrong-password-Xc2Wr5');
const USER = (n: string) => `principal/internal/user/${n}`;

let tls: Tls;
/** HTTPS, --trust-proxy 127.0.0.1, --login-rate-limit 2. */
let proxied: RunningServer;
let proxiedRoot: string;

beforeAll(async () => {
  tls = await testTls();
  const home = tempHome('ssrun-compat-proxied-');
  ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
  proxied = await startServer({ home, tls, args: ['--rate-limit', '1000000', '--login-rate-limit', '2', '--trust-proxy', '127.0.0.1'] });
  proxiedRoot = await loginUser(clientHome(proxied, tls.caFile), 'root', PW_ROOT); // 1 of 2 logins from 127.0.0.1
}, 120_000);

const audit = async (server: RunningServer, token: string, ca?: string) => {
  const a = await http(server.url, 'GET', '/audit', { token, ca });
  expect(a.status, a.text).toBe(200);
  return a.body as Record<string, string>[];
};

/** An HTTP(S) request from a given local address (plain HTTP only: the servers without TLS). */
function fromAddress(server: RunningServer, localAddress: string, method: string, path: string, body: unknown, headers: Record<string, string>): Promise<HttpAnswer> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: server.port, localAddress, method, path: `${API}${path}`, agent: false, headers: { 'content-type': 'application/json', 'content-length': String(payload.length), accept: 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('the bearer scheme in any case', () => {
  it('Authorization: bearer TOKEN, BEARER TOKEN, bEaReR TOKEN: accepted (200); a scheme that is not bearer: 401', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const a = await http(proxied.url, 'GET', '/whoami', { ca: tls.caPem, headers: { authorization: `${scheme} ${proxiedRoot}` } });
      expect([scheme, a.status, a.body?.Principal], a.text).toEqual([scheme, 200, USER('root')]);
    }
    expectErrorAnswer(await http(proxied.url, 'GET', '/whoami', { ca: tls.caPem, headers: { authorization: `Basic ${proxiedRoot}` } }), 401, 'UNAUTHENTICATED');
  });
});

describe('ALPN', () => {
  /** A TLS connection offering only these ALPN protocols; sends the request, reads until the server closes. */
  function alpn(protocols: string[], requestText: string): Promise<{ alpn: string | false | null; text: string; error?: string }> {
    return new Promise((resolve) => {
      let text = '';
      let negotiated: string | false | null = null;
      const socket = tlsConnect({ host: '127.0.0.1', port: proxied.port, ca: tls.caPem, ALPNProtocols: protocols }, () => {
        negotiated = socket.alpnProtocol;
        socket.write(requestText);
      });
      const giveUp = setTimeout(() => socket.destroy(), 15_000);
      socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
      socket.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(giveUp);
        resolve({ alpn: negotiated, text, error: e.code ?? e.message });
      });
      socket.on('close', () => {
        clearTimeout(giveUp);
        resolve({ alpn: negotiated, text });
      });
    });
  }
  const body = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));

  it('a client offering only http/1.0 completes the handshake and gets an answer to its HTTP/1.0 request', async () => {
    const anon = await alpn(['http/1.0'], `GET ${API}/whoami HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(anon.error).toBeUndefined();
    expect(anon.alpn).toBe('http/1.0');
    expect(anon.text).toMatch(/^HTTP\/1\.[01] 401 /);
    expect(body(anon.text)).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });

    const authed = await alpn(['http/1.0'], `GET ${API}/whoami HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${proxiedRoot}\r\n\r\n`);
    expect(authed.error).toBeUndefined();
    expect(authed.text).toMatch(/^HTTP\/1\.[01] 200 /);
    expect(body(authed.text)).toMatchObject({ Principal: USER('root') });
  });

  it('http/1.1 and no ALPN at all still work', async () => {
    for (const protocols of [['http/1.1'], ['h2', 'http/1.1'], []]) {
      const r = await alpn(protocols, `GET ${API}/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect([protocols.join(','), r.error, r.text.slice(0, 13)]).toEqual([protocols.join(','), undefined, 'HTTP/1.1 401 ']);
    }
  });
});

describe('--trust-proxy', { timeout: 120_000 }, () => {
  const login = (server: RunningServer, forwardedFor: string | undefined, ca?: string) =>
    http(server.url, 'POST', '/connect/token/internal', { ca, body: { username: 'nobody', password: WRONG }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });

  it('--trust-proxy 127.0.0.1: X-Forwarded-For is the client (audit Source), and each forwarded address has its own login bucket (--login-rate-limit 2)', async () => {
    expectErrorAnswer(await login(proxied, '203.0.113.9', tls.caPem), 401, 'AUTH_DENIED');
    expectErrorAnswer(await login(proxied, '203.0.113.9', tls.caPem), 401, 'AUTH_DENIED');
    expectErrorAnswer(await login(proxied, '203.0.113.9', tls.caPem), 429, 'RATE_LIMITED', /^too many requests from 203\.0\.113\.9; retry in \d+ s$/);
    // another forwarded address: a bucket of its own
    expectErrorAnswer(await login(proxied, '203.0.113.10', tls.caPem), 401, 'AUTH_DENIED');
    expectErrorAnswer(await login(proxied, '203.0.113.10', tls.caPem), 401, 'AUTH_DENIED');
    expectErrorAnswer(await login(proxied, '203.0.113.10', tls.caPem), 429, 'RATE_LIMITED', /from 203\.0\.113\.10;/);
    const records = (await audit(proxied, proxiedRoot, tls.caPem)).filter((x) => x.Action === 'login' && x.Principal === USER('nobody'));
    expect(records.map((x) => [x.Source, x.Detail])).toEqual([
      ['203.0.113.9', 'unknown principal'],
      ['203.0.113.9', 'unknown principal'],
      ['203.0.113.10', 'unknown principal'],
      ['203.0.113.10', 'unknown principal'],
    ]);
    const limited = (await audit(proxied, proxiedRoot, tls.caPem)).filter((x) => x.Detail === 'login rate limit of this address');
    expect(limited.map((x) => x.Source)).toEqual(['203.0.113.9', '203.0.113.10']);
    // the proxy's own address still has its second login (root's was the first)
    expectErrorAnswer(await login(proxied, undefined, tls.caPem), 401, 'AUTH_DENIED');
  });

  it('without --trust-proxy the header is ignored: Source 127.0.0.1, and one bucket for every forwarded address; an untrusted proxy\'s header is ignored too', async () => {
    const home = tempHome('ssrun-compat-plain-');
    ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
    const plain = await startServer({ home, args: ['--rate-limit', '1000000', '--login-rate-limit', '3'] });
    const partly = await startServer({ home: tempHome('ssrun-compat-partly-'), args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000', '--trust-proxy', '127.0.0.1'] });
    try {
      const root = await loginUser(clientHome(plain), 'root', PW_ROOT); // 1 of 3
      expectErrorAnswer(await login(plain, '203.0.113.9'), 401, 'AUTH_DENIED'); // 2
      expectErrorAnswer(await login(plain, '203.0.113.10'), 401, 'AUTH_DENIED'); // 3
      expectErrorAnswer(await login(plain, '203.0.113.11'), 429, 'RATE_LIMITED', /^too many requests from 127\.0\.0\.1; /);
      const records = (await audit(plain, root)).filter((x) => x.Action === 'login' && x.Principal === USER('nobody'));
      expect(records.map((x) => x.Source)).toEqual(['127.0.0.1', '127.0.0.1']); // the third was refused before any check
      expect((await audit(plain, root)).filter((x) => x.Detail === 'login rate limit of this address').map((x) => x.Source)).toEqual(['127.0.0.1']);
      expect(JSON.stringify(await audit(plain, root))).not.toContain('203.0.113');

      // trusted 127.0.0.1 only: a request from 127.0.0.2 is not from the proxy, its header is not believed
      const a = await fromAddress(partly, '127.0.0.2', 'POST', '/connect/token/internal', { username: 'nobody', password: WRONG }, { 'x-forwarded-for': '198.51.100.7' });
      expectErrorAnswer(a, 401, 'AUTH_DENIED');
      expectErrorAnswer(await fromAddress(partly, '127.0.0.1', 'POST', '/connect/token/internal', { username: 'nobody', password: WRONG }, { 'x-forwarded-for': '198.51.100.8' }), 401, 'AUTH_DENIED');
      // the store of `partly` has no root: read its audit through the embedded store once it is stopped
      expect(await partly.stop()).toBe(0);
      const rows = json(ok(await ssrun(['audit', 'get'], { home: partly.home }))) as Record<string, string>[];
      expect(rows.filter((x) => x.Action === 'login').map((x) => x.Source)).toEqual(['127.0.0.2', '198.51.100.8']);
    } finally {
      await plain.stop();
      await partly.stop();
    }
  });

  it('an invalid --trust-proxy is refused at start: exit 2 USAGE, nothing served', async () => {
    for (const value of ['not-an-address', '10.0.0.0/33', '10.0.0.1/8/1', '10.0.0.1,', '', 'localhost', '::1/129', '10.0.0.0/-1']) {
      const home = tempHome('ssrun-compat-badproxy-');
      const r = await ssrun(['serve', '--home', home, '--listen', '127.0.0.1:0', '--trust-proxy', value], { home, timeout: 20_000 });
      expectRefused(r, 2, 'USAGE', '--trust-proxy: ');
    }
  });
});

describe('Options.CaFile over the API', { timeout: 120_000 }, () => {
  it('a missing file and a directory say the same: "is not a readable PEM file" (exit 7)', async () => {
    fake = await startFakeDuo();
    secret(fake.skey);
    const home = tempHome('ssrun-compat-cafile-');
    ok(await ssrun(['init', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
    const server = await startServer({ home, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000'] });
    try {
      const root = await loginUser(clientHome(server), 'root', PW_ROOT);
      const dir = join(dirname(home), 'cadir');
      mkdirSync(dir);
      const api = async (method: string, path: string, body: unknown) => {
        const a = await http(server.url, method, path, { token: root, body });
        expect(a.status, a.text).toBeLessThan(300);
      };
      await api('POST', '/users', { name: 'causer', password: PW });
      const messages: string[] = [];
      for (const [name, path] of [['ca-missing', join(dir, 'no-such.pem')], ['ca-dir', dir]] as const) {
        await api('POST', '/multi_factor', { Type: 'duo', Name: name, Options: fake.options({ CaFile: path }) });
        await api('POST', '/multi_factor_assignments', { principal: USER('causer'), mfa_identity: 'alice#compat', config: name });
        const r = await ssrun(['login', '-u', 'causer', '--password-stdin', '-m', '123456'], { home: clientHome(server), input: `${PW}\n`, timeout: 30_000 });
        expectRefused(r, 7, 'PROVIDER_MISCONFIGURED', `login denied: Options.CaFile ${path} is not a readable PEM file (Duo at ${fake.host})`);
        messages.push(r.stderr.replace(path, 'PATH'));
      }
      expect(messages[0]).toBe(messages[1]);
      expect(fake.requestsFor('alice#compat')).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
