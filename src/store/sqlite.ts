// The Store port on better-sqlite3 (S1–S4): WAL, synchronous=FULL, foreign keys, busy timeout, every write
// in BEGIN IMMEDIATE, versioned migrations, refusal of foreign, damaged or newer databases. Secrets are
// sealed with the data key (see cipher.ts) on the way in and opened on the way out.

import Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SsrunError } from '../core/errors.js';
import type { MfaConfig } from '../core/model.js';
import type { Store } from '../core/ports.js';
import { DATA_KEY_AAD, keyId, newDataKey, open, seal } from './cipher.js';
import { translateStoreError } from './errors.js';
import { loadMasterKey, type MasterKeySource } from './keys.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { sqliteOps } from './sqlite-ops.js';
import { serialized } from './serialized.js';
import type { splitStore as SplitStore } from './split-store.js';
import { builtinConfigs } from '../core/factor.js';
import { defaultFactors } from '../providers/registry.js';

export { SCHEMA_VERSION } from './schema.js';

// better-sqlite3 is CommonJS: require() it directly, and hand it its addon's path so it need not search for
// it with the `bindings` package on every start (start-up time, see bench/).
const require = createRequire(import.meta.url);
type Database = Database.Database;
let nativeBinding: string | undefined;
function addonPath(): string | undefined {
  if (nativeBinding === undefined) {
    try {
      nativeBinding = require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    } catch {
      nativeBinding = '';
    }
  }
  return nativeBinding || undefined;
}

export const DB_FILE = 'ssrun.db';
export const KEY_FILE = 'master.key';

/** A configuration every store starts with, added once under its key (deleting it is then for good). */
export interface Builtin {
  /** The meta key that records it was added (`builtin_totp`). */
  key: string;
  config: MfaConfig & { secretKeys: readonly string[] };
}

export interface OpenOptions {
  home: string;
  masterKey: Omit<MasterKeySource, 'keyFile'> & { keyFile?: string };
  /** The factor providers' built-in configurations. */
  builtins?: Builtin[];
  /**
   * How writes and reads share the file (`ssrun serve`: splitStore, two connections); by default one connection,
   * which is what a CLI command wants.
   */
  writer?: typeof SplitStore;
}

export interface OpenedStore {
  store: Store;
  db: Database;
  path: string;
  /** True when this call created the store (and perhaps its key file). */
  created: boolean;
  keyFileCreated: boolean;
  /** Closes the store (split: once the writes queued have committed). */
  close(): void | Promise<void>;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

function checkHeader(path: string): 'empty' | 'sqlite' {
  const size = statSync(path).size;
  if (size === 0) return 'empty';
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    readSync(fd, buf, 0, 16, 0);
    if (!buf.equals(SQLITE_HEADER)) throw new SsrunError('STORE_CORRUPT', `${path} is not an SQLite database; refusing to use or overwrite it`);
  } finally {
    closeSync(fd);
  }
  return 'sqlite';
}

/** A connection to an existing store file (`ssrun serve` opens a second one for its writers: split-store.ts). */
export function openFile(path: string): Database {
  const binding = addonPath();
  return new Database(path, binding ? { fileMustExist: true, nativeBinding: binding } : { fileMustExist: true });
}

/** What every connection to a store sets (WAL is the file's own, set once in setUp). */
export function connectionPragmas(db: Database): void {
  db.pragma('busy_timeout = 10000');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
}

export function openSqliteStore(opts: OpenOptions): OpenedStore {
  mkdirSync(opts.home, { recursive: true, mode: 0o700 });
  const path = join(opts.home, DB_FILE);
  const existed = existsSync(path) && checkHeader(path) === 'sqlite';
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  let db: Database;
  try {
    db = openFile(path);
  } catch (e) {
    throw translateStoreError(e, path);
  }
  try {
    return setUp(db, path, existed, opts);
  } catch (e) {
    db.close();
    throw translateStoreError(e, path);
  }
}

/**
 * What a new store holds (the built-in configurations), in memory under a throw-away key: a read of a store that
 * does not exist yet shows it and creates no file.
 */
export function openEmptySqliteStore(opts: { builtins?: Builtin[] }): OpenedStore {
  const binding = addonPath();
  const db = new Database(':memory:', binding ? { nativeBinding: binding } : {});
  try {
    return setUp(db, ':memory:', false, { home: '', masterKey: { fromEnv: randomBytes(32).toString('base64') }, builtins: opts.builtins });
  } catch (e) {
    db.close();
    throw translateStoreError(e, ':memory:');
  }
}

