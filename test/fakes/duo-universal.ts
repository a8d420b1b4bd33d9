// A local stand-in of Duo's OIDC endpoints (the Universal Prompt's Web SDK v4 API) for tests: HTTPS on
// 127.0.0.1 (random port) with a CA made at test time, driven by the real @duosecurity/duo_universal SDK
// through ssrun. Its JWTs are made and checked by an independent HS512 implementation (node:crypto, not the
// SDK's jose), so the SDK is checked against a second implementation.
//
// - POST /oauth/v1/health_check and POST /oauth/v1/token check the client assertion: HS512 with the client
//   secret, iss = sub = client id, aud = the endpoint's URL, exp in the future, a jti never seen before.
// - GET /oauth/v1/authorize checks the request JWT (HS512, client_id, redirect_uri, state, duo_uname, aud =
//   https://HOST, exp) and redirects (302) to redirect_uri with duo_code and state, as Duo does after its prompt.
// - The token endpoint takes a code once, for the redirect_uri it was made for, and answers an HS512 id_token
//   (iss = the token URL, aud = client id, preferred_username, auth_result, auth_context).
// Outcomes by Duo username (the part before an optional '#'): allow, deny, fraud, wrong-user, bad-signature,
// expired, token-hang (the token endpoint never answers), evil (a status_msg with terminal escapes). Clients
// (one per configuration): `healthy`, `sick` (health check FAIL), `hang` (the health check never answers),
// `huge` (the health check answers 2 MiB).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../helpers/tls.js';

export const EVIL_STATUS = 'Denied\r\nssrun: login OK\u001b[2J\u001b[31m!';
export type ClientKind = 'healthy' | 'sick' | 'hang' | 'huge';

export interface UniversalRequest {
  path: string;
  clientId: string;
  /** The Duo username of an authorize request, or of the code exchanged. */
  username?: string;
  status: number;
  error?: string;
}

export interface FakeUniversal {
  host: string;
  caPem: string;
  caFile: string;
  /** A client (a Web SDK application) of the given kind: its Client ID (20) and Client secret (40). */
  client(kind?: ClientKind): { clientId: string; clientSecret: string };
  /** Options of a `duo` configuration with "Prompt": "universal" for that client. */
  options(client: { clientId: string; clientSecret: string }): Record<string, string>;
  requests: UniversalRequest[];
  requestsFor(username: string): UniversalRequest[];
  close(): Promise<void>;
}

const b64url = (v: Buffer | string) => Buffer.from(v).toString('base64url');
const hs512 = (secret: string, data: string) => createHmac('sha512', secret).update(data).digest();

