// PostgreSQL and connection failures, translated into ssrun's error registry once. Messages name the database
// by its redacted URL and carry no text from the driver (which could quote a value), only the SQLSTATE.

import { SsrunError } from '../core/errors.js';
import { UNIQUE_CONFLICTS } from './pg-schema.js';

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'the database';
  }
}

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const BUSY = new Set(['40001', '40P01', '55P03', '57014']);

/** A deadlock or a serialization failure: PostgreSQL rolled the whole transaction back, and running it again is the cure. */
const RETRYABLE = new Set(['40001', '40P01']);
const retryable = new WeakSet<SsrunError>();
/** The STORE_BUSY of a transaction that lost a deadlock or a serialization failure (postgres.ts runs it again). */
export const isRetryable = (e: unknown): boolean => e instanceof SsrunError && retryable.has(e);

const unreachable = (where: string, why: string) =>
  new SsrunError('STORE_UNREACHABLE', `the database ${where} cannot be reached (${why}); nothing was changed, try again`);

export function translatePgError(e: unknown, where: string): unknown {
  if (e instanceof SsrunError || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (typeof code === 'string' && NETWORK.has(code)) return unreachable(where, code);
  if (!sqlstate) {
    // node-postgres' own errors: a lost connection, a pool that could not connect in time, a closed pool.
    if (/Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|Cannot use a pool after calling end/i.test(e.message)) {
      return unreachable(where, 'connection lost');
    }
    return e;
  }
  if (sqlstate.startsWith('08') || sqlstate.startsWith('57P') || sqlstate === '53300') return unreachable(where, `SQLSTATE ${sqlstate}`);
  if (sqlstate === '28P01' || sqlstate === '28000') return unreachable(where, 'authentication failed: check the user and PGPASSWORD');
  if (sqlstate === '3D000') return unreachable(where, 'no such database');
  if (BUSY.has(sqlstate)) {
    const busy = new SsrunError('STORE_BUSY', `the database ${where} is busy (SQLSTATE ${sqlstate}); nothing was changed, try again`);
    if (RETRYABLE.has(sqlstate)) retryable.add(busy);
    return busy;
  }
  if (sqlstate === '23505') {
    const c = UNIQUE_CONFLICTS[(e as { constraint?: string }).constraint ?? ''];
    if (c) return new SsrunError(c.code, c.what);
  }
  if (sqlstate === '53100') return new SsrunError('STORE_FULL', `the disk of the database ${where} is full; nothing was changed`);
  if (sqlstate === '25006') return new SsrunError('STORE_READ_ONLY', `the database ${where} is read-only (a standby?); nothing was changed`);
  if (sqlstate.startsWith('42')) return new SsrunError('STORE_OLDER_SCHEMA', `the database ${where} does not have the schema this ssrun expects (SQLSTATE ${sqlstate}): run \`ssrun migrate --database ${where}\``);
  return new SsrunError('INTERNAL', `the database ${where} refused a statement (SQLSTATE ${sqlstate})`);
}
