// `ssrun serve`: the HTTP API over the same service the embedded store uses. Fastify routes each request,
// checks its bearer token and authorization, calls one use case and answers JSON; every error becomes
// {"error":{"code","message"}} with the status of protocol.ts. Bodies are capped at 64 KiB, parsed without
// echoing their content, and validated by schema; logins are rate-limited per client address on top of the
// per-principal lockout.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { RESOURCE_AUDIT, RESOURCE_AUTHORIZATION, RESOURCE_MFA } from '../core/authz.js';
import { SsrunError } from '../core/errors.js';
import { principalPath, type Caller, type Operation, type PrincipalType } from '../core/model.js';
import { createSsrun, type Ssrun, type SsrunDeps } from '../core/service.js';
import { MAX_INPUT_BYTES, parseJsonText, sanitizeLine } from '../core/validate.js';
import { API_BASE, NDJSON, errorBody, httpStatusOf } from './protocol.js';

export interface ServerOptions {
  deps: Omit<SsrunDeps, 'actor'>;
  /** Requests per minute per client address (all routes), and for the login routes. */
  rateLimit?: { max: number; loginMax: number };
  https?: { cert: string | Buffer; key: string | Buffer };
}

export const DEFAULT_RATE_LIMIT = { max: 1200, loginMax: 30 };

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
export const isLoopbackAddress = (address: string) => LOOPBACK.test(address) || address.toLowerCase() === 'localhost';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: Record<string, unknown> }>;
type Guard =
  | 'none'
  | 'token'
  | {
      op: Operation;
      resource: (req: Req, caller: Caller) => string;
      /** The caller acting on itself needs no rule. */
      self?: (req: Req, caller: Caller) => boolean;
      /** A second permission some requests need (secrets in clear: update). */
      also?: (req: Req) => { op: Operation; resource: string } | undefined;
      /** Whether the request changes root's own credentials or MFA: only root may (no rule can allow it). */
      touchesRoot?: (req: Req, ssrun: Ssrun) => boolean | Promise<boolean>;
    };

const ROOT_PATH = 'principal/internal/user/root';
const isRootName = (name: unknown) => typeof name === 'string' && name.toLowerCase() === 'root';
const isRootPath = (path: unknown) => typeof path === 'string' && path.toLowerCase() === ROOT_PATH;

/** One row of the API: also the README's table. */
interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  guard: Guard;
  body?: Record<string, unknown>;
  /** A login route: which kind of principal it logs in. */
  login?: 'user' | 'application';
  status?: number;
  handle: (ssrun: Ssrun, req: Req, caller: Caller | undefined) => Promise<unknown>;
}

const str = (max: number) => ({ type: 'string', maxLength: max });
const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
const flag = (v: string | undefined) => v === 'true' || v === '1';

const principalResource = (type: PrincipalType) => (req: Req) => principalPath(type, req.params.name ?? '');
const collection = (type: PrincipalType) => () => `principal/internal/${type}`;
const isSelf = (type: PrincipalType) => (req: Req, c: Caller) => c.type === type && c.name.toLowerCase() === String(req.params.name).toLowerCase();
const bodyPrincipalResource = (type: PrincipalType) => (req: Req) => principalPath(type, String(req.body?.name ?? ''));

const mfa = (op: Operation) => ({ op, resource: () => RESOURCE_MFA });
/** The configuration named in the URL is root's (changing or force-deleting it changes root's MFA). */
const configOfRoot = async (r: Req, s: Ssrun) => {
  try {
    return (await s.getConfig(r.params.name ?? '', { verbose: true })).Principals?.some((p) => isRootPath(p.Principal)) ?? false;
  } catch {
    return false; // not found or invalid: the handler says so
  }
};
const policy = (op: Operation) => ({ op, resource: () => `${RESOURCE_MFA}/policy` });
// Secrets in clear are for those who may set them.
const mfaRead = { ...mfa('read'), also: (req: Req) => (flag(req.query.show_secrets) ? { op: 'update' as const, resource: RESOURCE_MFA } : undefined) };

