// S6, S7: the master key. A wrong, missing, malformed or unsafe key is refused with exit 8 and a message that
// says what is wrong and how to fix it, without echoing the key, and without changing anything. Files ssrun
// creates are the owner's alone; SSRUN_MASTER_KEY makes a store without writing a key file.

import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome } from '../helpers/cli.js';
import { cipher, dbPath, duoConfig, expectOneLineError, keyPath, newMasterKey, randomSecret, snapshot } from './util.js';

afterAll(() => expectNoSecretsLeaked());

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const keyIdOf = (text: string) => cipher.keyId(Buffer.from(text.trim(), /^[0-9a-f]{64}$/i.test(text.trim()) ? 'hex' : 'base64'));

/** A store made with a key file, holding one config. */
async function storeWithKeyFile() {
  const home = tempHome();
  const secretKey = secret(randomSecret('mk'));
  const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig('Kept', secretKey) });
  expect(r.exitCode).toBe(0);
  const key = secret(readFileSync(keyPath(home), 'utf8').trim());
  return { home, secretKey, key };
}

/** Both a read and a write are refused with CODE, one clean line, and nothing on disk changes. */
async function expectRefused(home: string, env: Record<string, string>, code: string, message: RegExp) {
  const before = snapshot(home);
  const runs = [
    await ssrun(['mfa', 'get', '--show-secrets'], { home, env }),
    await ssrun(['mfa', 'create', '-f', '-'], { home, env, input: duoConfig('New', secret(randomSecret('new'))) }),
  ];
  for (const r of runs) {
    expect(r.exitCode).toBe(8);
    expect(r.stdout).toBe('');
    expectOneLineError(r.stderr, code);
    expect(r.stderr).toMatch(message);
  }
  expect(snapshot(home)).toEqual(before);
  return runs[0]!.stderr;
}

describe('S6: the master key does not fit the store', () => {
  it('a wrong SSRUN_MASTER_KEY: exit 8, says the key does not open the store, names both key ids, changes nothing', async () => {
    const { home, key } = await storeWithKeyFile();
    const wrong = secret(newMasterKey());
    const stderr = await expectRefused(home, { SSRUN_MASTER_KEY: wrong }, 'MASTER_KEY_WRONG', /does not open the store/);
    expect(stderr).toContain(keyIdOf(wrong));
    expect(stderr).toContain(keyIdOf(key));
    expect(keyIdOf(wrong)).not.toBe(keyIdOf(key));
  });

  it('a wrong key file (replaced by another valid key): refused the same way, changes nothing', async () => {
    const { home, key } = await storeWithKeyFile();
    const other = secret(newMasterKey());
    writeFileSync(keyPath(home), `${other}\n`, { mode: 0o600 });
    const stderr = await expectRefused(home, {}, 'MASTER_KEY_WRONG', /does not open the store/);
    expect(stderr).toContain(keyIdOf(other));
    expect(stderr).toContain(keyIdOf(key));
  });

  it('the key file of an existing store is missing: MASTER_KEY_MISSING, and no new key is made in its place', async () => {
    const { home } = await storeWithKeyFile();
    renameSync(keyPath(home), join(dirname(home), 'master.key.bak'));
    const stderr = await expectRefused(home, {}, 'MASTER_KEY_MISSING', /no master key was found/);
    expect(stderr).toContain('SSRUN_MASTER_KEY');
    expect(stderr).toContain(keyPath(home));
    expect(Object.keys(snapshot(home))).toEqual(['ssrun.db']);
    // Restoring the key restores access.
    renameSync(join(dirname(home), 'master.key.bak'), keyPath(home));
    expect((await ssrun(['mfa', 'get'], { home })).exitCode).toBe(0);
  });

  it('the key of a store given through SSRUN_MASTER_KEY works in place of its key file, in hex too', async () => {
    const { home, key, secretKey } = await storeWithKeyFile();
    renameSync(keyPath(home), join(dirname(home), 'master.key.bak'));
    const hex = secret(Buffer.from(key, 'base64').toString('hex'));
    for (const k of [key, hex]) {
      const r = await ssrun(['mfa', 'get', '-n', 'Kept', '--show-secrets'], { home, env: { SSRUN_MASTER_KEY: k }, revealsSecrets: true });
      expect(r.exitCode).toBe(0);
      expect(json(r).Options.SecretKey).toBe(secretKey);
    }
  });
});

