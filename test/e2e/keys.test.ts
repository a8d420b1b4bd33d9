// Security keys (WebAuthn) end to end through the built binary, in headless Chromium with a virtual
// authenticator (on every backend: see test/e2e/remote/ and remote-pg/, whose servers run with --public-url):
// the built-in configuration, `mfa key add` (its ceremony, JSON, default names), get (one user, all, a table),
// rename, delete (the last key removes the assignment), login with a key, a cloned key refused and audited,
// the login's refusals without a terminal, OTHER_FACTOR_ASSIGNED and --replace, applications refused.
// Ceremony hardening: keys-ceremony.test.ts; policies and enrolment sessions: keys-policy.test.ts.

import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { currentBackend, expectNoSecretsLeaked, expectRefused, isRemote, json, ok, secret, ssrun, tempHome, usePublicUrl } from '../helpers/cli.js';
import { actingAs, addKey, ceremony, createUser, expectCeremonyRefused, ISO, keyLogin, keySession, keysOf, passwordSession, startKeys, user, type Keys } from './keys-kit.js';

usePublicUrl();

const PW = secret('keys-e2e-password-Hq27vLx');
const KEY_ID = /^[A-Za-z0-9_-]{16,}$/;
const VIEW_KEYS = ['User', 'KeyId', 'Name', 'CreatedAt', 'LastUsedAt', 'Transports', 'BackedUp'];

let k: Keys;
let home: string;

beforeAll(async () => {
  home = tempHome('ssrun-keys-');
  if (hasChromium) k = await startKeys();
});

afterAll(async () => {
  await k?.close();
  expectNoSecretsLeaked();
});

