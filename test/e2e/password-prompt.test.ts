// The prompt for a new password (issue 13): it says the minimum length before asking, echoes nothing (not one
// `*` per character), and asks again, up to 3 times, when the password is too short or the two differ.

import { afterAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { onTty } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

const PW = secret('prompt-password-Lk4Rz9');
const OTHER = secret('prompt-other-password-Wd2Xc7');
const SHORT = secret('Sh0rt');
const RULE = 'ssrun: the password needs at least 8 characters; what you type is not shown\r\n';

/** Where each of these lines first shows on the terminal (-1: never). */
const order = (output: string, lines: string[]) => lines.map((l) => output.indexOf(l));

describe('the new-password prompt', () => {
  const home = tempHome('ssrun-prompt-');

  it('too short, then right: says the rule first, asks again, creates the user; nothing typed is echoed', async () => {
    const tty = await onTty(['user', 'create', '-n', 'pia'], {
      home,
      steps: [
        { waitFor: 'Password:', send: `${SHORT}\r` },
        { waitFor: 'try again (2 tries left)', send: '' },
        { waitFor: 'Password:', send: `${PW}\r` },
        { waitFor: 'Repeat the password:', send: `${PW}\r` },
      ],
    });
    expect(tty.exitCode).toBe(0);
    const at = order(tty.output, [RULE, 'Password:', 'ssrun: too short: 5 characters, at least 8 needed; try again (2 tries left)\r\n', 'Repeat the password:', '"Name": "pia"']);
    expect(at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!))).toBe(true);
    expect(tty.output).not.toContain(PW);
    expect(tty.output).not.toContain(SHORT);
    expect(tty.output).not.toContain('*');
    expect(json(ok(await ssrun(['login', '-u', 'pia', '--password-stdin'], { home, input: `${PW}\n` }))).Principal).toBe('principal/internal/user/pia');
  });

  it('two that differ, then two the same: asks again and keeps the second pair', async () => {
    const tty = await onTty(['user', 'create', '-n', 'quin'], {
      home,
      steps: [
        { waitFor: 'Password:', send: `${PW}\r` },
        { waitFor: 'Repeat the password:', send: `${OTHER}\r` },
        { waitFor: 'ssrun: the two passwords differ; try again (2 tries left)', send: '' },
        { waitFor: 'Password:', send: `${OTHER}\r` },
        { waitFor: 'Repeat the password:', send: `${OTHER}\r` },
      ],
    });
    expect(tty.exitCode).toBe(0);
    expect(tty.output).not.toContain(PW);
    expect(tty.output).not.toContain(OTHER);
    ok(await ssrun(['login', '-u', 'quin', '--password-stdin'], { home, input: `${OTHER}\n` }));
  });

  it('three tries too short: exit 2 INVALID_PASSWORD, the last try says no more, nothing created', async () => {
    const tty = await onTty(['user', 'create', '-n', 'rolf'], {
      home,
      steps: [
        { waitFor: 'Password:', send: `${SHORT}\r` },
        { waitFor: '(2 tries left)', send: '' },
        { waitFor: 'Password:', send: `${SHORT}\r` },
        { waitFor: '(1 try left)', send: '' },
        { waitFor: 'Password:', send: `${SHORT}\r` },
      ],
    });
    expect(tty.exitCode).toBe(2);
    expect(tty.output.endsWith('ssrun: error: password: too short; at least 8 characters required; 3 tries, nothing was changed (INVALID_PASSWORD)\r\n')).toBe(true);
    expect(tty.output.match(/ssrun: too short/g)).toHaveLength(2);
    expect((await ssrun(['user', 'get', '-n', 'rolf'], { home })).exitCode).toBe(3);
  });

  it("root's password (init) needs 10 characters, and says so", async () => {
    const h = tempHome('ssrun-prompt-init-');
    const nine = secret('nine-char');
    const root = secret('root-prompt-password-Mv8');
    const tty = await onTty(['init'], {
      home: h,
      steps: [
        { waitFor: 'Root password:', send: `${nine}\r` },
        { waitFor: 'ssrun: too short: 9 characters, at least 10 needed; try again (2 tries left)', send: '' },
        { waitFor: 'Root password:', send: `${root}\r` },
        { waitFor: 'Repeat the root password:', send: `${root}\r` },
      ],
    });
    expect(tty.exitCode).toBe(0);
    expect(tty.output).toContain('ssrun: the root password needs at least 10 characters; what you type is not shown\r\n');
    ok(await ssrun(['login', '-u', 'root', '--password-stdin'], { home: h, input: `${root}\n` }));
  });

  it('login asks once, with no rule and no echo', async () => {
    const tty = await onTty(['login', '-u', 'pia'], { home, steps: [{ waitFor: 'Password:', send: `${PW}\r` }] });
    expect(tty.exitCode).toBe(0);
    expect(tty.output).not.toContain('needs at least');
    expect(tty.output).not.toContain('*');
    expect(tty.output).not.toContain(PW);
  });
});