function principalRoutes(type: PrincipalType, base: string): Route[] {
  const cap = type === 'user' ? 'User' : 'Application';
  const routes: Route[] = [
    { method: 'GET', path: base, guard: { op: 'read', resource: collection(type) }, handle: (s, r) => (type === 'user' ? s.listUsers({ verbose: flag(r.query.verbose) }) : s.listApplications({ verbose: flag(r.query.verbose) })) },
    { method: 'GET', path: `${base}/:name`, guard: { op: 'read', resource: principalResource(type), self: isSelf(type) }, handle: (s, r) => s[`get${cap}`](r.params.name!, { verbose: flag(r.query.verbose) }) },
    { method: 'DELETE', path: `${base}/:name`, guard: { op: 'delete', resource: principalResource(type) }, handle: (s, r) => s[`delete${cap}`](r.params.name!) },
  ];
  if (type === 'user') {
    routes.push(
      { method: 'POST', path: base, status: 201, guard: { op: 'create', resource: bodyPrincipalResource('user') }, body: obj({ name: str(200), password: str(4096) }, ['name', 'password']), handle: (s, r) => s.createUser(String(r.body.name), String(r.body.password)) },
      { method: 'PUT', path: `${base}/:name/password`, guard: { op: 'update', resource: principalResource('user'), touchesRoot: (r) => isRootName(r.params.name) }, body: obj({ password: str(4096) }, ['password']), handle: (s, r) => s.setPassword(r.params.name!, String(r.body.password)) },
    );
  } else {
    routes.push({ method: 'POST', path: base, status: 201, guard: { op: 'create', resource: bodyPrincipalResource('application') }, body: obj({ name: str(200) }, ['name']), handle: (s, r) => s.createApplication(String(r.body.name)) });
  }
  return routes;
}

// A configuration is checked by the same validator as on the embedded store (named fields, suggestions), so
// both answer a bad file with the same message.
const ANY_JSON = {};

// -m is checked by the service (its shape, then the principal's provider): the schema only bounds its size.
const LOGIN_BODY = { mfa: str(1024), timeout: { type: 'integer', minimum: 1, maximum: 3600 } };

