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
// AsyncLocalStorage: on Node 20 it would put a hook on every promise of the process.

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

/** What the writers' functions below share with serialized(). */
interface Conn {
  db: Database;
  path: string;
  bind(ready: () => Promise<void> | undefined): StoreOps;
  run<T>(fn: () => T): T;
}

const misuse = (what: string) => new SsrunError('INTERNAL', `store misuse: ${what}`);

/** One writer in the open transaction, in a savepoint: its result, or its error once its changes are undone. */
async function runJob(c: Conn, job: Job): Promise<JobResult> {
  const { db, path, bind, run } = c;
  let open = true;
  const tx = bind(() => {
    if (!open) throw misuse('a transaction was used after it ended');
    // SQLite rolled the transaction back itself (a full disk, an I/O error): nothing more may run as if in it.
    if (!db.inTransaction) throw misuse('the transaction was rolled back by SQLite');
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
    run(() => db.exec('SAVEPOINT w'));
    const value = await Promise.race([job.fn(tx), stuck]);
    open = false;
    run(() => db.exec('RELEASE w'));
    return { ok: true, value };
  } catch (e) {
    open = false;
    try {
      // (SQLite may have rolled the whole transaction back itself: a full disk, an I/O error.)
      if (db.inTransaction) db.exec('ROLLBACK TO w; RELEASE w');
    } catch {
      // The savepoint could not be undone: nothing of this transaction may commit (its writer was told it
      // failed). The whole transaction goes; the group's runner sees it lost.
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // the error that made us roll back is the one to report
      }
    }
    return { ok: false, error: translateStoreError(e, path) };
  } finally {
    clearTimeout(timer);
    open = false;
  }
}

/** Runs the writers in transactions (one, unless SQLite lost one): each is settled once its fate is known. */
async function runGroup(c: Conn, group: Job[]): Promise<void> {
  const { db, run } = c;
  while (group.length) {
    try {
      run(() => db.exec('BEGIN IMMEDIATE'));
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
        if (!db.inTransaction) lost = r.error;
      }
    }
    if (lost !== undefined) {
      for (const d of done) d.job.reject(lost);
      continue;
    }
    try {
      run(() => db.exec('COMMIT'));
    } catch (e) {
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // the COMMIT's error is the one to report
      }
      for (const d of done) d.job.reject(e);
      continue;
    }
    for (const d of done) d.job.resolve(d.value);
  }
}

export function serialized(db: Database, ops: SyncOps, path: string): Store {
  // Held from the moment a write is queued (reads issued after it wait for it) until its group has ended.
  let active: Promise<void> | undefined;
  let release: (() => void) | undefined;
  const hold = () => {
    if (!active) active = new Promise<void>((resolve) => (release = resolve));
  };
  const queue: Job[] = [];
  let draining = false;

  const run = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw translateStoreError(e, path);
    }
  };

  /** The operations, each run synchronously once `ready` says so (checked again after every wait). */
  function bind(ready: () => Promise<void> | undefined): StoreOps {
    const out: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(ops) as [string, (...args: unknown[]) => unknown][]) {
      out[name] = async (...args: unknown[]) => {
        for (let wait = ready(); wait; wait = ready()) await wait;
        return run(() => fn(...args));
      };
    }
    return out as unknown as StoreOps;
  }

  // Outside a transaction: after the open one ends (run in the same tick: none can open in between).
  const outer = bind(() => active);
  const conn: Conn = { db, path, bind, run };

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

  return { ...outer, write };
}
