// A server's redirect ceremonies (src/remote/redirect.ts) over real HTTP: the flow id comes only in the
// streamed progress; POST /connect/redirect takes the client's loopback address once (http://127.0.0.1:PORT/ and
// 43 characters, nothing else) and answers the provider's URL; POST /connect/redirect/answer takes the kept
// keys only, once, after the address; an unknown flow is FLOW_NOT_FOUND; a second flow of the same principal
// is refused while one waits; the deadline ends a flow nobody answered. The client's side: progressFrom and
// providerUrlFrom.

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedirectReturn } from '../../src/core/ceremony.js';
import { SsrunError } from '../../src/core/errors.js';
import type { ProgressEvent } from '../../src/core/ports.js';
import { API_BASE, errorBody, httpStatusOf } from '../../src/remote/protocol.js';
import { progressFrom, providerUrlFrom } from '../../src/remote/client-login.js';
import { serverRedirects } from '../../src/remote/redirect.js';

let app: FastifyInstance;
const redirects = serverRedirects();
beforeAll(async () => {
  // As the server makes it (src/remote/server.ts): nothing unknown is dropped silently.
  app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  app.setErrorHandler((err, _req, reply) => {
    const e = err instanceof SsrunError ? err : new SsrunError('USAGE', (err as Error).message);
    return reply.code(e.code === 'USAGE' && (err as { statusCode?: number }).statusCode ? 400 : httpStatusOf(e.code)).send(errorBody(e));
  });
  redirects.register(app);
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

const post = async (path: string, payload: unknown) => {
  const r = await app.inject({ method: 'POST', url: `${API_BASE}${path}`, payload: payload as object });
  return { status: r.statusCode, body: r.json() };
};
const URI = `http://127.0.0.1:4321/${'a'.repeat(43)}`;

/** Starts a flow; resolves with its id once its progress line is out. */
function start(subject: string, opts: { ms?: number } = {}) {
  let gotFlow!: (id: string) => void;
  const flow = new Promise<string>((resolve) => (gotFlow = resolve));
  const built: string[] = [];
  const seen: RedirectReturn[] = [];
  const result = redirects.redirect(
    {
      subject,
      message: 'Complete the prompt',
      deadline: Date.now() + (opts.ms ?? 10_000),
      build: async (uri) => (built.push(uri), `https://duo.example/authorize?x=${built.length}`),
      onProgress: (e: ProgressEvent) => e.kind === 'redirect' && gotFlow(e.flow),
    },
    async (back) => (seen.push(back), { result: back.params.state, page: { ok: true, message: 'approved' } }),
  );
  result.catch(() => undefined);
  return { flow, result, built, seen };
}

describe('server redirect flows', () => {
  it('needs a streamed answer to carry the flow', async () => {
    await expect(redirects.redirect({ subject: 's', message: 'm', deadline: Date.now() + 1000, build: async () => 'u' }, async () => ({ result: 1, page: { ok: true, message: '' } }))).rejects.toMatchObject({ code: 'CEREMONY_UNAVAILABLE' });
  });

  it('address, then answer: each once; the kept keys only', async () => {
    const f = start('principal/internal/user/bob');
    const flow = await f.flow;
    expect(flow).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await post('/connect/redirect/answer', { flow, params: { state: 's' } })).status).toBe(400);
    for (const bad of ['http://localhost:4321/x', 'https://127.0.0.1:4321/' + 'a'.repeat(43), 'http://127.0.0.1:99999/' + 'a'.repeat(43), `${URI}?q=1`, 'http://127.0.0.2:80/' + 'a'.repeat(43)]) {
      const r = await post('/connect/redirect', { flow, redirect_uri: bad });
      expect(r.status, bad).toBe(400);
    }
    expect(f.built).toEqual([]);
    expect(await post('/connect/redirect', { flow, redirect_uri: URI })).toEqual({ status: 200, body: { url: 'https://duo.example/authorize?x=1' } });
    expect((await post('/connect/redirect', { flow, redirect_uri: URI })).status).toBe(400);
    expect((await post('/connect/redirect/answer', { flow, params: { state: 's', token: 'x' } })).status).toBe(400);
    expect(await post('/connect/redirect/answer', { flow, params: { state: 'the-state', duo_code: 'c' } })).toEqual({ status: 200, body: { ok: true, message: 'approved' } });
    expect(await f.result).toBe('the-state');
    expect(f.seen).toEqual([{ params: { state: 'the-state', duo_code: 'c' }, redirectUri: URI }]);
    expect((await post('/connect/redirect/answer', { flow, params: { state: 'again' } })).body.error.code).toBe('FLOW_NOT_FOUND');
  });

  it('an unknown or malformed flow id', async () => {
    const unknown = await post('/connect/redirect', { flow: 'b'.repeat(43), redirect_uri: URI });
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'FLOW_NOT_FOUND' } } });
    expect((await post('/connect/redirect', { flow: 'short', redirect_uri: URI })).status).toBe(400);
  });

  it('one waiting flow per principal: a second is refused (not the first ended); the deadline ends one nobody answered', async () => {
    const first = start('principal/internal/user/ann', { ms: 300 });
    await first.flow;
    await expect(redirects.redirect({ subject: 'principal/internal/user/ANN', message: 'm', deadline: Date.now() + 1000, build: async () => 'u', onProgress: () => undefined }, async () => ({ result: 1, page: { ok: true, message: '' } }))).rejects.toMatchObject({ code: 'ATTEMPTS_IN_FLIGHT' });
    await expect(first.result).rejects.toMatchObject({ code: 'MFA_TIMEOUT' });
    expect((await post('/connect/redirect', { flow: await first.flow, redirect_uri: URI })).status).toBe(404);
    const again = start('principal/internal/user/ann', { ms: 300 });
    expect(await again.flow).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("the client's side of a server's redirect", () => {
  it('a redirect line: the flow, and a deadline by this clock from the milliseconds left', () => {
    const flow = 'f'.repeat(43);
    const e = progressFrom({ progress: 'Complete the prompt\u001b[2J', redirect: { flow, leftMs: 5000 } });
    expect(e).toMatchObject({ kind: 'redirect', flow, message: 'Complete the prompt\\u001b[2J' });
    expect((e as { deadline: number }).deadline - Date.now()).toBeGreaterThan(5500);
    for (const bad of [{ flow: 'short', leftMs: 5 }, { flow, leftMs: -1 }, { flow }, { flow, leftMs: 1e12 }]) expect(progressFrom({ progress: 'p', redirect: bad }).kind).toBe('info');
  });

  it("opens only an https page that sends the browser back to this machine's address", () => {
    const back = `http://127.0.0.1:4321/${'a'.repeat(43)}`;
    const good = `https://api-x.duosecurity.com/oauth/v1/authorize?client_id=DI&redirect_uri=${encodeURIComponent(back)}`;
    expect(providerUrlFrom(good, back)).toBe(good);
    for (const bad of [good.replace('https:', 'http:'), good.replace(encodeURIComponent(back), encodeURIComponent(back.replace('4321', '4322'))), 'https://api-x.duosecurity.com/oauth/v1/authorize', `https://user@api-x.duosecurity.com/?redirect_uri=${encodeURIComponent(back)}`, 42]) {
      expect(() => providerUrlFrom(bad, back)).toThrow(/login denied/);
    }
  });
});
