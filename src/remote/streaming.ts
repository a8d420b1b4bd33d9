// Long requests (a login waiting for a push, a key ceremony): JSON in and out, or, when the client asks with
// Accept: application/x-ndjson, progress lines and then the result (or the error) as one JSON per line. The
// work is cancelled when the client goes away or the server shuts down (a push nobody waits for is denied).

import type { FastifyReply } from 'fastify';
import type { SsrunError } from '../core/errors.js';
import type { ProgressEvent } from '../core/ports.js';
import { NDJSON, errorBody } from './protocol.js';
import type { Req } from './routes.js';

export type StreamedWork = (ctx: { onProgress?: (e: ProgressEvent) => void; signal: AbortSignal }) => Promise<unknown>;

/**
 * The line a progress event becomes: its message, and a ceremony's URL and deadline, a redirect ceremony's flow,
 * or what a wait is for; times left in ms (the client counts by its own clock).
 */
function progressLine(e: ProgressEvent) {
  const leftMs = (deadline: number) => Math.max(0, deadline - Date.now());
  if (e.kind === 'ceremony') return { progress: e.message, ceremony: { url: e.url, deadline: e.deadline } };
  if (e.kind === 'redirect') return { progress: e.message, redirect: { flow: e.flow, leftMs: leftMs(e.deadline) } };
  if (e.kind === 'waiting') return { progress: e.message, waiting: { factor: e.factor, ...(e.device !== undefined ? { device: e.device } : {}), leftMs: leftMs(e.deadline) } };
  return { progress: e.message };
}

export async function streamed(req: Req, reply: FastifyReply, shuttingDown: AbortSignal, work: StreamedWork, asError: (e: unknown) => SsrunError): Promise<unknown> {
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  const onShutdown = () => abort.abort();
  shuttingDown.addEventListener('abort', onShutdown, { once: true });
  reply.raw.on('close', () => shuttingDown.removeEventListener('abort', onShutdown));
  const stream = String(req.headers.accept ?? '').includes(NDJSON);
  if (!stream) return reply.send(await work({ signal: abort.signal }));

  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': NDJSON, 'cache-control': 'no-store' });
  const line = (v: unknown) => reply.raw.write(`${JSON.stringify(v)}\n`);
  try {
    line({ result: await work({ signal: abort.signal, onProgress: (e) => line(progressLine(e)) }) });
  } catch (e) {
    line(errorBody(asError(e)));
  }
  reply.raw.end();
  return reply;
}
