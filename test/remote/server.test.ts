// `ssrun serve` end to end through the built binary and real HTTP(S): tokens (login, expiry, logout,
// revocation by a password or MFA change), TLS trust (context --ca, SECRETSSAFE_* variables, -s false),
// where a server may listen and a client may connect, an unreachable server, init over HTTP, graceful
// shutdown with requests in flight, and the per-address login rate limit.

import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDuo, type FakeDuo } from '../fakes/duo-server.js';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';
import { startServer, testTls, type RunningServer, type Tls } from '../helpers/server.js';
import { ISO, cliClientHome, clientHome, expectErrorAnswer, expectRefused, http, loginUser, ok, savedToken, sleep } from './remote-helpers.js';

let fake: FakeDuo | undefined;
afterAll(async () => {
  await fake?.close();
  expectNoSecretsLeaked();
});

const PW_ROOT = secret('server-root-password-Hq3Lx8');
const PW_ALICE = secret('server-alice-password-Wd5Kp2');
const PW_BOB = secret('server-bob-password-Tn7Rc4');
const PW_CAROL = secret('server-carol-password-Ym2Zf6');
const PW_CAROL_NEW = secret('server-carol-new-password-Gs9Bv1');
const PW_ROOT2 = secret('server2-root-password-Pj4Ne7');

const USER = (n: string) => `principal/internal/user/${n}`;
const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// ---- an HTTPS server with users ------------------------------------------------------------------------------

