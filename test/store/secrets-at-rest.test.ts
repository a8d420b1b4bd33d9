// S8 through the CLI: a tampered or moved ciphertext fails closed (exit 8, SECRET_UNDECRYPTABLE) for
// `mfa get --show-secrets` and for the login of a principal assigned to it (never "no MFA"); and the raw bytes
// of ssrun.db, -wal and -shm never hold a SecretKey, password, API key, the master key or the data key.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome } from '../helpers/cli.js';
import { cipher, dbPath, duoConfig, expectOneLineError, keyPath, randomSecret, raw } from './util.js';

afterAll(() => expectNoSecretsLeaked());

const DATA_KEY_AAD = 'meta:data_key';

interface Fixture {
  home: string;
  secrets: Record<string, string>;
  password: string;
}

/** A store with configs Tampered and Other, and user alice (with a password) assigned to Tampered. */
async function fixture(): Promise<Fixture> {
  const home = tempHome();
  const secrets = { Tampered: secret(randomSecret('tampered')), Other: secret(randomSecret('other')) };
  for (const [name, sk] of Object.entries(secrets)) expect((await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig(name, sk) })).exitCode).toBe(0);
  const password = secret(randomSecret('alice-pw'));
  expect((await ssrun(['user', 'create', '-n', 'alice', '--password-stdin'], { home, input: `${password}\n` })).exitCode).toBe(0);
  expect((await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/alice', '-m', 'alice-duo', '-c', 'Tampered'], { home })).exitCode).toBe(0);
  return { home, secrets, password };
}

function readSealed(home: string, name: string): string {
  const db = raw(home);
  try {
    return db.prepare(`SELECT secrets FROM mfa_configs WHERE name = ?`).pluck().get(name) as string;
  } finally {
    db.close();
  }
}

function writeSealed(home: string, name: string, sealed: string): void {
  const db = raw(home);
  try {
    expect(db.prepare(`UPDATE mfa_configs SET secrets = ? WHERE name = ?`).run(sealed, name).changes).toBe(1);
  } finally {
    db.close();
  }
}

/** Flips one bit of the first byte of field INDEX (2 = IV, 3 = ciphertext, 4 = tag) of a sealed value. */
function tamper(sealed: string, index: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0] = bytes[0]! ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

async function expectShowSecretsFails(home: string, name: string) {
  const r = await ssrun(['mfa', 'get', '-n', name, '--show-secrets'], { home });
  expect({ exitCode: r.exitCode, stdout: r.stdout, sealed: readSealed(home, name) }).toEqual({ exitCode: 8, stdout: '', sealed: readSealed(home, name) });
  expectOneLineError(r.stderr, 'SECRET_UNDECRYPTABLE');
}

async function expectShowSecretsWorks(home: string, name: string, secretKey: string) {
  const r = await ssrun(['mfa', 'get', '-n', name, '--show-secrets'], { home, revealsSecrets: true });
  expect(r.exitCode).toBe(0);
  expect(json(r).Options.SecretKey).toBe(secretKey);
}

/** alice's login must fail closed: exit 8 with SECRET_UNDECRYPTABLE, no session, never "allowed". */
async function expectLoginFailsClosed(f: Fixture, mfa: string) {
  const count = (outcome: string) => {
    const db = raw(f.home, { readonly: true });
    try {
      return db.prepare(`SELECT count(*) FROM audit WHERE action = 'login' AND outcome = ? AND (? = 'allowed' OR detail LIKE 'SECRET_UNDECRYPTABLE%')`).pluck().get(outcome, outcome) as number;
    } finally {
      db.close();
    }
  };
  const errorsBefore = count('error');
  const r = await ssrun(['login', '-u', 'alice', '--password-stdin', '-m', mfa, '--timeout', '5'], { home: f.home, input: `${f.password}\n` });
  expect({ exitCode: r.exitCode, stdout: r.stdout }).toEqual({ exitCode: 8, stdout: '' });
  expectOneLineError(r.stderr, 'SECRET_UNDECRYPTABLE');
  expect(existsSync(join(f.home, 'cli.json'))).toBe(false);
  expect(count('allowed')).toBe(0);
  expect(count('error')).toBe(errorsBefore + 1);
}

describe('S8: a tampered or moved ciphertext fails closed', () => {
  let f: Fixture;
  const original: Record<string, string> = {};
  beforeAll(async () => {
    f = await fixture();
    for (const name of ['Tampered', 'Other']) original[name] = readSealed(f.home, name);
  });
  // Each test starts from the untouched rows (and checks they still open when it is done).
  afterEach(async () => {
    for (const name of ['Tampered', 'Other']) writeSealed(f.home, name, original[name]!);
  });

  it('the untouched store reads back (the control for the cases below)', async () => {
    await expectShowSecretsWorks(f.home, 'Tampered', f.secrets.Tampered!);
    await expectShowSecretsWorks(f.home, 'Other', f.secrets.Other!);
  });

  for (const [field, index, mfa] of [['IV', 2, '123456'], ['ciphertext', 3, 'push'], ['tag', 4, '654321']] as const) {
    it(`one flipped bit in the ${field}: mfa get --show-secrets and the login of an assigned user fail with exit 8`, async () => {
      writeSealed(f.home, 'Tampered', tamper(original.Tampered!, index));

      await expectShowSecretsFails(f.home, 'Tampered');
      // Listing everything fails rather than quietly leaving the damaged config out.
      const list = await ssrun(['mfa', 'get'], { home: f.home });
      expect(list.exitCode).toBe(8);
      expectOneLineError(list.stderr, 'SECRET_UNDECRYPTABLE');
      // The damage is confined to that row.
      await expectShowSecretsWorks(f.home, 'Other', f.secrets.Other!);
      await expectLoginFailsClosed(f, mfa);

      // Putting the original bytes back makes it readable again: the failure was the tampering.
      writeSealed(f.home, 'Tampered', original.Tampered!);
      await expectShowSecretsWorks(f.home, 'Tampered', f.secrets.Tampered!);
    });
  }

  it("swapping two configs' ciphertexts makes both fail, and the assigned user's login fails closed", async () => {
    writeSealed(f.home, 'Tampered', original.Other!);
    writeSealed(f.home, 'Other', original.Tampered!);
    await expectShowSecretsFails(f.home, 'Tampered');
    await expectShowSecretsFails(f.home, 'Other');
    await expectLoginFailsClosed(f, 'auto');
  });

  it("copying one config's ciphertext over another's: the copy fails, the source still opens", async () => {
    writeSealed(f.home, 'Tampered', original.Other!);
    await expectShowSecretsFails(f.home, 'Tampered');
    await expectShowSecretsWorks(f.home, 'Other', f.secrets.Other!);
  });
});

/** Every form a leaked secret could take in the file: as is, UTF-16, base64, base64url, hex. */
function forms(value: string | Buffer): Buffer[] {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const out = [b, Buffer.from(b.toString('base64')), Buffer.from(b.toString('base64url')), Buffer.from(b.toString('hex'))];
  if (typeof value === 'string') out.push(Buffer.from(value, 'utf16le'));
  return out;
}

function expectNotInFiles(home: string, values: Record<string, string | Buffer>, stage: string) {
  const files = ['ssrun.db', 'ssrun.db-wal', 'ssrun.db-shm'].filter((f) => existsSync(join(home, f)));
  expect(files).toContain('ssrun.db');
  const found: string[] = [];
  for (const file of files) {
    const bytes = readFileSync(join(home, file));
    for (const [what, value] of Object.entries(values)) for (const form of forms(value)) if (bytes.includes(form)) found.push(`${what} in ${file} (${stage})`);
  }
  expect(found).toEqual([]);
}

describe('S8: no secret in the raw database bytes', () => {
  it('SecretKeys, passwords, API keys, the master key and the data key appear in no file, before and after checkpoint', async () => {
    const home = tempHome();
    const values: Record<string, string | Buffer> = {};
    // First use makes the store; then hold a connection open, so the CLI's writes stay in the WAL
    // (the last connection to close would checkpoint it into ssrun.db and delete it).
    const first = secret(randomSecret('sk-first'));
    values['SecretKey First'] = first;
    expect((await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig('AtRest-First', first) })).exitCode).toBe(0);
    const holder = raw(home);
    try {
      // better-sqlite3 opens lazily: read once, so this connection holds the WAL open from now on.
      holder.prepare(`SELECT count(*) FROM mfa_configs`).pluck().get();
      for (let i = 0; i < 3; i++) {
        const sk = secret(randomSecret(`sk-at-rest-${i}`));
        values[`SecretKey ${i}`] = sk;
        expect((await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig(`AtRest-${i}`, sk) })).exitCode).toBe(0);
      }
      // An update replaces a secret: neither the old nor the new one may be left in clear anywhere.
      const updated = secret(randomSecret('sk-updated'));
      values['SecretKey updated'] = updated;
      expect((await ssrun(['mfa', 'update', '-n', 'AtRest-0', '-f', '-'], { home, input: duoConfig('AtRest-0', updated) })).exitCode).toBe(0);
      for (let i = 0; i < 2; i++) {
        const pw = secret(randomSecret(`password-${i}`));
        values[`password ${i}`] = pw;
        expect((await ssrun(['user', 'create', '-n', `rest${i}`, '--password-stdin'], { home, input: `${pw}\n` })).exitCode).toBe(0);
      }
      const app = await ssrun(['application', 'create', '-n', 'restapp'], { home, revealsSecrets: true });
      expect(app.exitCode).toBe(0);
      values['API key'] = secret(json(app).ApiKey as string);
      const rootPw = secret(randomSecret('root-pw'));
      values['root password'] = rootPw;
      expect((await ssrun(['init', '--password-stdin'], { home, input: `${rootPw}\n` })).exitCode).toBe(0);

      const master = Buffer.from(readFileSync(keyPath(home), 'utf8').trim(), 'base64');
      const wrapped = holder.prepare(`SELECT value FROM meta WHERE key = 'data_key'`).pluck().get() as string;
      values['master key'] = master;
      values['data key'] = cipher.open(master, wrapped, DATA_KEY_AAD);

      // Before the checkpoint: the new pages are in the WAL (it does hold the rows, so this looks at them).
      expect(statSync(join(home, 'ssrun.db-wal')).size).toBeGreaterThan(0);
      expect(readFileSync(join(home, 'ssrun.db-wal')).includes(Buffer.from('AtRest-2'))).toBe(true);
      expectNotInFiles(home, values, 'before checkpoint');

      expect(holder.pragma('wal_checkpoint(TRUNCATE)')).toEqual([{ busy: 0, log: 0, checkpointed: 0 }]);
      expect(readFileSync(dbPath(home)).includes(Buffer.from('AtRest-2'))).toBe(true);
      expectNotInFiles(home, values, 'after checkpoint');
    } finally {
      holder.close();
    }
    expectNotInFiles(home, values, 'after the last connection closed');

    // And the secrets are all there, encrypted: the CLI reads them back.
    const shown = await ssrun(['mfa', 'get', '-n', 'AtRest-0', '--show-secrets'], { home, revealsSecrets: true });
    expect(json(shown).Options.SecretKey).toBe(values['SecretKey updated']);
  });
});
