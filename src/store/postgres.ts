// The Store port on PostgreSQL, for several `ssrun serve` replicas on one database (S27). A pool per
// replica; each write is one READ COMMITTED transaction on one client, whose principal reads lock rows (see
// pg-ops.ts). The schema is versioned (pg-schema.ts): `ssrun migrate` applies it, a replica refuses a schema
// older or newer than it knows. The data key is sealed in the meta table like SQLite's; the master key comes
// from the key file or SSRUN_MASTER_KEY and never reaches the database. The password (in the URL, or
// PGPASSWORD) appears in no message: every error names the database by its redacted URL.

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type PgModule from 'pg';
import { SsrunError } from '../core/errors.js';
import type { Store, StoreOps } from '../core/ports.js';
import { DATA_KEY_AAD, keyId, newDataKey, open, seal } from './cipher.js';
import { loadMasterKey, type MasterKeySource } from './keys.js';
import { pgOps, type Query } from './pg-ops.js';
import { MIGRATION_LOCK, PG_MIGRATIONS, PG_MIN_SCHEMA_VERSION, PG_SCHEMA_VERSION } from './pg-schema.js';
import { isRetryable, redactUrl, translatePgError } from './pg-errors.js';
import { WRITE_DEADLINE_MS } from './serialized.js';
import type { Builtin } from './sqlite.js';

export { redactUrl };

const require = createRequire(import.meta.url);

export interface PgOpenOptions {
  url: string;
  /** Where the key file lives (master.key in --home) unless SSRUN_MASTER_KEY is given. */
  home: string;
  masterKey: Omit<MasterKeySource, 'keyFile'> & { keyFile?: string };
  builtins: Builtin[];
  /** Connections per replica (default 10). */
  poolSize?: number;
}

export interface OpenedPgStore {
  store: Store;
  /** The database as shown: its URL without a password. */
  path: string;
  close(): Promise<void>;
}

function newPool(url: string, size: number): { pool: PgModule.Pool; where: string } {
  const pg = require('pg') as typeof PgModule;
  let where: string;
  try {
    const u = new URL(url);
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error('scheme');
    where = redactedOf(u);
  } catch {
    throw new SsrunError('USAGE', '--database: expected a URL such as postgres://USER@HOST:5432/DB (a password goes in PGPASSWORD)');
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 15_000,
    lock_timeout: 10_000,
    idle_in_transaction_session_timeout: 30_000,
    application_name: 'ssrun',
  });
  // An idle client whose server went away (a restart) is dropped and replaced on the next use; without a
  // listener the event would end the process.
  pool.on('error', () => undefined);
  // The same for a client in use: its query fails (and is translated) instead.
  pool.on('connect', (client) => void client.on('error', () => undefined));
  return { pool, where };
}

const redactedOf = (u: URL) => redactUrl(u.href);

async function schemaVersion(q: Query, where: string): Promise<number> {
  const meta = (await q(`SELECT to_regclass('public.meta') IS NOT NULL AS present, (SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public') AS tables`)).rows[0] as { present: boolean; tables: number };
  if (!meta.present) {
    if (meta.tables > 0) throw new SsrunError('STORE_CORRUPT', `${where} has tables but is not an ssrun database; refusing to use it`);
    return 0;
  }
  const r = (await q(`SELECT value FROM meta WHERE key = 'schema_version'`)).rows[0] as { value: string } | undefined;
  return r ? Number(r.value) : 0;
}

/** One transaction on one client of the pool; rolled back when fn throws, the client dropped if it broke. */
async function transaction<T>(pool: PgModule.Pool, where: string, fn: (q: Query) => Promise<T>): Promise<T> {
  let client: PgModule.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw translatePgError(e, where);
  }
  let broken: Error | undefined;
  const q: Query = async (text, values) => {
    try {
      return await client.query(text, values);
    } catch (e) {
      throw translatePgError(e, where);
    }
  };
  try {
    await q('BEGIN');
    const result = await fn(q);
    await q('COMMIT');
    return result;
  } catch (e) {
    try {
      await client.query('ROLLBACK');
    } catch (rollback) {
      broken = rollback as Error;
    }
    throw translatePgError(e, where);
  } finally {
    client.release(broken);
  }
}

