import { afterAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, secret, ssrun, tempHome } from '../helpers/cli.js';

afterAll(() => expectNoSecretsLeaked());

describe('README quick start', () => {
  it('creates the sample config on a new embedded store and lists it, secret redacted', async () => {
    secret('sample-secret-key-replace-me-0000000000');
    const home = tempHome();
    const created = await ssrun(['mfa', 'create', '-f', 'fixtures/mfa/duo.json'], { home });
    expect(created.exitCode).toBe(0);
    expect(created.stderr).toMatch(/^ssrun: created a new store at .*ssrun\.db/);
    const got = await ssrun(['mfa', 'get'], { home });
    expect(got.exitCode).toBe(0);
    expect(got.stderr).toBe('');
    expect(json(got)).toEqual([
      { Type: 'duo', Name: 'MyDuoConfig', Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: '********', Host: 'api-XXXXXXXX.duosecurity.com' } },
      { Type: 'totp', Name: 'totp', Options: { Issuer: 'ssrun', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 } }, // built in
      { Type: 'webauthn', Name: 'webauthn', Options: { RpName: 'ssrun', UserVerification: 'required' } }, // built in
    ]);
  });
});
