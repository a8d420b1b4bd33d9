// TOTP end to end through the built binary (on both backends: see test/e2e/remote/): configuration, the
// built-in `totp`, enrolment (generated or imported secret, QR code), an authenticator app computing codes from
// the otpauth:// URI, login, replay, `mfa verify`, recovery codes, and that no secret shows up later.

import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';

afterAll(() => expectNoSecretsLeaked());

const PW = secret('totp-e2e-password-Zx81');
const DENIED = 'ssrun: error: authentication denied: wrong user name, password or passcode (AUTH_DENIED)\n';

/** What an authenticator app does with the URI it scanned. */
async function appCode(uri: string, offsetSteps = 0): Promise<string> {
  const u = new URL(uri);
  const period = Number(u.searchParams.get('period') ?? 30);
  return generate({
    secret: u.searchParams.get('secret')!,
    digits: Number(u.searchParams.get('digits') ?? 6) as 6 | 8,
    period,
    algorithm: (u.searchParams.get('algorithm') ?? 'SHA1').toLowerCase() as 'sha1',
    epoch: Math.floor(Date.now() / 1000) + offsetSteps * period,
  });
}

let home: string;
const login = (user: string, mfa?: string) => ssrun(['login', '-u', user, '--password-stdin', ...(mfa === undefined ? [] : ['-m', mfa])], { home, input: `${PW}\n` });

async function enrol(user: string, config: string, extra: string[] = []): Promise<{ Secret: string; OtpauthUri: string } & Record<string, unknown>> {
  ok(await ssrun(['user', 'create', '-n', user, '--password-stdin'], { home, input: `${PW}\n` }));
  const r = ok(await ssrun(['mfa', 'assign-principal', '-p', `principal/internal/user/${user}`, '-c', config, ...extra], { home, revealsSecrets: true }));
  const out = json(r);
  secret(out.Secret);
  return out;
}

beforeAll(async () => {
  home = tempHome('ssrun-totp-');
});

describe('totp configurations', () => {
  it('a new store has the built-in `totp` configuration with the defaults (and the built-in `webauthn`)', async () => {
    const list = json<any[]>(ok(await ssrun(['mfa', 'get'], { home })));
    expect(list).toEqual([
      { Type: 'totp', Name: 'totp', Options: { Issuer: 'ssrun', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 } },
      { Type: 'webauthn', Name: 'webauthn', Options: { RpName: 'ssrun', UserVerification: 'required' } },
    ]);
  });

  it('create: keys in any case, every option optional, defaults filled in', async () => {
    const r = ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: JSON.stringify({ type: 'TOTP', name: 'TotpDemoConfig', options: { issuer: 'Acme', digits: 6, period: 30, algorithm: 'sha1', skew: 1 } }) }));
    expect(json(r)).toEqual({ Type: 'totp', Name: 'TotpDemoConfig', Options: { Issuer: 'Acme', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 } });
    const bare = ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: '{"Type":"totp","Name":"Bare"}' }));
    expect(json(bare).Options).toEqual({ Issuer: 'ssrun', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 });
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: '{"Type":"totp","Name":"Long","Options":{"Digits":8,"Period":60,"Algorithm":"SHA512","Skew":0}}' }));
  });

  it.each([
    ['Digits 7', { Digits: 7 }, 'Options.Digits: 7 is out of range; expected 6 or 8'],
    ['Digits as a string', { Digits: '6' }, 'Options.Digits: expected a whole number (6 or 8), received a string'],
    ['Period 14', { Period: 14 }, 'Options.Period: 14 is out of range; expected seconds from 15 to 300'],
    ['Period 301', { Period: 301 }, 'Options.Period: 301 is out of range; expected seconds from 15 to 300'],
    ['Skew 3', { Skew: 3 }, 'Options.Skew: 3 is out of range; expected time steps from 0 to 2'],
    ['Algorithm MD5', { Algorithm: 'MD5' }, 'Options.Algorithm: expected one of SHA1, SHA256, SHA512, received "MD5"'],
    ['a misspelt key', { Digts: 6 }, 'Options.Digts: unknown key; did you mean "Digits"?'],
    ['an Issuer with a colon', { Issuer: 'Acme:Corp' }, 'Options.Issuer: "Acme:Corp" contains ":"'],
    ['an empty Issuer', { Issuer: '' }, 'Options.Issuer: must not be empty'],
  ])('refused: %s (exit 2, nothing created)', async (_t, options, message) => {
    expectRefused(await ssrun(['mfa', 'create', '-f', '-'], { home, input: JSON.stringify({ Type: 'totp', Name: 'Bad', Options: options }) }), 2, 'INVALID_CONFIG', message);
  });

  it('the built-in can be deleted for good', async () => {
    const other = tempHome();
    expect(json(ok(await ssrun(['mfa', 'delete', '-n', 'totp'], { home: other })))).toEqual({ Deleted: 'totp', PrincipalsUnassigned: 0 });
    const keysOnly = `${JSON.stringify([{ Type: 'webauthn', Name: 'webauthn', Options: { RpName: 'ssrun', UserVerification: 'required' } }], null, 2)}\n`;
    expect(ok(await ssrun(['mfa', 'get'], { home: other })).stdout).toBe(keysOnly);
    expect(ok(await ssrun(['mfa', 'get'], { home: other })).stdout).toBe(keysOnly);
    expect(json<any[]>(ok(await ssrun(['mfa', 'get'], { home }))).map((c) => c.Name)).toEqual(['Bare', 'Long', 'totp', 'TotpDemoConfig', 'webauthn']);
  });
});