/** `ssrun migrate`: applies the missing migrations, one transaction each; returns the versions before and after. */
async function migrate(pool: PgModule.Pool, where: string): Promise<{ from: number; to: number }> {
  const from = await schemaVersion((t, v) => pool.query(t, v).catch((e: unknown) => Promise.reject(translatePgError(e, where))), where);
  if (from > PG_SCHEMA_VERSION) throw newerSchema(where, from);
  for (;;) {
    const done = await transaction(pool, where, async (q) => {
      await q(`SELECT pg_advisory_xact_lock($1)`, [MIGRATION_LOCK]);
      const v = await schemaVersion(q, where);
      if (v > PG_SCHEMA_VERSION) throw newerSchema(where, v);
      if (v === PG_SCHEMA_VERSION) return true;
      await q(PG_MIGRATIONS[v]!);
      await q(`INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [String(v + 1)]);
      return false;
    });
    if (done) return { from, to: PG_SCHEMA_VERSION };
  }
}

const newerSchema = (where: string, v: number) =>
  new SsrunError('STORE_NEWER_SCHEMA', `${where} has schema ${v}, newer than this ssrun knows (up to ${PG_SCHEMA_VERSION}); upgrade ssrun, the database was not touched`);

/** The data key: sealed under the master key once (by the first migrate), opened by every replica. */
async function dataKeyOf(pool: PgModule.Pool, where: string, source: MasterKeySource, create: boolean): Promise<{ dataKey: Buffer; created: boolean }> {
  const read = async (q: Query) => ((await q(`SELECT value FROM meta WHERE key = 'data_key'`)).rows[0] as { value: string } | undefined)?.value;
  if (create && !source.fromEnv) mkdirSync(dirname(source.keyFile), { recursive: true, mode: 0o700 });
  const loaded = loadMasterKey(source, { create });
  let created = false;
  const wrapped = await transaction(pool, where, async (q) => {
    await q(`SELECT pg_advisory_xact_lock($1)`, [MIGRATION_LOCK]);
    const existing = await read(q);
    if (existing !== undefined) return existing;
    if (!create) throw new SsrunError('STORE_OLDER_SCHEMA', `${where} has no data key yet: run \`ssrun migrate --database ${where}\` first`);
    const sealed = seal(loaded!.key, newDataKey(), DATA_KEY_AAD);
    await q(`INSERT INTO meta (key, value) VALUES ('data_key', $1)`, [sealed]);
    created = true;
    return sealed;
  });
  if (!loaded) throw new SsrunError('MASTER_KEY_MISSING', `the database ${where} is encrypted, but no master key was found: set SSRUN_MASTER_KEY or put the key file at ${source.keyFile}`);
  try {
    return { dataKey: open(loaded.key, wrapped, DATA_KEY_AAD), created };
  } catch {
    throw new SsrunError('MASTER_KEY_WRONG', `the master key (id ${keyId(loaded.key)}) does not open the database ${where} (sealed with key id ${wrapped.split('.')[1] ?? '?'}); nothing was changed. Use the key it was migrated with`);
  } finally {
    loaded.key.fill(0);
  }
}

async function addBuiltins(pool: PgModule.Pool, where: string, dataKey: Buffer, builtins: Builtin[]): Promise<void> {
  await transaction(pool, where, async (q) => {
    await q(`SELECT pg_advisory_xact_lock($1)`, [MIGRATION_LOCK]);
    const ops = pgOps(q, dataKey, true);
    for (const b of builtins) {
      if ((await q(`SELECT 1 FROM meta WHERE key = $1`, [b.key])).rows.length) continue;
      if (!(await ops.findConfig(b.config.Name))) await ops.insertConfig(b.config, new Date().toISOString());
      await q(`INSERT INTO meta (key, value) VALUES ($1, '1')`, [b.key]);
    }
  });
}

/** Runs of a write transaction that lost a deadlock or a serialization failure, in all (then STORE_BUSY). */
export const WRITE_RUNS = 3;

/** run() again, after a short jittered pause, while it loses a deadlock or a serialization failure (at most WRITE_RUNS in all). */
async function retried<T>(run: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await run();
    } catch (e) {
      if (n >= WRITE_RUNS || !isRetryable(e)) throw e;
      await new Promise((r) => setTimeout(r, n * (5 + Math.random() * 20)));
    }
  }
}

