// One output convention (issue 13): JSON by default on every command, -o table for people; context get too,
// with JSON booleans; tables fit the terminal; an empty list is [] in JSON and "no …" on stderr in a table;
// the TOTP QR code is a decoration on stderr (a terminal only), so `> out.json` keeps stdout pure.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { onTty, plain } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

const PW = secret('output-password-Lm3Zt8');
const pretty = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

describe('one output convention', () => {
  let home: string;
  beforeAll(async () => {
    home = tempHome();
    ok(await ssrun(['group', 'create', '-n', 'first'], { home }));
  });

  it('an empty list: [] in JSON (stderr quiet); in a table, nothing on stdout and "no users" on stderr', async () => {
    expect(ok(await ssrun(['user', 'get'], { home }))).toEqual({ stdout: '[]\n', stderr: '', exitCode: 0 });
    for (const [args, noun] of [
      [['user', 'get'], 'no users'],
      [['application', 'get'], 'no applications'],
      [['mfa', 'policy', 'get'], 'no policies'],
      [['mfa', 'key', 'get'], 'no security keys'],
      [['authorization', 'get'], 'no authorization rules'],
    ] as const) {
      expect(ok(await ssrun([...args, '-o', 'table'], { home }))).toEqual({ stdout: '', stderr: `ssrun: ${noun}\n`, exitCode: 0 });
    }
  });

  it('commands that are not gets take -o too: JSON by default, a table on request', async () => {
    expect(ok(await ssrun(['group', 'create', '-n', 'eng'], { home })).stdout).toBe(pretty({ Name: 'eng', Group: 'principal/internal/group/eng', Members: 0 }));
    const table = ok(await ssrun(['group', 'delete', '-n', 'eng', '-o', 'table'], { home }));
    expect(table.stdout).toBe(
      ['┌──────────────────────────────┬─────────────────────┐', '│ Deleted                      │ RemovedFromPolicies │', '├──────────────────────────────┼─────────────────────┤', '│ principal/internal/group/eng │                     │', '└──────────────────────────────┴─────────────────────┘', ''].join('\n'),
    );
    expect(ok(await ssrun(['whoami', '--help'], { home })).stdout).toContain('-o, --output <format>');
    expect(ok(await ssrun(['authorization', 'create', '--help'], { home })).stdout).toMatch(/-o, --operation <op>[^\n]*\n(.*\n)*\s+--output <format>/);
  });

  it('context get prints JSON by default, like every command, with booleans; -o table for people', async () => {
    const local = { Current: true, Name: 'local', Address: '(embedded store)', VerifyTls: null, Ca: null };
    expect(ok(await ssrun(['context', 'get'], { home }))).toEqual({ stdout: pretty([local]), stderr: '', exitCode: 0 });
    expect(json(ok(await ssrun(['context', 'create', '-n', 'dev', '-a', '127.0.0.1', '-p', '9443'], { home })))).toEqual({ Current: false, Name: 'dev', Address: 'https://127.0.0.1:9443', VerifyTls: true, Ca: null });
    const table = ok(await ssrun(['context', 'get', '-o', 'table'], { home }));
    expect(table.stdout).toContain('│ Current │ Name  │ Address                │ VerifyTls │ Ca │');
    expect(table.stdout).toContain('│ true    │ local │ (embedded store)       │           │    │');
  });

  it('a table wider than the terminal is wrapped to its width (120 columns); piped it keeps its natural width', async () => {
    for (const n of [1, 2, 3]) ok(await ssrun(['group', 'create', '-n', `a-group-with-a-name-long-enough-to-be-wrapped-${n}`], { home }));
    const piped = ok(await ssrun(['audit', 'get', '-o', 'table'], { home }));
    expect(Math.max(...piped.stdout.split('\n').map((l) => [...l].length))).toBeGreaterThan(120);
    for (const columns of [120, 80]) {
      const tty = await onTty(['audit', 'get', '-o', 'table'], { home, columns });
      expect(tty.exitCode).toBe(0);
      const lines = plain(tty.output).split('\r\n').filter((l) => l !== '');
      expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(columns);
      // nothing lost: every principal is still there, once the wrapped cells are read back column by column
      expect(lines[0]!.startsWith('┌')).toBe(true);
      const principalColumn = lines.map((l) => l.split('│')[6]?.trim() ?? '').join('');
      for (const n of [1, 2, 3]) expect(principalColumn).toContain(`principal/internal/group/a-group-with-a-name-long-enough-to-be-wrapped-${n}`);
    }
  });

  it('TOTP enrolment with stdout in a file: the file is only the JSON; the QR code shows on the terminal (stderr), ending in a newline', async () => {
    ok(await ssrun(['user', 'create', '-n', 'quinn', '--password-stdin'], { home, input: `${PW}\n` }));
    const file = join(dirname(home), 'out.json');
    const tty = await onTty(['mfa', 'assign-principal', '-p', 'principal/internal/user/quinn', '-c', 'totp'], { home, stdoutTo: file });
    expect(tty.exitCode).toBe(0);
    const out = JSON.parse(readFileSync(file, 'utf8')) as { Secret: string; OtpauthUri: string };
    secret(out.Secret);
    expect(readFileSync(file, 'utf8')).toBe(pretty({ Principal: 'principal/internal/user/quinn', Config: 'totp', ProviderUserId: 'quinn', Replaced: null, Pending: true, Secret: out.Secret, OtpauthUri: out.OtpauthUri }));
    expect(tty.output.startsWith('\r\nScan with an authenticator app (shown once; the assignment is pending until a first valid code):\r\n')).toBe(true);
    expect(tty.output).toMatch(/[█▀▄]{10}/);
    expect(tty.output.endsWith('\r\n')).toBe(true);
    // piped: the JSON alone, nothing on stderr
    ok(await ssrun(['user', 'create', '-n', 'rita', '--password-stdin'], { home, input: `${PW}\n` }));
    const piped = ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/rita', '-c', 'totp'], { home, revealsSecrets: true }));
    expect(piped.stderr).toBe('');
    expect(json(piped).Principal).toBe('principal/internal/user/rita');
  });
});
