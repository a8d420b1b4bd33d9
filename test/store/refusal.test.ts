// S4: a database that is not ssrun's (not SQLite, another program's SQLite, damaged, truncated, or written by
// a newer ssrun) is refused with exit 8 and left byte-for-byte as it was; a read-only or full store gives a
// clean one-line error (exit 8, no stack trace) and its data stays intact.

import Database from 'better-sqlite3';
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, expectNoSecretsLeaked, json, secret, ssrun, tempHome } from '../helpers/cli.js';

const BUILTIN_TOTP = { Type: 'totp', Name: 'totp', Options: { Issuer: 'ssrun', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 } };
const BUILTIN_WEBAUTHN = { Type: 'webauthn', Name: 'webauthn', Options: { RpName: 'ssrun', UserVerification: 'required' } };
import { dbPath, duoConfig, expectOneLineError, randomSecret, raw, snapshot, sqlite } from './util.js';

afterAll(() => expectNoSecretsLeaked());

/** A home holding a working store with one config. */
async function storeWithOneConfig(): Promise<{ home: string; secretKey: string }> {
  const home = tempHome();
  const secretKey = secret(randomSecret('refusal'));
  const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig('Kept', secretKey) });
  expect(r.exitCode).toBe(0);
  return { home, secretKey };
}

/** Runs a read and a write command against HOME: both refused the same way, and nothing changes. */
async function expectRefused(home: string, code: string, message: RegExp) {
  const before = snapshot(home);
  for (const args of [['mfa', 'get'], ['mfa', 'create', '-f', '-'], ['user', 'create', '-n', 'someone', '--password-stdin']]) {
    const r = await ssrun(args, { home, input: args[1] === 'create' && args[0] === 'mfa' ? duoConfig('New', secret(randomSecret('new'))) : 'a-long-password\n' });
    expect({ args, exitCode: r.exitCode, stdout: r.stdout }).toEqual({ args, exitCode: 8, stdout: '' });
    expectOneLineError(r.stderr, code);
    expect(r.stderr).toMatch(message);
    // Nothing was written, created or removed: same files, same bytes (no -wal, -shm or key file left).
    expect(snapshot(home)).toEqual(before);
  }
}

describe('S4: refusing what is not an ssrun store', () => {
  it('a text file at ssrun.db: not an SQLite database, left unchanged, no key file made', async () => {
    const home = tempHome();
    mkdirSync(home, { recursive: true });
    writeFileSync(dbPath(home), 'my notes\nnot a database at all, please keep me\n');
    await expectRefused(home, 'STORE_CORRUPT', /is not an SQLite database/);
    expect(readFileSync(dbPath(home), 'utf8')).toBe('my notes\nnot a database at all, please keep me\n');
  });

  it('a file shorter than an SQLite header is refused and unchanged', async () => {
    const home = tempHome();
    mkdirSync(home, { recursive: true });
    writeFileSync(dbPath(home), 'SQLite');
    await expectRefused(home, 'STORE_CORRUPT', /is not an SQLite database/);
  });

  it("another program's SQLite database is refused and unchanged (not switched to WAL)", async () => {
    const home = tempHome();
    mkdirSync(home, { recursive: true });
    const other = new Database(dbPath(home));
    other.exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')`);
    other.close();
    await expectRefused(home, 'STORE_CORRUPT', /is an SQLite database but not an ssrun store/);
    const check = raw(home, { readonly: true });
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });

  it("an SQLite database marked with another program's application_id (no tables yet) is refused and unchanged", async () => {
    const home = tempHome();
    mkdirSync(home, { recursive: true });
    const other = new Database(dbPath(home));
    other.pragma('application_id = 1234');
    other.close();
    await expectRefused(home, 'STORE_CORRUPT', /not an ssrun store/);
  });

  it('a store written by a newer ssrun is refused, naming both schema versions, and unchanged', async () => {
    const { home } = await storeWithOneConfig();
    const db = raw(home);
    db.pragma(`user_version = ${sqlite.SCHEMA_VERSION + 1}`);
    db.close();
    await expectRefused(home, 'STORE_NEWER_SCHEMA', new RegExp(`schema ${sqlite.SCHEMA_VERSION + 1}\\b.*\\b${sqlite.SCHEMA_VERSION}\\b`));
  });

  it('a truncated store is refused as damaged and unchanged', async () => {
    const { home } = await storeWithOneConfig();
    const bytes = readFileSync(dbPath(home));
    writeFileSync(dbPath(home), bytes.subarray(0, 2 * 4096));
    await expectRefused(home, 'STORE_CORRUPT', /damaged/);
  });

  it('a store with a damaged page is refused as damaged and unchanged', async () => {
    const { home } = await storeWithOneConfig();
    const pageSize = (() => {
      const db = raw(home); // read-write, so that closing it removes the -wal and -shm files again
      const size = db.pragma('page_size', { simple: true }) as number;
      const root = db.prepare(`SELECT rootpage FROM sqlite_schema WHERE name = 'meta'`).pluck().get() as number;
      db.close();
      return { size, root };
    })();
    const bytes = readFileSync(dbPath(home));
    bytes.fill(0xff, (pageSize.root - 1) * pageSize.size, pageSize.root * pageSize.size); // the meta table's page
    writeFileSync(dbPath(home), bytes);
    await expectRefused(home, 'STORE_CORRUPT', /damaged/);
  });
});

