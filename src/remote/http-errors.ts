// Refusals below fastify's routing, in our error shape: what Node's HTTP parser rejects before a request
// exists (headers over the limit, framing errors, the slow-request timeout), answered on the raw socket; and
// a body over the limit, whose upload is drained (bounded) before the answer, so the client reads a 413
// instead of a connection reset.

import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { SsrunError, type ErrorCode } from '../core/errors.js';
import { errorBody, httpStatusOf } from './protocol.js';

/** What the parser's error means, as one of our codes. */
function fromParser(err: NodeJS.ErrnoException, requestTimeoutMs: number): SsrunError {
  const code = err.code ?? '';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new SsrunError('REQUEST_TIMEOUT', `request: not received in time (${Math.round(requestTimeoutMs / 1000)} s for the whole request)`);
  if (code === 'HPE_HEADER_OVERFLOW') return new SsrunError('HEADERS_TOO_LARGE', 'request: the request line and headers are over the size limit');
  if (code === 'HPE_URI_TOO_LONG') return new SsrunError('URI_TOO_LONG', 'request: the URL is too long');
  const what: Record<string, string> = {
    HPE_UNEXPECTED_CONTENT_LENGTH: 'both Content-Length and Transfer-Encoding',
    HPE_INVALID_CONTENT_LENGTH: 'an invalid or repeated Content-Length',
    HPE_INVALID_TRANSFER_ENCODING: 'an invalid Transfer-Encoding',
    HPE_INVALID_CHUNK_SIZE: 'an invalid chunk size',
  };
  return new SsrunError('BAD_REQUEST', `request: malformed HTTP (${what[code] ?? (code.replace(/[^A-Z0-9_]/g, '').slice(0, 40) || 'unreadable')})`);
}

const LINGER_MS = 1000;

/** fastify's clientErrorHandler: the answer is written, then the connection closes (after a bounded linger). */
export const clientErrorHandler = (requestTimeoutMs: number) => (err: NodeJS.ErrnoException, socket: Socket): void => {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = fromParser(err, requestTimeoutMs);
  const status = httpStatusOf(e.code as ErrorCode);
  const body = JSON.stringify(errorBody(e));
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`);
  }
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
};

/** Reads and drops what is left of an upload (at most `maxMs`), so the answer is not lost to a reset. */
export function drain(req: IncomingMessage, maxMs = 2000): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    req.on('end', done).on('error', done).on('close', done);
    req.resume();
  });
}
