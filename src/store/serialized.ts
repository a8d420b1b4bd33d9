// The asynchronous Store port over better-sqlite3's synchronous operations (S1–S3): one transaction at a
// time per connection, serialized inside the process. `write` runs its function in BEGIN IMMEDIATE (so a
// read-modify-write never upgrades and meets SQLITE_BUSY) and resolves once it is committed, or rolls it back
// and rejects when it throws. Writers that wait meanwhile are committed together (group commit): the next
// transaction runs them one after the other, each in a savepoint of its own (one that throws is rolled back
// to it alone), and commits once, so a burst of writers costs one fsync (synchronous=FULL) per group instead
// of one each. A write resolves only after the COMMIT that made it durable. While a transaction is open,
// other callers of this process wait for it (they would otherwise see its uncommitted rows on the same
// connection); between two groups they run first. Inside the function only `tx` may be used: a call on the
// outer store from there would wait for itself (test/layout.test.ts checks the use cases for it). No
// AsyncLocalStorage: on Node 20 it would put a hook on every promise of the process. The groups run on a
// TxConn: the one connection of `serialized` (a CLI command), or the writers' connection of `ssrun serve`
// (split-store.ts, whose reads run on a connection of their own and do not wait).

import type DatabaseConstructor from 'better-sqlite3';
import { SsrunError } from '../core/errors.js';
import type { Store, StoreOps } from '../core/ports.js';
import { translateStoreError } from './errors.js';
import type { SyncOps } from './sqlite-ops.js';

type Database = DatabaseConstructor.Database;

/** The longest a write may keep the transaction (they hold the write lock; none needs more than milliseconds). */
export const WRITE_DEADLINE_MS = 30_000;
/** The most writers committed together. */
export const MAX_GROUP = 64;

interface Job {
  fn: (tx: StoreOps) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type JobResult = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The statements that frame writers: the only SQL a connection runs besides the store's operations. */
export type TxStatement = 'BEGIN IMMEDIATE' | 'SAVEPOINT w' | 'RELEASE w' | 'ROLLBACK TO w; RELEASE w' | 'COMMIT' | 'ROLLBACK';

/**
 * The connection the writers run on: `serialized`'s one connection, or the writers' own connection of
 * split-store.ts (whose `exec` may give the event loop a turn before a writer starts).
 */
export interface TxConn {
  path: string;
  /** Runs a framing statement; rejects (or throws) with the store's error, translated. */
  exec(sql: TxStatement): void | Promise<void>;
  /** Whether the connection is in a transaction (SQLite ends one by itself on a full disk or an I/O error). */
  inTransaction(): boolean;
  /** The operations on this connection, each run once `ready` says so (checked again after every wait). */
  bind(ready: () => Promise<void> | undefined): StoreOps;
}

const misuse = (what: string) => new SsrunError('INTERNAL', `store misuse: ${what}`);

/** One writer in the open transaction, in a savepoint: its result, or its error once its changes are undone. */
async function runJob(c: TxConn, job: Job): Promise<JobResult> {
  let open = true;
  const tx = c.bind(() => {
    if (!open) throw misuse('a transaction was used after it ended');
    // SQLite rolled the transaction back itself (a full disk, an I/O error): nothing more may run as if in it.
    if (!c.inTransaction()) throw misuse('the transaction was rolled back by SQLite');
    return undefined;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A write that does not finish is a bug (a slow call inside, or the outer store waiting for this one): it
  // is rolled back and reported instead of holding the write lock for ever.
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(misuse(`a transaction did not finish within ${WRITE_DEADLINE_MS / 1000} s; rolled back`)), WRITE_DEADLINE_MS);
    timer.unref?.();
  });
  try {
    await c.exec('SAVEPOINT w');
    const value = await Promise.race([job.fn(tx), stuck]);
    open = false;
    await c.exec('RELEASE w');
    return { ok: true, value };
  } catch (e) {
    open = false;
    try {
      // (SQLite may have rolled the whole transaction back itself: a full disk, an I/O error.)
      if (c.inTransaction()) await c.exec('ROLLBACK TO w; RELEASE w');
    } catch {
      // The savepoint could not be undone: nothing of this transaction may commit (its writer was told it
      // failed). The whole transaction goes; the group's runner sees it lost.
      try {
        if (c.inTransaction()) await c.exec('ROLLBACK');
      } catch {
        // the error that made us roll back is the one to report
      }
    }
    return { ok: false, error: translateStoreError(e, c.path) };
  } finally {
    clearTimeout(timer);
    open = false;
  }
}