export function signJwt(secret: string, payload: Record<string, unknown>): string {
  const head = `${b64url(JSON.stringify({ alg: 'HS512', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  return `${head}.${b64url(hs512(secret, head))}`;
}

/** The payload of an HS512 JWT signed with `secret`, or why it is not one. */
export function verifyJwt(secret: string, token: string): Record<string, unknown> | string {
  const parts = token.split('.');
  if (parts.length !== 3) return 'not a JWT';
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: string };
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (header.alg !== 'HS512') return `alg ${String(header.alg)}`;
  const expected = hs512(secret, `${h}.${p}`);
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
  return payload;
}

const now = () => Math.floor(Date.now() / 1000);
const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const randomId = () => `DI${Array.from(randomBytes(18), (b) => CHARS[b % CHARS.length]).join('')}`;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeUniversal(): Promise<FakeUniversal> {
  const { caPem, key, cert } = await makeCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'ssrun-fake-universal-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, caPem);
  const clients = new Map<string, { secret: string; kind: ClientKind }>();
  const seenJti = new Set<string>();
  const codes = new Map<string, { clientId: string; username: string; redirectUri: string; used: boolean }>();
  const requests: UniversalRequest[] = [];
  let host = '';

  const json = (res: ServerResponse, rec: UniversalRequest, status: number, body: unknown, error?: string) => {
    rec.status = status;
    if (error) rec.error = error;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  /** The client assertion of a back-channel request, checked as Duo does; the client, or why not. */
  function assertion(form: URLSearchParams, endpoint: string): { clientId: string; secret: string; kind: ClientKind } | string {
    const clientId = form.get('client_id') ?? '';
    const client = clients.get(clientId);
    if (!client) return 'unknown client_id';
    const claims = verifyJwt(client.secret, form.get('client_assertion') ?? '');
    if (typeof claims === 'string') return `client_assertion: ${claims}`;
    if (claims.iss !== clientId || claims.sub !== clientId) return 'client_assertion: iss/sub';
    if (claims.aud !== `https://${host}${endpoint}`) return `client_assertion: aud ${String(claims.aud)}`;
    if (typeof claims.exp !== 'number' || claims.exp < now()) return 'client_assertion: expired';
    if (typeof claims.jti !== 'string' || seenJti.has(claims.jti)) return 'client_assertion: jti reused';
    seenJti.add(claims.jti);
    return { clientId, secret: client.secret, kind: client.kind };
  }

  async function healthCheck(req: IncomingMessage, res: ServerResponse, rec: UniversalRequest) {
    const form = new URLSearchParams(await readBody(req));
    rec.clientId = form.get('client_id') ?? '';
    const c = assertion(form, '/oauth/v1/health_check');
    if (typeof c === 'string') return json(res, rec, 400, { error: 'invalid_client', error_description: c }, c);
    if (c.kind === 'hang') return; // never answers
    if (c.kind === 'huge') return json(res, rec, 200, { stat: 'OK', response: { timestamp: now(), padding: 'x'.repeat(2 * 1024 * 1024) } });
    if (c.kind === 'sick') return json(res, rec, 200, { stat: 'FAIL', code: 50301, timestamp: now(), message: 'Service temporarily unavailable', message_detail: 'maintenance' });
    return json(res, rec, 200, { stat: 'OK', response: { timestamp: now() } });
  }

  function authorize(url: URL, res: ServerResponse, rec: UniversalRequest) {
    const q = url.searchParams;
    const clientId = q.get('client_id') ?? '';
    rec.clientId = clientId;
    const client = clients.get(clientId);
    if (!client) return json(res, rec, 400, { error: 'invalid_client' }, 'unknown client_id');
    const claims = verifyJwt(client.secret, q.get('request') ?? '');
    if (typeof claims === 'string') return json(res, rec, 400, { error: 'invalid_request', error_description: claims }, claims);
    const redirectUri = q.get('redirect_uri') ?? '';
    const bad =
      claims.client_id !== clientId ? 'client_id' : claims.redirect_uri !== redirectUri ? 'redirect_uri' : claims.aud !== `https://${host}` ? 'aud' : typeof claims.exp !== 'number' || claims.exp < now() ? 'exp' : typeof claims.state !== 'string' || claims.state.length < 22 ? 'state' : typeof claims.duo_uname !== 'string' || !claims.duo_uname ? 'duo_uname' : claims.response_type !== 'code' || claims.scope !== 'openid' ? 'response_type/scope' : undefined;
    if (bad) return json(res, rec, 400, { error: 'invalid_request', error_description: bad }, bad);
    const username = String(claims.duo_uname);
    rec.username = username;
    const code = randomBytes(24).toString('base64url');
    codes.set(code, { clientId, username, redirectUri, used: false });
    const back = new URL(redirectUri);
    back.searchParams.set(claims.use_duo_code_attribute === false ? 'code' : 'duo_code', code);
    back.searchParams.set('state', String(claims.state));
    rec.status = 302;
    res.writeHead(302, { location: back.href, 'cache-control': 'no-store' });
    res.end();
  }

  async function token(req: IncomingMessage, res: ServerResponse, rec: UniversalRequest) {
    const form = new URLSearchParams(await readBody(req));
    rec.clientId = form.get('client_id') ?? '';
    const c = assertion(form, '/oauth/v1/token');
    if (typeof c === 'string') return json(res, rec, 400, { error: 'invalid_client', error_description: c }, c);
    if (form.get('grant_type') !== 'authorization_code' || form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return json(res, rec, 400, { error: 'invalid_request' }, 'grant');
    const code = codes.get(form.get('code') ?? '');
    if (code) rec.username = code.username;
    if (!code || code.clientId !== c.clientId) return json(res, rec, 400, { error: 'invalid_grant', error_description: 'The provided authorization grant is invalid' }, 'unknown code');
    if (code.used) return json(res, rec, 400, { error: 'invalid_grant', error_description: 'The authorization code was already used' }, 'code replay');
    if (code.redirectUri !== form.get('redirect_uri')) return json(res, rec, 400, { error: 'invalid_grant', error_description: 'redirect_uri does not match' }, 'redirect_uri');
    code.used = true;
    const scenario = code.username.split('#')[0]!;
    if (scenario === 'token-hang') return; // never answers
    const t = now();
    const result = scenario === 'deny' || scenario === 'evil' ? { result: 'deny', status: 'deny', status_msg: scenario === 'evil' ? EVIL_STATUS : 'Login request denied.' } : scenario === 'fraud' ? { result: 'deny', status: 'fraud', status_msg: 'Reported as fraud' } : { result: 'allow', status: 'allow', status_msg: 'Login Successful' };
    const payload = {
      iss: `https://${host}/oauth/v1/token`,
      sub: code.username,
      aud: c.clientId,
      iat: t,
      exp: scenario === 'expired' ? t - 600 : t + 300,
      auth_time: t,
      preferred_username: scenario === 'wrong-user' ? 'mallory' : code.username,
      auth_result: result,
      auth_context: { factor: 'Duo Push', result: result.result, txid: randomBytes(8).toString('hex') },
    };
    const idToken = signJwt(scenario === 'bad-signature' ? randomBytes(20).toString('hex') : c.secret, payload);
    return json(res, rec, 200, { id_token: idToken, access_token: randomBytes(24).toString('base64url'), expires_in: 3600, token_type: 'Bearer' });
  }

  const server = createServer({ key, cert }, (req, res) => {
    const url = new URL(req.url ?? '/', `https://${host}`);
    const rec: UniversalRequest = { path: url.pathname, clientId: '', status: 0 };
    requests.push(rec);
    const route = `${req.method} ${url.pathname}`;
    const go =
      route === 'POST /oauth/v1/health_check' ? healthCheck(req, res, rec) : route === 'GET /oauth/v1/authorize' ? authorize(url, res, rec) : route === 'POST /oauth/v1/token' ? token(req, res, rec) : json(res, rec, 404, { error: 'not_found' });
    void Promise.resolve(go).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    get host() {
      return host;
    },
    caPem,
    caFile,
    requests,
    requestsFor: (username) => requests.filter((r) => r.username === username),
    client(kind = 'healthy') {
      const clientId = randomId();
      const clientSecret = randomBytes(30).toString('base64url');
      clients.set(clientId, { secret: clientSecret, kind });
      return { clientId, clientSecret };
    },
    options: (c) => ({ IntegrationKey: c.clientId, SecretKey: c.clientSecret, Host: host, CaFile: caFile, Prompt: 'universal' }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