describe('enrolment and login', () => {
  it('assign with no -m generates a 160-bit secret, shown once with its URI; pending until a first code', async () => {
    const qr = join(dirname(home), 'bob.png');
    const out = await enrol('bob', 'TotpDemoConfig', ['--qr-file', qr]);
    expect(out).toMatchObject({ Principal: 'principal/internal/user/bob', Config: 'TotpDemoConfig', ProviderUserId: 'bob', Replaced: null, Pending: true });
    expect(out.Secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(out.OtpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(out.Secret);
    expect(uri.searchParams.get('issuer')).toBe('Acme');
    // The PNG holds the secret: the user's alone.
    const png = readFileSync(qr);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(statSync(qr).mode & 0o777).toBe(0o600);

    expect(json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home }))).Mfa).toEqual({ Config: 'TotpDemoConfig', Type: 'totp', ProviderUserId: 'bob', Pending: true });
    expect(json(ok(await ssrun(['mfa', 'get', '-n', 'TotpDemoConfig', '-v'], { home }))).Principals).toEqual([
      { Principal: 'principal/internal/user/bob', ProviderUserId: 'bob', AssignedAt: expect.any(String), Pending: true },
    ]);

    expectRefused(await login('bob'), 5, 'MFA_REQUIRED', 'MFA required: pass -m with the code from your authenticator app');
    expectRefused(await login('bob', 'push'), 2, 'INVALID_METHOD', 'uses TOTP');
    const code = await appCode(out.OtpauthUri);
    const r = ok(await login('bob', code));
    expect(json(r)).toMatchObject({ Principal: 'principal/internal/user/bob', Factor: 'totp' });
    expect(json(ok(await ssrun(['user', 'get', '-n', 'bob', '-v'], { home }))).Mfa.Pending).toBe(false);

    // The same code again: refused, even inside its window (S16).
    const replay = await login('bob', code);
    expect([replay.exitCode, replay.stderr]).toEqual([5, DENIED]);
  });

  it('codes that are not codes (S17): malformed ones are a usage error, a wrong length is the uniform denial', async () => {
    expectRefused(await login('bob', ' 123456'), 2, 'INVALID_METHOD');
    expectRefused(await login('bob', '１２３４５６'), 2, 'INVALID_METHOD');
    expectRefused(await login('bob', '12345a'), 2, 'INVALID_METHOD');
    expectRefused(await login('bob', ''), 2, 'INVALID_METHOD');
    const eight = await login('bob', '12345678');
    expect([eight.exitCode, eight.stderr]).toEqual([5, DENIED]);
    const wrong = await login('bob', '000000');
    expect([wrong.exitCode, wrong.stderr]).toEqual([5, DENIED]);
  });

  it('an 8-digit, 60-second, SHA512 configuration', async () => {
    const out = await enrol('eight', 'Long');
    // Skew 0: the code is valid in its own 60 s step only; do not compute it in the last 15 s of a step (the
    // login, with its password hash, may take seconds on a loaded machine).
    const intoStep = (Date.now() / 1000) % 60;
    if (intoStep > 45) await new Promise((r) => setTimeout(r, (60 - intoStep) * 1000 + 200));
    const code = await appCode(out.OtpauthUri);
    expect(code).toMatch(/^\d{8}$/);
    expect(json(ok(await login('eight', code)))).toMatchObject({ Factor: 'totp' });
  });

  it('import with -m: too short or not base32 is refused; a good secret is not shown back; mfa verify confirms', async () => {
    ok(await ssrun(['user', 'create', '-n', 'imp', '--password-stdin'], { home, input: `${PW}\n` }));
    const short = secret('JBSWY3DPEHPK3PXP');
    expectRefused(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/imp', '-c', 'totp', '-m', short], { home }), 2, 'INVALID_TOTP_SECRET', 'the secret has 80 bits; at least 128 are required');
    expectRefused(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/imp', '-c', 'totp', '-m', 'not base32 !!'], { home }), 2, 'INVALID_TOTP_SECRET');
    expect(json(ok(await ssrun(['user', 'get', '-n', 'imp'], { home }))).Mfa).toBeNull();
    const good = secret('KRUGS4ZANFZSAYJAONSWG4TFOQQGM33SEB2GK43U');
    const r = ok(await ssrun(['mfa', 'assign-principal', '-p', 'principal/internal/user/imp', '-c', 'totp', '-m', good], { home }));
    expect(json(r)).toEqual({ Principal: 'principal/internal/user/imp', Config: 'totp', ProviderUserId: 'imp', Replaced: null, Pending: true });
    const wrong = await ssrun(['mfa', 'verify', '-u', 'imp', '-m', '000000'], { home });
    expect([wrong.exitCode, wrong.stderr]).toEqual([5, DENIED]);
    const code = await generate({ secret: good });
    expect(json(ok(await ssrun(['mfa', 'verify', '-u', 'imp', '-m', code], { home })))).toEqual({ Principal: 'principal/internal/user/imp', Config: 'totp', Verified: true, Pending: false, WasPending: true });
    expect(json(ok(await ssrun(['user', 'get', '-n', 'imp', '-v'], { home }))).Mfa.Pending).toBe(false);
    expect(json(ok(await ssrun(['user', 'get', '-n', 'imp', '-v'], { home }))).FailedAttempts).toBe(0);
  });

  it('the same code from 4 processes at once succeeds exactly once (S16)', async () => {
    const out = await enrol('race', 'totp');
    const code = await appCode(out.OtpauthUri);
    const results = await Promise.all(Array.from({ length: 4 }, () => login('race', code)));
    expect(results.map((r) => r.exitCode).sort()).toEqual([0, 5, 5, 5]);
    for (const r of results.filter((x) => x.exitCode !== 0)) expect(r.stderr).toBe(DENIED);
  });
});

