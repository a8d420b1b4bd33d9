// The asynchronous Store port over better-sqlite3's synchronous operations (S1–S3): one transaction at a
// time per connection, serialized inside the process. `write` opens BEGIN IMMEDIATE (so a read-modify-write
// never upgrades and meets SQLITE_BUSY), awaits the function, and commits, or rolls back when it throws.
// While a transaction is open, other callers of this process wait for it (they would otherwise see its
// uncommitted rows on the same connection). Inside the function only `tx` may be used: a call on the outer
// store from there would wait for itself (test/layout.test.ts checks the use cases for it). No
// AsyncLocalStorage: on Node 20 it would put a hook on every promise of the process.

import type DatabaseConstructor from 'better-sqlite3';
import { SsrunError } from '../core/errors.js';
import type { Store, StoreOps } from '../core/ports.js';
import { translateStoreError } from './errors.js';
import type { SyncOps } from './sqlite-ops.js';

type Database = DatabaseConstructor.Database;

/** The longest a transaction may stay open (they hold the write lock; none needs more than milliseconds). */
export const WRITE_DEADLINE_MS = 30_000;

export function serialized(db: Database, ops: SyncOps, path: string): Store {
  let active: Promise<void> | undefined;

  const misuse = (what: string) => new SsrunError('INTERNAL', `store misuse: ${what}`);
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

  async function write<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    while (active) await active;
    let release!: () => void;
    active = new Promise<void>((resolve) => (release = resolve));
    let open = true;
    const tx = bind(() => {
      if (!open) throw misuse('a transaction was used after it ended');
      return undefined;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A transaction that does not finish is a bug (a slow call inside, or the outer store waiting for this
    // one): it is rolled back and reported instead of holding the write lock for ever.
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(misuse(`a transaction did not finish within ${WRITE_DEADLINE_MS / 1000} s; rolled back`)), WRITE_DEADLINE_MS);
      timer.unref?.();
    });
    try {
      run(() => db.exec('BEGIN IMMEDIATE'));
      const result = await Promise.race([fn(tx), stuck]);
      open = false;
      run(() => db.exec('COMMIT'));
      return result;
    } catch (e) {
      open = false;
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // the error that made us roll back is the one to report
      }
      throw translateStoreError(e, path);
    } finally {
      clearTimeout(timer);
      open = false;
      active = undefined;
      release();
    }
  }

  return { ...outer, write };
}
