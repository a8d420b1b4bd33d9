// `ssrun mfa check -n NAME` (issue 13): the service asks the provider whether a configuration's credentials work
// (Duo: a signed GET /auth/v2/check), so an operator can test a configuration before assigning it; over a server
// the check runs there and the CLI never holds the secret. Runs on the embedded store and on a server
// (test/e2e/remote/mfa-check.remote.test.ts), against the fake Duo.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeDuo, type FakeDuo } from '../fakes/duo-server.js';
import { expectNoSecretsLeaked, expectRefused, isRemote, ok, ROOT_PASSWORD, secret, ssrun, tempHome } from '../helpers/cli.js';
import { crlf, onTty } from '../helpers/tty.js';

afterAll(() => expectNoSecretsLeaked());

describe('mfa check', () => {
  let fake: FakeDuo;
  let home: string;
  const create = async (name: string, options: Record<string, unknown>) => ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: JSON.stringify({ Type: 'duo', Name: name, Options: options }) }));

  beforeAll(async () => {
    fake = await startFakeDuo();
    secret(fake.skey);
    home = tempHome('ssrun-mfa-check-');
    await create('GoodDuo', fake.options());
    await create('WrongSecret', fake.options({ SecretKey: secret('wrong-secret-key-for-the-check-Xk2') }));
    await create('WrongIkey', fake.options({ IntegrationKey: 'DIWRONGWRONGWRONGWRO' }));
    await create('Nobody', fake.options({ Host: '127.0.0.1:9' }));
    // the terminal cases run without the suite's SSRUN_TOKEN: root's session, saved
    if (isRemote()) ok(await ssrun(['login', '-u', 'root', '--password-stdin'], { home, input: `${ROOT_PASSWORD}\n` }));
  }, 120_000);
  afterAll(async () => fake?.close());

  it('keys that work: the JSON result, exit 0, after one signed GET /auth/v2/check (the fake checks the signature)', async () => {
    fake.reset();
    const r = await ssrun(['mfa', 'check', '-n', 'GoodDuo'], { home });
    const expected = { Name: 'GoodDuo', Type: 'duo', Works: true, Host: fake.host, Checked: 'IntegrationKey, SecretKey and Host accepted by /auth/v2/check' };
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, `${JSON.stringify(expected, null, 2)}\n`, '']);
    const calls = fake.requestsTo('/auth/v2/check');
    expect(calls.map((c) => [c.method, c.status, c.params])).toEqual([['GET', 200, {}]]);
    // nobody was asked for anything
    expect(fake.requestsTo('/auth/v2/auth')).toEqual([]);
    // names are case-insensitive; on a terminal the same bytes
    expect(ok(await ssrun(['mfa', 'check', '-n', 'goodduo'], { home })).stdout).toBe(r.stdout);
    const tty = await onTty(['mfa', 'check', '-n', 'GoodDuo'], { home });
    expect([tty.exitCode, tty.output]).toEqual([0, crlf(r.stdout)]);
  });

  it("keys Duo refuses: exit 7 PROVIDER_MISCONFIGURED, with Duo's code and what to check", async () => {
    const r = await ssrun(['mfa', 'check', '-n', 'WrongSecret'], { home });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([
      7,
      '',
      `ssrun: error: MFA configuration "WrongSecret": Duo rejected the credentials: 40103 Invalid signature in request credentials; check IntegrationKey, SecretKey and Host of the MFA configuration (Duo at ${fake.host}) (PROVIDER_MISCONFIGURED)\n`,
    ]);
    const tty = await onTty(['mfa', 'check', '-n', 'WrongSecret'], { home });
    expect([tty.exitCode, tty.output]).toEqual([7, crlf(r.stderr)]);
    expectRefused(await ssrun(['mfa', 'check', '-n', 'WrongIkey'], { home }), 7, 'PROVIDER_MISCONFIGURED', 'Duo rejected the credentials: 40102 Invalid integration key');
  });

  it('a Duo that cannot be reached: exit 7 PROVIDER_UNAVAILABLE', async () => {
    expectRefused(await ssrun(['mfa', 'check', '-n', 'Nobody'], { home }), 7, 'PROVIDER_UNAVAILABLE', 'MFA configuration "Nobody": cannot reach Duo at 127.0.0.1:9 (ECONNREFUSED)');
  });

  it('a configuration with nothing to check, or none: exit 2 or 3; -n is required', async () => {
    expectRefused(await ssrun(['mfa', 'check', '-n', 'totp'], { home }), 2, 'USAGE', 'mfa check: "totp" is a totp configuration, which has no provider credentials to check (duo configurations have)');
    expectRefused(await ssrun(['mfa', 'check', '-n', 'Missing'], { home }), 3, 'CONFIG_NOT_FOUND');
    expectRefused(await ssrun(['mfa', 'check'], { home }), 2, 'USAGE', "required option '-n, --name <name>' not specified");
  });
});
