// The asynchronous Store port over better-sqlite3's synchronous operations (S1–S3): one transaction at a
// time per connection, serialized inside the process. `write` opens BEGIN IMMEDIATE (so a read-modify-write
// never upgrades and meets SQLITE_BUSY), awaits the function, and commits, or rolls back when it throws.
// While a transaction is open, other callers of this process wait for it (they would otherwise see its
// uncommitted rows on the same connection); a call on the outer store from inside the transaction's own
// function is a bug (it would wait for itself), reported as such.

import type DatabaseConstructor from 'better-sqlite3';
import { AsyncLocalStorage } from 'node:async_hooks';
import { SsrunError } from '../core/errors.js';
import type { Store, StoreOps } from '../core/ports.js';
import { translateStoreError } from './errors.js';
import type { SyncOps } from './sqlite-ops.js';

type Database = DatabaseConstructor.Database;

export function serialized(db: Database, ops: SyncOps, path: string): Store {
  let active: Promise<void> | undefined;
  const inside = new AsyncLocalStorage<object>();
  let current: object | undefined;

  const misuse = (what: string) => new SsrunError('INTERNAL', `store misuse: ${what}`);
  const run = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw translateStoreError(e, path);
    }
  };

  function bind(check: () => void): StoreOps {
    const out: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(ops) as [string, (...args: unknown[]) => unknown][]) {
      out[name] = async (...args: unknown[]) => {
        check();
        // Checked again after every wait, and run in the same tick: no transaction can open in between.
        while (active && inside.getStore() !== current) await active;
        return run(() => fn(...args));
      };
    }
    return out as unknown as StoreOps;
  }

  // Outside a transaction: refused from inside one (a deadlock), else after the open one ends.
  const outer = bind(() => {
    if (inside.getStore() && inside.getStore() === current) throw misuse('the outer store was used inside write(); use its tx');
  });

  async function write<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    if (inside.getStore() && inside.getStore() === current) throw misuse('write() inside write()');
    while (active) await active;
    let release!: () => void;
    active = new Promise<void>((resolve) => (release = resolve));
    const token = {};
    current = token;
    let open = true;
    const tx = bind(() => {
      if (!open) throw misuse('a transaction was used after it ended');
    });
    try {
      run(() => db.exec('BEGIN IMMEDIATE'));
      const result = await inside.run(token, () => fn(tx));
      run(() => db.exec('COMMIT'));
      return result;
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw translateStoreError(e, path);
    } finally {
      open = false;
      current = undefined;
      active = undefined;
      release();
    }
  }

  return { ...outer, write };
}