// Root ignores permission bits; to test a read-only store as root, drop CAP_DAC_OVERRIDE with capsh.
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasCapsh = spawnSync('capsh', ['--drop=cap_dac_override,cap_dac_read_search', '--', '-c', 'true']).status === 0;
const chattrWorks = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'ssrun-chattr-'));
  try {
    writeFileSync(join(dir, 'f'), 'x');
    if (spawnSync('chattr', ['+i', join(dir, 'f')]).status !== 0) return false;
    spawnSync('chattr', ['-i', join(dir, 'f')]);
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();

/** Runs bin/ssrun without the power to override permission bits (as a normal user would be). */
async function ssrunUnprivileged(args: string[], home: string, input = '') {
  const cmd = isRoot ? ['capsh', ['--drop=cap_dac_override,cap_dac_read_search', '--', '-c', 'exec "$0" "$@"', BIN, ...args]] as const : [BIN, args] as const;
  const r = await execa(cmd[0], [...cmd[1]], { reject: false, input, cwd: ROOT, env: { SSRUN_HOME: home, NO_COLOR: '1' } });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

/** Checks the store still holds exactly its one config, readable, after the lock is lifted. */
async function expectIntact(home: string, secretKey: string) {
  const got = await ssrun(['mfa', 'get', '--show-secrets'], { home, revealsSecrets: true });
  expect(got.exitCode).toBe(0);
  expect(json(got)).toEqual([{ Type: 'duo', Name: 'Kept', Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: secretKey, Host: 'api-12345678.duosecurity.com' } }, BUILTIN_TOTP, BUILTIN_WEBAUTHN]);
  const db = raw(home, { readonly: true });
  expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  db.close();
}

describe('S4: a read-only store', () => {
  it.skipIf(isRoot && !hasCapsh)(
    `a store in a read-only directory (chmod 500/400${isRoot ? ', run without CAP_DAC_OVERRIDE via capsh' : ''}): one clean error line, exit 8, data intact`,
    async () => {
      const { home, secretKey } = await storeWithOneConfig();
      const before = snapshot(home);
      chmodSync(dbPath(home), 0o400);
      chmodSync(home, 0o500);
      try {
        const r = await ssrunUnprivileged(['mfa', 'create', '-f', '-'], home, duoConfig('New', secret(randomSecret('ro'))));
        expect(r.exitCode).toBe(8);
        expect(r.stdout).toBe('');
        expectOneLineError(r.stderr, 'STORE_READ_ONLY');
        expect(r.stderr).toMatch(/read-only/);
        expect(r.stderr).not.toContain(secretKey);
      } finally {
        chmodSync(home, 0o700);
        chmodSync(dbPath(home), 0o600);
      }
      expect(snapshot(home)).toEqual(before);
      await expectIntact(home, secretKey);
    },
  );

  it.skipIf(!chattrWorks)('an immutable store file and directory (chattr +i, which binds root too): one clean error line, exit 8, data intact', async () => {
    const { home, secretKey } = await storeWithOneConfig();
    const before = snapshot(home);
    spawnSync('chattr', ['+i', dbPath(home), home]);
    try {
      for (const input of [duoConfig('New', secret(randomSecret('immutable')))]) {
        const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input });
        expect(r.exitCode).toBe(8);
        expect(r.stdout).toBe('');
        expectOneLineError(r.stderr, 'STORE_READ_ONLY');
      }
    } finally {
      spawnSync('chattr', ['-i', dbPath(home), home]);
    }
    expect(snapshot(home)).toEqual(before);
    await expectIntact(home, secretKey);
  });

  it.skipIf(!chattrWorks)('an immutable store file in a writable directory: a write gives one clean error line, exit 8, data intact', async () => {
    const { home, secretKey } = await storeWithOneConfig();
    const dbBefore = snapshot(home)['ssrun.db'];
    spawnSync('chattr', ['+i', dbPath(home)]);
    try {
      const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input: duoConfig('New', secret(randomSecret('immutable2'))) });
      expect(r.exitCode).toBe(8);
      expect(r.stdout).toBe('');
      expectOneLineError(r.stderr, 'STORE_READ_ONLY');
      expect(r.stderr).toMatch(/read-only/);
    } finally {
      spawnSync('chattr', ['-i', dbPath(home)]);
    }
    expect(snapshot(home)['ssrun.db']).toBe(dbBefore);
    await expectIntact(home, secretKey);
  });
});

