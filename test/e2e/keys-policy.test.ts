// Security keys under policies, and key assignments that wait for a key (on every backend: see
// test/e2e/remote/ and remote-pg/): under a policy covering a user, the user may not delete their own last
// key over a server (LAST_KEY), an administrator may (audited); "phishing-resistant" admits a key and refuses
// TOTP; an assignment of a key configuration runs the registration on the embedded store, and over a server
// stays pending: the user's password-only session may register a key and nothing else.
//
// Not covered: the 5-minute "sudo" window over a server (REAUTH_REQUIRED after an older login) needs a clock
// the CLI does not let a test move.

import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium } from '../helpers/browser.js';
import { currentBackend, expectNoSecretsLeaked, expectRefused, isRemote, json, ok, secret, ssrun, tempHome, usePublicUrl } from '../helpers/cli.js';
import { actingAs, addKey, ceremony, createUser, ISO, keyLogin, keySession, keysOf, passwordSession, startKeys, user, type Keys } from './keys-kit.js';

usePublicUrl();

const PW = secret('keys-policy-password-Mn40pZs');

let k: Keys;
let home: string;

beforeAll(async () => {
  home = tempHome('ssrun-keys-policy-');
  if (hasChromium) k = await startKeys();
  ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: '{"Type":"webauthn","Name":"keys","Options":{"RpName":"Acme","UserVerification":"required"}}' }));
});

afterAll(async () => {
  await k?.close();
  expectNoSecretsLeaked();
});

const createPolicy = (doc: unknown) => ssrun(['mfa', 'policy', 'create', '-f', '-'], { home, input: JSON.stringify(doc) });

/** A user with one key (registered by themselves over a server), and a session of that key. */
async function userWithKey(name: string, extra: string[] = []): Promise<{ key: any; env: Record<string, string> }> {
  await createUser(home, name, PW);
  const pw = isRemote() ? await passwordSession(home, name, PW) : {};
  await k.browser.removeAll();
  const key = await addKey(k, home, name, extra, pw);
  return { key, env: await keySession(k, home, name, PW) };
}

describe.skipIf(!hasChromium)(`the last key under a policy (${currentBackend()})`, () => {
  it('a user may not delete their own last key over a server (LAST_KEY); an administrator may, audited', async () => {
    const { key, env } = await userWithKey('ivy', ['-n', 'only key']);
    const p = json(ok(await createPolicy({ Name: 'keys-required', Factors: 'any', EnrollWithinDays: 7, Targets: [user('ivy')], Active: true })));
    expect(p).toMatchObject({ Name: 'keys-required', Active: true });
    let ivy = env;
    if (isRemote()) {
      // Activation revoked ivy's sessions: she logs in again with her key.
      expect(p.SessionsRevoked).toBe(1);
      ivy = await keySession(k, home, 'ivy', PW);
      const message = '"only key" is your last security key and policy keys-required requires MFA of principal/internal/user/ivy: add another key first (ssrun mfa key add), or ask an administrator';
      expectRefused(await ssrun(['mfa', 'key', 'delete', '-u', 'ivy', '--id', key.KeyId], { home, env: ivy }), 4, 'LAST_KEY', message);
      expect(await keysOf(home, 'ivy')).toHaveLength(1);
      // Renaming it is her own business.
      expect(json(ok(await ssrun(['mfa', 'key', 'rename', '-u', 'ivy', '--id', key.KeyId, '-n', 'still the only key'], { home, env: ivy }))).Name).toBe('still the only key');
    }
    // root over a server (SSRUN_TOKEN of root), the local operator on the embedded store.
    const r = ok(await ssrun(['mfa', 'key', 'delete', '-u', 'ivy', '--id', key.KeyId], { home }));
    expect(json(r)).toEqual({ User: 'ivy', KeyId: key.KeyId, Deleted: true, AssignmentRemoved: true });
    const audit = json<any[]>(ok(await ssrun(['audit', 'get', '--principal', user('ivy')], { home })));
    const del = audit.find((a) => a.Action === 'mfa.key.delete');
    expect(del).toMatchObject({ Outcome: 'ok', Actor: isRemote() ? user('root') : 'local', Detail: expect.stringContaining(', the last key') });
    // No factor left, inside the enrolment window: the password logs in, with the deadline.
    const login = json(ok(await ssrun(['login', '-u', 'ivy', '--password-stdin'], { home, input: `${PW}\n` })));
    expect(login).toMatchObject({ Factor: 'password', Enrollment: { Policy: 'keys-required' } });
  });
});