describe('an HTTPS server', () => {
  let tls: Tls;
  let server: RunningServer;
  let rootToken: string;
  /** A client home (context with --ca) and no session: commands get their token from SSRUN_TOKEN. */
  let client: string;
  const withToken = (token: string, args: string[], opts: { input?: string; home?: string } = {}) =>
    ssrun(args, { home: opts.home ?? client, env: { SSRUN_TOKEN: token }, input: opts.input });
  const asRoot = (args: string[], input?: string) => withToken(rootToken, args, { input });
  const whoami = (token: string, home = client) => withToken(token, ['whoami'], { home });
  const expectExpired = (r: RunResult) => expectRefused(r, 5, 'SESSION_EXPIRED', 'the session is not valid (expired, logged out, or revoked by a password or MFA change)');

  beforeAll(async () => {
    const serverHome = tempHome('ssrun-server-https-');
    ok(await ssrun(['init', '--password-stdin'], { home: serverHome, input: `${PW_ROOT}\n` }));
    [tls, fake] = await Promise.all([testTls(), startFakeDuo()]);
    secret(fake.skey);
    server = await startServer({ home: serverHome, tls, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000'] });
    client = await cliClientHome(server, { ca: tls.caFile });
    rootToken = await loginUser(clientHome(server, tls.caFile), 'root', PW_ROOT);
    const api = async (method: string, path: string, body: unknown) => {
      const a = await http(server.url, method, path, { token: rootToken, body, ca: tls.caPem });
      if (a.status >= 300) throw new Error(`${method} ${path}: ${a.status} ${a.text}`);
    };
    await Promise.all([
      api('POST', '/users', { name: 'alice', password: PW_ALICE }),
      api('POST', '/users', { name: 'bob', password: PW_BOB }),
      api('POST', '/users', { name: 'carol', password: PW_CAROL }),
      api('POST', '/multi_factor', { Type: 'duo', Name: 'FakeDuo', Options: fake.options() }),
    ]);
  }, 120_000);

  // Each of these logs in a few times (scrypt): generous time when the machine is busy.
  describe('tokens', { timeout: 150_000 }, () => {
    it('login prints who and until when, never the token; the saved token works, and so does a copy of it (SSRUN_TOKEN)', async () => {
      const home = await cliClientHome(server, { ca: tls.caFile });
      const r = ok(await ssrun(['login', '-u', 'alice', '--password-stdin'], { home, input: `${PW_ALICE}\n` }));
      const out = json(r);
      expect(Object.keys(out)).toEqual(['Principal', 'Factor', 'ExpiresAt']);
      expect(out).toEqual({ Principal: USER('alice'), Factor: 'password', ExpiresAt: expect.stringMatching(ISO) });
      expect(Math.abs(Date.parse(out.ExpiresAt) - Date.now() - 3600_000)).toBeLessThan(60_000);
      const token = savedToken(home);
      expect(r.stdout + r.stderr).not.toContain(token);
      expect(statSync(join(home, 'cli.json')).mode & 0o777).toBe(0o600);

      expect(json(ok(await ssrun(['whoami'], { home })))).toEqual({ Principal: USER('alice'), Factor: 'password', ExpiresAt: out.ExpiresAt, Context: 'srv' });
      expect(json(ok(await whoami(token)))).toEqual({ Principal: USER('alice'), Factor: 'password', ExpiresAt: out.ExpiresAt, Context: 'srv' });
      // alice may read herself with it, nothing else (she has no rule)
      expect(json(ok(await withToken(token, ['user', 'get', '-n', 'alice'])))).toMatchObject({ Name: 'alice' });
      expectRefused(await withToken(token, ['user', 'get']), 9, 'FORBIDDEN');
    });

    it('a wrong password gets no token and saves nothing', async () => {
      const home = clientHome(server, tls.caFile);
      const before = readFileSync(join(home, 'cli.json'), 'utf8');
      expectRefused(await ssrun(['login', '-u', 'alice', '--password-stdin'], { home, input: `${PW_BOB}\n` }), 5, 'AUTH_DENIED');
      expect(readFileSync(join(home, 'cli.json'), 'utf8')).toBe(before);
    });

    it('logout revokes the token on the server: a copy of it stops working', async () => {
      const home = clientHome(server, tls.caFile);
      const token = await loginUser(home, 'alice', PW_ALICE);
      ok(await whoami(token));
      expect(json(ok(await ssrun(['logout'], { home })))).toEqual({ Principal: USER('alice'), LoggedOut: true });
      expectExpired(await whoami(token));
      expectExpired(await withToken(token, ['user', 'get', '-n', 'alice']));
      // and the home forgot it
      // no session: the same code and exit code as on the embedded store (issue 13)
      expectRefused(await ssrun(['whoami'], { home }), 3, 'NOT_LOGGED_IN', 'not logged in on context "srv"');
      expectRefused(await ssrun(['logout'], { home }), 3, 'NOT_LOGGED_IN');
    });

    it("user set-password revokes every token of that user, and only that user's", async () => {
      const [homeA, homeB] = [clientHome(server, tls.caFile), clientHome(server, tls.caFile)];
      const [t1, t2, other] = await Promise.all([loginUser(homeA, 'carol', PW_CAROL), loginUser(homeB, 'carol', PW_CAROL), loginUser(clientHome(server, tls.caFile), 'alice', PW_ALICE)]);
      ok(await whoami(t1));
      ok(await whoami(t2));
      const r = ok(await asRoot(['user', 'set-password', '-n', 'carol', '--password-stdin'], `${PW_CAROL_NEW}\n`));
      expect(json(r)).toEqual({ Principal: USER('carol'), PasswordChanged: true, SessionsRevoked: true });
      expectExpired(await whoami(t1));
      expectExpired(await whoami(t2));
      expectExpired(await ssrun(['whoami'], { home: homeA }));
      ok(await whoami(other));
      ok(await whoami(rootToken));
      expectRefused(await ssrun(['login', '-u', 'carol', '--password-stdin'], { home: homeA, input: `${PW_CAROL}\n` }), 5, 'AUTH_DENIED');
      const t3 = await loginUser(homeA, 'carol', PW_CAROL_NEW);
      expect(json(ok(await whoami(t3))).Principal).toBe(USER('carol'));
    });

    it('assigning, re-assigning and removing MFA each revoke every token of that principal', async () => {
      const home = clientHome(server, tls.caFile);
      const other = await loginUser(clientHome(server, tls.caFile), 'alice', PW_ALICE);
      const t1 = await loginUser(home, 'bob', PW_BOB);
      ok(await whoami(t1));

      const assign = async (identity: string) => ok(await asRoot(['mfa', 'assign-principal', '-p', USER('bob'), '-m', identity, '-c', 'FakeDuo']));
      await assign('bypass#srv-1');
      expectExpired(await whoami(t1));
      // from now on bob needs the second factor (Duo bypass: preauth allow)
      expectRefused(await ssrun(['login', '-u', 'bob', '--password-stdin'], { home, input: `${PW_BOB}\n` }), 5, 'MFA_REQUIRED');
      const mfaLogin = async () => {
        const r = ok(await ssrun(['login', '-u', 'bob', '--password-stdin', '-m', 'push'], { home, input: `${PW_BOB}\n` }));
        expect(json(r).Principal).toBe(USER('bob'));
        return savedToken(home);
      };
      const t2 = await mfaLogin();
      ok(await whoami(t2));

      await assign('bypass#srv-2'); // replaces the assignment
      expectExpired(await whoami(t2));
      const t3 = await mfaLogin();
      ok(await whoami(t3));

      expect(json(ok(await asRoot(['mfa', 'remove-principal', '-p', USER('bob')])))).toEqual({ Principal: USER('bob'), Removed: 'FakeDuo' });
      expectExpired(await whoami(t3));
      const t4 = await loginUser(home, 'bob', PW_BOB);
      ok(await whoami(t4));
      // nobody else's session was touched
      ok(await whoami(other));
      ok(await whoami(rootToken));
    });

    it('deleting a principal ends its sessions; a new one of the same name does not inherit them', async () => {
      const e = (x: string) => encodeURIComponent(x);
      const api = (method: string, path: string, body?: unknown) => http(server.url, method, path, { token: rootToken, body, ca: tls.caPem });
      const created = await api('POST', '/applications', { name: 'svc' });
      expect(created.status, created.text).toBe(201);
      const home = clientHome(server, tls.caFile);
      ok(await ssrun(['login', '-a', 'svc', '--api-key-stdin'], { home, input: `${secret(created.body.ApiKey)}\n` }));
      const token = savedToken(home);
      expect(json(ok(await whoami(token))).Principal).toBe('principal/internal/application/svc');
      expect(json(ok(await asRoot(['application', 'delete', '-n', 'svc'])))).toEqual({ Deleted: 'principal/internal/application/svc', MfaAssignmentRemoved: false });
      expectExpired(await whoami(token));
      const again = await api('POST', '/applications', { name: 'SVC' });
      expect(again.status, again.text).toBe(201);
      secret(again.body.ApiKey);
      expectExpired(await whoami(token));
      expect((await api('DELETE', `/applications/${e('SVC')}`)).status).toBe(200);
    });

    it('a token that is not one: malformed or unknown, exit 5', async () => {
      // the CLI says which variable holds something that is not a token (issue 13); the server's own refusal of
      // such a header is tested in http-input.test.ts
      expectRefused(await whoami(secret('not-a-token')), 5, 'UNAUTHENTICATED', 'SSRUN_TOKEN: expected a session token');
      expectExpired(await whoami(secret('A'.repeat(43))));
    });
  });

  describe('TLS', () => {
    it('context --ca: verified against the test CA', async () => {
      const home = await cliClientHome(server, { ca: tls.caFile });
      const ctx = json(ok(await ssrun(['context', 'get', '--output', 'json'], { home })));
      expect(ctx).toEqual([
        { Current: false, Name: 'local', Address: '(embedded store)', VerifyTls: null, Ca: null },
        { Current: true, Name: 'srv', Address: `https://127.0.0.1:${server.port}`, VerifyTls: true, Ca: tls.caFile },
      ]);
      expect(json(ok(await withToken(rootToken, ['user', 'get', '-n', 'alice'], { home })))).toMatchObject({ Name: 'alice' });
    });

    it('SECRETSSAFE_HOST, SECRETSSAFE_PORT, SECRETSSAFE_VERIFY_CA=<CA file>: no context needed, none used, no local store made', async () => {
      const home = tempHome('ssrun-server-env-');
      const env = { SECRETSSAFE_HOST: '127.0.0.1', SECRETSSAFE_PORT: String(server.port), SECRETSSAFE_VERIFY_CA: tls.caFile, SSRUN_TOKEN: rootToken };
      expect(json(ok(await ssrun(['whoami'], { home, env })))).toMatchObject({ Principal: USER('root'), Context: 'SECRETSSAFE_HOST' });
      expect(json(ok(await ssrun(['user', 'get', '-n', 'alice'], { home, env })))).toMatchObject({ Name: 'alice' });
      expect(existsSync(join(home, 'ssrun.db'))).toBe(false);
      // they override the current context, even one that cannot be reached
      const port = await closedPort();
      const elsewhere = clientHome({ url: `https://127.0.0.1:${port}`, port } as RunningServer, tls.caFile);
      expect(json(ok(await ssrun(['whoami'], { home: elsewhere, env })))).toMatchObject({ Principal: USER('root'), Context: 'SECRETSSAFE_HOST' });
    });

    it('without the CA: exit 8 SERVER_UNTRUSTED, and the password never reached the server', async () => {
      const untrusted = /the server at https:\/\/127\.0\.0\.1:\d+ presented a certificate that is not trusted \([A-Z_]+\); pass its CA with --ca FILE \(context create\) or SECRETSSAFE_VERIFY_CA=FILE/;
      const logins = async () =>
        (json(ok(await asRoot(['audit', 'get', '--principal', USER('alice')]))) as { Action: string }[]).filter((x) => x.Action === 'login').length;
      const before = await logins();

      const home = await cliClientHome(server); // verify, system CAs
      expectRefused(await withToken(rootToken, ['whoami'], { home }), 8, 'SERVER_UNTRUSTED', untrusted);
      expectRefused(await ssrun(['login', '-u', 'alice', '--password-stdin'], { home, input: `${PW_ALICE}\n` }), 8, 'SERVER_UNTRUSTED', untrusted);
      const envHome = tempHome('ssrun-server-env-');
      for (const verify of [undefined, 'true', 'TRUE']) {
        const env: Record<string, string> = { SECRETSSAFE_HOST: '127.0.0.1', SECRETSSAFE_PORT: String(server.port), SSRUN_TOKEN: rootToken };
        if (verify) env.SECRETSSAFE_VERIFY_CA = verify;
        expectRefused(await ssrun(['user', 'get'], { home: envHome, env }), 8, 'SERVER_UNTRUSTED', untrusted);
      }
      // a CA that did not issue the certificate is no better
      const otherCa = await testTls(join(dirname(envHome), 'other-ca'));
      const env = { SECRETSSAFE_HOST: '127.0.0.1', SECRETSSAFE_PORT: String(server.port), SECRETSSAFE_VERIFY_CA: otherCa.caFile, SSRUN_TOKEN: rootToken };
      expectRefused(await ssrun(['user', 'get'], { home: envHome, env }), 8, 'SERVER_UNTRUSTED', untrusted);
      // a CA file that cannot be read
      const missing = { ...env, SECRETSSAFE_VERIFY_CA: join(dirname(envHome), 'no-such-ca.pem') };
      expectRefused(await ssrun(['user', 'get'], { home: envHome, env: missing }), 8, 'SERVER_UNTRUSTED', 'cannot be read (ENOENT)');
      expect(await logins()).toBe(before);
    });

    it('-s false and SECRETSSAFE_VERIFY_CA=false connect without verifying', async () => {
      const home = await cliClientHome(server, { secure: false });
      expect(json(ok(await ssrun(['context', 'get', '--output', 'json'], { home })))[1]).toMatchObject({ Name: 'srv', VerifyTls: false, Ca: null });
      expect(json(ok(await withToken(rootToken, ['whoami'], { home })))).toMatchObject({ Principal: USER('root'), Context: 'srv' });
      const envHome = tempHome('ssrun-server-env-');
      for (const verify of ['false', 'FALSE']) {
        const env = { SECRETSSAFE_HOST: '127.0.0.1', SECRETSSAFE_PORT: String(server.port), SECRETSSAFE_VERIFY_CA: verify, SSRUN_TOKEN: rootToken };
        expect(json(ok(await ssrun(['whoami'], { home: envHome, env })))).toMatchObject({ Principal: USER('root') });
      }
      // --ca means nothing without verification: refused rather than ignored
      expectRefused(await ssrun(['context', 'create', '-n', 'x', '-a', '127.0.0.1', '-p', String(server.port), '-s', 'false', '--ca', tls.caFile], { home }), 2, 'USAGE', '--ca: has no effect with -s false');
    });

    it('plain HTTP to the HTTPS port fails closed (exit 8)', async () => {
      const home = tempHome('ssrun-server-env-');
      const env = { SECRETSSAFE_HOST: 'http://127.0.0.1', SECRETSSAFE_PORT: String(server.port), SSRUN_TOKEN: rootToken };
      const r = await ssrun(['whoami'], { home, env });
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^ssrun: error: [^\n]+ \((SERVER_PROTOCOL|SERVER_UNAVAILABLE)\)\n$/);
      expect(r.exitCode).toBe(8);
    });
  });
});

// ---- addresses: where a server listens, where a client connects ---------------------------------------------

describe('addresses', () => {
  it('serve --listen 0.0.0.0:0 (or [::]:0) without --tls-cert refuses to start, names loopback, creates nothing', async () => {
    for (const listen of ['0.0.0.0:0', '[::]:0']) {
      const home = tempHome('ssrun-server-refuse-');
      const r = await ssrun(['serve', '--home', home, '--listen', listen], { home, timeout: 20_000 });
      expectRefused(r, 2, 'USAGE', /plain HTTP is served only on a loopback address \(127\.0\.0\.1, ::1\); pass --tls-cert and --tls-key/);
      expect(existsSync(join(home, 'ssrun.db'))).toBe(false);
    }
    const home = tempHome('ssrun-server-refuse-');
    expectRefused(await ssrun(['serve', '--home', home, '--listen', '127.0.0.1:0', '--tls-cert', join(home, 'x.pem')], { home, timeout: 20_000 }), 2, 'USAGE', '--tls-cert and --tls-key go together');
  });

  it('serve --listen 127.0.0.1:0 serves plain HTTP on loopback', async () => {
    const server = await startServer({ home: tempHome('ssrun-server-plain-') });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const a = await http(server.url, 'GET', '/whoami');
      expectErrorAnswer(a, 401, 'UNAUTHENTICATED');
      // stderr is a pipe of its own: its notice may arrive a moment after stdout's Listening line
      for (let i = 0; i < 40 && !server.stderr().includes('serving '); i++) await sleep(50);
      expect(server.stderr()).toContain(`serving ${server.url}/secretssafe/api/v1 for the store in `);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('a client refuses plain http:// to anything but loopback: context create and SECRETSSAFE_HOST', async () => {
    const home = tempHome('ssrun-server-addr-');
    for (const host of ['http://example.com', 'http://10.0.0.1', 'HTTP://example.com/']) {
      expectRefused(await ssrun(['context', 'create', '-n', 'bad', '-a', host, '-p', '80'], { home }), 2, 'USAGE', '-a: plain http:// is allowed only to a loopback address (127.0.0.1, ::1, localhost); use https');
    }
    expect(json(ok(await ssrun(['context', 'get', '--output', 'json'], { home })))).toEqual([{ Current: true, Name: 'local', Address: '(embedded store)', VerifyTls: null, Ca: null }]);
    const r = await ssrun(['whoami'], { home, env: { SECRETSSAFE_HOST: 'http://example.com', SECRETSSAFE_PORT: '80' } });
    expectRefused(r, 2, 'USAGE', 'SECRETSSAFE_HOST: plain http:// is allowed only to a loopback address');
    // https to any host is accepted (not contacted)
    expect(json(ok(await ssrun(['context', 'create', '-n', 'ok', '-a', 'example.com', '-p', '443'], { home })))).toMatchObject({ Name: 'ok', Address: 'https://example.com:443', VerifyTls: true });
  });

  it('an unreachable server: exit 8 SERVER_UNAVAILABLE, saying where and that nothing changed', async () => {
    const port = await closedPort();
    const home = clientHome({ url: `https://127.0.0.1:${port}`, port } as RunningServer);
    const message = `cannot reach the ssrun server at https://127.0.0.1:${port} (ECONNREFUSED); nothing was changed`;
    expectRefused(await ssrun(['whoami'], { home, env: { SSRUN_TOKEN: secret('B'.repeat(43)) } }), 8, 'SERVER_UNAVAILABLE', message);
    expectRefused(await ssrun(['login', '-u', 'alice', '--password-stdin'], { home, input: `${PW_ALICE}\n` }), 8, 'SERVER_UNAVAILABLE', message);
    expectRefused(await ssrun(['user', 'create', '-n', 'zed', '--password-stdin'], { home, input: `${PW_ALICE}\n` }), 8, 'SERVER_UNAVAILABLE', message);
    expect(readFileSync(join(home, 'cli.json'), 'utf8')).not.toContain('sessions');
    expect(existsSync(join(home, 'ssrun.db'))).toBe(false);
  });
});

// ---- a fresh plain-HTTP server: init over HTTP, token expiry, graceful shutdown ----------------------------

describe('a fresh server store (plain HTTP on loopback, --token-ttl 1)', () => {
  let server: RunningServer;
  let home: string; // the server's
  let client: string;

  beforeAll(async () => {
    home = tempHome('ssrun-server-fresh-');
    server = await startServer({ home, args: ['--token-ttl', '1', '--rate-limit', '1000000', '--login-rate-limit', '1000000'] });
    client = await cliClientHome(server);
  });

  it('ssrun init over HTTP from the loopback client: at least 10 characters, then once only', async () => {
    expectRefused(await ssrun(['login', '-u', 'root', '--password-stdin'], { home: client, input: `${PW_ROOT2}\n` }), 5, 'AUTH_DENIED');
    expectRefused(await ssrun(['init', '--password-stdin'], { home: client, input: `${secret('Short-pw9')}\n` }), 2, 'INVALID_PASSWORD', 'root password: too short; at least 10 characters required');
    expect(json(ok(await ssrun(['init', '--password-stdin'], { home: client, input: `${PW_ROOT2}\n` })))).toEqual({ Initialized: true, Principal: USER('root') });
    expectRefused(await ssrun(['init', '--password-stdin'], { home: client, input: `${secret('another-root-password-1')}\n` }), 4, 'ALREADY_INITIALIZED');
    // it went to the server, not to a store of the client's
    expect(existsSync(join(client, 'ssrun.db'))).toBe(false);
    // over HTTP too
    expectErrorAnswer(await http(server.url, 'POST', '/init', { body: { password: secret('yet-another-root-password') } }), 409, 'ALREADY_INITIALIZED');
  });

  it('--token-ttl 1: the token works at once, and is refused (exit 5 SESSION_EXPIRED) once it expired', async () => {
    const a = await http(server.url, 'POST', '/connect/token/internal', { body: { username: 'root', password: PW_ROOT2 } });
    expect(a.status, a.text).toBe(200);
    const token = secret(a.body.access_token);
    expect(a.body).toEqual({ Principal: USER('root'), Factor: 'password', ExpiresAt: expect.stringMatching(ISO), access_token: token, token_type: 'Bearer', expires_in: expect.any(Number) });
    expect(a.body.expires_in).toBeLessThanOrEqual(1);
    expect(Date.parse(a.body.ExpiresAt) - Date.now()).toBeLessThanOrEqual(1000);
    expect((await http(server.url, 'GET', '/whoami', { token })).status).toBe(200);

    await sleep(Math.max(0, Date.parse(a.body.ExpiresAt) - Date.now()) + 200);
    expectRefused(await ssrun(['whoami'], { home: client, env: { SSRUN_TOKEN: token } }), 5, 'SESSION_EXPIRED', 'expired');
    expectErrorAnswer(await http(server.url, 'GET', '/users', { token }), 401, 'SESSION_EXPIRED');

    // the same through the CLI's own login
    ok(await ssrun(['login', '-u', 'root', '--password-stdin'], { home: client, input: `${PW_ROOT2}\n` }));
    savedToken(client);
    await sleep(1200);
    expectRefused(await ssrun(['user', 'get'], { home: client }), 5, 'SESSION_EXPIRED');
  });

  it('an https:// context to this plain-HTTP server: exit 8 SERVER_PROTOCOL', async () => {
    const home = clientHome({ url: `https://127.0.0.1:${server.port}`, port: server.port } as RunningServer);
    expectRefused(await ssrun(['whoami'], { home, env: { SSRUN_TOKEN: secret('C'.repeat(43)) } }), 8, 'SERVER_PROTOCOL', `the server at https://127.0.0.1:${server.port} does not speak HTTPS`);
  });

  it('SIGTERM with logins in flight: they complete, the server exits 0, the store opens and passes integrity_check', async () => {
    const logins = Array.from({ length: 3 }, () => http(server.url, 'POST', '/connect/token/internal', { body: { username: 'root', password: PW_ROOT2 } }));
    await sleep(250); // scrypt keeps each of them busy for a good half second
    const stopped = server.stop();
    const answers = await Promise.all(logins);
    for (const a of answers) {
      expect(a.status, a.text).toBe(200);
      secret(a.body.access_token);
    }
    expect(await stopped).toBe(0);
    expect(server.stderr()).toContain('ssrun: SIGTERM: finishing requests in flight, then stopping');
    expect(server.stderr()).toMatch(/ssrun: stopped\n$/);

    const db = new Database(join(home, 'ssrun.db'), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      const hashes = new Set((db.prepare('SELECT token_hash FROM sessions').all() as { token_hash: string }[]).map((s) => s.token_hash));
      for (const a of answers) expect(hashes.has(digest(a.body.access_token))).toBe(true);
    } finally {
      db.close();
    }
    // and ssrun itself opens it
    expect(json(ok(await ssrun(['user', 'get'], { home })))).toEqual([{ Name: 'root', Principal: USER('root'), Mfa: null }]);
  });
});

describe('shutdown', () => {
  it('a SIGTERM sent as soon as the Listening line is out is a graceful stop (exit 0, "stopped"), even with a slow stderr', async () => {
    // A supervisor takes the Listening line as "ready"; from then on SIGTERM must mean "finish and stop", not
    // the signal's default action (killed: no exit code, the database not closed). slow-stderr.cjs makes the
    // notice written after that line take 300 ms, as a blocking stderr can, and the SIGTERM lands in between.
    const preload = join(import.meta.dirname, 'slow-stderr.cjs');
    const results: { exit: number | undefined; stopped: boolean }[] = [];
    for (let i = 0; i < 3; i++) {
      const server = await startServer({ home: tempHome('ssrun-server-sigterm-'), env: { NODE_OPTIONS: `--require ${preload}` } });
      const exit = await server.stop();
      results.push({ exit, stopped: server.stderr().includes('ssrun: stopped') });
    }
    expect(results).toEqual(Array.from({ length: 3 }, () => ({ exit: 0, stopped: true })));
  });
});

// ---- the per-address login rate limit ----------------------------------------------------------------------

describe('--login-rate-limit 3', () => {
  let server: RunningServer;
  let home: string;
  let client: string;
  beforeAll(async () => {
    home = tempHome('ssrun-server-ratelimit-');
    server = await startServer({ home, args: ['--login-rate-limit', '3'] });
    client = clientHome(server);
  });

  it('the 4th login in a minute from one address is refused (exit 6, HTTP 429), whatever the user name (password spraying)', async () => {
    const spray = secret('spray-password-Lq8Vz3');
    for (const user of ['spray-1', 'spray-2', 'spray-3']) {
      expectRefused(await ssrun(['login', '-u', user, '--password-stdin'], { home: client, input: `${spray}\n` }), 5, 'AUTH_DENIED');
    }
    expectRefused(await ssrun(['login', '-u', 'spray-4', '--password-stdin'], { home: client, input: `${spray}\n` }), 6, 'RATE_LIMITED', /too many requests from 127\.0\.0\.1; retry in \d+ s/);
    const a = await http(server.url, 'POST', '/connect/token/internal', { body: { username: 'spray-5', password: spray } });
    expectErrorAnswer(a, 429, 'RATE_LIMITED', 'too many requests from 127.0.0.1');
    expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);

    // the refused attempts never reached the credential check: 3 checked, not 5
    const db = new Database(join(home, 'ssrun.db'), { readonly: true, fileMustExist: true });
    try {
      expect(db.prepare(`SELECT principal FROM audit WHERE action = 'login' AND detail = 'unknown principal' ORDER BY id`).all()).toEqual(
        ['spray-1', 'spray-2', 'spray-3'].map((u) => ({ principal: USER(u) })),
      );
    } finally {
      db.close();
    }
    // other requests are not login requests
    expectErrorAnswer(await http(server.url, 'GET', '/whoami'), 401, 'UNAUTHENTICATED');
  });

  it('the limit is per address for every login route: application logins count too (README: "each client address may make --login-rate-limit logins")', async () => {
    const a = await http(server.url, 'POST', '/connect/api_key_token', { body: { name: 'spray-app', api_key: secret('ssk_not-a-real-key-Zx81') } });
    expectErrorAnswer(a, 429, 'RATE_LIMITED');
  });
});
