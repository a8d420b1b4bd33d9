// `ssrun completion bash|zsh|fish` (issue 13): scripts generated from the command tree, driven here by the
// shells themselves; `ssrun __complete KIND` lists names from the store (never a secret, never creating one).

import { execa } from 'execa';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, expectNoSecretsLeaked, expectRefused, ok, secret, ssrun, tempHome } from '../helpers/cli.js';

afterAll(() => expectNoSecretsLeaked());

const SK = secret('completion-duo-secret-key-Pq7Rt2');

describe('shell completion', () => {
  let home: string;
  let env: Record<string, string>;
  const script: Record<string, string> = {};
  beforeAll(async () => {
    home = tempHome();
    const dir = dirname(home);
    mkdirSync(join(dir, 'bin'));
    symlinkSync(BIN, join(dir, 'bin', 'ssrun'));
    // fish keeps its own files under XDG_DATA_HOME / XDG_CONFIG_HOME: a temporary one
    env = { PATH: `${join(dir, 'bin')}:${process.env.PATH}`, SSRUN_HOME: home, HOME: dir, XDG_DATA_HOME: join(dir, 'xdg'), XDG_CONFIG_HOME: join(dir, 'xdg') };
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: JSON.stringify({ Type: 'duo', Name: 'MyDuoConfig', Options: { IntegrationKey: 'DIAAAAAAAAAAAAAAAAAA', SecretKey: SK, Host: 'api-aaaaaaaa.duosecurity.com' } }) }));
    ok(await ssrun(['user', 'create', '-n', 'bob', '-p', 'completion-password-1'], { home }));
    ok(await ssrun(['group', 'create', '-n', 'eng'], { home }));
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = ok(await ssrun(['completion', shell], { home }));
      expect(r.stderr).toBe('');
      script[shell] = join(dir, `ssrun.${shell}`);
      writeFileSync(script[shell]!, r.stdout);
    }
  });

  // What _ssrun answers for these words (the last one being completed), in bash or zsh (bashcompinit).
  const complete = async (shell: 'bash' | 'zsh', words: string[]) => {
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const r = await execa(shell, ['-c', `source '${script[shell]}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _ssrun; printf '%s\\n' "\${COMPREPLY[@]}"`], { env, reject: false, extendEnv: false });
    expect(r.stderr).toBe('');
    // zsh's compgen (bashcompinit) leaves the matching to zsh, which keeps the candidates that start with the word
    return r.stdout.split('\n').filter((l) => l !== '' && l.startsWith(words[words.length - 1]!)).sort();
  };

  for (const shell of ['bash', 'zsh'] as const) {
    it(`${shell}: commands, subcommands, options, and names from the store after -c, -n and -u`, async () => {
      expect(await complete(shell, ['ssrun', 'm'])).toEqual(['mfa', 'migrate']);
      expect(await complete(shell, ['ssrun', 'mfa', 'policy', 'ac'])).toEqual(['activate']);
      expect(await complete(shell, ['ssrun', '--home', home, 'mfa', 'de'])).toEqual(['delete']);
      expect(await complete(shell, ['ssrun', 'mfa', 'delete', '-'])).toEqual(['--context', '--force', '--help', '--home', '--name', '--output', '--yes', '-h', '-n', '-o', '-y']);
      expect(await complete(shell, ['ssrun', 'mfa', 'delete', '-n', ''])).toEqual(['MyDuoConfig', 'totp', 'webauthn']);
      expect(await complete(shell, ['ssrun', 'mfa', 'assign-principal', '-p', 'principal/internal/user/bob', '-c', 'w'])).toEqual(['webauthn']);
      expect(await complete(shell, ['ssrun', 'user', 'delete', '--name', ''])).toEqual(['bob']);
      expect(await complete(shell, ['ssrun', 'group', 'add-member', '-n', ''])).toEqual(['eng']);
      expect(await complete(shell, ['ssrun', 'context', 'set-current', '-n', ''])).toEqual(['local']);
      expect(await complete(shell, ['ssrun', '--context', ''])).toEqual(['local']);
      // a name being created is not completed
      expect(await complete(shell, ['ssrun', 'user', 'create', '-n', ''])).toEqual([]);
    });
  }

  it('a context name that a shell would expand (a hand-edited cli.json) is neither offered nor run', async () => {
    const evil = join(dirname(home), 'evil-home');
    mkdirSync(evil);
    const marker = join(dirname(home), 'PWNED');
    writeFileSync(join(evil, 'cli.json'), JSON.stringify({ contexts: { [`$(touch ${marker})`]: { url: 'https://127.0.0.1:1', verify: true }, 'bad`touch x`': { url: 'https://127.0.0.1:1', verify: true } } }), { mode: 0o600 });
    for (const shell of ['bash', 'zsh'] as const) {
      const r = await execa(shell, ['-c', `source '${script[shell]}'; COMP_WORDS=(ssrun context set-current -n ''); COMP_CWORD=4; _ssrun; printf '%s\\n' "\${COMPREPLY[@]}"`], { env: { ...env, SSRUN_HOME: evil }, reject: false, extendEnv: false });
      expect(r.stdout.split('\n').filter(Boolean)).toEqual(['local']);
      expect(existsSync(marker)).toBe(false);
    }
  });

  it('fish: the same, through complete -C', async () => {
    const fish = async (line: string) => {
      const r = await execa('fish', ['--no-config', '-c', `source '${script.fish}'; complete -C '${line}'`], { env, reject: false, extendEnv: false });
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0]).sort();
    };
    expect(await fish('ssrun mfa de')).toEqual(['delete']);
    expect(await fish('ssrun mfa delete -n ')).toEqual(['MyDuoConfig', 'totp', 'webauthn']);
    expect(await fish('ssrun user get --name ')).toEqual(['bob']);
    expect(await fish('ssrun mfa delete --')).toEqual(['--context', '--force', '--help', '--home', '--name', '--output', '--yes']);
  });

  it('__complete prints names only, never a secret; with no store it prints nothing and creates none', async () => {
    expect(ok(await ssrun(['__complete', 'config'], { home }))).toEqual({ stdout: 'MyDuoConfig\ntotp\nwebauthn\n', stderr: '', exitCode: 0 });
    const none = join(dirname(home), 'no-store-here');
    expect(ok(await ssrun(['__complete', 'user'], { home: none }))).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(existsSync(none)).toBe(false);
    expect(ok(await ssrun(['__complete', 'nonsense'], { home }))).toEqual({ stdout: '', stderr: '', exitCode: 0 });
    expect(ok(await ssrun(['--help'], { home })).stdout).not.toContain('__complete');
  });

  it('an unknown shell is a usage error', async () => {
    expectRefused(await ssrun(['completion', 'tcsh'], { home }), 2, 'USAGE', 'completion: expected bash, zsh or fish, received "tcsh"');
  });
});