describe('recovery codes', () => {
  let codes: string[];

  it('mfa recovery-codes prints 10 single-use codes once', async () => {
    const r = ok(await ssrun(['mfa', 'recovery-codes', '-p', 'principal/internal/user/bob'], { home, revealsSecrets: true }));
    codes = json(r).RecoveryCodes;
    for (const c of codes) secret(c);
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
    expect(r.stderr).toContain('10 recovery codes for principal/internal/user/bob');
  });

  it('each code logs in once and says how many are left; a used one is refused', async () => {
    const r = ok(await login('bob', codes[0]!));
    expect(json(r)).toMatchObject({ Factor: 'recovery-code' });
    expect(r.stderr).toBe('ssrun: 9 recovery codes left\n');
    const again = await login('bob', codes[0]!);
    expect([again.exitCode, again.stderr]).toEqual([5, DENIED]);
    // in upper case, as printed on paper
    expect(ok(await login('bob', codes[1]!.toUpperCase())).stderr).toBe('ssrun: 8 recovery codes left\n');
  });

  it('regenerating replaces the set: the old codes stop working', async () => {
    const r = ok(await ssrun(['mfa', 'recovery-codes', '-p', 'principal/internal/user/bob'], { home, revealsSecrets: true }));
    const fresh: string[] = json(r).RecoveryCodes;
    for (const c of fresh) secret(c);
    const old = await login('bob', codes[2]!);
    expect([old.exitCode, old.stderr]).toEqual([5, DENIED]);
    expect(ok(await login('bob', fresh[0]!)).stderr).toBe('ssrun: 9 recovery codes left\n');
  });

  it('the audit trail records recovery logins, without the codes', async () => {
    const audit = ok(await ssrun(['audit', 'get', '--principal', 'principal/internal/user/bob'], { home }));
    expect(audit.stdout).toMatch(/recovery-code \(9 left\)/);
    expect(audit.stdout).toContain('recovery code: wrong or already used');
  });
});