describe.skipIf(!hasChromium)(`security keys (${currentBackend()})`, () => {
  const bob: Record<string, string> = {};
  let first: any;
  let second: any;

  it('a store has the built-in `webauthn` configuration; others can be created', async () => {
    expect(json(ok(await ssrun(['mfa', 'get', '-n', 'webauthn'], { home })))).toEqual({ Type: 'webauthn', Name: 'webauthn', Options: { RpName: 'ssrun', UserVerification: 'required' } });
    const r = ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: '{"Type":"webauthn","Name":"keys","Options":{"RpName":"Acme","UserVerification":"required"}}' }));
    expect(json(r)).toEqual({ Type: 'webauthn', Name: 'keys', Options: { RpName: 'Acme', UserVerification: 'required' } });
  });

  it('add: a browser ceremony registers the key under its name; the URL is alone on a line of stderr', async () => {
    await createUser(home, 'bob', PW);
    Object.assign(bob, isRemote() ? await passwordSession(home, 'bob', PW) : {});
    const { r, page, url } = await ceremony(k, ['mfa', 'key', 'add', '-u', 'bob', '-n', 'YubiKey 5C'], { home, env: bob });
    expect(page).toEqual({ state: 'done', text: 'Done: you can close this window' });
    first = json(ok(r));
    expect(Object.keys(first)).toEqual([...VIEW_KEYS, 'Config']);
    expect(first).toEqual({ User: 'bob', KeyId: expect.stringMatching(KEY_ID), Name: 'YubiKey 5C', CreatedAt: expect.stringMatching(ISO), LastUsedAt: null, Transports: expect.any(Array), BackedUp: false, Config: 'webauthn' });
    expect(url).toMatch(isRemote() ? /^https:\/\/localhost:\d+\/ceremony\/[A-Za-z0-9_-]{43}$/ : /^http:\/\/localhost:\d+\/[A-Za-z0-9_-]{43}$/);
    expect(r.stderr.split('\n')).toEqual([url, expect.stringMatching(/^ssrun: Touch your security key in the browser window to register it \(1[12]\d s left, Ctrl-C to cancel\)$/), '']);
    // The page had a challenge (declared a secret by ceremony(): no output may show it).
    expect(await k.browser.page.content()).toMatch(/"challenge":"[A-Za-z0-9_-]{16,}"/);
    expect(k.hook.calls().at(-1)).toEqual([url]);
    expect(json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home }))).Mfa).toMatchObject({ Config: 'webauthn', Type: 'webauthn', Pending: false });
    // The first key is an MFA change: bob's sessions are revoked; he logs in with the key.
    if (isRemote()) expectRefused(await ssrun(['mfa', 'key', 'get', '-u', 'bob'], { home, env: bob }), 5, 'SESSION_EXPIRED');
    Object.assign(bob, await keySession(k, home, 'bob', PW));
    first.LastUsedAt = expect.stringMatching(ISO);
  });

  it('a second key (another authenticator) gets the default name "Security key 2"', async () => {
    // The authenticator holding the first key would be excluded (excludeCredentials): a fresh one.
    await k.browser.removeAll();
    second = await addKey(k, home, 'bob', [], bob);
    expect(second).toMatchObject({ User: 'bob', Name: 'Security key 2', Config: 'webauthn', LastUsedAt: null });
    expect(second.KeyId).not.toBe(first.KeyId);
  });

  it('the same authenticator twice for one user is refused by the browser (excluded), nothing stored', async () => {
    const c = await ceremony(k, ['mfa', 'key', 'add', '-u', 'bob', '-n', 'again', '--timeout', '20'], { home, env: bob });
    expect(c.page.state).toBe('error');
    expect(c.page.text).toContain('InvalidStateError');
    expectCeremonyRefused(c, 5, 'KEY_REJECTED', 'security key not registered: the browser said');
    expect(await keysOf(home, 'bob')).toHaveLength(2);
  });

  it('get: one user, every user, and a table', async () => {
    await createUser(home, 'alice', PW);
    const alice = isRemote() ? await passwordSession(home, 'alice', PW) : {};
    const a = await addKey(k, home, 'alice', ['-n', 'alice key'], alice);
    const view = ({ Config: _c, ...rest }: any) => rest;
    expect(await keysOf(home, 'bob')).toEqual([view(first), view(second)]);
    const all = json<any[]>(ok(await ssrun(['mfa', 'key', 'get'], { home })));
    expect(all).toHaveLength(3);
    expect(all).toEqual(expect.arrayContaining([view(first), view(second), view(a)]));
    for (const key of all) expect(Object.keys(key)).toEqual(VIEW_KEYS);
    const table = ok(await ssrun(['mfa', 'key', 'get', '-u', 'bob', '--output', 'table'], { home }));
    expect(table.stdout.split('\n')[1]).toMatch(/^│ User +│ KeyId +│ Name +│ CreatedAt +│ LastUsedAt +│ Transports +│ BackedUp +│$/);
    expect(table.stdout).toContain('YubiKey 5C');
    expect(table.stdout).toContain('Security key 2');
    expectRefused(await ssrun(['mfa', 'key', 'get', '-u', 'nobody'], { home }), 3, 'PRINCIPAL_NOT_FOUND');
  });

  it('rename: the new name is shown back; an unknown key or an empty name is refused', async () => {
    const r = ok(await ssrun(['mfa', 'key', 'rename', '-u', 'bob', '--id', second.KeyId, '-n', 'Backup key'], { home, env: bob }));
    expect(json(r)).toEqual({ ...second, Name: 'Backup key', Config: undefined });
    expect((await keysOf(home, 'bob')).map((x) => x.Name)).toEqual(['YubiKey 5C', 'Backup key']);
    expectRefused(await ssrun(['mfa', 'key', 'rename', '-u', 'bob', '--id', 'AAAAAAAAAAAAAAAAAAAAAA', '-n', 'x'], { home, env: bob }), 3, 'KEY_NOT_FOUND', 'principal/internal/user/bob has no security key');
    expectRefused(await ssrun(['mfa', 'key', 'rename', '-u', 'bob', '--id', second.KeyId, '-n', ' '], { home, env: bob }), 2, 'INVALID_NAME');
    expectRefused(await ssrun(['mfa', 'key', 'rename', '-u', 'bob', '--id', 'not a key id', '-n', 'x'], { home, env: bob }), 2, 'USAGE', '--id: expected a key id');
  });

  it('login -m key: Factor webauthn; the key used gets LastUsedAt', async () => {
    const { r, page, url } = await keyLogin(k, home, 'bob', PW);
    expect(page).toEqual({ state: 'done', text: 'Done: you can close this window' });
    expect(json(ok(r))).toEqual({ Principal: user('bob'), Factor: 'webauthn', ExpiresAt: expect.stringMatching(ISO) });
    expect(r.stderr.split('\n')).toEqual([url, expect.stringMatching(/^ssrun: Touch your security key in the browser window \([56]\d s left, Ctrl-C to cancel\)$/), '']);
    const [one, two] = await keysOf(home, 'bob');
    expect(one.LastUsedAt).toMatch(ISO);
    expect(two.LastUsedAt).toMatch(ISO);
    expect(two.LastUsedAt > one.LastUsedAt).toBe(true);
  });

  it('login without a terminal and without -m: MFA_REQUIRED; another method: INVALID_METHOD', async () => {
    const login = (extra: string[]) => ssrun(['login', '-u', 'bob', '--password-stdin', ...extra], { home, input: `${PW}\n` });
    const calls = k.hook.calls().length;
    expectRefused(await login([]), 5, 'MFA_REQUIRED', 'MFA required: pass -m key to use your security key (a browser window opens)');
    expectRefused(await login(['-m', '123456']), 2, 'INVALID_METHOD', 'uses security keys ("webauthn"); pass -m key');
    expect(k.hook.calls()).toHaveLength(calls);
  });

  it('delete: one key, then the last, which removes the assignment (audited)', async () => {
    const del = async (id: string) => json(ok(await ssrun(['mfa', 'key', 'delete', '-u', 'bob', '--id', id], { home, env: bob })));
    expect(await del(first.KeyId)).toEqual({ User: 'bob', KeyId: first.KeyId, Deleted: true, AssignmentRemoved: false });
    expect(json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home }))).Mfa).toMatchObject({ Config: 'webauthn' });
    // A deleted key ends bob's sessions (one made with a lost key ends with it): the rest is an administrator's.
    if (isRemote()) expectRefused(await ssrun(['whoami'], { home, env: bob }), 5, 'SESSION_EXPIRED');
    const byAdmin = json(ok(await ssrun(['mfa', 'key', 'delete', '-u', 'bob', '--id', second.KeyId], { home })));
    expect(byAdmin).toEqual({ User: 'bob', KeyId: second.KeyId, Deleted: true, AssignmentRemoved: true });
    expect(await keysOf(home, 'bob')).toEqual([]);
    expect(json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home }))).Mfa).toBeNull();
    expectRefused(await ssrun(['mfa', 'key', 'delete', '-u', 'bob', '--id', first.KeyId], { home }), 3, 'KEY_NOT_FOUND');
    const audit = ok(await ssrun(['audit', 'get', '--principal', user('bob')], { home })).stdout;
    expect(audit).toContain('mfa.key.add');
    expect(audit).toContain('mfa.key.rename');
    expect(audit).toContain('Backup key');
    expect(audit).toContain(`Backup key (${second.KeyId.slice(0, 16)}), the last key`);
    expect(audit).toContain('last security key deleted');
    // With no factor left, the password alone logs in.
    expect(json(ok(await ssrun(['login', '-u', 'bob', '--password-stdin'], { home, input: `${PW}\n` }))).Factor).toBe('password');
  });
});

