// `ssrun serve`: the HTTP API over the same service the embedded store uses. Fastify routes each request,
// checks its bearer token and authorization, calls one use case and answers JSON; every error becomes
// {"error":{"code","message"}} with the status of protocol.ts. Bodies are capped at 64 KiB, parsed without
// echoing their content, and validated by schema; logins are rate-limited per client address on top of the
// per-principal lockout.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { SsrunError } from '../core/errors.js';
import { principalPath, type Caller, type Operation, type PrincipalType } from '../core/model.js';
import { ENROLMENT_ONLY, createSsrun, type Ssrun, type SsrunDeps } from '../core/service.js';
import { MAX_INPUT_BYTES, parseJsonText, sanitizeLine } from '../core/validate.js';
import { API_BASE, errorBody, httpStatusOf } from './protocol.js';
import { publicCeremony } from './ceremony.js';
import { serverRedirects } from './redirect.js';
import { streamed } from './streaming.js';
import { TRUSTED_DAYS } from '../core/lockout.js';
import { clientErrorHandler, drain } from './http-errors.js';
import { ROUTES, bearer, checkUrlName, clientAddress, type Req, type Route } from './routes.js';

export { isLoopbackAddress } from './routes.js';

export interface ServerOptions {
  deps: Omit<SsrunDeps, 'actor' | 'ceremony'>;
  /** https://HOST[:PORT] where browsers reach this server: security-key ceremonies run there (none without). */
  publicUrl?: string;
  /** Requests per minute per client address (all routes), and for the login routes. */
  rateLimit?: { max: number; loginMax: number };
  https?: { cert: string | Buffer; key: string | Buffer };
  /** Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For names the client. */
  trustProxy?: string[];
  /** A client must send its whole request within this (default 30 s; headers within two thirds of it). */
  requestTimeoutMs?: number;
}

export const DEFAULT_RATE_LIMIT = { max: 1200, loginMax: 30 };

const SERVICES_KEPT = 256;


/**
 * The service of one actor (who, from where: what its audit records say). Composing it costs more than a read
 * itself, and it holds no state of its own, so the last SERVICES_KEPT actors' services are kept.
 */
