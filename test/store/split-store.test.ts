// `ssrun serve`'s store on SQLite (src/store/split-store.ts): reads and writers on two connections. The contract
// suite runs every operation on it (test/store/contract.test.ts), the group commit's tests run on it too
// (test/store/serialized.test.ts); here, what differs from a store on one connection: reads do not wait for an
// open group of writers and see only what was committed; the reading connection cannot write; an outer change
// is a write of its own; the event loop runs between two writers of a group; closing waits for the writes queued.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST, newMasterKey, sqlite } from './util.js';

const { splitStore }: typeof import('../../src/store/split-store.js') = await import(join(DIST, 'store', 'split-store.js'));

const dirs: string[] = [];
const closers: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function open(key = newMasterKey()) {
  const home = mkdtempSync(join(tmpdir(), 'ssrun-split-'));
  dirs.push(home);
  const s = sqlite.openSqliteStore({ home, masterKey: { fromEnv: key }, writer: splitStore });
  let closed = false;
  closers.push(() => (closed ? undefined : s.close()));
  return { ...s, home, key, close: async () => ((closed = true), await s.close()) };
}

const at = '2026-01-01T00:00:00.000Z';
const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((resolve) => (open = resolve));
  return { p, open };
};

describe('SQLite store on two connections (ssrun serve)', () => {
  it('a read while a transaction is open answers at once, from what was committed', async () => {
    const { store } = open();
    await store.insertPrincipal('user', 'before', null, at);
    const g = gate();
    const entered = gate();
    const tx = store.write(async (t) => {
      await t.insertPrincipal('user', 'inflight', null, at);
      entered.open();
      await g.p; // the transaction stays open (only a test waits on something else inside one)
    });
    await entered.p;
    expect((await store.getPrincipal('user', 'inflight'))?.name).toBeUndefined();
    expect((await store.getPrincipal('user', 'before'))?.name).toBe('before');
    expect((await store.listPrincipals('user')).map((p) => p.name)).not.toContain('inflight');
    g.open();
    await tx;
    expect((await store.getPrincipal('user', 'inflight'))?.name).toBe('inflight');
  });

  it('the reading connection is read-only: a write there fails instead of committing outside a group', async () => {
    const { db } = open();
    expect(() => db.exec(`INSERT INTO meta (key, value) VALUES ('x', 'y')`)).toThrow(/readonly|read-only/i);
  });

  it('an operation that changes something, called outside write, is a write of its own', async () => {
    const { store } = open();
    await store.insertPrincipal('user', 'alone', null, at);
    await store.audit({ at, principal: 'principal/internal/user/alone', action: 'test', outcome: 'ok', detail: '' });
    expect((await store.getPrincipal('user', 'alone'))?.name).toBe('alone');
    expect((await store.listAudit({ limit: 10 })).some((e) => e.Action === 'test')).toBe(true);
  });

  it('close waits for the writes queued, which are then on disk for the next opener', async () => {
    const s = open();
    const writes = Array.from({ length: 30 }, (_, i) => s.store.write((t) => t.insertPrincipal('user', `late${i}`, null, at)));
    await s.close();
    await Promise.all(writes);
    const again = sqlite.openSqliteStore({ home: s.home, masterKey: { fromEnv: s.key } });
    try {
      expect((await again.store.listPrincipals('user')).filter((p) => p.name.startsWith('late')).length).toBe(30);
    } finally {
      again.close();
    }
  });

  it('between two writers of a group the event loop runs: what a writer schedules runs before the group ends', async () => {
    const { store } = open();
    const order: string[] = [];
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        store.write(async (t) => {
          await t.insertPrincipal('user', `turn${i}`, null, at);
          if (i === 0) setImmediate(() => order.push('loop'));
          order.push(`w${i}`);
        }),
      ),
    );
    expect(order.indexOf('loop')).toBeGreaterThan(0);
    expect(order.indexOf('loop')).toBeLessThan(order.indexOf('w4'));
  });
});
