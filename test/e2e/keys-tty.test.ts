// Security keys on a real terminal (util-linux `script` gives ssrun a pseudo-terminal), on every backend (see
// test/e2e/remote/ and remote-pg/): `login` with no -m goes straight to the key's ceremony. Over a server: a
// change of one's own keys with a login older than 5 minutes (the session's created_at moved back in the
// store) is REAUTH_REQUIRED when piped, and on a terminal asks for the password again.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { currentBackend, expectNoSecretsLeaked, expectRefused, isRemote, json, ok, secret, ssrun, tempHome, usePublicUrl } from '../helpers/cli.js';
import { onTty as onTerminal, shownJson } from '../helpers/terminal.js';
import { storeSql } from '../helpers/store-sql.js';
import { addKey, createUser, keySession, passwordSession, startKeys, type Keys } from './keys-kit.js';

usePublicUrl();

const PW = secret('keys-tty-password-Ws31cYk');

let k: Keys;
let home: string;

beforeAll(async () => {
  home = tempHome('ssrun-keys-tty-');
  if (hasChromium) k = await startKeys();
});

afterAll(async () => {
  await k?.close();
  expectNoSecretsLeaked();
});

/** Runs ssrun on a pseudo-terminal in this file's home, typing `send` once `waitFor` shows. */
const onTty = (args: string[], env: Record<string, string>, waitFor: string, send: string) => onTerminal(args, { home, env, waitFor, send });

describe.skipIf(!hasChromium)(`security keys on a terminal (${currentBackend()})`, () => {
  it('login with no -m goes straight to the key ceremony (no menu), Factor webauthn', async () => {
    await createUser(home, 'olga', PW);
    const pw = isRemote() ? await passwordSession(home, 'olga', PW) : {};
    await addKey(k, home, 'olga', ['-n', 'Olga key'], pw);
    const tty = onTty(['login', '-u', 'olga'], k.hook.env, 'Password:', `${PW}\r`);
    const url = await k.hook.nextUrl(30_000);
    expect(await k.browser.open(url)).toEqual({ state: 'done', text: 'Done: you can close this window' });
    const { output, exitCode } = await tty;
    expect(exitCode, output).toBe(0);
    expect(output).toContain(url);
    expect(shownJson(output)).toMatchObject({ Principal: 'principal/internal/user/olga', Factor: 'webauthn' });
  });
});

describe.runIf(hasChromium && isRemote())(`a login older than 5 minutes changing its own keys (${currentBackend()})`, () => {
  let nora: Record<string, string>;
  let keyId: string;

  /** Moves nora's sessions' login time back 10 minutes, in the server's store (SQLite or PostgreSQL). */
  async function ageSessions(): Promise<void> {
    const sql = `UPDATE sessions SET created_at = ? WHERE principal_id = (SELECT id FROM principals WHERE type = 'user' AND name = 'nora')`;
    expect((await storeSql(home, sql, [new Date(Date.now() - 10 * 60_000)])).changes).toBeGreaterThan(0);
  }

  beforeAll(async () => {
    await createUser(home, 'nora', PW);
    const pw = await passwordSession(home, 'nora', PW);
    await k.browser.removeAll();
    keyId = (await addKey(k, home, 'nora', ['-n', 'Nora key'], pw)).KeyId;
    nora = await keySession(k, home, 'nora', PW);
    await ageSessions();
  });

  it('piped: rename, delete and add are REAUTH_REQUIRED (exit 5); an administrator is not asked', async () => {
    const message = /changing your own security keys needs a login less than 5 minutes old \(this one is from \d{4}-\d\d-\d\dT[\d:.]+Z\): log in again, or give your password again/;
    expectRefused(await ssrun(['mfa', 'key', 'rename', '-u', 'nora', '--id', keyId, '-n', 'renamed'], { home, env: nora }), 5, 'REAUTH_REQUIRED', message);
    expectRefused(await ssrun(['mfa', 'key', 'delete', '-u', 'nora', '--id', keyId], { home, env: nora }), 5, 'REAUTH_REQUIRED', message);
    const calls = k.hook.calls().length;
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'nora'], { home, env: { ...nora, ...k.hook.env } }), 5, 'REAUTH_REQUIRED', message);
    expect(k.hook.calls()).toHaveLength(calls);
    expect(json(ok(await ssrun(['mfa', 'key', 'get', '-u', 'nora'], { home, env: nora })))[0].Name).toBe('Nora key');
    // root changing nora's keys is not a change of its own keys: no password asked.
    expect(json(ok(await ssrun(['mfa', 'key', 'rename', '-u', 'nora', '--id', keyId, '-n', 'Nora key'], { home }))).Name).toBe('Nora key');
  });

  it('on a terminal the password is asked for again: the right one renames, a wrong one is AUTH_DENIED', async () => {
    const prompt = 'Your password again (this session is older than 5 minutes):';
    const wrong = await onTty(['mfa', 'key', 'rename', '-u', 'nora', '--id', keyId, '-n', 'renamed'], nora, prompt, 'not-the-password-Zz9\r');
    expect(wrong.exitCode, wrong.output).toBe(5);
    expect(wrong.output).toContain('(AUTH_DENIED)');
    const good = await onTty(['mfa', 'key', 'rename', '-u', 'nora', '--id', keyId, '-n', 'renamed'], nora, prompt, `${PW}\r`);
    expect(good.exitCode, good.output).toBe(0);
    expect(shownJson(good.output)).toMatchObject({ User: 'nora', KeyId: keyId, Name: 'renamed' });
    expect(good.output).not.toContain(PW);
    const audit = ok(await ssrun(['audit', 'get', '--principal', 'principal/internal/user/nora'], { home })).stdout;
    expect(audit).toContain('wrong password');
  });
});
