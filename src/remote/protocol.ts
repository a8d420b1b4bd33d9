// What the server and the client agree on: where the API lives, how an error travels, which HTTP status
// each error code answers with. The client turns {"error":{"code","message"}} back into the same SsrunError
// the embedded store would have thrown, so every command prints the same line and exits the same way.

import { ERROR_CODES, SsrunError, isErrorCode, type ErrorCode } from '../core/errors.js';

export const API_BASE = '/secretssafe/api/v1';
/** Content type of a login answer streamed as progress lines, then the result (client's choice). */
export const NDJSON = 'application/x-ndjson';

export interface ErrorBody {
  error: { code: string; message: string; detail?: Record<string, unknown> };
}

const SPECIAL: Partial<Record<ErrorCode, number>> = {
  INPUT_TOO_LARGE: 413,
  REQUEST_TIMEOUT: 408,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  RATE_LIMITED: 429,
  UNAUTHENTICATED: 401,
  SESSION_EXPIRED: 401,
  INTERNAL: 500,
  CANCELLED: 499,
};

const BY_FAMILY: Record<(typeof ERROR_CODES)[ErrorCode], number> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  AUTH_DENIED: 401,
  LOCKED_OUT: 423,
  PROVIDER_UNAVAILABLE: 502,
  STORE_UNAVAILABLE: 503,
  FORBIDDEN: 403,
  CANCELLED: 499,
  INTERNAL: 500,
};

export function httpStatusOf(code: ErrorCode): number {
  return SPECIAL[code] ?? BY_FAMILY[ERROR_CODES[code]];
}

export function errorBody(e: SsrunError): ErrorBody {
  return { error: { code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) } };
}

/** The SsrunError an error body stands for; an unknown code is a protocol error, not trusted as-is. */
export function errorFromBody(body: unknown, status: number): SsrunError {
  const err = (body as Partial<ErrorBody> | null)?.error;
  if (err && typeof err.message === 'string' && isErrorCode(err.code)) return new SsrunError(err.code, err.message, err.detail);
  return new SsrunError('SERVER_PROTOCOL', `the server answered HTTP ${status} without an ssrun error${err?.code ? ` (code ${JSON.stringify(String(err.code)).slice(0, 60)})` : ''}`);
}