// A full disk needs a small file system: a tmpfs mounted in a private mount namespace (gone with the process).
const canMount = spawnSync('unshare', ['-m', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d" && rmdir "$d"']).status === 0;

describe('S4: a full disk', () => {
  it.skipIf(!canMount)('writes on a full file system fail with one clean error line (exit 8) and the store stays intact (needs unshare + mount)', async () => {
    const secretKey = secret(randomSecret('full'));
    // Each step prints "@@ NAME EXIT" then its stderr, base64 on one line.
    const script = `
      set -u
      D=$(mktemp -d)
      L=$(mktemp -d) # step logs live outside the small file system: it will be full
      trap 'rm -rf "$L"' EXIT
      mount -t tmpfs -o size=512k tmpfs "$D" || exit 99
      export SSRUN_HOME="$D/home" NO_COLOR=1
      step() { name=$1; shift; "$@" >"$L/out" 2>"$L/err" <"$L/in"; rc=$?; echo "@@ $name $rc $(base64 -w0 <"$L/err") $(base64 -w0 <"$L/out")"; }
      printf '%s' "$CFG_KEPT" >"$L/in"; step create-kept "$BIN" mfa create -f -
      # Leave ~44 KiB: the -shm file fits, the WAL does not.
      dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null; size=$(stat -c %s "$D/filler"); truncate -s $((size - 45056)) "$D/filler"
      printf '%s' "$CFG_NEW" >"$L/in"; step create-almost-full "$BIN" mfa create -f -
      # Leave nothing at all.
      dd if=/dev/zero of="$D/filler2" bs=1k 2>/dev/null
      printf '%s' "$CFG_NEW" >"$L/in"; step create-full "$BIN" mfa create -f -
      rm -f "$D/filler" "$D/filler2"
      : >"$L/in"; step get-after "$BIN" mfa get --show-secrets
      umount "$D" && rmdir "$D"
    `;
    const r = await execa('unshare', ['-m', 'bash', '-c', script], {
      reject: false,
      cwd: ROOT,
      env: { BIN, CFG_KEPT: duoConfig('Kept', secretKey), CFG_NEW: duoConfig('New', secret(randomSecret('full-new'))) },
    });
    const steps = new Map(
      String(r.stdout)
        .split('\n')
        .filter((l) => l.startsWith('@@ '))
        .map((l) => {
          const [, name, rc, err, out] = l.split(' ');
          return [name!, { exitCode: Number(rc), stderr: Buffer.from(err ?? '', 'base64').toString('utf8'), stdout: Buffer.from(out ?? '', 'base64').toString('utf8') }];
        }),
    );
    expect([...steps.keys()], String(r.stderr)).toEqual(['create-kept', 'create-almost-full', 'create-full', 'get-after']);
    expect(steps.get('create-kept')!.exitCode).toBe(0);

    const almost = steps.get('create-almost-full')!;
    expect(almost.exitCode).toBe(8);
    expectOneLineError(almost.stderr, 'STORE_FULL');
    expect(almost.stderr).toMatch(/full/);

    const full = steps.get('create-full')!;
    expect(full.exitCode).toBe(8);
    expect(full.stdout).toBe('');
    expect(full.stderr).toMatch(/^ssrun: error: [^\n]*\((STORE_[A-Z_]+)\)\n$/);

    const after = steps.get('get-after')!;
    expect(after.exitCode).toBe(0);
    expect(JSON.parse(after.stdout)).toEqual([{ Type: 'duo', Name: 'Kept', Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: secretKey, Host: 'api-12345678.duosecurity.com' } }, BUILTIN_TOTP, BUILTIN_WEBAUTHN]);
    for (const s of [almost, full]) expect(s.stderr + s.stdout).not.toContain(secretKey);
  });
});
