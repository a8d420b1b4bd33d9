// S3: several ssrun processes writing to one store at once. No SQLITE_BUSY / STORE_BUSY reaches the user,
// every command succeeds, and the final state is exact. Also the first-use race: processes starting
// together on a brand-new home end with one key file and one working store.

import { readdirSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome, type RunResult } from '../helpers/cli.js';
import { dbPath, duoConfig, keyPath, randomSecret, raw } from './util.js';

afterAll(() => expectNoSecretsLeaked());

const WRITERS = 4;
const PER_WRITER = 10;

function expectClean(r: RunResult, what: string) {
  if (r.exitCode !== 0 || /BUSY|LOCKED|locked|busy/.test(r.stderr)) throw new Error(`${what}: exit ${r.exitCode}\n${r.stderr}`);
}

describe('S3: concurrent writers on one store', () => {
  it(`${WRITERS} processes each creating ${PER_WRITER} configs at once: all succeed, all are there`, async () => {
    const home = tempHome();
    // Make the store first, so this test is about concurrent writes (the first-use race is the next test).
    expectClean(await ssrun(['mfa', 'get'], { home }), 'first use');

    const expected: { Name: string; SecretKey: string }[] = [];
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      for (let i = 0; i < PER_WRITER; i++) {
        const Name = `W${w}-Config-${i}`;
        const SecretKey = secret(randomSecret(`conc-${w}-${i}`));
        expected.push({ Name, SecretKey });
        const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig(Name, SecretKey) });
        expectClean(r, `mfa create ${Name}`);
        expect(json(r).Name).toBe(Name);
      }
    });
    await Promise.all(writers);

    const got = await ssrun(['mfa', 'get'], { home });
    expectClean(got, 'mfa get');
    // every config written, besides the built-in totp and webauthn ones
    const all = (json(got) as { Name: string }[]).map((c) => c.Name);
    expect(all).toContain('totp');
    expect(all).toContain('webauthn');
    const names = all.filter((n) => n !== 'totp' && n !== 'webauthn');
    expect(names).toHaveLength(WRITERS * PER_WRITER);
    expect([...names].sort()).toEqual(expected.map((e) => e.Name).sort());

    // And each one holds its own secret (no write landed in another row).
    const shown = await ssrun(['mfa', 'get', '--show-secrets'], { home, revealsSecrets: true });
    expectClean(shown, 'mfa get --show-secrets');
    const secrets = new Map((json(shown) as { Name: string; Options: { SecretKey: string } }[]).map((c) => [c.Name, c.Options.SecretKey]));
    for (const e of expected) expect(secrets.get(e.Name)).toBe(e.SecretKey);

    const db = raw(home, { readonly: true });
    try {
      expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      expect(db.prepare(`SELECT count(*) FROM audit WHERE action = 'mfa.create'`).pluck().get()).toBe(WRITERS * PER_WRITER);
    } finally {
      db.close();
    }
  }, 60_000);

  it('concurrent user creates, assignments and logins (read-modify-write in BEGIN IMMEDIATE) all succeed', async () => {
    const home = tempHome();
    expectClean(await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig('Shared', secret(randomSecret('shared'))) }), 'mfa create');
    const users = Array.from({ length: WRITERS }, (_, i) => ({ name: `user${i}`, password: secret(randomSecret(`pw${i}`)) }));

    // Each process: create a user, assign it, then its twin creates an application, while the others do the same.
    await Promise.all(
      users.map(async (u, i) => {
        expectClean(await ssrun(['user', 'create', '-n', u.name, '--password-stdin'], { home, input: `${u.password}\n` }), `user create ${u.name}`);
        expectClean(await ssrun(['mfa', 'assign-principal', '-p', `principal/internal/user/${u.name}`, '-m', `duo-${i}`, '-c', 'Shared'], { home }), `assign ${u.name}`);
        const app = await ssrun(['application', 'create', '-n', `app${i}`], { home, revealsSecrets: true });
        expectClean(app, `application create app${i}`);
        secret(json(app).ApiKey);
      }),
    );

    const got = await ssrun(['mfa', 'get', '-n', 'Shared', '-v'], { home });
    expectClean(got, 'mfa get -v');
    expect((json(got).Principals as { Principal: string }[]).map((p) => p.Principal).sort()).toEqual(users.map((u) => `principal/internal/user/${u.name}`).sort());
    const apps = await ssrun(['application', 'get'], { home });
    expectClean(apps, 'application get');
    expect((json(apps) as unknown[]).length).toBe(WRITERS);

    // Logins of unassigned principals update the failure counters (read-modify-write) concurrently.
    const unassigned = Array.from({ length: WRITERS }, (_, i) => ({ name: `plain${i}`, password: secret(randomSecret(`plainpw${i}`)) }));
    for (const u of unassigned) expectClean(await ssrun(['user', 'create', '-n', u.name, '--password-stdin'], { home, input: `${u.password}\n` }), `user create ${u.name}`);
    const logins = await Promise.all(unassigned.map((u) => ssrun(['login', '-u', u.name, '--password-stdin'], { home, input: `${u.password}\n` })));
    for (const [i, r] of logins.entries()) expectClean(r, `login ${unassigned[i]!.name}`);
  }, 60_000);
});

describe('S3: the first-use race', () => {
  it('processes starting together on a brand-new home end with one key file and one working store', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const home = tempHome();
      const n = 5;
      const runs = await Promise.all(
        Array.from({ length: n }, (_, i) => ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig(`First-${i}`, secret(randomSecret(`first${i}`))) })),
      );
      for (const [i, r] of runs.entries()) expectClean(r, `first-use mfa create ${i}`);

      // Exactly one process says it created the store, and it points at the key file (no env key was used).
      const notices = runs.map((r) => r.stderr).filter((s) => s.includes('created a new store'));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toContain(keyPath(home));
      expect(notices[0]).not.toContain('SSRUN_MASTER_KEY');

      // One key file, no temporary files left behind, owner-only modes.
      expect(readdirSync(home).sort()).toEqual(['master.key', 'ssrun.db']);
      expect(statSync(keyPath(home)).mode & 0o777).toBe(0o600);
      expect(statSync(dbPath(home)).mode & 0o777).toBe(0o600);

      // One working store holding every config, readable with that key.
      const got = await ssrun(['mfa', 'get', '--show-secrets'], { home, revealsSecrets: true });
      expectClean(got, 'mfa get');
      expect((json(got) as { Name: string }[]).map((c) => c.Name).sort()).toEqual([...Array.from({ length: n }, (_, i) => `First-${i}`), 'totp', 'webauthn'].sort());
      const db = raw(home, { readonly: true });
      try {
        expect(db.prepare(`SELECT count(*) FROM meta WHERE key = 'data_key'`).pluck().get()).toBe(1);
      } finally {
        db.close();
      }
    }
  }, 60_000);
});
