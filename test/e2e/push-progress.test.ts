// Push progress (issue 13): which device Duo reported and the time left, one line rewritten every second on a
// terminal (`Waiting for approval on iOS (…0100): 55 s left, Ctrl-C to cancel`), plain lines when piped. The
// provider sends what and until when; the CLI renders it. On the embedded store and on a server
// (test/e2e/remote/push-progress.remote.test.ts), against the fake Duo.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDuo, type FakeDuo } from '../fakes/duo-server.js';
import { expectNoSecretsLeaked, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { ESC, onTty } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

const PW = secret('push-progress-password-Jf6Tn3');
const CLEAR = `\r${ESC}[2K`;
const TIMEOUT = 'ssrun: error: login denied: no answer from your device in time (MFA_TIMEOUT)';

describe('push progress', () => {
  let fake: FakeDuo;
  let home: string;
  beforeAll(async () => {
    fake = await startFakeDuo();
    secret(fake.skey);
    home = tempHome('ssrun-push-progress-');
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: JSON.stringify({ Type: 'duo', Name: 'Duo', Options: fake.options() }) }));
    for (const [user, duo] of [['nora', 'push-never#progress'], ['otto', 'alice#progress']]) {
      ok(await ssrun(['user', 'create', '-n', user!, '--password-stdin'], { home, input: `${PW}\n` }));
      ok(await ssrun(['mfa', 'assign-principal', '-p', `principal/internal/user/${user}`, '-m', duo!, '-c', 'Duo'], { home }));
    }
  }, 120_000);
  afterAll(async () => fake?.close());

  it('piped: a plain line with the device and the time left, another at every tenth second, then the answer', async () => {
    // --timeout 15: the first line says 11–15 s however slow the start (a loaded machine), then one at 10 s.
    const r = await ssrun(['login', '-u', 'nora', '--password-stdin', '-m', 'push', '--timeout', '15'], { home, input: `${PW}\n` });
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      new RegExp(`^ssrun: Waiting for approval on iOS \\(…0100\\): 1[1-5] s left\\n(ssrun: Pushed a login request to your device\\.\\.\\.\\n)?ssrun: Waiting for approval on iOS \\(…0100\\): 10 s left\\n(ssrun: Pushed a login request to your device\\.\\.\\.\\n)?${TIMEOUT.replace(/[()]/g, '\\$&')}\\n$`),
    );
    expect(r.stderr).not.toContain('Ctrl-C');
    expect(r.stderr).not.toContain(ESC);
  }, 60_000);

  it('on a terminal: one line counted down in place, cleared before the answer', async () => {
    const tty = await onTty(['login', '-u', 'nora', '-m', 'push', '--timeout', '4'], { home, steps: [{ waitFor: 'Password:', send: `${PW}\r` }] });
    expect(tty.exitCode).toBe(5);
    const line = (s: number) => `${CLEAR}ssrun: Waiting for approval on iOS (…0100): ${s} s left, Ctrl-C to cancel`;
    expect(tty.output).toContain(line(3));
    expect(tty.output).toContain(line(2));
    expect(tty.output.indexOf(line(2))).toBeGreaterThan(tty.output.indexOf(line(3)));
    // Duo's own words are printed above the countdown, which is drawn again below them
    expect(tty.output).toContain(`${CLEAR}ssrun: Pushed a login request to your device...\r\n${CLEAR}ssrun: Waiting for approval on iOS (…0100):`);
    expect(tty.output.endsWith(`${CLEAR}${TIMEOUT}\r\n`)).toBe(true);
  }, 60_000);

  it('Ctrl-C during the countdown: cancelled, exit 130', async () => {
    const tty = await onTty(['login', '-u', 'nora', '-m', 'push', '--timeout', '30'], {
      home,
      steps: [
        { waitFor: 'Password:', send: `${PW}\r` },
        { waitFor: 's left, Ctrl-C to cancel', send: '\u0003' },
      ],
    });
    expect(tty.exitCode).toBe(130);
    expect(tty.output).toMatch(/ssrun: error: [^\r\n]*cancelled \(CANCELLED\)\r\n$/);
  }, 60_000);

  it('an approved push: the countdown, then the session; a call names the same device', async () => {
    const r = ok(await ssrun(['login', '-u', 'otto', '--password-stdin', '-m', 'auto'], { home, input: `${PW}\n` }));
    expect(r.stderr).toMatch(/^ssrun: Waiting for approval on iOS \(…0100\): (60|59|58) s left\n/);
    const call = ok(await ssrun(['login', '-u', 'otto', '--password-stdin', '-m', 'phone'], { home, input: `${PW}\n` }));
    expect(call.stderr).toMatch(/^ssrun: Calling iOS \(…0100\): (60|59|58) s left\n/);
  });
});