describe.skipIf(!hasChromium)(`a cloned key (${currentBackend()})`, () => {
  it('a credential copied before a login (its counter behind) is refused: MFA_DENIED, audited "possibly cloned"', async () => {
    await createUser(home, 'carol', PW);
    const carol = isRemote() ? await passwordSession(home, 'carol', PW) : {};
    await k.browser.removeAll();
    const key = await addKey(k, home, 'carol', ['-n', 'Original'], carol);
    const [copy] = await k.browser.credentials();
    expect(copy).toBeDefined();
    const login1 = await keyLogin(k, home, 'carol', PW);
    expect(json(ok(login1.r)).Factor).toBe('webauthn');
    // The clone: the same private key, with the counter it had when it was copied.
    await k.browser.removeAll();
    await k.browser.addCredential(copy!);
    const c = await keyLogin(k, home, 'carol', PW);
    expectCeremonyRefused(c, 5, 'MFA_DENIED', /the signature counter of security key "Original" did not increase \(\d+ after \d+\): it may be a cloned key/);
    const audit = ok(await ssrun(['audit', 'get', '--principal', user('carol')], { home })).stdout;
    expect(audit).toContain(`key ${key.KeyId.slice(0, 16)} counter`);
    expect(audit).toContain('possibly cloned');
  });
});

