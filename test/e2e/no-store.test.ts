// A read of a store that does not exist yet (a typo in --home or SSRUN_HOME) creates nothing (issue 13): it
// says so on stderr and prints what an empty store holds, exit 0; the first command that writes creates it.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, json, ok, ssrun, tempHome } from '../helpers/cli.js';
import { crlf, onTty } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

const BUILTINS = [
  { Type: 'totp', Name: 'totp', Options: { Issuer: 'ssrun', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 } },
  { Type: 'webauthn', Name: 'webauthn', Options: { RpName: 'ssrun', UserVerification: 'required' } },
];
const noStore = (dir: string) => `ssrun: no store at ${dir} yet; it is created by the first command that writes\n`;

describe('a read of a store that does not exist', () => {
  it('mfa get: the built-in configurations every store starts with, a notice, exit 0, and no file or folder made', async () => {
    const home = tempHome();
    const typo = join(dirname(home), 'hmoe');
    const r = await ssrun(['--home', typo, 'mfa', 'get'], { home });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, `${JSON.stringify(BUILTINS, null, 2)}\n`, noStore(typo)]);
    // SSRUN_HOME alike
    const env = await ssrun(['mfa', 'get'], { home: typo });
    expect([env.exitCode, env.stdout, env.stderr]).toEqual([0, r.stdout, r.stderr]);
    expect(existsSync(typo)).toBe(false);

    // on a terminal: the same notice, then the same JSON
    const tty = await onTty(['mfa', 'get'], { home: typo });
    expect([tty.exitCode, tty.output]).toEqual([0, crlf(noStore(typo) + r.stdout)]);
    expect(existsSync(typo)).toBe(false);
  });

  it('every other read: an empty list or not found, nothing made', async () => {
    const home = tempHome();
    for (const args of [['user', 'get'], ['application', 'get'], ['group', 'get'], ['mfa', 'policy', 'get'], ['authorization', 'get'], ['audit', 'get']]) {
      const r = await ssrun(args, { home });
      expect([args, r.exitCode, r.stdout, r.stderr]).toEqual([args, 0, '[]\n', noStore(home)]);
    }
    const one = await ssrun(['mfa', 'get', '-n', 'totp'], { home });
    expect([one.exitCode, json(one), one.stderr]).toEqual([0, BUILTINS[0], noStore(home)]);
    const missing = await ssrun(['mfa', 'get', '-n', 'nope'], { home });
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toBe(`${noStore(home)}ssrun: error: MFA configuration "nope" not found; \`ssrun mfa get\` lists them (CONFIG_NOT_FOUND)\n`);
    // whoami needs no store to say nobody is logged in
    expectRefused(await ssrun(['whoami'], { home }), 3, 'NOT_LOGGED_IN');
    expect(existsSync(home)).toBe(false);
  });

  it('a command that writes still creates the store on first use, and reads then say nothing', async () => {
    const home = tempHome();
    const created = ok(await ssrun(['mfa', 'create', '-f', 'fixtures/mfa/duo.json'], { home }));
    expect(created.stderr).toMatch(/^ssrun: created a new store at [^\n]+ssrun\.db; its master key is [^\n]+: back it up, the secrets cannot be read without it\n$/);
    const r = ok(await ssrun(['mfa', 'get'], { home }));
    expect(r.stderr).toBe('');
    expect(json<{ Name: string }[]>(r).map((c) => c.Name)).toEqual(['MyDuoConfig', 'totp', 'webauthn']);
  });
});
