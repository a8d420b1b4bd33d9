// `ssrun serve --public-url https://HOST[:PORT]`: browser ceremonies on the server's own origin. Each
// ceremony is a one-shot slot (src/ceremony/slot.ts) at /ceremony/<256-bit secret>; the CLI that asked for
// it gets the URL in its streamed answer, opens it, and waits. The relying-party id is HOST; the browser must
// report exactly the public origin. A slot lives in the memory of the replica that serves the request, so
// several replicas need the ceremony paths routed to that replica (the URL names it): see the README.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CeremonyAnswer, CeremonyRequest, CeremonySite, KeyCeremonies } from '../core/ceremony.js';
import { SsrunError } from '../core/errors.js';
import { createSlot, randomPath, waitingMessage, type Slot } from '../ceremony/slot.js';

export const CEREMONY_BASE = '/ceremony';
/** At most this many ceremonies wait at once (each holds a request open): more are refused, not queued. */
const MAX_OPEN = 256;

/** Reads --public-url: an https origin (browsers allow WebAuthn on https and on localhost only), no path, query or user. */
export function parsePublicUrl(raw: string): { site: CeremonySite; host: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SsrunError('USAGE', `--public-url: expected https://HOST[:PORT], received ${JSON.stringify(raw).slice(0, 80)}`);
  }
  if (u.protocol !== 'https:') throw new SsrunError('USAGE', `--public-url: expected an https:// origin (browsers allow security keys on https only), received ${u.protocol}//`);
  if (u.username || u.password || (u.pathname !== '/' && u.pathname !== '') || u.search || u.hash) throw new SsrunError('USAGE', `--public-url: expected only a scheme, host and port (https://HOST[:PORT]), received ${JSON.stringify(raw).slice(0, 80)}`);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(u.hostname) || u.hostname.startsWith('[')) throw new SsrunError('USAGE', `--public-url: security keys need a host name, not an IP address (received ${u.hostname})`);
  return { site: { rpId: u.hostname, origin: u.origin }, host: u.host };
}

export function publicCeremony(publicUrl: string): { ceremony: KeyCeremonies; register(app: FastifyInstance): void } {
  const { site, host } = parsePublicUrl(publicUrl);
  const slots = new Map<string, Slot>();
  /** One open ceremony per principal: a new one ends the one before (a user, or a thief, cannot hold many). */
  const bySubject = new Map<string, Slot>();
  let open = 0;
  const ceremony: KeyCeremonies = {
    async run(req: CeremonyRequest): Promise<CeremonyAnswer> {
      // The URL reaches the CLI only in a streamed answer: without one, nobody could open the page.
      if (!req.onProgress) throw new SsrunError('CEREMONY_UNAVAILABLE', 'a key ceremony needs the streamed answer (Accept: application/x-ndjson), which carries its URL');
      const subject = req.subject.toLowerCase();
      bySubject.get(subject)?.close();
      if (open >= MAX_OPEN) throw new SsrunError('CEREMONY_UNAVAILABLE', `the server has ${MAX_OPEN} key ceremonies open; try again in a minute`);
      // Counted before the options are made (no await between the check and the count).
      open++;
      const path = `${CEREMONY_BASE}${randomPath()}`;
      let slot: Slot | undefined;
      try {
        const options = await req.build(site);
        const context = `asked for by a command line at ${req.from ?? 'an unknown address'} on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
        slot = createSlot({ site, host, path, kind: req.kind, title: req.title, options, context, deadline: req.deadline, ...(req.signal ? { signal: req.signal } : {}) });
        slots.set(path, slot);
        bySubject.set(subject, slot);
        const message = waitingMessage(req.kind);
        req.onProgress?.({ kind: 'ceremony', url: `${site.origin}${path}`, message, deadline: req.deadline });
        return await slot.answer;
      } finally {
        open--;
        slots.delete(path);
        if (slot && bySubject.get(subject) === slot) bySubject.delete(subject);
        slot?.close();
      }
    },
  };
  const serve = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? '';
    const slot = slots.get(path);
    if (!slot) return reply.code(404).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send('no such ceremony (it ended, or the URL is wrong)\n');
    const out = slot.handle({
      method: request.method,
      path,
      host: request.headers.host,
      origin: request.headers.origin,
      contentType: request.headers['content-type'],
      body: typeof request.body === 'string' ? request.body : '',
    });
    return reply.code(out.status).headers(out.headers).send(out.body);
  };
  return {
    ceremony,
    register(app) {
      // The page posts its answer as JSON: taken as text here, for the slot to parse and bound (64 KiB).
      void app.register(async (scope) => {
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
        scope.get(`${CEREMONY_BASE}/:secret`, serve);
        scope.post(`${CEREMONY_BASE}/:secret`, serve);
      });
    },
  };
}