export const ROUTES: Route[] = [
  { method: 'POST', path: '/init', guard: 'none', body: obj({ password: str(4096) }, ['password']), handle: (s, r) => {
    const proxied = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'via'].some((h) => r.headers[h] !== undefined);
    if (!isLoopbackAddress(r.ip) || proxied) throw new SsrunError('FORBIDDEN', 'init over the network is refused; run `ssrun init --home DIR` on the server, or call it from the server itself');
    return s.init(String(r.body.password));
  } },
  { method: 'POST', path: '/connect/token/internal', guard: 'none', login: 'user', body: obj({ username: str(200), password: str(4096), ...LOGIN_BODY }, ['username', 'password']), handle: () => Promise.resolve() },
  { method: 'POST', path: '/connect/api_key_token', guard: 'none', login: 'application', body: obj({ name: str(200), api_key: str(4096), ...LOGIN_BODY }, ['name', 'api_key']), handle: () => Promise.resolve() },
  { method: 'POST', path: '/connect/logout', guard: 'token', handle: (s, r) => s.logout(bearer(r)!) },
  { method: 'GET', path: '/whoami', guard: 'token', handle: (s, r) => s.whoami(bearer(r)) },

  { method: 'GET', path: '/multi_factor', guard: mfaRead, handle: (s, r) => s.listConfigs({ verbose: flag(r.query.verbose), showSecrets: flag(r.query.show_secrets) }) },
  { method: 'GET', path: '/multi_factor/:name', guard: mfaRead, handle: (s, r) => s.getConfig(r.params.name!, { verbose: flag(r.query.verbose), showSecrets: flag(r.query.show_secrets) }) },
  { method: 'POST', path: '/multi_factor', status: 201, guard: mfa('create'), body: ANY_JSON, handle: (s, r) => s.createConfig(r.body) },
  { method: 'PUT', path: '/multi_factor/:name', guard: { ...mfa('update'), touchesRoot: configOfRoot }, body: ANY_JSON, handle: (s, r) => s.updateConfig(r.params.name!, r.body) },
  { method: 'DELETE', path: '/multi_factor/:name', guard: { ...mfa('delete'), touchesRoot: async (r, s) => flag(r.query.force) && (await configOfRoot(r, s)) }, handle: (s, r) => s.deleteConfig(r.params.name!, { force: flag(r.query.force) }) },
  { method: 'POST', path: '/multi_factor_assignments', guard: { ...mfa('update'), touchesRoot: (r) => isRootPath(r.body?.principal) }, body: obj({ principal: str(300), mfa_identity: str(300), config: str(200) }, ['principal', 'config']),
    handle: (s, r) => s.assignPrincipal(String(r.body.principal), r.body.mfa_identity === undefined ? undefined : String(r.body.mfa_identity), String(r.body.config)) },
  { method: 'POST', path: '/multi_factor_verify', guard: { ...mfa('update'), self: (r, c) => c.type === 'user' && c.name.toLowerCase() === String(r.body?.username).toLowerCase() },
    body: obj({ username: str(200), code: str(64) }, ['username', 'code']), handle: (s, r) => s.verifyEnrollment(String(r.body.username), String(r.body.code)) },
  { method: 'POST', path: '/multi_factor_recovery_codes', status: 201, // Not for oneself with a token alone: new codes are a new factor, and changing a factor needs more than a session (S13).
    guard: { ...mfa('update'), touchesRoot: (r) => isRootPath(r.body?.principal) },
    body: obj({ principal: str(300) }, ['principal']), handle: (s, r) => s.recoveryCodes(String(r.body.principal)) },
  { method: 'DELETE', path: '/multi_factor_assignments', guard: { ...mfa('update'), touchesRoot: (r) => isRootPath(r.query.principal) }, handle: (s, r) => s.removePrincipal(r.query.principal ?? '') },

  ...principalRoutes('user', '/users'),
  ...principalRoutes('application', '/applications'),

  { method: 'GET', path: '/groups', guard: { op: 'read', resource: () => 'principal/internal/group' }, handle: (s, r) => s.listGroups({ verbose: flag(r.query.verbose) }) },
  { method: 'GET', path: '/groups/:name', guard: { op: 'read', resource: (r) => `principal/internal/group/${r.params.name}` }, handle: (s, r) => s.getGroup(r.params.name!, { verbose: flag(r.query.verbose) }) },
  { method: 'POST', path: '/groups', status: 201, guard: { op: 'create', resource: (r) => `principal/internal/group/${String(r.body?.name ?? '')}` }, body: obj({ name: str(200) }, ['name']), handle: (s, r) => s.createGroup(String(r.body.name)) },
  { method: 'DELETE', path: '/groups/:name', guard: { op: 'delete', resource: (r) => `principal/internal/group/${r.params.name}` }, handle: (s, r) => s.deleteGroup(r.params.name!) },
  { method: 'POST', path: '/groups/:name/members', guard: { op: 'update', resource: (r) => `principal/internal/group/${r.params.name}` }, body: obj({ principal: str(300) }, ['principal']),
    handle: (s, r) => s.addMember(r.params.name!, String(r.body.principal)) },
  { method: 'DELETE', path: '/groups/:name/members', guard: { op: 'update', resource: (r) => `principal/internal/group/${r.params.name}` }, handle: (s, r) => s.removeMember(r.params.name!, r.query.principal ?? '') },

  { method: 'GET', path: '/mfa_policies', guard: policy('read'), handle: (s) => s.listPolicies() },
  { method: 'GET', path: '/mfa_policies/:name', guard: policy('read'), handle: (s, r) => s.getPolicy(r.params.name!) },
  { method: 'POST', path: '/mfa_policies', status: 201, guard: policy('create'), body: ANY_JSON, handle: (s, r) => s.createPolicy(r.body, { keepToken: bearer(r) }) },
  { method: 'PUT', path: '/mfa_policies/:name', guard: policy('update'), body: ANY_JSON, handle: (s, r) => s.updatePolicy(r.params.name!, r.body, { keepToken: bearer(r) }) },
  { method: 'DELETE', path: '/mfa_policies/:name', guard: policy('delete'), handle: (s, r) => s.deletePolicy(r.params.name!) },
  { method: 'POST', path: '/mfa_policies/:name/activate', guard: policy('update'), handle: (s, r) => s.setPolicyActive(r.params.name!, true, { keepToken: bearer(r) }) },
  { method: 'POST', path: '/mfa_policies/:name/deactivate', guard: policy('update'), handle: (s, r) => s.setPolicyActive(r.params.name!, false, { keepToken: bearer(r) }) },
  { method: 'GET', path: '/mfa_policy_explain', guard: { ...policy('read'), self: (r, c) => c.path.toLowerCase() === String(r.query.principal).toLowerCase() }, handle: (s, r) => s.explainPolicy(r.query.principal ?? '') },
  { method: 'POST', path: '/mfa_policy_reset_deadline', guard: { ...policy('update'), touchesRoot: (r) => isRootPath(r.body?.principal) }, body: obj({ principal: str(300) }, ['principal']), handle: (s, r) => s.resetDeadline(String(r.body.principal)) },

  { method: 'GET', path: '/authorizations', guard: { op: 'read', resource: () => RESOURCE_AUTHORIZATION }, handle: (s, r) => s.listAuthorizations(r.query.principal) },
  { method: 'POST', path: '/authorizations', status: 201, guard: { op: 'create', resource: () => RESOURCE_AUTHORIZATION },
    body: obj({ principal: str(300), operation: str(20), effect: str(20), resource: str(400) }, ['principal', 'operation', 'effect', 'resource']),
    handle: (s, r) => s.createAuthorization(String(r.body.principal), String(r.body.operation), String(r.body.effect), String(r.body.resource)) },
  { method: 'DELETE', path: '/authorizations', guard: { op: 'delete', resource: () => RESOURCE_AUTHORIZATION },
    handle: (s, r) => s.deleteAuthorization(r.query.principal ?? '', r.query.operation ?? '', r.query.resource ?? '') },
  { method: 'GET', path: '/audit', guard: { op: 'read', resource: () => RESOURCE_AUDIT }, handle: (s, r) => s.listAudit({ since: r.query.since, principal: r.query.principal, limit: r.query.limit ? clampLimit(r.query.limit) : undefined }) },
];

