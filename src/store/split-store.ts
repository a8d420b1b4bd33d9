// `ssrun serve`'s Store on SQLite: reads and writers on two connections of the server's thread. On one
// connection (serialized.ts, what a CLI command uses) every read waits while a group of writers is open (the
// connection would show it their uncommitted rows) and a group runs all its writers in one go: during a burst
// of writes the server answered almost nothing else (bench/, figure 5).
//
// Here the writers' groups run on a connection of their own, framed by serialized.ts as before (one BEGIN
// IMMEDIATE, a savepoint each, one COMMIT per group: synchronous=FULL, one fsync per group), and a group gives
// the event loop back between two writers: one writer per turn, the requests that arrived meanwhile (reads
// above all) run in between. Reads outside `write` run at once on the other connection (WAL readers never wait
// for the writer; they see what was committed), and the operations that change something run as a write of
// their own. The read connection is read-only
// (`query_only`): a write that came to it by mistake fails instead of committing outside a group.
//
// Measured against the alternative the issue names, the writers' connection in a worker thread (operations
// answered over a shared buffer, BEGIN and COMMIT awaited): on this 2-core machine the thread wrote and logged in
// about half as fast (each operation crosses threads, 10–20 µs, and the two threads and the load share two
// cores), for the same reads during a burst; it kept figure 5 where this does not only with the fsync slowed to
// 20 ms (strace's fault injection). The COMMIT's fsync is here the event loop's, once per group.

import type DatabaseConstructor from 'better-sqlite3';
import type { Store, StoreOps } from '../core/ports.js';
import { bindSync, groupCommits, runner, type TxConn } from './serialized.js';
import { connectionPragmas, openFile } from './sqlite.js';
import { sqliteOps, type SyncOps } from './sqlite-ops.js';

type Database = DatabaseConstructor.Database;

/**
 * The operations that only read: run on the read connection. Every other one changes something (countAttempts
 * deletes the expired leases it counts) and runs as a write.
 */
export const READ_OPS: ReadonlySet<keyof StoreOps> = new Set<keyof StoreOps>([
  'listConfigs', 'getConfig', 'findConfig', 'principalsOfConfig', 'configTypes', 'listPrincipals', 'getPrincipal', 'getPrincipalById',
  'getFactorState', 'listKeys', 'recoveryDigest', 'recoveryCodesLeft', 'getThrottle', 'listThrottle', 'getSession',
  'listAuthorizations', 'findAuthorization', 'listAudit', 'getGroup', 'listGroups', 'groupsOf', 'listPolicies', 'getPolicy',
  'firstApplied',
]);

/** The writers' connection: the store's pragmas, its groups yielding between writers. */
function writerConnection(path: string, dataKey: Buffer) {
  const w = openFile(path);
  try {
    connectionPragmas(w);
  } catch (e) {
    w.close();
    throw e;
  }
  const ops = sqliteOps(w, dataKey);
  const run = runner(path);
  let first = false;
  const conn: TxConn = {
    path,
    exec(sql) {
      run(() => void w.exec(sql));
      if (sql !== 'SAVEPOINT w') {
        first = sql === 'BEGIN IMMEDIATE';
        return undefined;
      }
      if (first) return void (first = false);
      // A writer other than its group's first: the requests that arrived meanwhile run before it. (A time slice
      // instead, 0.5–2 ms of writers per turn, measured: no more logins, fewer reads during a burst.)
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
    inTransaction: () => w.inTransaction,
    bind: (ready) => bindSync(ops, path, ready),
  };
  return { conn, close: () => w.close() };
}

/** The Store of a server on SQLite: reads on `db`, writes on a second connection to the same file. */
export function splitStore(db: Database, ops: SyncOps, path: string, dataKey: Buffer): { store: Store; close(): Promise<void> } {
  const writer = writerConnection(path, dataKey);
  const commits = groupCommits(writer.conn);
  db.pragma('query_only = ON');
  const reads = bindSync(ops, path, () => undefined);
  const outer: Record<string, unknown> = {};
  // A read runs synchronously, so no commit of this process falls between two of its statements (as on one
  // connection; another process's may, as before). A read transaction around each, measured, cost a fifth of
  // the logins, and would have kept listConfigs from its cache.
  for (const name of Object.keys(ops) as (keyof StoreOps)[]) {
    outer[name] = READ_OPS.has(name) ? reads[name] : (...args: unknown[]) => commits.write((tx) => (tx[name] as (...a: unknown[]) => Promise<unknown>)(...args));
  }
  return {
    store: { ...(outer as unknown as StoreOps), write: commits.write },
    async close() {
      // Writers queued or running finish first.
      for (let a = commits.active(); a; a = commits.active()) await a;
      writer.close();
      db.close();
    },
  };
}
