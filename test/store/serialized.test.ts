// The asynchronous Store port over one SQLite connection (src/store/serialized.ts): one transaction at a
// time inside the process, reads outside a transaction never see its uncommitted rows, a failing function
// rolls back, and a transaction cannot be used once it has ended.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../dist/store/sqlite.js';

const dirs: string[] = [];
const closers: (() => void)[] = [];
afterAll(() => {
  for (const c of closers) c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function open() {
  const home = mkdtempSync(join(tmpdir(), 'ssrun-serialized-'));
  dirs.push(home);
  const s = openSqliteStore({ home, masterKey: {} });
  closers.push(s.close);
  return s;
}

const at = '2026-01-01T00:00:00.000Z';
const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((resolve) => (open = resolve));
  return { p, open };
};

describe('serialized SQLite store', () => {
  it('a read outside an open transaction waits for it, and sees only what was committed', async () => {
    const { store, db } = open();
    const g = gate();
    const tx = store.write(async (t) => {
      await t.insertPrincipal('user', 'inflight', null, at);
      await g.p; // the transaction stays open (only a test waits on something else inside one)
    });
    let seen: unknown = 'not yet';
    const read = store.getPrincipal('user', 'inflight').then((p) => (seen = p?.name));
    await new Promise((r) => setTimeout(r, 50));
    expect(db.inTransaction).toBe(true);
    expect(seen).toBe('not yet'); // waiting, not reading the uncommitted row
    g.open();
    await tx;
    await read;
    expect(seen).toBe('inflight');
  });

  it('a function that throws rolls everything back, and a waiting read sees nothing of it', async () => {
    const { store } = open();
    const g = gate();
    const tx = store.write(async (t) => {
      await t.insertPrincipal('user', 'doomed', null, at);
      await g.p;
      throw new Error('boom');
    });
    const read = store.getPrincipal('user', 'doomed');
    g.open();
    await expect(tx).rejects.toThrow('boom');
    expect(await read).toBeUndefined();
  });

  it('50 read-modify-write transactions at once lose no update', async () => {
    const { store } = open();
    const subject = 'principal/internal/user/counter';
    await Promise.all(
      Array.from({ length: 50 }, () =>
        store.write(async (t) => {
          const cur = await t.getThrottle(subject, 'cli');
          await new Promise((r) => setImmediate(r)); // yield inside: another transaction must not slip in
          const next = { failedCount: cur.here.failedCount + 1, lockedUntil: null };
          await t.saveThrottle(subject, 'cli', { here: next, all: next }, at);
        }),
      ),
    );
    expect((await store.getThrottle(subject, 'cli')).here.failedCount).toBe(50);
  });

  it('a transaction used after it ended is refused (a bug, reported as INTERNAL)', async () => {
    const { store } = open();
    let leaked: Parameters<Parameters<typeof store.write>[0]>[0] | undefined;
    await store.write(async (t) => {
      leaked = t;
    });
    await expect(leaked!.listGroups()).rejects.toMatchObject({ code: 'INTERNAL', message: 'store misuse: a transaction was used after it ended' });
  });
});