function storeOn(pool: PgModule.Pool, where: string, dataKey: Buffer): Store {
  const outer = pgOps(async (text, values) => {
    try {
      return await pool.query(text, values);
    } catch (e) {
      throw translatePgError(e, where);
    }
  }, dataKey, false);
  // A transaction PostgreSQL rolled back to break a deadlock, or for a serialization failure, changed nothing
  // and is run again from the start (fn reads and decides again; it makes no call outside the store).
  const write = <T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> =>
    retried(() => transaction(pool, where, async (q) => {
      let open = true;
      const guarded: Query = (text, values) => {
        if (!open) throw new SsrunError('INTERNAL', 'store misuse: a transaction was used after it ended');
        return q(text, values);
      };
      // As on SQLite (serialized.ts): a transaction that does not finish is a bug; it is rolled back and
      // reported instead of holding its locks (PostgreSQL's idle_in_transaction_session_timeout backs this up).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SsrunError('INTERNAL', `store misuse: a transaction did not finish within ${WRITE_DEADLINE_MS / 1000} s; rolled back`)), WRITE_DEADLINE_MS);
        timer.unref?.();
      });
      try {
        return await Promise.race([fn(pgOps(guarded, dataKey, true)), stuck]);
      } finally {
        clearTimeout(timer);
        open = false;
      }
    }));
  return { ...outer, write };
}

const keySourceOf = (opts: PgOpenOptions): MasterKeySource => ({ fromEnv: opts.masterKey.fromEnv, keyFile: opts.masterKey.keyFile ?? join(opts.home, 'master.key') });

/** `ssrun migrate --database URL`: the schema, the data key (the key file is created in --home if absent) and the built-in configurations. */
export async function migratePg(opts: PgOpenOptions): Promise<{ path: string; from: number; to: number; dataKeyCreated: boolean }> {
  const { pool, where } = newPool(opts.url, 2);
  try {
    const { from, to } = await migrate(pool, where);
    const { dataKey, created } = await dataKeyOf(pool, where, keySourceOf(opts), true);
    await addBuiltins(pool, where, dataKey, opts.builtins);
    return { path: where, from, to, dataKeyCreated: created };
  } finally {
    await pool.end();
  }
}

/** A replica's store: refuses a schema it does not know, or one older than it needs, with the command to run. */
export async function openPgStore(opts: PgOpenOptions): Promise<OpenedPgStore> {
  const { pool, where } = newPool(opts.url, opts.poolSize ?? 10);
  try {
    const v = await schemaVersion((t, vals) => pool.query(t, vals).catch((e: unknown) => Promise.reject(translatePgError(e, where))), where);
    if (v > PG_SCHEMA_VERSION) throw newerSchema(where, v);
    if (v < PG_MIN_SCHEMA_VERSION) {
      throw new SsrunError('STORE_OLDER_SCHEMA', `${where} has schema ${v}; this ssrun needs ${PG_MIN_SCHEMA_VERSION} to ${PG_SCHEMA_VERSION}: run \`ssrun migrate --database ${where}\``);
    }
    const { dataKey } = await dataKeyOf(pool, where, keySourceOf(opts), false);
    await addBuiltins(pool, where, dataKey, opts.builtins);
    return { store: storeOn(pool, where, dataKey), path: where, close: () => pool.end() };
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
}