describe.skipIf(!hasChromium)(`who may have keys (${currentBackend()})`, () => {
  it('a user on another factor: OTHER_FACTOR_ASSIGNED (exit 4) before any ceremony; --replace switches', async () => {
    await createUser(home, 'dave', PW);
    const dave: Record<string, string> = {};
    const totp = ok(await ssrun(['mfa', 'assign-principal', '-p', user('dave'), '-c', 'totp'], { home, revealsSecrets: true }));
    secret(json(totp).Secret);
    if (isRemote()) {
      // The assignment revoked dave's session: he logs in with a code.
      ok(await ssrun(['login', '-u', 'dave', '--password-stdin', '-m', await generate({ secret: json(totp).Secret })], { home, input: `${PW}\n` }));
      Object.assign(dave, actingAs(home));
    }
    const calls = k.hook.calls().length;
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'dave'], { home, env: { ...k.hook.env, ...dave } }), 4, 'OTHER_FACTOR_ASSIGNED', 'principal/internal/user/dave uses "totp" (totp); pass --replace to switch to security keys ("webauthn")');
    expect(k.hook.calls()).toHaveLength(calls);
    if (isRemote()) {
      // Over a server, switching one's own factor is an administrator's decision, as assign-principal is.
      expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'dave', '--replace'], { home, env: { ...k.hook.env, ...dave } }), 9, 'FORBIDDEN', 'may not update system/multi_factor');
      expect(k.hook.calls()).toHaveLength(calls);
      ok(await ssrun(['authorization', 'create', '-p', user('dave'), '-o', 'update', '-a', 'allow', 'system/multi_factor'], { home }));
    }
    const out = await addKey(k, home, 'dave', ['--replace'], dave);
    expect(out).toMatchObject({ User: 'dave', Name: 'Security key 1', Config: 'webauthn', Replaced: 'totp' });
    expect(json(ok(await ssrun(['user', 'get', '-n', 'dave', '-v'], { home }))).Mfa).toMatchObject({ Config: 'webauthn', Type: 'webauthn' });
    expect(ok(await ssrun(['audit', 'get', '--principal', user('dave')], { home })).stdout).toContain('webauthn, security keys (replaces totp)');
  });

  it('applications cannot have security keys', async () => {
    const app = ok(await ssrun(['application', 'create', '-n', 'ci-bot'], { home, revealsSecrets: true }));
    secret(json(app).ApiKey ?? '');
    expectRefused(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/application/ci-bot', '-c', 'webauthn'], { home, env: k.hook.env }), 2, 'UNSUPPORTED_PRINCIPAL_TYPE', 'security keys are for users');
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'ci-bot'], { home, env: k.hook.env }), 3, 'PRINCIPAL_NOT_FOUND');
  });

  it('usage: --timeout out of range, an unknown or non-key configuration', async () => {
    await createUser(home, 'frank', PW);
    const frank = isRemote() ? await passwordSession(home, 'frank', PW) : {};
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'frank', '--timeout', '4'], { home, env: { ...k.hook.env, ...frank } }), 2, 'USAGE', '--timeout: expected whole seconds between 5 and 600, received "4"');
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'frank', '-c', 'nope'], { home, env: { ...k.hook.env, ...frank } }), 3, 'CONFIG_NOT_FOUND');
    expectRefused(await ssrun(['mfa', 'key', 'add', '-u', 'frank', '-c', 'totp'], { home, env: { ...k.hook.env, ...frank } }), 2, 'USAGE', '"totp" is a totp configuration, not one of security keys');
  });
});