/** Runs the writers in transactions (one, unless SQLite lost one): each is settled once its fate is known. */
async function runGroup(c: TxConn, group: Job[]): Promise<void> {
  while (group.length) {
    try {
      await c.exec('BEGIN IMMEDIATE');
    } catch (e) {
      for (const job of group.splice(0)) job.reject(e);
      return;
    }
    const done: { job: Job; value: unknown }[] = [];
    let lost: unknown;
    while (group.length && lost === undefined) {
      const job = group.shift()!;
      const r = await runJob(c, job);
      if (r.ok) done.push({ job, value: r.value });
      else {
        job.reject(r.error);
        // The transaction is gone with the earlier writers' changes: they fail too; the rest get a new one.
        if (!c.inTransaction()) lost = r.error;
      }
    }
    if (lost !== undefined) {
      for (const d of done) d.job.reject(lost);
      continue;
    }
    try {
      await c.exec('COMMIT');
    } catch (e) {
      try {
        if (c.inTransaction()) await c.exec('ROLLBACK');
      } catch {
        // the COMMIT's error is the one to report
      }
      for (const d of done) d.job.reject(e);
      continue;
    }
    for (const d of done) d.job.resolve(d.value);
  }
}

/** Writers queued on a connection and committed in groups: `write`, and whether a group is open (`active`). */
export function groupCommits(conn: TxConn) {
  // Held from the moment a write is queued (reads issued after it wait for it, on a shared connection) until its
  // group has ended.
  let active: Promise<void> | undefined;
  let release: (() => void) | undefined;
  const hold = () => {
    if (!active) active = new Promise<void>((resolve) => (release = resolve));
  };
  const queue: Job[] = [];
  let draining = false;

  async function drain(): Promise<void> {
    try {
      while (queue.length) {
        const group = queue.splice(0, MAX_GROUP);
        hold();
        try {
          await runGroup(conn, group);
        } finally {
          const ended = release;
          active = undefined;
          release = undefined;
          ended?.();
        }
        // The reads that waited for this group, and requests that arrived meanwhile, run before the next one.
        if (queue.length) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      draining = false;
    }
  }

  function write<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      hold();
      // Once the I/O callbacks of this turn of the event loop have run: the writers they started form one group.
      if (!draining) {
        draining = true;
        setImmediate(() => void drain());
      }
    });
  }

  return {
    write,
    /** Settles once no writer is queued or running (undefined when none is). */
    active: () => active,
  };
}

/** Runs an operation of better-sqlite3, its errors translated. */
export function runner(path: string) {
  return <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw translateStoreError(e, path);
    }
  };
}

/** The operations, each run synchronously on this thread once `ready` says so. */
export function bindSync(ops: SyncOps, path: string, ready: () => Promise<void> | undefined): StoreOps {
  const run = runner(path);
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops) as [string, (...args: unknown[]) => unknown][]) {
    out[name] = async (...args: unknown[]) => {
      for (let wait = ready(); wait; wait = ready()) await wait;
      return run(() => fn(...args));
    };
  }
  return out as unknown as StoreOps;
}

/** The Store on one connection of this thread: reads and writers take turns on it. */
export function serialized(db: Database, ops: SyncOps, path: string): Store {
  const run = runner(path);
  const conn: TxConn = {
    path,
    exec: (sql) => run(() => void db.exec(sql)),
    inTransaction: () => db.inTransaction,
    bind: (ready) => bindSync(ops, path, ready),
  };
  const commits = groupCommits(conn);
  // Outside a transaction: after the open one ends (run in the same tick: none can open in between).
  const outer = bindSync(ops, path, commits.active);
  return { ...outer, write: commits.write };
}
