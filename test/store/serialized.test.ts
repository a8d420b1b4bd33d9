// The asynchronous Store port over one SQLite connection (src/store/serialized.ts): one transaction at a
// time inside the process, reads outside a transaction never see its uncommitted rows, a failing function
// rolls back. The group commit itself (writers rolled back alone, no lost update, a store error with its code,
// a transaction unusable once ended) runs on both of its connections: the CLI's one and `ssrun serve`'s two
// (split-store.ts, whose own tests are test/store/split-store.test.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../dist/store/sqlite.js';
import { splitStore } from '../../dist/store/split-store.js';

const dirs: string[] = [];
const closers: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function open(writer?: typeof splitStore) {
  const home = mkdtempSync(join(tmpdir(), 'ssrun-serialized-'));
  dirs.push(home);
  const s = openSqliteStore({ home, masterKey: {}, writer });
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
});

for (const [name, writer] of [['one connection', undefined], ['two connections (ssrun serve)', splitStore]] as const) {
  describe(`group commit, ${name}`, () => {
    it('writers started together commit in a group; one that throws is rolled back alone', async () => {
      const { store } = open(writer);
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          store.write(async (t) => {
            await t.insertPrincipal('user', `u${i}`, null, at);
            if (i % 10 === 3) throw new Error(`boom ${i}`);
            return i;
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.message)).toEqual(['boom 3', 'boom 13', 'boom 23', 'boom 33']);
      const names = (await store.listPrincipals('user')).map((p) => p.name).filter((n) => n.startsWith('u'));
      expect(names.length).toBe(36);
      expect(names).not.toContain('u13');
    });

    it('50 read-modify-write transactions at once lose no update', async () => {
      const { store } = open(writer);
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

    it('a store error inside a writer reaches it with its code, and the others of the group commit', async () => {
      const { store } = open(writer);
      await store.insertConfig({ Type: 'duo', Name: 'Dup', Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: 'sk-1', Host: 'api-1.duosecurity.com' }, secretKeys: ['SecretKey'] }, at);
      const [dup, other] = await Promise.allSettled([
        store.write((t) => t.updateConfig('ghost', { Type: 'duo', Name: 'ghost', Options: {}, secretKeys: [] }, at)),
        store.write((t) => t.insertPrincipal('user', 'other', null, at)),
      ]);
      expect(dup).toMatchObject({ status: 'rejected', reason: { code: 'CONFIG_NOT_FOUND' } });
      expect(other.status).toBe('fulfilled');
      expect((await store.getPrincipal('user', 'other'))?.name).toBe('other');
    });

    it('a transaction used after it ended is refused (a bug, reported as INTERNAL)', async () => {
      const { store } = open(writer);
      let leaked: Parameters<Parameters<typeof store.write>[0]>[0] | undefined;
      await store.write(async (t) => {
        leaked = t;
      });
      await expect(leaked!.listGroups()).rejects.toMatchObject({ code: 'INTERNAL', message: 'store misuse: a transaction was used after it ended' });
    });
  });
}