function setUp(db: Database, path: string, existed: boolean, opts: OpenOptions): OpenedStore {
  connectionPragmas(db);
  // A current store of ours costs two reads here (application_id, user_version); anything else is looked at closer.
  let version = 0;
  if (existed) {
    const appId = db.pragma('application_id', { simple: true }) as number;
    if (appId !== APPLICATION_ID) {
      const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_schema`).pluck().get() as number;
      // Another program's database: it has tables of its own, or it is marked with another application_id.
      if (tables > 0 || appId !== 0) throw new SsrunError('STORE_CORRUPT', `${path} is an SQLite database but not an ssrun store; refusing to use it`);
    }
    version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new SsrunError('STORE_NEWER_SCHEMA', `${path} was written by a newer ssrun (schema ${version}; this ssrun knows up to ${SCHEMA_VERSION}); upgrade ssrun, the store was not touched`);
    }
  }
  if ((db.pragma('journal_mode', { simple: true }) as string).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL');

  // The version is read again inside the transaction: a concurrent first use may have migrated meanwhile.
  const migrate = db.transaction(() => {
    const now = db.pragma('user_version', { simple: true }) as number;
    if (now > SCHEMA_VERSION) throw new SsrunError('STORE_NEWER_SCHEMA', `${path} was written by a newer ssrun (schema ${now})`);
    for (let v = now; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (now < SCHEMA_VERSION) {
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
  });
  if (version < SCHEMA_VERSION) migrate.immediate();

  const keySource: MasterKeySource = { fromEnv: opts.masterKey.fromEnv, keyFile: opts.masterKey.keyFile ?? join(opts.home, KEY_FILE) };
  let keyFileCreated = false;
  let created = false;
  const readWrapped = () => db.prepare(`SELECT value FROM meta WHERE key = 'data_key'`).pluck().get() as string | undefined;
  let wrapped = readWrapped();
  let master: Buffer;
  if (wrapped === undefined) {
    // A new store: seal a fresh data key under the master key, once (a concurrent creator may win).
    const loaded = loadMasterKey(keySource, { create: true })!;
    master = loaded.key;
    keyFileCreated = loaded.created;
    db.transaction(() => {
      wrapped = readWrapped();
      if (wrapped === undefined) {
        wrapped = seal(master, newDataKey(), DATA_KEY_AAD);
        db.prepare(`INSERT INTO meta (key, value) VALUES ('data_key', ?)`).run(wrapped);
        created = true;
      }
    }).immediate();
  } else {
    const loaded = loadMasterKey(keySource, { create: false });
    if (!loaded) {
      throw new SsrunError('MASTER_KEY_MISSING', `the store at ${path} is encrypted, but no master key was found: set SSRUN_MASTER_KEY or restore ${keySource.keyFile}`);
    }
    master = loaded.key;
  }
  let dataKey: Buffer;
  try {
    dataKey = open(master, wrapped!, DATA_KEY_AAD);
  } catch {
    const sealedWith = wrapped!.split('.')[1] ?? '?';
    throw new SsrunError(
      'MASTER_KEY_WRONG',
      `the master key (id ${keyId(master)}) does not open the store at ${path} (sealed with key id ${sealedWith}); nothing was changed. Use the key this store was created with`,
    );
  }
  master.fill(0);
  const ops = sqliteOps(db, dataKey);
  addBuiltins(db, ops, opts.builtins ?? builtinConfigs(defaultFactors()));
  if (opts.writer) {
    const w = opts.writer(db, ops, path, dataKey);
    return { store: w.store, db, path, created, keyFileCreated, close: w.close };
  }
  return { store: serialized(db, ops, path), db, path, created, keyFileCreated, close: () => void db.close() };
}

/** The providers' built-in configurations, each added once per store (deleting one is then for good). */
function addBuiltins(db: Database, ops: ReturnType<typeof sqliteOps>, builtins: Builtin[]): void {
  const added = (key: string) => db.prepare(`SELECT 1 FROM meta WHERE key = ?`).pluck().get(key) !== undefined;
  const missing = builtins.filter((b) => !added(b.key));
  if (missing.length === 0) return;
  db.transaction(() => {
    for (const b of missing) {
      if (added(b.key)) continue;
      if (!ops.findConfig(b.config.Name)) ops.insertConfig(b.config, new Date().toISOString());
      db.prepare(`INSERT INTO meta (key, value) VALUES (?, '1')`).run(b.key);
    }
  }).immediate();
}
