// The master key (S6, S7): from SSRUN_MASTER_KEY (read once, then removed from the environment by the
// CLI), or from a key file beside the database that only its owner can read. Never stored in the database.

import { closeSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SsrunError } from '../core/errors.js';

export interface MasterKeySource {
  /** The key given through the environment, if any (already removed from process.env). */
  fromEnv?: string | undefined;
  /** Where the key file lives (or will be created). */
  keyFile: string;
}

export function parseMasterKey(text: string, source: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(t)) key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!key || key.length !== 32) {
    throw new SsrunError('MASTER_KEY_INVALID', `${source}: expected a 256-bit key as 44 base64 or 64 hex characters, received ${t.length} characters`);
  }
  return key;
}

/** S7: like OpenSSH, refuse a key file others could read or replace. */
function checkKeyFile(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) throw new SsrunError('MASTER_KEY_UNSAFE', `key file ${path} is a symbolic link; refusing it. Replace it with the key file itself`);
  if (!st.isFile()) throw new SsrunError('MASTER_KEY_UNSAFE', `key file ${path} is not a regular file; refusing it`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new SsrunError('MASTER_KEY_UNSAFE', `key file ${path} is owned by uid ${st.uid}, not by you (uid ${process.getuid()}); refusing it. Fix: chown "$(id -u)" ${path}`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new SsrunError('MASTER_KEY_UNSAFE', `key file ${path} is accessible by group or others (mode ${(st.mode & 0o777).toString(8)}); refusing it. Fix: chmod 600 ${path}`);
  }
}

export function readKeyFile(path: string): Buffer | undefined {
  try {
    lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  checkKeyFile(path);
  return parseMasterKey(readFileSync(path, 'utf8'), `key file ${path}`);
}

/** Creates the key file atomically (0600): a concurrent creator's key wins and is returned. */
export function createKeyFile(path: string): Buffer {
  const key = randomBytes(32);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(path)!;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

export function loadMasterKey(src: MasterKeySource, opts: { create: boolean }): { key: Buffer; created: boolean } | undefined {
  if (src.fromEnv !== undefined && src.fromEnv !== '') return { key: parseMasterKey(src.fromEnv, 'SSRUN_MASTER_KEY'), created: false };
  const existing = readKeyFile(src.keyFile);
  if (existing) return { key: existing, created: false };
  if (!opts.create) return undefined;
  return { key: createKeyFile(src.keyFile), created: true };
}
