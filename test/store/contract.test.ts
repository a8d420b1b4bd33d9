// One contract for the Store port, run on both adapters: every operation, and every race-safe primitive
// (S16, S26, S27) from several handles on one store at once (SQLite: one connection, many callers;
// PostgreSQL: one pool per handle, as replicas have). The PostgreSQL run needs the test cluster (see test/pg-setup.ts).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store, StoreOps } from '../../src/core/ports.js';
import { PG_SKIP, freshDatabase } from '../helpers/pg.js';
import { DIST, sqlite } from './util.js';

const postgres: typeof import('../../src/store/postgres.js') = await import(join(DIST, 'store', 'postgres.js'));
const { builtinConfigs } = (await import(join(DIST, 'core', 'factor.js'))) as typeof import('../../src/core/factor.js');
const { defaultFactors } = (await import(join(DIST, 'providers', 'registry.js'))) as typeof import('../../src/providers/registry.js');

const split: typeof import('../../src/store/split-store.js') = await import(join(DIST, 'store', 'split-store.js'));

const HANDLES = 3;
interface Opened { stores: Store[]; close(): Promise<void> }
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const masterKey = () => randomBytes(32).toString('base64');

const adapters: { name: string; skip?: string; open(): Promise<Opened> }[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'ssrun-contract-'));
      dirs.push(dir);
      const key = masterKey();
      // One connection, used by all: better-sqlite3 is synchronous, so a second connection of this process would
      // wait for the first one's lock while blocking the thread that would release it (processes racing on
      // one file are test/store/concurrency.test.ts's).
      const opened = sqlite.openSqliteStore({ home: join(dir, 'home'), masterKey: { fromEnv: key } });
      return { stores: Array(HANDLES).fill(opened.store), close: async () => opened.close() };
    },
  },
  {
    // ssrun serve's: reads and writers on two connections (src/store/split-store.ts).
    name: 'sqlite, split',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'ssrun-contract-'));
      dirs.push(dir);
      const opened = sqlite.openSqliteStore({ home: join(dir, 'home'), masterKey: { fromEnv: masterKey() }, writer: split.splitStore });
      return { stores: Array(HANDLES).fill(opened.store), close: async () => opened.close() };
    },
  },
  {
    name: 'postgres',
    skip: PG_SKIP,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'ssrun-contract-'));
      dirs.push(dir);
      const url = await freshDatabase('contract');
      const opts = { url, home: dir, masterKey: { fromEnv: masterKey() }, builtins: builtinConfigs(defaultFactors()) };
      await postgres.migratePg(opts);
      const opened = await Promise.all(Array.from({ length: HANDLES }, () => postgres.openPgStore({ ...opts, poolSize: 8 })));
      return { stores: opened.map((o) => o.store), close: async () => void (await Promise.all(opened.map((o) => o.close()))) };
    },
  },
];

const at = (s = 0) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString();
const duo = (Name: string, SecretKey = 'sk-' + randomBytes(8).toString('hex')) => ({ Type: 'duo' as const, Name, Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey, Host: 'api-1.duosecurity.com' }, secretKeys: ['SecretKey'] });
const codeOf = async (e: Promise<unknown>) => e.then(() => 'ok', (x: { code?: string }) => x.code ?? String(x));