function clampLimit(v: string): number {
  if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw new SsrunError('USAGE', `limit: expected a whole number from 1 to 100000, received ${JSON.stringify(v).slice(0, 40)}`);
  return Math.min(Number(v), 100_000);
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer ([A-Za-z0-9_-]{16,200})$/.exec(h);
  if (!m) throw new SsrunError('UNAUTHENTICATED', 'Authorization: expected "Bearer TOKEN"');
  return m[1];
}

/** Any failure as our error shape: fastify's own (body, content type, schema), rate limits, and bugs. */
function asSsrunError(err: unknown): { e: SsrunError; status?: number } {
  if (err instanceof SsrunError) return { e: err };
  const x = err as { code?: string; statusCode?: number; message?: string; validation?: { instancePath?: string; message?: string }[]; error?: { code?: string; message?: string } };
  if (x?.error?.code === 'RATE_LIMITED') return { e: new SsrunError('RATE_LIMITED', String(x.error.message)) };
  switch (x?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { e: new SsrunError('INPUT_TOO_LARGE', `body: more than ${MAX_INPUT_BYTES} bytes`) };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { e: new SsrunError('USAGE', 'Content-Type: expected application/json'), status: 415 };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { e: new SsrunError('INVALID_JSON', 'body: empty; expected a JSON object') };
    case 'FST_ERR_VALIDATION': {
      const v = x.validation?.[0];
      return { e: new SsrunError('USAGE', `body${v?.instancePath ? v.instancePath.replace(/\//g, '.') : ''}: ${sanitizeLine(v?.message ?? 'invalid')}`) };
    }
  }
  if (typeof x?.statusCode === 'number' && x.statusCode >= 400 && x.statusCode < 500) {
    return { e: new SsrunError('USAGE', sanitizeLine(x.message ?? 'bad request')), status: x.statusCode };
  }
  return { e: new SsrunError('INTERNAL', 'internal server error') };
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const limits = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
  const app = Fastify({
    bodyLimit: MAX_INPUT_BYTES,
    logger: false,
    trustProxy: false,
    return503OnClosing: true,
    // A client must send its whole request within 30 s (no slow-loris); names may be 120 characters long.
    requestTimeout: 30_000,
    // Node applies the larger of the two (and checks every connectionsCheckingInterval): keep both tight.
    http: { headersTimeout: 20_000, requestTimeout: 30_000, connectionsCheckingInterval: 5_000 },
    routerOptions: { maxParamLength: 300 },
    frameworkErrors: (err: Error, _req: unknown, reply: unknown) => {
      // Fastify's own refusals (a malformed URL, a parameter too long) in our error shape.
      void (reply as FastifyReply).code(400).send(errorBody(new SsrunError('USAGE', `request: ${sanitizeLine(err.message, 120)}`)));
    },
    ...(opts.https
      ? { https: { cert: opts.https.cert, key: opts.https.key, minVersion: 'TLSv1.2' as const, headersTimeout: 20_000, requestTimeout: 30_000, connectionsCheckingInterval: 5_000 } }
      : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  // Our JSON parser: positions without echoing the text (a body may hold a secret).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(Object.assign(new Error('empty'), { code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }), undefined);
    try {
      done(null, parseJsonText(text, 'body'));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  await app.register(rateLimit, {
    global: true,
    max: limits.max,
    timeWindow: 60_000,
    keyGenerator: (req) => req.ip,
    errorResponseBuilder: (req, ctx) => ({ statusCode: 429, error: { code: 'RATE_LIMITED', message: `too many requests from ${req.ip}; retry in ${Math.ceil(ctx.ttl / 1000)} s` } }),
  });

  app.setErrorHandler((err, req, reply) => {
    const { e, status } = asSsrunError(err);
    // A bug, not a refusal: the operator needs to see it (never a request body, so never a secret).
    if (e.code === 'INTERNAL') process.stderr.write(`ssrun serve: internal error on ${req.method} ${sanitizeLine(req.url.split('?')[0] ?? '', 120)}: ${err instanceof Error ? (err.stack ?? err.message) : sanitizeLine(String(err))}\n`);
    void reply.code(status ?? httpStatusOf(e.code)).header('cache-control', 'no-store').send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(new SsrunError('ROUTE_NOT_FOUND', `no such endpoint: ${req.method} ${sanitizeLine(req.url.split('?')[0] ?? '', 120)}`)));
  });

  app.server.maxConnections = 2048;
  app.server.headersTimeout = 20_000;
  app.server.requestTimeout = 30_000;
  const shutdown = new AbortController();
  app.addHook('preClose', async () => shutdown.abort());

  // L6: a query parameter given twice is refused, not turned into an array the handlers do not expect.
  app.addHook('preValidation', async (req) => {
    for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new SsrunError('USAGE', `query parameter ${sanitizeLine(k, 40)}: given more than once`);
    }
  });

  const serviceFor = (req: FastifyRequest, caller: Caller | undefined) =>
    createSsrun({ ...opts.deps, actor: { principal: caller?.path ?? 'anonymous', source: req.ip } });
  const checkLogin = app.createRateLimit({ max: limits.loginMax, timeWindow: 60_000, keyGenerator: (req) => `login:${req.ip}` });
  const anonymous = createSsrun({ ...opts.deps, actor: { principal: 'anonymous', source: 'server' } });

  for (const route of ROUTES) {
    app.route({
      method: route.method,
      url: `${API_BASE}${route.path}`,
      ...(route.body ? { schema: { body: route.body } } : {}),

      handler: (req: FastifyRequest, reply: FastifyReply) => handle(route, req as Req, reply, { serviceFor, checkLogin, anonymous, shutdown: shutdown.signal }),
    });
  }

  // Expired sessions are cleaned up now and then (they are refused at once anyway).
  const sweep = setInterval(() => {
    opts.deps.store.write((tx) => tx.deleteExpiredSessions(opts.deps.clock.now().toISOString())).catch(() => {
      // a busy store: next time
    });
  }, 10 * 60_000);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));
  return app;
}

