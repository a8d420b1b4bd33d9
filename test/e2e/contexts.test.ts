// No silent surprises about where a command runs (issue 13): a deleted current context is said on stderr by
// every command that falls back to `local`; --context NAME and SSRUN_CONTEXT choose the context of one command
// (--context > SSRUN_CONTEXT > SECRETSSAFE_HOST > the current context > local) without changing the current one.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { crlf, onTty } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

const PW_ROOT = secret('contexts-root-password-Hq3Zm8');
const ROOT_USER = 'principal/internal/user/root';
const stateOf = (home: string) => JSON.parse(readFileSync(join(home, 'cli.json'), 'utf8')) as { current?: string };

describe('contexts', () => {
  let server: RunningServer;
  let home: string;

  beforeAll(async () => {
    const serverHome = tempHome('ssrun-ctx-server-');
    ok(await ssrun(['init', '--password-stdin'], { home: serverHome, input: `${PW_ROOT}\n` }));
    server = await startServer({ home: serverHome });
    home = tempHome('ssrun-ctx-client-');
    ok(await ssrun(['context', 'create', '-n', 'dev', '-a', 'http://127.0.0.1', '-p', String(server.port)], { home }));
    ok(await ssrun(['--context', 'dev', 'login', '-u', 'root', '--password-stdin'], { home, input: `${PW_ROOT}\n` }));
  }, 120_000);
  afterAll(async () => server?.stop());

  it('--context NAME runs one command on that context; the current one stays local', async () => {
    expect(json(ok(await ssrun(['whoami', '--context', 'dev'], { home })))).toMatchObject({ Principal: ROOT_USER, Context: 'dev' });
    expect(json(ok(await ssrun(['--context', 'dev', 'whoami'], { home })))).toMatchObject({ Context: 'dev' });
    expect(stateOf(home).current).toBeUndefined();
    // the login above was saved for dev, not for local
    expectRefused(await ssrun(['whoami'], { home }), 3, 'NOT_LOGGED_IN');
  });

  it('SSRUN_CONTEXT does the same; --context wins over it, and it wins over SECRETSSAFE_HOST', async () => {
    expect(json(ok(await ssrun(['whoami'], { home, env: { SSRUN_CONTEXT: 'dev' } })))).toMatchObject({ Context: 'dev' });
    expectRefused(await ssrun(['whoami', '--context', 'local'], { home, env: { SSRUN_CONTEXT: 'dev' } }), 3, 'NOT_LOGGED_IN');
    // SECRETSSAFE_HOST names a port nobody listens on: not used, since SSRUN_CONTEXT (or --context) is given
    const unreachable = { SECRETSSAFE_HOST: 'http://127.0.0.1', SECRETSSAFE_PORT: '9' };
    expect(json(ok(await ssrun(['whoami'], { home, env: { ...unreachable, SSRUN_CONTEXT: 'dev' } })))).toMatchObject({ Context: 'dev' });
    expect(json(ok(await ssrun(['whoami', '--context', 'dev'], { home, env: unreachable })))).toMatchObject({ Context: 'dev' });
    // …and without them SECRETSSAFE_HOST is used (and cannot be reached)
    expectRefused(await ssrun(['mfa', 'get'], { home, env: unreachable }), 8, 'SERVER_UNAVAILABLE');
    // an empty SSRUN_CONTEXT is no choice
    expectRefused(await ssrun(['whoami'], { home, env: { SSRUN_CONTEXT: '' } }), 3, 'NOT_LOGGED_IN');
  });

  it('an unknown context is one line naming the option or the variable: exit 3 CONTEXT_NOT_FOUND; the same on a terminal', async () => {
    const flag = await ssrun(['mfa', 'get', '--context', 'nope'], { home });
    expect([flag.exitCode, flag.stdout, flag.stderr]).toEqual([3, '', 'ssrun: error: --context: there is no context "nope"; `ssrun context get` lists them (CONTEXT_NOT_FOUND)\n']);
    const env = await ssrun(['mfa', 'get'], { home, env: { SSRUN_CONTEXT: 'nope' } });
    expect([env.exitCode, env.stdout, env.stderr]).toEqual([3, '', 'ssrun: error: SSRUN_CONTEXT: there is no context "nope"; `ssrun context get` lists them (CONTEXT_NOT_FOUND)\n']);
    const tty = await onTty(['mfa', 'get', '--context', 'nope'], { home });
    expect([tty.exitCode, tty.output]).toEqual([3, crlf(flag.stderr)]);
    // a missing value is a usage error, and prototype names are no context
    expectRefused(await ssrun(['mfa', 'get', '--context'], { home }), 2, 'USAGE');
    expectRefused(await ssrun(['mfa', 'get', '--context', '__proto__'], { home }), 3, 'CONTEXT_NOT_FOUND');
  });

  it('deleting the current context says so; then every command on local says why, piped and on a terminal, until set-current', async () => {
    const h = tempHome('ssrun-ctx-deleted-');
    ok(await ssrun(['mfa', 'create', '-f', 'fixtures/mfa/duo.json'], { home: h })); // the local store exists
    ok(await ssrun(['context', 'create', '-n', 'dev', '-a', 'http://127.0.0.1', '-p', String(server.port)], { home: h }));
    ok(await ssrun(['context', 'set-current', '-n', 'dev'], { home: h }));
    const del = await ssrun(['context', 'delete', '-n', 'dev'], { home: h });
    expect([del.exitCode, del.stdout, del.stderr]).toEqual([
      0,
      `${JSON.stringify({ Deleted: 'dev', Current: 'local' }, null, 2)}\n`,
      `ssrun: "dev" was the current context: commands now run on local (the embedded store at ${h}) and say so, until \`ssrun context set-current -n NAME\`\n`,
    ]);
    const notice = `ssrun: the current context "dev" was deleted; using local (the embedded store at ${h}); \`ssrun context set-current -n NAME\` chooses one\n`;
    const get = await ssrun(['mfa', 'get', '-n', 'totp'], { home: h });
    expect([get.exitCode, get.stderr]).toEqual([0, notice]);
    expect(json(get)).toMatchObject({ Name: 'totp' });
    const tty = await onTty(['mfa', 'get', '-n', 'totp'], { home: h });
    expect([tty.exitCode, tty.output]).toEqual([0, crlf(notice + get.stdout)]);
    // an error is still one line after it
    const err = await ssrun(['whoami'], { home: h });
    expect(err.exitCode).toBe(3);
    expect(err.stderr).toMatch(new RegExp(`^${notice.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}ssrun: error: [^\\n]+ \\(NOT_LOGGED_IN\\)\\n$`));
    // choosing local (for one command, or for good) is no surprise
    expect(ok(await ssrun(['mfa', 'get', '--context', 'local'], { home: h })).stderr).toBe('');
    ok(await ssrun(['context', 'set-current', '-n', 'local'], { home: h }));
    expect(ok(await ssrun(['mfa', 'get'], { home: h })).stderr).toBe('');
  });

  it('deleting a context that is not the current one says nothing more', async () => {
    const h = tempHome('ssrun-ctx-other-');
    ok(await ssrun(['context', 'create', '-n', 'other', '-a', 'http://127.0.0.1', '-p', String(server.port)], { home: h }));
    const del = await ssrun(['context', 'delete', '-n', 'other'], { home: h });
    expect([del.exitCode, del.stderr]).toEqual([0, '']);
  });
});