for (const adapter of adapters) {
  describe.skipIf(adapter.skip)(`Store contract: ${adapter.name}${adapter.skip ? ` (skipped: ${adapter.skip})` : ''}`, () => {
    let o: Opened;
    let s: Store;
    let others: Store[];
    beforeAll(async () => {
      o = await adapter.open();
      s = o.stores[0]!;
      others = o.stores.slice(1);
    });
    afterAll(async () => o?.close());

    it('configurations: insert, get (any case), find, update, types, list, delete; secrets sealed and opened', async () => {
      expect((await s.listConfigs()).map((c) => c.Name)).toEqual(['totp', 'webauthn']);
      const c = await s.insertConfig(duo('Corp', 'sk-one'), at());
      expect(c).toMatchObject({ Name: 'Corp', Type: 'duo', Options: { SecretKey: 'sk-one', Host: 'api-1.duosecurity.com' }, createdAt: at() });
      expect((await others[0]!.getConfig('CORP'))?.Options.SecretKey).toBe('sk-one');
      expect(await s.findConfig('corp')).toEqual({ Name: 'Corp', Type: 'duo' });
      expect(await s.findConfig('nope')).toBeUndefined();
      expect(await s.getConfig('nope')).toBeUndefined();
      const u = await s.updateConfig('corp', duo('Corp', 'sk-two'), at(5));
      expect([u.Options.SecretKey, u.updatedAt, u.createdAt]).toEqual(['sk-two', at(5), at()]);
      await s.insertConfig(duo('alpha'), at());
      expect((await s.listConfigs()).map((x) => x.Name)).toEqual(['alpha', 'Corp', 'totp', 'webauthn']);
      expect((await s.configTypes()).sort((a, b) => a.name.localeCompare(b.name))).toEqual([{ name: 'alpha', type: 'duo' }, { name: 'Corp', type: 'duo' }, { name: 'totp', type: 'totp' }, { name: 'webauthn', type: 'webauthn' }]);
      expect(await codeOf(s.updateConfig('ghost', duo('ghost'), at()))).toBe('CONFIG_NOT_FOUND');
      await s.deleteConfig('ALPHA');
      expect(await s.getConfig('alpha')).toBeUndefined();
    });

    it('principals and assignments: insert, get by name (any case) and id, list, credential raises the epoch, assign, factor state, unassign, delete', async () => {
      const bob = await s.insertPrincipal('user', 'bob', 'hash-1', at());
      expect(bob).toMatchObject({ type: 'user', name: 'bob', credential: 'hash-1', epoch: 0, failedCount: 0, lockedUntil: null, lastMfaAt: null, assignment: null });
      await s.insertPrincipal('user', 'Alice', null, at());
      await s.insertPrincipal('application', 'bob', 'digest', at());
      expect((await s.getPrincipal('user', 'BOB'))?.id).toBe(bob.id);
      expect((await others[1]!.getPrincipalById(bob.id))?.name).toBe('bob');
      expect(await s.getPrincipal('user', 'carol')).toBeUndefined();
      expect(await s.getPrincipalById('no-such-id')).toBeUndefined();
      expect((await s.listPrincipals('user')).map((p) => p.name)).toEqual(['Alice', 'bob']);
      expect((await s.listPrincipals('application')).map((p) => p.name)).toEqual(['bob']);

      await s.setCredential(bob.id, 'hash-2', at(1));
      expect(await s.getPrincipalById(bob.id)).toMatchObject({ credential: 'hash-2', epoch: 1, updatedAt: at(1) });
      await s.assign(bob.id, 'Corp', 'bob@example.com', at(2));
      expect((await s.getPrincipalById(bob.id))!.assignment).toEqual({ configName: 'Corp', configType: 'duo', providerUserId: 'bob@example.com', assignedAt: at(2), pending: false });
      expect((await s.getPrincipalById(bob.id))!.epoch).toBe(2);
      expect(await s.getFactorState(bob.id)).toEqual({ secret: null, counter: null, pending: false });
      await s.assign(bob.id, 'totp', 'bob', at(3), { secret: 'JBSWY3DPEHPK3PXP', pending: true });
      expect(await s.getFactorState(bob.id)).toEqual({ secret: 'JBSWY3DPEHPK3PXP', counter: null, pending: true });
      expect(await s.principalsOfConfig('TOTP')).toEqual([{ path: 'principal/internal/user/bob', providerUserId: 'bob', assignedAt: at(3), pending: true }]);
      await s.confirmAssignment(bob.id);
      expect((await s.getFactorState(bob.id))!.pending).toBe(false);
      expect(await s.advanceCounter(bob.id, 1_000_000_000)).toBe(true);
      expect(await s.advanceCounter(bob.id, 1_000_000_000)).toBe(false);
      expect(await s.advanceCounter(bob.id, 999)).toBe(false);
      expect((await s.getFactorState(bob.id))!.counter).toBe(1_000_000_000);
      await s.unassign(bob.id, at(4));
      expect(await s.getFactorState(bob.id)).toBeUndefined();
      expect((await s.getPrincipalById(bob.id))).toMatchObject({ assignment: null, epoch: 4 });
      await s.setLastMfa(bob.id, at(9));
      expect((await s.getPrincipalById(bob.id))!.lastMfaAt).toBe(at(9));
      await s.saveThrottle('principal/internal/user/bob', '10.0.0.1', { here: { failedCount: 3, lockedUntil: at(60) }, all: { failedCount: 4, lockedUntil: null } }, at());
      expect(await others[0]!.getPrincipalById(bob.id)).toMatchObject({ failedCount: 4, lockedUntil: at(60) });
      const gone = await s.insertPrincipal('user', 'gone', null, at());
      await s.deletePrincipal(gone.id);
      expect(await s.getPrincipalById(gone.id)).toBeUndefined();
    });

    it('recovery codes: keyed digests, replace, use once, count', async () => {
      const p = (await s.getPrincipal('user', 'alice'))!;
      const d = await Promise.all(['aaaa-bbbb-cccc', 'dddd-eeee-ffff'].map((c) => s.recoveryDigest(p.id, c)));
      expect(d[0]).toMatch(/^[0-9a-f]{64}$/);
      expect(await others[0]!.recoveryDigest(p.id, 'aaaa-bbbb-cccc')).toBe(d[0]);
      expect(await s.recoveryDigest('other-id', 'aaaa-bbbb-cccc')).not.toBe(d[0]);
      await s.replaceRecoveryCodes(p.id, d, at());
      expect(await s.recoveryCodesLeft(p.id)).toBe(2);
      expect(await s.useRecoveryCode(p.id, d[0]!, at(1))).toBe(true);
      expect(await s.useRecoveryCode(p.id, d[0]!, at(2))).toBe(false);
      expect(await s.useRecoveryCode(p.id, 'f'.repeat(64), at(2))).toBe(false);
      expect(await s.recoveryCodesLeft(p.id)).toBe(1);
      await s.replaceRecoveryCodes(p.id, [], at());
      expect(await s.recoveryCodesLeft(p.id)).toBe(0);
    });

    it('lockout counters by subject and address, and attempts as leases; sessions by digest, expiry, all but one', async () => {
      const p = (await s.getPrincipal('user', 'alice'))!;
      const subj = 'principal/internal/user/nobody-known';
      const zero = { failedCount: 0, lockedUntil: null };
      expect(await s.getThrottle(subj, '10.0.0.1')).toEqual({ here: zero, all: zero, lastSuccessHere: null });
      await s.saveThrottle(subj, '10.0.0.1', { here: { failedCount: 2, lockedUntil: null }, all: { failedCount: 2, lockedUntil: null } }, at(1));
      await others[0]!.saveThrottle(subj, '10.0.0.2', { here: { failedCount: 5, lockedUntil: at(900) }, all: { failedCount: 7, lockedUntil: null } }, at(2));
      expect(await others[1]!.getThrottle(subj, '10.0.0.1')).toEqual({ here: { failedCount: 2, lockedUntil: null }, all: { failedCount: 7, lockedUntil: null }, lastSuccessHere: null });
      expect(await s.listThrottle(subj)).toEqual([
        { address: '*', failedCount: 7, lockedUntil: null },
        { address: '10.0.0.1', failedCount: 2, lockedUntil: null },
        { address: '10.0.0.2', failedCount: 5, lockedUntil: at(900) },
      ]);
      // nothing left to count: the row goes
      await s.saveThrottle(subj, '10.0.0.1', { here: zero, all: { failedCount: 7, lockedUntil: null } }, at(3));
      expect((await s.listThrottle(subj)).map((r) => r.address)).toEqual(['*', '10.0.0.2']);
      // a success from an address is remembered there (a known-good address), even with nothing to count
      await s.saveThrottle(subj, '10.0.0.3', { here: zero, all: { failedCount: 7, lockedUntil: null }, lastSuccessHere: at(4) }, at(4));
      expect((await s.getThrottle(subj, '10.0.0.3')).lastSuccessHere).toBe(at(4));
      expect((await s.listThrottle(subj)).map((r) => r.address)).toEqual(['*', '10.0.0.2']);
      // swept: no lock in force at at(5), no failure since at(10), no success since at(3): this '*' and bob's '*' (above)
      expect(await s.sweepThrottle(at(10), at(5), at(3))).toBe(2);
      expect((await s.getThrottle(subj, '10.0.0.3')).lastSuccessHere).toBe(at(4));
      expect(await s.sweepThrottle(at(10), at(5), at(9))).toBe(1);
      expect(await s.clearThrottle(subj)).toBe(1);
      expect(await s.listThrottle(subj)).toEqual([]);
      expect((await s.getThrottle(subj, '10.0.0.2')).here).toEqual(zero);

      const a = 'principal/internal/user/alice';
      await s.insertAttempt('a1', a, '10.0.0.1', at(10));
      await s.insertAttempt('a2', a, '10.0.0.1', at(20));
      await s.insertAttempt('a3', a, '10.0.0.2', at(20));
      expect(await s.countAttempts(a, '10.0.0.1', at(5))).toEqual({ here: 2, all: 3, expired: [] });
      expect(await s.extendAttempt('a2', at(5), at(30))).toBe(true);
      expect(await s.extendAttempt('a1', at(11), at(40))).toBe(false);
      expect(await others[0]!.countAttempts(a, '10.0.0.2', at(15))).toEqual({ here: 1, all: 2, expired: [{ address: '10.0.0.1' }] });
      expect(await s.deleteAttempt('a1', at(15))).toBe('gone');
      expect(await s.deleteAttempt('a2', at(25))).toBe('live');
      expect(await s.deleteAttempt('a3', at(25))).toBe('expired');
      expect(await s.deleteAttempt('a3', at(25))).toBe('gone');

      const session = (tokenHash: string, expiresAt = at(100)) => ({ tokenHash, principalId: p.id, epoch: p.epoch, factor: 'password', createdAt: at(), expiresAt });
      await s.insertSession(session('t1'));
      await s.insertSession(session('t2'));
      await s.insertSession(session('t3', at(1)));
      expect(await others[1]!.getSession('t1')).toEqual(session('t1'));
      expect(await s.deleteExpiredSessions(at(50))).toBe(1);
      expect(await s.deleteSessionsExcept(p.id, 't1')).toBe(1);
      expect(await s.getSession('t2')).toBeUndefined();
      expect(await s.deleteSession('t1')).toBe(true);
      expect(await s.deleteSession('t1')).toBe(false);
      await s.insertSession(session('t4'));
      expect(await s.deleteSessionsExcept(p.id, undefined)).toBe(1);
      await s.insertSession(session('t5'));
      await s.setCredential(p.id, 'new', at());
      expect(await others[0]!.getSession('t5')).toBeUndefined();
    });

    it('authorizations and audit', async () => {
      const bob = (await s.getPrincipal('user', 'bob'))!;
      const z = await s.insertAuthorization(bob.id, 'read', 'allow', 'system/Multi_Factor', at());
      expect(z).toEqual({ Principal: 'principal/internal/user/bob', Operation: 'read', Effect: 'allow', Resource: 'system/Multi_Factor', CreatedAt: at() });
      await s.insertAuthorization(bob.id, 'delete', 'deny', 'principal', at());
      expect(await s.findAuthorization(bob.id, 'read', 'SYSTEM/multi_factor')).toEqual(z);
      expect(await s.findAuthorization(bob.id, 'update', 'system/multi_factor')).toBeUndefined();
      expect((await others[0]!.listAuthorizations(bob.id)).map((a) => a.Resource)).toEqual(['principal', 'system/Multi_Factor']);
      expect((await s.listAuthorizations()).length).toBe(2);
      expect(await s.deleteAuthorization(bob.id, 'read', 'system/multi_factor')).toBe(true);
      expect(await s.deleteAuthorization(bob.id, 'read', 'system/multi_factor')).toBe(false);

      for (let i = 0; i < 5; i++) await s.audit({ at: at(i), principal: i % 2 ? 'principal/internal/user/Bob' : '-', action: `a${i}`, outcome: 'ok', detail: `d${i}`, actor: i === 4 ? 'principal/internal/user/bob' : 'local', source: 'cli' });
      const all = await others[1]!.listAudit({ limit: 100 });
      expect(all.map((r) => r.Action)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
      expect(all[0]).toMatchObject({ At: at(0), Actor: 'local', Source: 'cli', Principal: '-', Outcome: 'ok', Detail: 'd0' });
      expect(typeof all[0]!.Id).toBe('number');
      expect((await s.listAudit({ limit: 2 })).map((r) => r.Action)).toEqual(['a3', 'a4']);
      expect((await s.listAudit({ since: at(2), limit: 100 })).map((r) => r.Action)).toEqual(['a2', 'a3', 'a4']);
      expect((await s.listAudit({ principal: 'principal/internal/user/bob', limit: 100 })).map((r) => r.Action)).toEqual(['a1', 'a3', 'a4']);
    });

    it('groups, members, policies, subjects', async () => {
      const bob = (await s.getPrincipal('user', 'bob'))!;
      const alice = (await s.getPrincipal('user', 'alice'))!;
      const g = await s.insertGroup('Eng', at());
      await s.insertGroup('ops', at());
      expect(await s.addMember(g.id, bob.id, at())).toBe(true);
      expect(await s.addMember(g.id, bob.id, at())).toBe(false);
      await s.addMember(g.id, alice.id, at());
      expect(await others[0]!.getGroup('ENG')).toEqual({ id: g.id, name: 'Eng', createdAt: at(), members: ['principal/internal/user/Alice', 'principal/internal/user/bob'] });
      expect((await s.listGroups()).map((x) => x.name)).toEqual(['Eng', 'ops']);
      expect(await s.groupsOf(bob.id)).toEqual(['principal/internal/group/Eng']);
      expect(await s.removeMember(g.id, alice.id)).toBe(true);
      expect(await s.removeMember(g.id, alice.id)).toBe(false);

      const base = { Name: 'engineers', Factors: 'any' as const, EnrollWithinDays: 7, ReverifyAfterHours: 12, Active: true };
      const p = await s.savePolicy(base, [{ kind: 'group', id: g.id, path: 'principal/internal/group/eng' }, { kind: 'principal', id: alice.id, path: 'principal/internal/user/alice' }], at());
      expect(p).toEqual({ ...base, Targets: ['principal/internal/group/Eng', 'principal/internal/user/Alice'], CreatedAt: at(), UpdatedAt: at() });
      const q = await s.savePolicy({ ...base, Factors: ['Corp'], ReverifyAfterHours: null, Active: false }, [{ kind: 'principal', id: bob.id, path: '' }], at(9));
      expect(q).toMatchObject({ Factors: ['Corp'], ReverifyAfterHours: null, Active: false, Targets: ['principal/internal/user/bob'], CreatedAt: at(), UpdatedAt: at(9) });
      await s.savePolicy({ ...base, Name: 'all' }, [], at());
      expect((await others[1]!.listPolicies()).map((x) => x.Name)).toEqual(['all', 'engineers']);
      expect(await s.getPolicy('nope')).toBeUndefined();
      await s.deletePolicy('all');
      expect(await s.getPolicy('all')).toBeUndefined();

      expect(await s.firstApplied(bob.id)).toBeUndefined();
      await s.setFirstApplied(bob.id, at(1), false);
      await s.setFirstApplied(bob.id, at(2), false);
      expect(await s.firstApplied(bob.id)).toBe(at(1));
      await s.setFirstApplied(bob.id, at(3), true);
      expect(await s.firstApplied(bob.id)).toBe(at(3));
      await s.deleteGroup(g.id);
      expect(await s.getGroup('eng')).toBeUndefined();
      expect((await s.getPolicy('engineers'))!.Targets).toEqual(['principal/internal/user/bob']);
    });

    it('write: one transaction, rolled back when it throws; a transaction used after its end is refused', async () => {
      await expect(s.write(async (tx) => {
        await tx.insertGroup('rolled-back', at());
        throw new Error('boom');
      })).rejects.toThrow('boom');
      expect(await s.getGroup('rolled-back')).toBeUndefined();
      let leaked: StoreOps | undefined;
      expect(await s.write(async (tx) => ((leaked = tx), (await tx.insertGroup('kept', at())).name))).toBe('kept');
      expect(await others[0]!.getGroup('kept')).toBeDefined();
      await expect(leaked!.listGroups()).rejects.toThrow(/after it ended/);
    });

    it('a configuration listed inside a transaction that rolls back is not listed after it (no list kept from inside)', async () => {
      const before = (await s.listConfigs()).map((c) => c.Name);
      await expect(s.write(async (tx) => {
        await tx.insertConfig(duo('Ghost'), at());
        expect((await tx.listConfigs()).map((c) => c.Name)).toContain('Ghost');
        throw new Error('boom');
      })).rejects.toThrow('boom');
      expect((await s.listConfigs()).map((c) => c.Name)).toEqual(before);
      // A secret rotated by an update is what is read back (no decoded copy of the old row is served).
      await s.insertConfig(duo('Rotating', 'sk-old'), at());
      expect((await s.getConfig('Rotating'))?.Options.SecretKey).toBe('sk-old');
      await s.updateConfig('Rotating', duo('Rotating', 'sk-new'), at(1));
      expect((await s.getConfig('Rotating'))?.Options.SecretKey).toBe('sk-new');
      expect((await s.listConfigs()).find((c) => c.Name === 'Rotating')?.Options.SecretKey).toBe('sk-new');
      await s.deleteConfig('Rotating');
      expect(await s.getConfig('Rotating')).toBeUndefined();
    });

    // ---- the race-safe primitives, from every handle at once ----------------------------------------------
    const all = <T>(n: number, fn: (store: Store, i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => fn(o.stores[i % HANDLES]!, i)));

    it('one TOTP step, advanced from every handle at once: exactly one wins (S16)', async () => {
      const p = await s.insertPrincipal('user', 'racer', null, at());
      await s.assign(p.id, 'totp', 'racer', at(), { secret: 'JBSWY3DPEHPK3PXP', pending: false });
      for (const step of [100, 101, 102]) {
        const wins = await all(12, (st) => st.write((tx) => tx.advanceCounter(p.id, step)));
        expect(wins.filter(Boolean)).toHaveLength(1);
      }
    });

    it('security keys: insert, list (one principal, every principal), rename, use with a counter that must grow, delete; a duplicate refused', async () => {
      const p = await s.insertPrincipal('user', 'keyholder', null, at());
      const key = (id: string, counter: number) => ({ id, principalId: p.id, name: `key ${id}`, publicKey: 'pk-' + id, counter, transports: ['usb', 'nfc'], deviceType: 'singleDevice', backedUp: false, aaguid: '00000000-0000-0000-0000-000000000000', rpId: 'localhost', createdAt: at(1), lastUsedAt: null });
      await s.write((tx) => tx.insertKey(key('k1', 5)));
      await s.insertKey({ ...key('k2', 0), createdAt: at(2), backedUp: true, deviceType: 'multiDevice' });
      expect(await codeOf(s.insertKey(key('k1', 0)))).toBe('KEY_EXISTS');
      const mine = await others[1]!.listKeys(p.id);
      expect(mine.map((k) => [k.id, k.counter, k.backedUp, k.deviceType, k.principal])).toEqual([
        ['k1', 5, false, 'singleDevice', 'principal/internal/user/keyholder'],
        ['k2', 0, true, 'multiDevice', 'principal/internal/user/keyholder'],
      ]);
      expect(mine[0]).toMatchObject({ transports: ['usb', 'nfc'], rpId: 'localhost', lastUsedAt: null, publicKey: 'pk-k1' });
      expect((await s.listKeys()).map((k) => k.id)).toEqual(expect.arrayContaining(['k1', 'k2']));
      expect(await s.renameKey(p.id, 'k1', 'YubiKey 5C')).toBe(true);
      expect(await s.renameKey(p.id, 'nope', 'x')).toBe(false);
      // The counter: only up; a key that keeps none (0 and 0) is fine each time.
      expect(await s.useKey(p.id, 'k1', 5, at(3))).toBe(false);
      expect(await s.useKey(p.id, 'k1', 4, at(3))).toBe(false);
      expect(await s.useKey(p.id, 'k1', 6, at(3))).toBe(true);
      expect(await s.useKey(p.id, 'k2', 0, at(4))).toBe(true);
      expect(await s.useKey(p.id, 'k2', 0, at(5))).toBe(true);
      const after = await s.listKeys(p.id);
      expect(after.map((k) => [k.name, k.counter, k.lastUsedAt])).toEqual([['YubiKey 5C', 6, at(3)], ['key k2', 0, at(5)]]);
      // Another principal's key is not reachable by id alone.
      const q = await s.insertPrincipal('user', 'otherholder', null, at());
      expect(await s.deleteKey(q.id, 'k1', at(6))).toBe(false);
      expect(await s.useKey(q.id, 'k1', 99, at(6))).toBe(false);
      const epoch = (await s.getPrincipalById(p.id))!.epoch;
      expect(await s.deleteKey(p.id, 'k1', at(6))).toBe(true);
      // A deleted key ends the principal's sessions (one made with it may be in a thief's hands).
      expect((await s.getPrincipalById(p.id))!.epoch).toBe(epoch + 1);
      expect(await s.deleteKey(p.id, 'k1', at(6))).toBe(false);
      expect((await s.getPrincipalById(p.id))!.epoch).toBe(epoch + 1);
      // Keys belong to the assignment: a new one, or none, and they go.
      await s.assign(p.id, 'totp', 'keyholder', at(7), { secret: 'JBSWY3DPEHPK3PXP', pending: false });
      expect(await s.listKeys(p.id)).toEqual([]);
      await s.insertKey(key('k4', 0));
      await s.write((tx) => tx.unassign(p.id, at(8)));
      expect(await s.listKeys(p.id)).toEqual([]);
      // Deleting the principal takes its keys with it.
      await s.insertKey(key('k3', 0));
      await s.deletePrincipal(p.id);
      expect((await s.listKeys()).map((k) => k.id)).not.toContain('k3');
    });

    it('one key counter, advanced from every handle at once: exactly one wins (a cloned key)', async () => {
      const p = await s.insertPrincipal('user', 'keyracer', null, at());
      await s.insertKey({ id: 'race-key', principalId: p.id, name: 'r', publicKey: 'pk', counter: 1, transports: [], deviceType: 'singleDevice', backedUp: false, aaguid: '', rpId: 'localhost', createdAt: at(), lastUsedAt: null });
      const wins = await all(12, (st) => st.write((tx) => tx.useKey(p.id, 'race-key', 2, at(1))));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    it('one recovery code, used from every handle at once: it works once', async () => {
      const p = (await s.getPrincipal('user', 'racer'))!;
      const d = await s.recoveryDigest(p.id, 'race-race-race');
      await s.replaceRecoveryCodes(p.id, [d], at());
      const used = await all(12, (st) => st.write((tx) => tx.useRecoveryCode(p.id, d, at(1))));
      expect(used.filter(Boolean)).toHaveLength(1);
      expect(await s.recoveryCodesLeft(p.id)).toBe(0);
    });

    it('lockout: count the attempts in flight, read the counters, decide, insert: never more than the limit at once (S26), for an unknown name too', async () => {
      for (const subject of ['principal/internal/user/racer', 'principal/internal/user/no-such-user']) {
        await s.saveThrottle(subject, '10.0.0.9', { here: { failedCount: 3, lockedUntil: null }, all: { failedCount: 3, lockedUntil: null } }, at());
        const LIMIT = 5;
        // As attempts.ts does: one write per attempt; failures + attempts in flight from the address stay under the limit.
        const decisions = await all(20, (st, i) => st.write(async (tx) => {
          const inFlight = await tx.countAttempts(subject, '10.0.0.9', at());
          const t = await tx.getThrottle(subject, '10.0.0.9');
          if (t.here.failedCount + inFlight.here >= LIMIT) return 'wait';
          await tx.insertAttempt(`att-${subject}-${i}`, subject, '10.0.0.9', at(600));
          return 'go';
        }));
        expect(decisions.filter((d) => d === 'go')).toHaveLength(2);
        // Settling them, each a failure counted once, from any handle.
        await all(20, (st, i) => st.write(async (tx) => {
          if ((await tx.deleteAttempt(`att-${subject}-${i}`, at())) !== 'live') return;
          const t = await tx.getThrottle(subject, '10.0.0.9');
          const up = (c: { failedCount: number }) => ({ failedCount: c.failedCount + 1, lockedUntil: null });
          await tx.saveThrottle(subject, '10.0.0.9', { here: up(t.here), all: up(t.all) }, at());
        }));
        expect(await s.getThrottle(subject, '10.0.0.9')).toEqual({ here: { failedCount: 5, lockedUntil: null }, all: { failedCount: 5, lockedUntil: null }, lastSuccessHere: null });
        expect(await s.countAttempts(subject, '10.0.0.9', at())).toEqual({ here: 0, all: 0, expired: [] });
      }
    });

    it('read-modify-write of one counter from every handle: no update lost', async () => {
      const subject = 'principal/internal/application/counted';
      await all(30, (st, i) => st.write(async (tx) => {
        const t = await tx.getThrottle(subject, `10.0.1.${i % 4}`);
        await tx.saveThrottle(subject, `10.0.1.${i % 4}`, { here: { failedCount: t.here.failedCount + 1, lockedUntil: null }, all: { failedCount: t.all.failedCount + 1, lockedUntil: null } }, at());
      }));
      expect((await s.getThrottle(subject, '10.0.1.0')).all.failedCount).toBe(30);
      expect((await s.listThrottle(subject)).filter((r) => r.address !== '*').map((r) => r.failedCount)).toEqual([8, 8, 7, 7]);
    });

    it('read-modify-write of a principal row from every handle: each sees the last one', async () => {
      const p = (await s.getPrincipal('user', 'racer'))!;
      await all(30, (st, i) => st.write(async (tx) => {
        const cur = (await tx.getPrincipalById(p.id))!;
        await tx.setLastMfa(p.id, `${cur.lastMfaAt ?? ''}${i % 10}`.slice(-200));
      }));
      expect((await s.getPrincipalById(p.id))!.lastMfaAt).toHaveLength(30);
    });

    it('check-then-insert of one name from every handle: one principal, the others told it exists', async () => {
      const outcomes = await all(9, (st) => codeOf(st.write(async (tx) => {
        if (await tx.getPrincipal('user', 'twin')) throw Object.assign(new Error('exists'), { code: 'PRINCIPAL_EXISTS' });
        await tx.insertPrincipal('user', 'Twin', null, at());
      })));
      expect(outcomes.filter((x) => x === 'ok')).toHaveLength(1);
      expect(outcomes.filter((x) => x !== 'ok')).toEqual(Array(8).fill('PRINCIPAL_EXISTS'));
    });

    it('revocation: a session made on one handle is valid on all, and gone on all once the epoch is raised elsewhere', async () => {
      const p = (await s.getPrincipal('user', 'racer'))!;
      const sessions = await all(6, (st, i) => st.insertSession({ tokenHash: `rev-${i}`, principalId: p.id, epoch: p.epoch, factor: 'totp', createdAt: at(), expiresAt: at(999) }).then(() => `rev-${i}`));
      for (const st of o.stores) for (const t of sessions) expect((await st.getSession(t))?.epoch).toBe(p.epoch);
      await others[1]!.write((tx) => tx.unassign(p.id, at()));
      for (const st of o.stores) for (const t of sessions) expect(await st.getSession(t)).toBeUndefined();
      expect((await others[0]!.getPrincipalById(p.id))!.epoch).toBe(p.epoch + 1);
    });
  });
}