describe.skipIf(!hasChromium)(`a phishing-resistant policy (${currentBackend()})`, () => {
  it('admits a security key and refuses TOTP (MFA_FACTOR_NOT_ALLOWED)', async () => {
    await userWithKey('kim');
    await createUser(home, 'tom', PW);
    const totp = json(ok(await ssrun(['mfa', 'assign-principal', '-p', user('tom'), '-c', 'totp'], { home, revealsSecrets: true })));
    secret(totp.Secret);
    ok(await createPolicy({ Name: 'phish', Factors: 'phishing-resistant', EnrollWithinDays: 7, Targets: [user('kim'), user('tom')], Active: true }));
    const message = 'login denied: principal/internal/user/tom uses "totp" (totp), which policy phish does not allow (allowed: phishing-resistant)';
    const code = await generate({ secret: totp.Secret });
    expectRefused(await ssrun(['login', '-u', 'tom', '--password-stdin', '-m', code], { home, input: `${PW}\n` }), 5, 'MFA_FACTOR_NOT_ALLOWED', message);
    expectRefused(await ssrun(['login', '-u', 'tom', '--password-stdin'], { home, input: `${PW}\n` }), 5, 'MFA_FACTOR_NOT_ALLOWED', message);
    const { r } = await keyLogin(k, home, 'kim', PW);
    expect(json(ok(r))).toMatchObject({ Principal: user('kim'), Factor: 'webauthn' });
    expect(json(ok(await ssrun(['mfa', 'policy', 'explain', '-u', 'kim'], { home }))).Status).toMatchObject({ Allowed: true, LastVerifiedAt: expect.stringMatching(ISO) });
  });
});

describe.runIf(!isRemote() && hasChromium)('assign-principal of a key configuration on the embedded store', () => {
  it('runs the registration ceremony right away', async () => {
    await createUser(home, 'lena', PW);
    await k.browser.removeAll();
    const { r, page } = await ceremony(k, ['mfa', 'assign-principal', '-p', user('lena'), '-c', 'keys'], { home });
    expect(page.state, r.stderr).toBe('done');
    expect(json(ok(r))).toMatchObject({ Principal: user('lena'), Config: 'keys' });
    expect(await keysOf(home, 'lena')).toEqual([expect.objectContaining({ User: 'lena', Name: 'Security key 1', LastUsedAt: null })]);
    expect(json(ok(await ssrun(['user', 'get', '-n', 'lena', '-v'], { home }))).Mfa).toMatchObject({ Config: 'keys', Type: 'webauthn', Pending: false });
    expect(json(ok((await keyLogin(k, home, 'lena', PW)).r)).Factor).toBe('webauthn');
  });
});

