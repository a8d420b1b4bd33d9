// PostgreSQL: a write transaction that loses a deadlock (SQLSTATE 40P01) or a serialization failure (40001) was
// rolled back whole, so the adapter runs write(fn) again, a bounded number of times, instead of answering
// STORE_BUSY at once. Other busy states (a lock or statement timeout, which already waited long) are not retried.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/ports.js';
import { PG_SKIP, freshDatabase } from '../helpers/pg.js';
import { DIST } from './util.js';

const postgres: typeof import('../../src/store/postgres.js') = await import(join(DIST, 'store', 'postgres.js'));
const { builtinConfigs } = (await import(join(DIST, 'core', 'factor.js'))) as typeof import('../../src/core/factor.js');
const { defaultFactors } = (await import(join(DIST, 'providers', 'registry.js'))) as typeof import('../../src/providers/registry.js');

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};
const codeOf = async (e: Promise<unknown>) => e.then(() => 'ok', (x: { code?: string }) => x.code ?? String(x));
/** What node-postgres throws for a statement the server refused with this SQLSTATE. */
const pgError = (code: string) => Object.assign(new Error(`refused (${code})`), { code, severity: 'ERROR' });

describe.skipIf(PG_SKIP)(`PostgreSQL write retries${PG_SKIP ? ` (skipped: ${PG_SKIP})` : ''}`, () => {
  let dir: string;
  let opened: Awaited<ReturnType<typeof postgres.openPgStore>>[];
  let a: Store;
  let b: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ssrun-retry-'));
    const url = await freshDatabase('retry');
    const opts = { url, home: dir, masterKey: { fromEnv: randomBytes(32).toString('base64') }, builtins: builtinConfigs(defaultFactors()) };
    await postgres.migratePg(opts);
    // Two replicas: a pool each.
    opened = await Promise.all([0, 1].map(() => postgres.openPgStore({ ...opts, poolSize: 2 })));
    [a, b] = opened.map((o) => o.store) as [Store, Store];
  });
  afterAll(async () => {
    await Promise.all((opened ?? []).map((o) => o.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a real deadlock between two replicas: PostgreSQL rolls one back, it runs again, both commit', async () => {
    // Each transaction takes one lockout subject's lock, waits until the other holds its own, then asks for
    // the other's: a cycle, which PostgreSQL breaks (after deadlock_timeout) by failing one with 40P01.
    const locked = [deferred(), deferred()];
    const calls = [0, 0];
    const at = new Date().toISOString();
    const cross = (i: 0 | 1, store: Store, first: string, second: string) =>
      store.write(async (tx) => {
        calls[i]!++;
        await tx.getThrottle(first, '*');
        locked[i]!.resolve();
        await locked[1 - i]!.promise;
        const t = await tx.getThrottle(second, '10.0.0.1');
        const failed = (s: { failedCount: number }) => ({ failedCount: s.failedCount + 1, lockedUntil: null });
        await tx.saveThrottle(second, '10.0.0.1', { here: failed(t.here), all: failed(t.all), lastSuccessHere: null }, at);
        return i;
      });
    const [x, y] = ['retry/subject-x', 'retry/subject-y'];
    const results = await Promise.allSettled([cross(0, a, x, y), cross(1, b, y, x)]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as { code?: string }).code))).toEqual([0, 1]);
    expect([...calls].sort()).toEqual([1, 2]);
    // Each committed once: one failure counted on each subject, none twice (the lost run left nothing).
    for (const s of [x, y]) expect(await a.getThrottle(s, '10.0.0.1')).toMatchObject({ here: { failedCount: 1 }, all: { failedCount: 1 } });
  });

  it('a serialization failure or deadlock every time: 3 runs, then STORE_BUSY; nothing of the runs was kept', async () => {
    for (const sqlstate of ['40001', '40P01']) {
      let calls = 0;
      const name = `retry-${sqlstate.toLowerCase()}`;
      const r = codeOf(
        a.write(async (tx) => {
          calls++;
          await tx.insertGroup(name, new Date().toISOString());
          throw pgError(sqlstate);
        }),
      );
      expect(await r).toBe('STORE_BUSY');
      expect(calls).toBe(3);
      expect(await a.getGroup(name)).toBeUndefined();
    }
  });

  it('other failures are not retried: a lock timeout (55P03), a unique violation, an error of the function', async () => {
    for (const [thrown, code] of [[pgError('55P03'), 'STORE_BUSY'], [pgError('23505'), 'INTERNAL'], [new Error('a bug'), 'Error: a bug']] as const) {
      let calls = 0;
      const r = await codeOf(
        a.write(async () => {
          calls++;
          throw thrown;
        }),
      );
      expect([r, calls]).toEqual([code, 1]);
    }
  });
});
