// Confirmation before what cannot be undone (issue 13): on a terminal a y/N question (default no) before a
// deletion, a re-assignment that replaces a factor, new recovery codes that void earlier ones and --force; -y
// skips it; a "no" is CANCELLED (exit 130) and changes nothing. Piped, nothing is asked: the same bytes as ever.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { crlf, onTty, plain } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

const PW = secret('confirm-password-Kd8Wq3');
const NO = 'ssrun: error: not confirmed; nothing was changed (CANCELLED)\r\n';
const pretty = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

describe('confirmation of what cannot be undone', () => {
  let home: string;
  const user = async (name: string) => ok(await ssrun(['user', 'create', '-n', name, '--password-stdin'], { home, input: `${PW}\n` }));
  const exists = async (args: string[]) => (await ssrun(args, { home })).exitCode === 0;

  beforeAll(async () => {
    home = tempHome();
    await user('bob');
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: JSON.stringify({ Type: 'totp', Name: 'Second' }) }));
    ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/bob', '-c', 'totp'], { home, revealsSecrets: true }));
    ok(await ssrun(['application', 'create', '-n', 'app1'], { home, revealsSecrets: true }));
    ok(await ssrun(['group', 'create', '-n', 'eng'], { home }));
    ok(await ssrun(['mfa', 'policy', 'create', '-f', '-'], { home, input: JSON.stringify({ Name: 'pol', Factors: 'any', Targets: ['principal/internal/group/eng'], Active: false }) }));
    ok(await ssrun(['context', 'create', '-n', 'c1', '-a', '127.0.0.1', '-p', '9443'], { home }));
  });

  const refusals: { what: string; args: string[]; question: string; still: string[] }[] = [
    { what: 'user delete', args: ['user', 'delete', '-n', 'bob'], question: 'Delete user "bob" and its totp assignment? This cannot be undone. (y/N)', still: ['user', 'get', '-n', 'bob'] },
    { what: 'application delete', args: ['application', 'delete', '-n', 'app1'], question: 'Delete application "app1" and its API key? This cannot be undone. (y/N)', still: ['application', 'get', '-n', 'app1'] },
    { what: 'group delete', args: ['group', 'delete', '-n', 'eng'], question: 'Delete group "eng" (and remove it from policy targets)? This cannot be undone. (y/N)', still: ['group', 'get', '-n', 'eng'] },
    { what: 'policy delete', args: ['mfa', 'policy', 'delete', '-n', 'pol'], question: 'Delete policy "pol"? This cannot be undone. (y/N)', still: ['mfa', 'policy', 'get', '-n', 'pol'] },
    { what: 'mfa delete', args: ['mfa', 'delete', '-n', 'Second'], question: 'Delete MFA configuration "Second"? This cannot be undone. (y/N)', still: ['mfa', 'get', '-n', 'Second'] },
    { what: 'mfa delete --force', args: ['mfa', 'delete', '-n', 'totp', '--force'], question: 'Delete MFA configuration "totp" and remove its 1 assignment (--force)? Those principals lose their second factor. (y/N)', still: ['mfa', 'get', '-n', 'totp'] },
    { what: 'context delete', args: ['context', 'delete', '-n', 'c1'], question: 'Delete context "c1" and its session? (y/N)', still: ['context', 'get'] },
  ];

  for (const c of refusals) {
    it(`${c.what}: on a terminal "n" (or just Enter) cancels, exit 130, nothing changed`, async () => {
      for (const answer of ['n\r', '\r']) {
        const tty = await onTty(c.args, { home, columns: 200, steps: [{ waitFor: '(y/N)', send: answer }] });
        expect(plain(tty.output)).toContain(c.question);
        expect(tty.output.endsWith(NO)).toBe(true);
        expect(tty.exitCode).toBe(130);
        expect(await exists(c.still)).toBe(true);
      }
      if (c.what === 'context delete') expect(json(ok(await ssrun(['context', 'get', '--output', 'json'], { home }))).map((x: { Name: string }) => x.Name)).toContain('c1');
    });
  }

  it('re-assigning a principal that has a factor asks; "n" keeps the factor', async () => {
    const tty = await onTty(['mfa', 'assign-principal', '-p', 'principal/internal/user/bob', '-c', 'Second'], { home, columns: 200, steps: [{ waitFor: '(y/N)', send: 'n\r' }] });
    expect(plain(tty.output)).toContain('principal/internal/user/bob already has a totp factor (configuration "totp"); replace it? Its secret or keys stop working. (y/N)');
    expect([tty.exitCode, tty.output.endsWith(NO)]).toEqual([130, true]);
    expect(json(ok(await ssrun(['user', 'get', '-n', 'bob'], { home }))).Mfa.Config).toBe('totp');
  });

  it('recovery codes: no question while there are none; then a question, and "n" keeps the codes', async () => {
    const first = await onTty(['mfa', 'recovery-codes', '-p', 'principal/internal/user/bob'], { home });
    expect(first.exitCode).toBe(0);
    expect(first.output).not.toContain('(y/N)');
    const codes = (JSON.parse(plain(first.output).slice(0, plain(first.output).lastIndexOf('}') + 1)) as { RecoveryCodes: string[] }).RecoveryCodes;
    for (const code of codes) secret(code);
    const again = await onTty(['mfa', 'recovery-codes', '-p', 'principal/internal/user/bob'], { home, columns: 200, steps: [{ waitFor: '(y/N)', send: 'n\r' }] });
    expect(plain(again.output)).toContain('principal/internal/user/bob has 10 unused recovery codes; issue new ones? The old ones stop working. (y/N)');
    expect([again.exitCode, again.output.endsWith(NO)]).toEqual([130, true]);
    expect(json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home }))).RecoveryCodesLeft).toBe(10);
    // the codes of the first run still work
    const login = ok(await ssrun(['login', '-u', 'bob', '--password-stdin', '-m', codes[0]!], { home, input: `${PW}\n` }));
    expect(json(login).Factor).toBe('recovery-code');
  });

  it('"y" goes ahead: the same JSON as piped after the question', async () => {
    await user('yann');
    const tty = await onTty(['user', 'delete', '-n', 'yann'], { home, columns: 200, steps: [{ waitFor: '(y/N)', send: 'y\r' }] });
    expect(tty.exitCode).toBe(0);
    expect(tty.output.endsWith(crlf(pretty({ Deleted: 'principal/internal/user/yann', MfaAssignmentRemoved: false })))).toBe(true);
    expect(await exists(['user', 'get', '-n', 'yann'])).toBe(false);
  });

  it('-y and --yes: nothing asked on a terminal', async () => {
    await user('yuri');
    await user('yves');
    for (const [flag, name] of [['-y', 'yuri'], ['--yes', 'yves']] as const) {
      const tty = await onTty(['user', 'delete', '-n', name, flag], { home });
      expect(tty.exitCode).toBe(0);
      expect(tty.output).toBe(crlf(pretty({ Deleted: `principal/internal/user/${name}`, MfaAssignmentRemoved: false })));
    }
  });

  it('on a terminal, what does not exist is said before any question; a configuration in use without --force is refused unasked', async () => {
    const ghost = await onTty(['user', 'delete', '-n', 'ghost'], { home });
    expect(ghost.exitCode).toBe(3);
    expect(ghost.output).toBe('ssrun: error: principal/internal/user/ghost not found (PRINCIPAL_NOT_FOUND)\r\n');
    const inUse = await onTty(['mfa', 'delete', '-n', 'totp'], { home });
    expect(inUse.exitCode).toBe(4);
    expect(inUse.output).not.toContain('(y/N)');
    expect(inUse.output).toContain('(CONFIG_IN_USE)');
  });

  it('piped: nothing is asked, the commands run as they always did (exact output)', async () => {
    await user('pia');
    ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/pia', '-c', 'totp'], { home, revealsSecrets: true }));
    ok(await ssrun(['mfa', 'recovery-codes', '-p', 'principal/internal/user/pia'], { home, revealsSecrets: true }));
    const again = ok(await ssrun(['mfa', 'recovery-codes', '-p', 'principal/internal/user/pia'], { home, revealsSecrets: true }));
    expect(again.stderr).toBe('ssrun: 10 recovery codes for principal/internal/user/pia: each works once, they are shown only now, and any earlier codes no longer work\n');
    const reassign = ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/pia', '-c', 'Second'], { home, revealsSecrets: true }));
    expect(reassign.stderr).toBe('ssrun: principal/internal/user/pia was assigned to "totp"; that assignment is replaced\n');
    const del = ok(await ssrun(['user', 'delete', '-n', 'pia'], { home }));
    expect([del.stdout, del.stderr]).toEqual([pretty({ Deleted: 'principal/internal/user/pia', MfaAssignmentRemoved: true }), '']);
    const ctx = ok(await ssrun(['context', 'delete', '-n', 'c1'], { home }));
    expect([ctx.stdout, ctx.stderr]).toEqual([pretty({ Deleted: 'c1', Current: 'local' }), '']);
    const force = ok(await ssrun(['mfa', 'delete', '-n', 'totp', '--force'], { home }));
    expect([force.stdout, force.stderr]).toEqual([pretty({ Deleted: 'totp', PrincipalsUnassigned: 1 }), '']);
  });
});
