// S1: the store is opened in WAL mode with synchronous=FULL, foreign keys on and a busy timeout, and every
// write runs in BEGIN IMMEDIATE: the write lock is taken when the transaction starts, not at its first write.

import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempHome } from '../helpers/cli.js';
import { dbPath, newMasterKey, raw, sqlite } from './util.js';

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});

function openStore(home = tempHome()) {
  const s = sqlite.openSqliteStore({ home, masterKey: { fromEnv: newMasterKey() } });
  opened.push(s);
  return { ...s, home };
}

const config = (name: string) => ({ Type: 'duo' as const, Name: name, Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: 'k'.repeat(40), Host: 'api-1.duosecurity.com' }, secretKeys: ['SecretKey'] });
const at = '2025-01-01T00:00:00.000Z';

describe('S1: connection settings of an opened store', () => {
  it('uses WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const { db } = openStore();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(1000);
  });

  it('keeps WAL mode in the file, so every later connection is in WAL too', () => {
    const { home, close } = openStore();
    close();
    opened.pop();
    const other = raw(home, { readonly: true });
    try {
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      other.close();
    }
  });

  it('re-applies the settings when an existing store is reopened', () => {
    const home = tempHome();
    const key = newMasterKey();
    sqlite.openSqliteStore({ home, masterKey: { fromEnv: key } }).close();
    const again = sqlite.openSqliteStore({ home, masterKey: { fromEnv: key } });
    opened.push(again);
    expect(again.created).toBe(false);
    expect(again.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(again.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(again.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(again.db.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(1000);
  });

  it('foreign keys are enforced: an assignment to a missing principal is refused', () => {
    const { db } = openStore();
    expect(() => db.prepare(`INSERT INTO assignments (principal_id, config_id, provider_user_id, assigned_at) VALUES ('no-such-principal', 'no-such-config', 'x', ?)`).run(at)).toThrow(/FOREIGN KEY/);
  });
});

describe('S1: store.write runs in BEGIN IMMEDIATE', () => {
  it('holds the write lock from the start of the transaction, before any statement writes', async () => {
    const { store, db, home } = openStore();
    const other = new Database(dbPath(home), { timeout: 0 });
    try {
      let seenInside: unknown;
      await store.write(async (tx) => {
        expect(db.inTransaction).toBe(true);
        // Nothing written yet. A deferred transaction would hold no lock here and the other connection
        // would get the write lock; an immediate one already holds it.
        try {
          other.exec('BEGIN IMMEDIATE');
          other.exec('ROLLBACK');
          seenInside = 'other writer got the lock';
        } catch (e) {
          seenInside = (e as { code?: string }).code;
        }
        await tx.insertConfig(config('Inside'), at);
      });
      expect(seenInside).toBe('SQLITE_BUSY');
      // Control: the probe does tell the two apart (a deferred transaction holds no lock before writing).
      let seenDeferred: unknown;
      db.transaction(() => {
        other.exec('BEGIN IMMEDIATE');
        other.exec('ROLLBACK');
        seenDeferred = 'other writer got the lock';
      }).deferred();
      expect(seenDeferred).toBe('other writer got the lock');
      // Once committed, the lock is released.
      other.exec('BEGIN IMMEDIATE');
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
  });

  it('is all or nothing: an error inside the transaction leaves no trace', async () => {
    const { store } = openStore();
    await expect(
      store.write(async (tx) => {
        await tx.insertConfig(config('Half'), at);
        const p = await tx.insertPrincipal('user', 'half', null, at);
        await tx.assign(p.id, 'Half', 'duo-half', at);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await store.listConfigs()).map((c) => c.Name)).toEqual(['totp', 'webauthn']); // only the built-ins
    expect(await store.listPrincipals('user')).toEqual([]);
  });
});
