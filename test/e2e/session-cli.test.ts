// Login dead ends (issue 13): `whoami` with no session is exit 3 NOT_LOGGED_IN on both backends; `ssrun auth
// token` prints a server session's token (and only that), refuses on local; SSRUN_TOKEN that cannot be a token
// names the variable; SSRUN_TOKEN on local is a warning. Runs on the embedded store and on a server
// (test/e2e/remote/session-cli.remote.test.ts).

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, isRemote, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { crlf, onTty } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

const PW = secret('session-cli-password-Tz8Wq4');
const CONTEXT = isRemote() ? 'srv' : 'local';
const NOT_LOGGED_IN = `ssrun: error: not logged in on context "${CONTEXT}": run \`ssrun login\`${isRemote() ? ' (or set SSRUN_TOKEN)' : ''} (NOT_LOGGED_IN)\n`;
/** No SSRUN_TOKEN (the remote backend gives every other command root's). */
const NO_TOKEN = { SSRUN_TOKEN: '' };

describe('whoami, auth token and SSRUN_TOKEN', () => {
  let home: string;
  beforeAll(async () => {
    home = tempHome('ssrun-session-cli-');
    ok(await ssrun(['user', 'create', '-n', 'bob', '--password-stdin'], { home, input: `${PW}\n` }));
  }, 120_000);

  it('whoami with no session: exit 3 NOT_LOGGED_IN on this backend, one line, the same on a terminal', async () => {
    const r = await ssrun(['whoami'], { home });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([3, '', NOT_LOGGED_IN]);
    const tty = await onTty(['whoami'], { home });
    expect([tty.exitCode, tty.output]).toEqual([3, crlf(NOT_LOGGED_IN)]);
  });

  it.runIf(!isRemote())('auth token on local: refused (exit 2), nothing on stdout', async () => {
    const r = await ssrun(['auth', 'token'], { home });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([
      2,
      '',
      'ssrun: error: auth token: the context is local (the embedded store), whose sessions are of no use elsewhere; choose a server context with --context NAME or `ssrun context set-current -n NAME` (USAGE)\n',
    ]);
  });

  it.runIf(!isRemote())('SSRUN_TOKEN on local is a warning on stderr, not silently ignored; the result is the same', async () => {
    const plain = ok(await ssrun(['mfa', 'get', '-n', 'totp'], { home }));
    const r = ok(await ssrun(['mfa', 'get', '-n', 'totp'], { home, env: { SSRUN_TOKEN: secret('D'.repeat(43)) } }));
    expect([r.stdout, r.stderr]).toEqual([plain.stdout, 'ssrun: warning: SSRUN_TOKEN is set, but this command runs on local (the embedded store), which does not use it: it is ignored\n']);
  });

  it.runIf(isRemote())('auth token on a server: not logged in (exit 3); after login, the token and a newline, which works as SSRUN_TOKEN', async () => {
    const before = await ssrun(['auth', 'token'], { home, env: NO_TOKEN });
    expect([before.exitCode, before.stdout, before.stderr]).toEqual([3, '', NOT_LOGGED_IN]);
    const login = ok(await ssrun(['login', '-u', 'bob', '--password-stdin'], { home, input: `${PW}\n` }));
    const r = ok(await ssrun(['auth', 'token'], { home, env: NO_TOKEN, revealsSecrets: true }));
    expect(r.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(r.stderr).toBe('');
    const token = secret(r.stdout.trim());
    expect(login.stdout + login.stderr).not.toContain(token);
    // the same on a terminal (only the token, nothing else)
    const tty = await onTty(['auth', 'token'], { home });
    expect([tty.exitCode, tty.output]).toEqual([0, `${token}\r\n`]);
    // what a CI job does with it
    const who = json(ok(await ssrun(['whoami'], { home, env: { SSRUN_TOKEN: token } })));
    expect(who).toMatchObject({ Principal: 'principal/internal/user/bob', Context: 'srv' });
    // SSRUN_TOKEN, when set, is the token in use, and what auth token prints
    const root = await ssrun(['auth', 'token'], { home, revealsSecrets: true });
    expect(root.stdout).not.toBe(r.stdout);
    expect(root.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);

    // an expired saved session says so
    const file = join(home, 'cli.json');
    const state = JSON.parse(readFileSync(file, 'utf8'));
    state.sessions.srv.expiresAt = '2020-01-01T00:00:00.000Z';
    writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
    expectRefused(await ssrun(['auth', 'token'], { home, env: NO_TOKEN }), 5, 'SESSION_EXPIRED', 'the session on context "srv" expired at 2020-01-01T00:00:00.000Z: run `ssrun login` again');
    ok(await ssrun(['logout'], { home }));
  });

  it.runIf(isRemote())('SSRUN_TOKEN that cannot be a token: the error names the variable, never shows it (exit 5)', async () => {
    const message = 'SSRUN_TOKEN: expected a session token (16–200 letters, digits, - and _, as `ssrun auth token` prints), received 12 characters that are not one; fix or unset it';
    for (const args of [['whoami'], ['auth', 'token'], ['mfa', 'get']]) {
      const r = await ssrun(args, { home, env: { SSRUN_TOKEN: secret('not a token!') } });
      expect([args, r.exitCode, r.stdout, r.stderr]).toEqual([args, 5, '', `ssrun: error: ${message} (UNAUTHENTICATED)\n`]);
    }
  });
});