describe('S6: a malformed SSRUN_MASTER_KEY', () => {
  const malformed = {
    'a passphrase': 'correct horse battery staple, not a key',
    'base64 of 31 bytes': Buffer.alloc(31, 7).toString('base64'),
    'hex of 33 bytes': Buffer.alloc(33, 0xab).toString('hex'),
    '64 characters that are not hex': 'z'.repeat(64),
  };
  for (const [what, value] of Object.entries(malformed)) {
    it(`${what}: MASTER_KEY_INVALID, the value is not echoed, an existing store is unchanged`, async () => {
      const { home } = await storeWithKeyFile();
      const stderr = await expectRefused(home, { SSRUN_MASTER_KEY: secret(value) }, 'MASTER_KEY_INVALID', /SSRUN_MASTER_KEY/);
      expect(stderr).toMatch(/256-bit key/);
      for (let i = 0; i + 8 <= value.length; i++) expect(stderr).not.toContain(value.slice(i, i + 8));
    });
  }

  it('on a new home: MASTER_KEY_INVALID, no key file is written, and a good key works afterwards', async () => {
    const home = tempHome();
    const bad = secret('definitely-not-a-256-bit-key');
    const r = await ssrun(['mfa', 'create', '-f', '-'], { home, env: { SSRUN_MASTER_KEY: bad }, input: duoConfig('A', secret(randomSecret('a'))) });
    expect(r.exitCode).toBe(8);
    expectOneLineError(r.stderr, 'MASTER_KEY_INVALID');
    expect(r.stderr).not.toContain(bad);
    expect(Object.keys(snapshot(home))).not.toContain('master.key');
    const good = secret(newMasterKey());
    const again = await ssrun(['mfa', 'create', '-f', '-'], { home, env: { SSRUN_MASTER_KEY: good }, input: duoConfig('A', secret(randomSecret('a'))) });
    expect(again.exitCode).toBe(0);
  });
});

describe('S7: an unsafe key file is refused, with the fix', () => {
  for (const mode of [0o644, 0o640, 0o604]) {
    it(`mode ${mode.toString(8)}: MASTER_KEY_UNSAFE with a chmod 600 hint; the mode is not changed behind the user's back`, async () => {
      const { home } = await storeWithKeyFile();
      chmodSync(keyPath(home), mode);
      const stderr = await expectRefused(home, {}, 'MASTER_KEY_UNSAFE', /group or others/);
      expect(stderr).toContain(`chmod 600 ${keyPath(home)}`);
      expect(statSync(keyPath(home)).mode & 0o777).toBe(mode);
      chmodSync(keyPath(home), 0o600);
      expect((await ssrun(['mfa', 'get'], { home })).exitCode).toBe(0);
    });
  }

  it('a symbolic link to a good key file (0600) is refused', async () => {
    const { home } = await storeWithKeyFile();
    const real = join(dirname(home), 'elsewhere.key');
    renameSync(keyPath(home), real);
    symlinkSync(real, keyPath(home));
    await expectRefused(home, {}, 'MASTER_KEY_UNSAFE', /symbolic link/);
  });

  it('a directory in place of the key file is refused', async () => {
    const { home } = await storeWithKeyFile();
    renameSync(keyPath(home), join(dirname(home), 'master.key.bak'));
    mkdirSync(keyPath(home), { mode: 0o700 });
    await expectRefused(home, {}, 'MASTER_KEY_UNSAFE', /not a regular file/);
  });

  it.skipIf(!isRoot)('a key file owned by another user is refused with a chown hint (needs root to chown)', async () => {
    const { home } = await storeWithKeyFile();
    chownSync(keyPath(home), 65534, 65534);
    const stderr = await expectRefused(home, {}, 'MASTER_KEY_UNSAFE', /owned by uid 65534/);
    expect(stderr).toContain('chown');
  });

  it('a malformed key file: MASTER_KEY_INVALID naming the file, its content not echoed', async () => {
    const { home } = await storeWithKeyFile();
    const junk = secret('this-key-file-was-edited-by-mistake');
    writeFileSync(keyPath(home), junk, { mode: 0o600 });
    const stderr = await expectRefused(home, {}, 'MASTER_KEY_INVALID', /key file/);
    expect(stderr).toContain(keyPath(home));
    expect(stderr).not.toContain(junk);
  });
});