interface Handling {
  serviceFor: (req: FastifyRequest, caller: Caller | undefined) => Ssrun;
  checkLogin: (req: FastifyRequest) => Promise<{ isAllowed: true } | { isAllowed: false; isExceeded: boolean; ttlInSeconds: number }>;
  anonymous: Ssrun;
  shutdown: AbortSignal;
}

/** One request: the login rate limit, the bearer token, root's own things, the authorization rule, then the use case. */
async function handle(route: Route, r: Req, reply: FastifyReply, { serviceFor, checkLogin, anonymous, shutdown }: Handling): Promise<unknown> {
  const req = r as FastifyRequest;
  let caller: Caller | undefined;
  if (route.login) {
    // Both login routes share one bucket per address (on top of the global limit).
    const limit = await checkLogin(req);
    if (!limit.isAllowed && limit.isExceeded) {
      void reply.header('retry-after', String(limit.ttlInSeconds));
      await serviceFor(req, undefined).noteRefusal('login', req.ip, 'login rate limit of this address');
      throw new SsrunError('RATE_LIMITED', `too many requests from ${req.ip}; retry in ${limit.ttlInSeconds} s`);
    }
  }
  if (route.guard !== 'none') {
    try {
      caller = await anonymous.authenticate(bearer(req));
    } catch (e) {
      // Token guessing and dead tokens leave a trace too (never the token itself).
      if (e instanceof SsrunError) await serviceFor(req, undefined).noteRefusal(`${req.method} ${route.path}`, '-', e.code);
      throw e;
    }
    if (route.guard !== 'token' && !caller.isRoot && (await route.guard.touchesRoot?.(r, serviceFor(req, caller)))) {
      await serviceFor(req, caller).refuse(caller, "only root may change root's password, MFA or recovery codes");
    }
    if (route.guard !== 'token' && !(route.guard.self?.(r, caller) ?? false)) {
      const guard = serviceFor(req, caller);
      await guard.authorize(caller, route.guard.op, route.guard.resource(r, caller));
      const also = route.guard.also?.(r);
      if (also) await guard.authorize(caller, also.op, also.resource);
    }
  }
  const ssrun = serviceFor(req, caller);
  void reply.header('cache-control', 'no-store');
  if (route.login) return login(ssrun, route.login, r, reply, shutdown);
  const result = await route.handle(ssrun, r, caller);
  return reply.code(route.status ?? 200).send(result);
}

