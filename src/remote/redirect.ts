// Redirect ceremonies on a server (Duo's Universal Prompt). The browser runs on the client's machine and comes
// back to the client's own loopback address, so the server hands the flow over in three steps, each bound to
// the flow's id (256 random bits) that only the streamed login answer carries:
//   1. the login's stream says `redirect: {flow, leftMs}` (the milliseconds left, whatever the clocks);
//   2. POST /connect/redirect {flow, redirect_uri}: the client's `http://127.0.0.1:PORT/<43 characters>`; the
//      server makes the provider's URL for that address and answers {url};
//   3. POST /connect/redirect/answer {flow, params}: what the browser came back with; the factor judges it here
//      (the state first, then the code exchange) and the answer is the line the browser page shows.
// The client secret, the state and Duo's tokens stay on the server (S30). A flow lives in the memory of the
// replica that serves the login: several replicas route /connect/redirect to it (see the README).

import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MAX_REDIRECT_VALUE, REDIRECT_KEYS, type RedirectOutcome, type RedirectRequest, type RedirectReturn } from '../core/ceremony.js';
import { SsrunError } from '../core/errors.js';
import { API_BASE } from './protocol.js';

/** At most this many flows wait at once (each holds a login open): more are refused, not queued. */
const MAX_OPEN = 256;
const KEPT: readonly string[] = REDIRECT_KEYS;
export const LOOPBACK_REDIRECT = /^http:\/\/127\.0\.0\.1:(\d{1,5})\/[A-Za-z0-9_-]{43}$/;
const FLOW_ID = { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' };

interface Flow {
  uri?: string;
  answered: boolean;
  start(uri: string): Promise<string>;
  answer(params: Record<string, string>): Promise<{ ok: boolean; message: string }>;
}

const gone = () => new SsrunError('FLOW_NOT_FOUND', 'no such browser login on this server (it ended, or the id is wrong)');

export function serverRedirects() {
  const flows = new Map<string, Flow>();
  const bySubject = new Map<string, Flow>();

  async function redirect<T>(req: RedirectRequest, answer: (back: RedirectReturn) => Promise<RedirectOutcome<T>>): Promise<T> {
    // The flow's id reaches the client only in a streamed answer: without one, nobody could carry it on.
    if (!req.onProgress) throw new SsrunError('CEREMONY_UNAVAILABLE', 'a browser login needs the streamed answer (Accept: application/x-ndjson), which carries its flow');
    const subject = req.subject.toLowerCase();
    if (flows.size >= MAX_OPEN) throw new SsrunError('CEREMONY_UNAVAILABLE', `the server has ${MAX_OPEN} browser logins open; try again in a minute`);
    // One open flow per principal, and the one waiting is kept: a newer login (perhaps someone else's, with a
    // stolen password) must not end it for free. The one waiting ends at its deadline, counted, or when its
    // client goes away.
    if (bySubject.has(subject)) throw new SsrunError('ATTEMPTS_IN_FLIGHT', `a browser login of ${req.subject} is already waiting on this server; finish it, or try again once it ends`);
    const id = randomBytes(32).toString('base64url');
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<T>((resolve, reject) => {
        const flow: Flow = {
          answered: false,
          async start(uri) {
            if (flow.uri !== undefined) throw new SsrunError('USAGE', 'this browser login already has its loopback address');
            flow.uri = uri;
            try {
              return await req.build(uri);
            } catch (e) {
              reject(e);
              throw e;
            }
          },
          async answer(params) {
            if (flow.uri === undefined) throw new SsrunError('USAGE', 'this browser login has no loopback address yet (POST /connect/redirect first)');
            if (flow.answered) throw gone();
            flow.answered = true;
            try {
              const o = await answer({ params, redirectUri: flow.uri });
              resolve(o.result);
              return o.page;
            } catch (e) {
              reject(e);
              return { ok: false, message: e instanceof SsrunError ? e.message : 'the login failed; see the terminal' };
            }
          },
        };
        flows.set(id, flow);
        bySubject.set(subject, flow);
        // Once the browser came back, the factor's own exchange is bounded by the same deadline (its own error).
        timer = setTimeout(() => flow.answered || reject(new SsrunError('MFA_TIMEOUT', 'nothing came back from the browser in time')), Math.max(0, req.deadline - Date.now()));
        onAbort = () => reject(new SsrunError('CANCELLED', 'cancelled'));
        if (req.signal?.aborted) onAbort();
        req.signal?.addEventListener('abort', onAbort, { once: true });
        req.onProgress!({ kind: 'redirect', flow: id, message: req.message, deadline: req.deadline });
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) req.signal?.removeEventListener('abort', onAbort);
      const flow = flows.get(id);
      flows.delete(id);
      if (flow && bySubject.get(subject) === flow) bySubject.delete(subject);
    }
  }

  function register(app: FastifyInstance): void {
    const bodyOf = (r: { body: unknown }) => r.body as Record<string, unknown>;
    app.post(`${API_BASE}/connect/redirect`, {
      schema: { body: { type: 'object', additionalProperties: false, required: ['flow', 'redirect_uri'], properties: { flow: FLOW_ID, redirect_uri: { type: 'string', maxLength: 100 } } } },
    }, async (r, reply) => {
      const b = bodyOf(r);
      const flow = flows.get(String(b.flow));
      if (!flow) throw gone();
      const uri = String(b.redirect_uri);
      const m = LOOPBACK_REDIRECT.exec(uri);
      const port = Number(m?.[1]);
      if (!m || port < 1 || port > 65535) throw new SsrunError('USAGE', `redirect_uri: expected http://127.0.0.1:PORT/ and 43 base64url characters (the client's loopback address), received ${JSON.stringify(uri.slice(0, 60))}`);
      return reply.header('cache-control', 'no-store').send({ url: await flow.start(uri) });
    });
    app.post(`${API_BASE}/connect/redirect/answer`, {
      schema: { body: { type: 'object', additionalProperties: false, required: ['flow', 'params'], properties: { flow: FLOW_ID, params: { type: 'object', additionalProperties: false, properties: Object.fromEntries(KEPT.map((k) => [k, { type: 'string', maxLength: MAX_REDIRECT_VALUE }])) } } } },
    }, async (r, reply) => {
      const b = bodyOf(r);
      const params = b.params as Record<string, unknown>;
      // The schema says so too; checked here as well, whatever the server's validator options.
      if (!Object.entries(params).every(([k, v]) => KEPT.includes(k) && typeof v === 'string' && v.length <= MAX_REDIRECT_VALUE)) throw new SsrunError('USAGE', `params: only ${KEPT.join(', ')}, as strings of at most ${MAX_REDIRECT_VALUE} characters`);
      const flow = flows.get(String(b.flow));
      if (!flow) throw gone();
      return reply.header('cache-control', 'no-store').send(await flow.answer(params as Record<string, string>));
    });
  }

  return { redirect, register };
}
