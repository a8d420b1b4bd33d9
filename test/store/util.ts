// Helpers shared by the store tests: the built store modules, byte-level snapshots of a store directory,
// and a raw SQLite handle for looking at (or tampering with) what is on disk.

import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';

export const DIST = join(ROOT, 'dist');

// The compiled modules (bin/ssrun runs the same code).
export const sqlite: typeof import('../../src/store/sqlite.js') = await import(join(DIST, 'store', 'sqlite.js'));
export const cipher: typeof import('../../src/store/cipher.js') = await import(join(DIST, 'store', 'cipher.js'));

export const dbPath = (home: string) => join(home, 'ssrun.db');
export const keyPath = (home: string) => join(home, 'master.key');

/** Every file of a directory (not recursive) with the SHA-256 of its bytes. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const st = lstatSync(join(dir, name));
    out[name] = st.isFile()
      ? createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')
      : st.isSymbolicLink()
        ? `symlink to ${readlinkSync(join(dir, name))}`
        : `directory ${JSON.stringify(readdirSync(join(dir, name)))}`;
  }
  return out;
}

/** A raw connection to the store's database file (no ssrun logic). */
export function raw(home: string, opts: Database.Options = {}): Database.Database {
  return new Database(dbPath(home), { fileMustExist: true, ...opts });
}

/** A random master key as SSRUN_MASTER_KEY would carry it (base64 of 32 bytes). */
export function newMasterKey(): string {
  return randomBytes(32).toString('base64');
}

/** A config document for `mfa create -f -`. */
export function duoConfig(name: string, secretKey: string, ikey = 'DIXXXXXXXXXXXXXXXXXX'): string {
  return JSON.stringify({ Type: 'duo', Name: name, Options: { IntegrationKey: ikey, SecretKey: secretKey, Host: 'api-12345678.duosecurity.com' } });
}

/** A secret-looking random string (not a substring of anything else by chance). */
export function randomSecret(prefix: string): string {
  return `${prefix}-${randomBytes(18).toString('base64url')}`;
}

/** The one-line-error contract: a single line on stderr, with the code, and no stack trace. */
export function expectOneLineError(stderr: string, code: string): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1 || !lines[0]!.startsWith('ssrun: error: ') || !lines[0]!.endsWith(`(${code})`) || /\n\s+at /.test(stderr)) {
    throw new Error(`expected one error line ending in (${code}), got:\n${stderr}`);
  }
}