/** POST connect/…: JSON in and out, or (Accept: application/x-ndjson) progress lines and then the result. */
async function login(ssrun: Ssrun, kind: 'user' | 'application', req: Req, reply: FastifyReply, shuttingDown: AbortSignal): Promise<unknown> {
  const isUser = kind === 'user';
  const b = req.body;
  // -m as typed: the service reads it with the principal's provider (an empty one is refused there, as on the CLI).
  const mfa = typeof b.mfa === 'string' ? b.mfa : undefined;
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  // A shutdown does not wait for a push nobody answers: the login is cancelled (and denied).
  const onShutdown = () => abort.abort();
  shuttingDown.addEventListener('abort', onShutdown, { once: true });
  reply.raw.on('close', () => shuttingDown.removeEventListener('abort', onShutdown));
  const stream = String(req.headers.accept ?? '').includes(NDJSON);
  const run = (onProgress?: (e: { message: string }) => void) =>
    ssrun.login({
      type: isUser ? 'user' : 'application',
      name: String(isUser ? b.username : b.name),
      secret: String(isUser ? b.password : b.api_key),
      mfa,
      onProgress,
      signal: abort.signal,
      timeoutMs: typeof b.timeout === 'number' ? b.timeout * 1000 : undefined,
    });
  const answer = (r: Awaited<ReturnType<typeof run>>) => ({
    Principal: r.Principal,
    Factor: r.Factor,
    ExpiresAt: r.ExpiresAt,
    access_token: r.token,
    token_type: 'Bearer',
    expires_in: Math.max(0, Math.round((Date.parse(r.ExpiresAt) - Date.now()) / 1000)),
    ...(r.RecoveryCodesLeft !== undefined ? { RecoveryCodesLeft: r.RecoveryCodesLeft } : {}),
    ...(r.Enrollment ? { Enrollment: r.Enrollment } : {}),
  });
  if (!stream) return reply.send(answer(await run()));

  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store' });
  const line = (v: unknown) => reply.raw.write(`${JSON.stringify(v)}\n`);
  try {
    line({ result: answer(await run((e) => line({ progress: e.message }))) });
  } catch (e) {
    const { e: err } = asSsrunError(e);
    line(errorBody(err));
  }
  reply.raw.end();
  return reply;
}