function servicesOf(deps: Omit<SsrunDeps, 'actor'>): (req: FastifyRequest, caller: Caller | undefined) => Ssrun {
  const services = new Map<string, Ssrun>();
  return (req, caller) => {
    const actor = { principal: caller?.path ?? 'anonymous', source: clientAddress(req) };
    const key = `${actor.principal}\n${actor.source}`;
    let s = services.get(key);
    if (!s) {
      if (services.size >= SERVICES_KEPT) services.delete(services.keys().next().value!);
      services.set(key, (s = createSsrun({ ...deps, actor })));
    }
    return s;
  };
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
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.ceil((requestTimeout * 2) / 3);
  const limits = opts.rateLimit ?? DEFAULT_RATE_LIMIT;
  const app = Fastify({
    bodyLimit: MAX_INPUT_BYTES,
    logger: false,
    // The client address (rate limits, lockout, audit) is the forwarded one only from these proxies.
    trustProxy: opts.trustProxy && opts.trustProxy.length ? opts.trustProxy.join(',') : false,
    return503OnClosing: true,
    // A client must send its whole request within 30 s (no slow-loris); names may be 120 characters long.
    requestTimeout,
    // Node applies the larger of the two (and checks every connectionsCheckingInterval): keep both tight.
    http: { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(5_000, headersTimeout) },
    routerOptions: { maxParamLength: 300 },
    clientErrorHandler: clientErrorHandler(requestTimeout),
    frameworkErrors: (err: Error, _req: unknown, reply: unknown) => {
      // Fastify's own refusals (a malformed URL, a parameter too long) in our error shape.
      void (reply as FastifyReply).code(400).send(errorBody(new SsrunError('USAGE', `request: ${sanitizeLine(err.message, 120)}`)));
    },
    ...(opts.https
      ? {
          // ALPN: a client that offers only http/1.0 (curl --http1.0) is served too, instead of failing the handshake.
          https: { cert: opts.https.cert, key: opts.https.key, minVersion: 'TLSv1.2' as const, ALPNProtocols: ['http/1.1', 'http/1.0'], headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(5_000, headersTimeout) },
        }
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
    keyGenerator: (req) => clientAddress(req),
    errorResponseBuilder: (req, ctx) => ({ statusCode: 429, error: { code: 'RATE_LIMITED', message: `too many requests from ${clientAddress(req)}; retry in ${Math.ceil(ctx.ttl / 1000)} s` } }),
  });

  app.setErrorHandler(async (err, req, reply) => {
    const { e, status } = asSsrunError(err);
    // A body over the limit: read the rest of the upload (bounded) so that the client gets this answer.
    if (e.code === 'INPUT_TOO_LARGE') {
      await drain(req.raw);
      void reply.header('connection', 'close');
    }
    // A bug, not a refusal: the operator needs to see it (never a request body, so never a secret).
    if (e.code === 'INTERNAL') process.stderr.write(`ssrun serve: internal error on ${req.method} ${sanitizeLine(req.url.split('?')[0] ?? '', 120)}: ${err instanceof Error ? (err.stack ?? err.message) : sanitizeLine(String(err))}\n`);
    return reply.code(status ?? httpStatusOf(e.code)).header('cache-control', 'no-store').send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(new SsrunError('ROUTE_NOT_FOUND', `no such endpoint: ${req.method} ${sanitizeLine(req.url.split('?')[0] ?? '', 120)}`)));
  });

  app.server.maxConnections = 2048;
  app.server.headersTimeout = headersTimeout;
  app.server.requestTimeout = requestTimeout;
  const shutdown = new AbortController();
  app.addHook('preClose', async () => shutdown.abort());

  // L6: a query parameter given twice is refused, not turned into an array the handlers do not expect.
  app.addHook('preValidation', async (req) => {
    for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new SsrunError('USAGE', `query parameter ${sanitizeLine(k, 40)}: given more than once`);
    }
  });

  const ceremonies = opts.publicUrl ? publicCeremony(opts.publicUrl) : undefined;
  ceremonies?.register(app);
  // Redirect ceremonies (Duo's Universal Prompt) come back to the client's own loopback: no public URL needed.
  const redirects = serverRedirects();
  redirects.register(app);
  // Without --public-url no key ceremony runs here (browsers allow WebAuthn on an https origin only).
  const deps: SsrunDeps = { ...opts.deps, ceremony: { ...(ceremonies ? { run: ceremonies.ceremony.run } : {}), redirect: redirects.redirect } };
  const serviceFor = servicesOf(deps);
  const checkLogin = app.createRateLimit({ max: limits.loginMax, timeWindow: 60_000, keyGenerator: (req) => `login:${clientAddress(req)}` });
  const anonymous = createSsrun({ ...deps, actor: { principal: 'anonymous', source: 'server' } });

  for (const route of ROUTES) {
    app.route({
      method: route.method,
      url: `${API_BASE}${route.path}`,
      ...(route.body ? { schema: { body: route.body } } : {}),

      handler: (req: FastifyRequest, reply: FastifyReply) => handle(route, req as Req, reply, { serviceFor, checkLogin, anonymous, shutdown: shutdown.signal }),
    });
  }

  // Expired sessions are cleaned up now and then (they are refused at once anyway).
  // Lockout counters with no failure for a day and no lock in force are forgotten (names guessed at random
  // must not grow the table for ever).
  const sweep = setInterval(() => {
    const now = opts.deps.clock.now();
    const dayAgo = new Date(now.getTime() - 86_400_000).toISOString();
    opts.deps.store
      .write(async (tx) => {
        await tx.deleteExpiredSessions(now.toISOString());
        await tx.sweepThrottle(dayAgo, now.toISOString(), new Date(now.getTime() - TRUSTED_DAYS * 86_400_000).toISOString());
      })
      .catch(() => {
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
  if (r.params?.name !== undefined) checkUrlName(route.method, route.path, r.params.name);
  let caller: Caller | undefined;
  if (route.login) {
    // Both login routes share one bucket per address (on top of the global limit).
    const limit = await checkLogin(req);
    if (!limit.isAllowed && limit.isExceeded) {
      void reply.header('retry-after', String(limit.ttlInSeconds));
      await serviceFor(req, undefined).noteRefusal('login', clientAddress(req), 'login rate limit of this address');
      throw new SsrunError('RATE_LIMITED', `too many requests from ${clientAddress(req)}; retry in ${limit.ttlInSeconds} s`);
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
    // A session of a pending key assignment registers a key, and nothing else.
    if (caller.factor === ENROLMENT_ONLY && !route.enrolment && route.path !== '/whoami' && route.path !== '/connect/logout') {
      throw new SsrunError('KEY_ENROLMENT_ONLY', `this session may only register a security key (the assignment of ${caller.path} is pending): ssrun mfa key add -u ${caller.name}`);
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
  if (caller && route.sudo?.(r, caller)) await sudo(serviceFor(req, caller), caller, r);
  const ssrun = serviceFor(req, caller);
  void reply.header('cache-control', 'no-store');
  if (route.login) return login(ssrun, route.login, r, reply, shutdown);
  if (route.stream) {
    void reply.code(route.status ?? 200);
    return streamed(r, reply, shutdown, (ctx) => route.stream!(ssrun, r, { ...ctx, caller }), (e) => asSsrunError(e).e);
  }
  let result = await route.handle(ssrun, r, caller);
  if (route.filter && caller && !caller.isRoot) result = route.filter(result as never, await ssrun.visible(caller));
  return reply.code(route.status ?? 200).send(result);
}

/** A login this recent may change its own keys without the password again (GitHub's sudo mode). */
export const SUDO_MS = 5 * 60_000;

async function sudo(ssrun: Ssrun, caller: Caller, r: Req): Promise<void> {
  if (Date.now() - Date.parse(caller.since) <= SUDO_MS) return;
  const password = (r.body as Record<string, unknown> | undefined)?.password;
  if (typeof password !== 'string') {
    throw new SsrunError('REAUTH_REQUIRED', `changing your own security keys needs a login less than ${SUDO_MS / 60_000} minutes old (this one is from ${caller.since}): log in again, or give your password again`);
  }
  await ssrun.confirmPassword(caller.name, password);
}

/** POST connect/…: JSON in and out, or (Accept: application/x-ndjson) progress lines and then the result. */
async function login(ssrun: Ssrun, kind: 'user' | 'application', req: Req, reply: FastifyReply, shuttingDown: AbortSignal): Promise<unknown> {
  const isUser = kind === 'user';
  const b = req.body;
  // -m as typed: the service reads it with the principal's provider (an empty one is refused there, as on the CLI).
  const mfa = typeof b.mfa === 'string' ? b.mfa : undefined;
  return streamed(req, reply, shuttingDown, async ({ onProgress, signal }) => {
    const r = await ssrun.login({
      type: isUser ? 'user' : 'application',
      name: String(isUser ? b.username : b.name),
      secret: String(isUser ? b.password : b.api_key),
      mfa,
      onProgress,
      signal,
      timeoutMs: typeof b.timeout === 'number' ? b.timeout * 1000 : undefined,
    });
    return {
      Principal: r.Principal,
      Factor: r.Factor,
      ExpiresAt: r.ExpiresAt,
      access_token: r.token,
      token_type: 'Bearer',
      expires_in: Math.max(0, Math.round((Date.parse(r.ExpiresAt) - Date.now()) / 1000)),
      ...(r.RecoveryCodesLeft !== undefined ? { RecoveryCodesLeft: r.RecoveryCodesLeft } : {}),
      ...(r.Enrollment ? { Enrollment: r.Enrollment } : {}),
      ...(r.KeyEnrollment ? { KeyEnrollment: r.KeyEnrollment } : {}),
    };
  }, (e) => asSsrunError(e).e);
}