describe.runIf(isRemote())(`a pending key assignment over a server (${currentBackend()})`, () => {
  let lena: Record<string, string> = {};

  it('assign-principal leaves it pending with no key, and opens no browser', async () => {
    await createUser(home, 'lena', PW);
    const calls = k?.hook.calls().length ?? 0;
    const r = ok(await ssrun(['mfa', 'assign-principal', '-p', user('lena'), '-c', 'keys'], { home, env: k?.hook.env ?? {} }));
    expect(json(r)).toMatchObject({ Principal: user('lena'), Config: 'keys', Pending: true });
    expect(k?.hook.calls().length ?? 0).toBe(calls);
    expect(await keysOf(home, 'lena')).toEqual([]);
  });

  it('the password alone logs in, to a session that may only register a key (KEY_ENROLMENT_ONLY otherwise)', async () => {
    const r = ok(await ssrun(['login', '-u', 'lena', '--password-stdin'], { home, input: `${PW}\n` }));
    expect(json(r)).toEqual({
      Principal: user('lena'),
      Factor: 'password (key enrolment only)',
      ExpiresAt: expect.stringMatching(ISO),
      KeyEnrollment: { Config: 'keys', How: 'ssrun mfa key add -u lena -c keys' },
    });
    expect(r.stderr).toBe('ssrun: your security-key assignment (keys) is pending: this session may only register a key: ssrun mfa key add -u lena -c keys\n');
    lena = actingAs(home);
    const only = 'this session may only register a security key (the assignment of principal/internal/user/lena is pending)';
    expectRefused(await ssrun(['user', 'get', '-n', 'lena'], { home, env: lena }), 9, 'KEY_ENROLMENT_ONLY', only);
    expectRefused(await ssrun(['mfa', 'key', 'get', '-u', 'lena'], { home, env: lena }), 9, 'KEY_ENROLMENT_ONLY', only);
    expectRefused(await ssrun(['mfa', 'get'], { home, env: lena }), 9, 'KEY_ENROLMENT_ONLY', only);
    expect(json(ok(await ssrun(['whoami'], { home })))).toMatchObject({ Principal: user('lena'), Factor: 'password (key enrolment only)' });
  });

  it.skipIf(!hasChromium)('that session registers the first key (-c keys): the assignment is no longer pending', async () => {
    await k.browser.removeAll();
    const out = await addKey(k, home, 'lena', ['-c', 'keys', '-n', 'Lena key'], lena);
    expect(out).toMatchObject({ User: 'lena', Name: 'Lena key', Config: 'keys' });
    expect(out.Replaced).toBeUndefined();
    expect(json(ok(await ssrun(['user', 'get', '-n', 'lena', '-v'], { home }))).Mfa).toMatchObject({ Config: 'keys', Type: 'webauthn', Pending: false });
    expectRefused(await ssrun(['login', '-u', 'lena', '--password-stdin'], { home, input: `${PW}\n` }), 5, 'MFA_REQUIRED', 'pass -m key');
    expect(json(ok((await keyLogin(k, home, 'lena', PW)).r))).toMatchObject({ Factor: 'webauthn' });
    expect(ok(await ssrun(['logout'], { home })).exitCode).toBe(0);
  });

  it.skipIf(!hasChromium)('once the first key is registered, the password-only enrolment session may not add another key', async () => {
    // lena's enrolment-only session (password alone) registered her first key above; her account now has
    // MFA. Anyone holding that session (or just her password, during the pending window) must not be able to
    // add a key of their own now.
    await k.browser.removeAll();
    const calls = k.hook.calls().length;
    const r = await ssrun(['mfa', 'key', 'add', '-u', 'lena', '-c', 'keys', '-n', 'intruder', '--timeout', '15'], { home, env: { ...k.hook.env, ...lena } });
    // Refused before any ceremony: the first key ended the session.
    expectRefused(r, 5, 'SESSION_EXPIRED');
    expect(k.hook.calls()).toHaveLength(calls);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).not.toBe(0);
    expect((await keysOf(home, 'lena')).map((x) => x.Name)).toEqual(['Lena key']);
  });

  it.skipIf(!hasChromium)('following the advice of KEY_ENROLMENT_ONLY (`ssrun mfa key add -u NAME`, no -c) registers the pending key', async () => {
    await createUser(home, 'mia', PW);
    ok(await ssrun(['mfa', 'assign-principal', '-p', user('mia'), '-c', 'keys'], { home }));
    ok(await ssrun(['login', '-u', 'mia', '--password-stdin'], { home, input: `${PW}\n` }));
    const mia = actingAs(home);
    const refused = await ssrun(['mfa', 'get'], { home, env: mia });
    expect(refused.stderr).toContain('ssrun mfa key add -u mia (KEY_ENROLMENT_ONLY)');
    await k.browser.removeAll();
    const out = await addKey(k, home, 'mia', [], mia);
    expect(out).toMatchObject({ User: 'mia', Config: 'keys' });
  });
});

describe.skipIf(!hasChromium)(`more keys for a user on a key configuration of their own (${currentBackend()})`, () => {
  it('a second key without -c goes to the configuration the user is on ("keys"), not to the built-in', async () => {
    await createUser(home, 'pia', PW);
    await k.browser.removeAll();
    if (isRemote()) {
      ok(await ssrun(['mfa', 'assign-principal', '-p', user('pia'), '-c', 'keys'], { home }));
      ok(await ssrun(['login', '-u', 'pia', '--password-stdin'], { home, input: `${PW}\n` }));
      await addKey(k, home, 'pia', ['-c', 'keys'], actingAs(home));
    } else {
      const { r } = await ceremony(k, ['mfa', 'assign-principal', '-p', user('pia'), '-c', 'keys'], { home });
      ok(r);
    }
    const pia = await keySession(k, home, 'pia', PW);
    await k.browser.removeAll();
    const { r } = await ceremony(k, ['mfa', 'key', 'add', '-u', 'pia', '-n', 'second'], { home, env: pia });
    expect(json(ok(r))).toMatchObject({ User: 'pia', Name: 'second', Config: 'keys' });
    expect((await keysOf(home, 'pia')).map((x) => x.Name)).toEqual(['Security key 1', 'second']);
  });
});