describe('S7: files ssrun creates are its owner’s alone', () => {
  it('home 0700, database and key 0600, cli.json 0600 after a login, even under umask 000', async () => {
    const home = tempHome();
    const password = secret(randomSecret('pw'));
    // ssrun must not depend on the caller's umask: run it under the most permissive one (children inherit it).
    const previous = process.umask(0);
    try {
      await createAndLogin(home, password);
    } finally {
      process.umask(previous);
    }
  });
});

async function createAndLogin(home: string, password: string) {
  const created = await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig('A', secret(randomSecret('a'))) });
  expect(created.exitCode).toBe(0);
  expect(statSync(home).mode & 0o777).toBe(0o700);
  expect(statSync(dbPath(home)).mode & 0o777).toBe(0o600);
  expect(statSync(keyPath(home)).mode & 0o777).toBe(0o600);

  expect((await ssrun(['user', 'create', '-n', 'alice', '--password-stdin'], { home, input: `${password}\n` })).exitCode).toBe(0);
  const login = await ssrun(['login', '-u', 'alice', '--password-stdin'], { home, input: `${password}\n` });
  expect(login.exitCode).toBe(0);
  const files = snapshot(home);
  expect(Object.keys(files).sort()).toEqual(['cli.json', 'master.key', 'ssrun.db']);
  for (const f of Object.keys(files)) expect({ f, mode: statSync(join(home, f)).mode & 0o777 }).toEqual({ f, mode: 0o600 });
  expect(statSync(home).mode & 0o777).toBe(0o700);
}

describe('S6: SSRUN_MASTER_KEY for a new store', () => {
  it('creates the store sealed with it and writes no key file; the store then needs that key', async () => {
    const home = tempHome();
    const key = secret(newMasterKey());
    const secretKey = secret(randomSecret('env'));
    const r = await ssrun(['mfa', 'create', '-f', '-'], { home, env: { SSRUN_MASTER_KEY: key }, input: duoConfig('Env', secretKey) });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/^ssrun: created a new store at .*ssrun\.db, sealed with SSRUN_MASTER_KEY\n$/);
    expect(Object.keys(snapshot(home))).toEqual(['ssrun.db']);

    const withKey = await ssrun(['mfa', 'get', '--show-secrets'], { home, env: { SSRUN_MASTER_KEY: key }, revealsSecrets: true });
    expect(withKey.exitCode).toBe(0);
    expect(json(withKey)[0].Options.SecretKey).toBe(secretKey);

    // Without the key it is refused, and no key file is invented for it.
    const without = await ssrun(['mfa', 'get'], { home });
    expect(without.exitCode).toBe(8);
    expectOneLineError(without.stderr, 'MASTER_KEY_MISSING');
    expect(Object.keys(snapshot(home))).toEqual(['ssrun.db']);
  });

  it('a key file put in place before first use is used, and the notice points at it (not at SSRUN_MASTER_KEY)', async () => {
    const home = tempHome();
    mkdirSync(home, { recursive: true, mode: 0o700 });
    const key = secret(newMasterKey());
    writeFileSync(keyPath(home), `${key}\n`, { mode: 0o600 });
    const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig('Pre', secret(randomSecret('pre'))) });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`its master key is ${keyPath(home)}`);
    expect(r.stderr).not.toContain('SSRUN_MASTER_KEY');
    expect(readFileSync(keyPath(home), 'utf8')).toBe(`${key}\n`);
    // The store is sealed with that key: it opens with it given through the environment, without the file.
    renameSync(keyPath(home), join(dirname(home), 'moved.key'));
    expect((await ssrun(['mfa', 'get'], { home, env: { SSRUN_MASTER_KEY: key } })).exitCode).toBe(0);
  });
});
