// SQLite failures, translated into ssrun's error registry once, with messages that say what to do.

import { SsrunError } from '../core/errors.js';

export function translateStoreError(e: unknown, where: string): unknown {
  if (e instanceof SsrunError || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return e;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new SsrunError('STORE_BUSY', `the store at ${where} is busy (another ssrun is writing); nothing was changed, try again`);
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new SsrunError('STORE_CORRUPT', `the store at ${where} is damaged or not an ssrun database (${code}); refusing to use it. Restore it from a backup`);
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new SsrunError('STORE_READ_ONLY', `the store at ${where} is read-only (${code}); nothing was changed. Check the file and directory permissions`);
  }
  if (code === 'SQLITE_FULL') return new SsrunError('STORE_FULL', `the disk holding ${where} is full; nothing was changed`);
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return new SsrunError('STORE_READ_ONLY', `the store at ${where} cannot be opened or written (${code}); nothing was changed`);
  }
  return e;
}
