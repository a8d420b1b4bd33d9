// ssrun mfa … end to end through the built binary: every subcommand, its output and each way it refuses
// input (the field named, the exit code, nothing changed).

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, isRemote, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';

afterAll(() => expectNoSecretsLeaked());

const FIXTURE_SECRET = secret('sample-secret-key-replace-me-0000000000');
const SK = secret('mfa-e2e-secret-key-Aq8Zr2Lm5Np7');
const SK2 = secret('mfa-e2e-secret-key-second-Vb4Hx6Tc');
const SK3 = secret('mfa-e2e-secret-key-third-Kd1Wq3Ys');
const PW = secret('mfa-e2e-user-password-9');

const IKEY = 'DIAAAAAAAAAAAAAAAAAA';
const HOST = 'api-aaaaaaaa.duosecurity.com';

function doc(name: string, options: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  return { Type: 'duo', Name: name, Options: { IntegrationKey: IKEY, SecretKey: SK, Host: HOST, ...options }, ...top };
}

const BUILTIN_TOTP = { Type: 'totp', Name: 'totp', Options: { Issuer: 'ssrun', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 } };
const BUILTIN_WEBAUTHN = { Type: 'webauthn', Name: 'webauthn', Options: { RpName: 'ssrun', UserVerification: 'required' } };

const text = (d: unknown) => (typeof d === 'string' ? d : `${JSON.stringify(d, null, 2)}\n`);

describe('mfa create', () => {
  let home: string;
  beforeAll(() => {
    home = tempHome();
  });

  it('reads a file with lower-case keys and prints Type/Name/Options, SecretKey redacted', async () => {
    const r = ok(await ssrun(['mfa', 'create', '-f', 'fixtures/mfa/duo.json'], { home }));
    expect(r.stdout).toBe(
      `${JSON.stringify({ Type: 'duo', Name: 'MyDuoConfig', Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: '********', Host: 'api-XXXXXXXX.duosecurity.com' } }, null, 2)}\n`,
    );
    if (isRemote()) expect(r.stderr).toBe('');
    else expect(r.stderr).toMatch(/^ssrun: created a new store at .*ssrun\.db; its master key is .*master\.key: back it up/);
  });

  it('reads stdin (-f -) with capitalised keys', async () => {
    const r = ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(doc('Capitalised')) }));
    expect(r.stderr).toBe('');
    expect(json(r)).toEqual({ Type: 'duo', Name: 'Capitalised', Options: { IntegrationKey: IKEY, SecretKey: '********', Host: HOST } });
  });

  it('accepts keys in any case, Type in any case, and trims the name', async () => {
    const input = { TYPE: 'DUO', name: '  Mixed Case.Name_1@x+y-z  ', OPTIONS: { integrationKEY: IKEY, SECRETKEY: SK, hOsT: 'h.example.com:8443' } };
    const r = ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(input) }));
    expect(Object.keys(json(r))).toEqual(['Type', 'Name', 'Options']);
    expect(json(r)).toEqual({ Type: 'duo', Name: 'Mixed Case.Name_1@x+y-z', Options: { IntegrationKey: IKEY, SecretKey: '********', Host: 'h.example.com:8443' } });
  });

  it('accepts a 120-character name and a file of exactly 64 KiB', async () => {
    const name = `L${'o'.repeat(118)}g`;
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(doc(name)) }));
    const dir = dirname(home);
    const body = JSON.stringify(doc('Padded'));
    writeFileSync(join(dir, 'exactly-64k.json'), body + ' '.repeat(65536 - Buffer.byteLength(body)));
    const r = ok(await ssrun(['mfa', 'create', '-f', join(dir, 'exactly-64k.json')], { home }));
    expect(json(r).Name).toBe('Padded');
  });

  it('stores a relative CaFile as an absolute path from the file\'s directory', async () => {
    const dir = join(dirname(home), 'conf.d');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'proxy-ca.pem'), '-----BEGIN CERTIFICATE-----\n');
    writeFileSync(join(dir, 'with-ca.json'), text(doc('WithCa', { CaFile: 'proxy-ca.pem' })));
    const r = ok(await ssrun(['mfa', 'create', '-f', join(dir, 'with-ca.json')], { home }));
    expect(json(r).Options).toEqual({ IntegrationKey: IKEY, SecretKey: '********', Host: HOST, CaFile: join(dir, 'proxy-ca.pem') });
  });
});

describe('mfa get', () => {
  let home: string;
  beforeAll(async () => {
    home = tempHome();
    // A new store holds the built-in TOTP and security-key configurations; this suite's listings are of Duo configurations only.
    const fresh = ok(await ssrun(['mfa', 'get'], { home }));
    expect(json(fresh)).toEqual([BUILTIN_TOTP, BUILTIN_WEBAUTHN]);
    expect(json(ok(await ssrun(['mfa', 'delete', '-n', 'totp'], { home })))).toEqual({ Deleted: 'totp', PrincipalsUnassigned: 0 });
    expect(json(ok(await ssrun(['mfa', 'delete', '-n', 'webauthn'], { home })))).toEqual({ Deleted: 'webauthn', PrincipalsUnassigned: 0 });
    expect(ok(await ssrun(['mfa', 'get'], { home })).stdout).toBe('[]\n');
    for (const [name, sk] of [
      ['charlie', SK],
      ['Bravo', SK2],
      ['alpha', SK3],
      ['Delta', SK],
    ] as const) {
      ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(doc(name, { SecretKey: sk })) }));
    }
  });

  it('prints a JSON array sorted by Name (without regard to case), SecretKey as ********', async () => {
    const r = ok(await ssrun(['mfa', 'get'], { home }));
    expect(r.stderr).toBe('');
    const list = json<any[]>(r);
    expect(list.map((c) => c.Name)).toEqual(['alpha', 'Bravo', 'charlie', 'Delta']);
    for (const c of list) {
      expect(Object.keys(c)).toEqual(['Type', 'Name', 'Options']);
      expect(c.Options).toEqual({ IntegrationKey: IKEY, SecretKey: '********', Host: HOST });
    }
  });

  it('--show-secrets reveals each SecretKey', async () => {
    const r = ok(await ssrun(['mfa', 'get', '--show-secrets'], { home, revealsSecrets: true }));
    expect(json<any[]>(r).map((c) => [c.Name, c.Options.SecretKey])).toEqual([
      ['alpha', SK3],
      ['Bravo', SK2],
      ['charlie', SK],
      ['Delta', SK],
    ]);
  });

  it('-v adds CreatedAt, UpdatedAt and Principals', async () => {
    const r = ok(await ssrun(['mfa', 'get', '-v'], { home }));
    for (const c of json<any[]>(r)) {
      expect(Object.keys(c)).toEqual(['Type', 'Name', 'Options', 'CreatedAt', 'UpdatedAt', 'Principals']);
      expect(c.CreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(c.UpdatedAt).toBe(c.CreatedAt);
      expect(c.Principals).toEqual([]);
      expect(c.Options.SecretKey).toBe('********');
    }
  });

  it('-n NAME prints one object, found without regard to case', async () => {
    const r = ok(await ssrun(['mfa', 'get', '-n', 'BRAVO'], { home }));
    expect(json(r)).toEqual({ Type: 'duo', Name: 'Bravo', Options: { IntegrationKey: IKEY, SecretKey: '********', Host: HOST } });
    const secretShown = ok(await ssrun(['mfa', 'get', '-n', 'bravo', '--show-secrets', '-v'], { home, revealsSecrets: true }));
    expect(json(secretShown).Options.SecretKey).toBe(SK2);
    expect(json(secretShown).Principals).toEqual([]);
  });

  it('--output table shows the same fields, redacted', async () => {
    const r = ok(await ssrun(['mfa', 'get', '--output', 'table'], { home }));
    const lines = r.stdout.split('\n');
    expect(lines[1]).toMatch(/^│ Type +│ Name +│ Options +│$/);
    expect(r.stdout.indexOf('alpha')).toBeLessThan(r.stdout.indexOf('Bravo'));
    expect(r.stdout).toContain(`IntegrationKey: ${IKEY}`);
    expect(r.stdout).toContain('SecretKey: ********');
    expect(r.stdout).toContain(`Host: ${HOST}`);
    expect(r.stdout).not.toContain('\u001b');
    const one = ok(await ssrun(['mfa', 'get', '-n', 'Delta', '-v', '--output', 'table'], { home }));
    expect(one.stdout.split('\n')[1]).toMatch(/^│ Type +│ Name +│ Options +│ CreatedAt +│ UpdatedAt +│ Principals +│$/);
    expect(one.stdout).toContain('Delta');
    expect(one.stdout).not.toContain('charlie');
  });

  it('--output json equals the default; an unknown format is a usage error', async () => {
    expect(ok(await ssrun(['mfa', 'get', '--output', 'json'], { home })).stdout).toBe(ok(await ssrun(['mfa', 'get'], { home })).stdout);
    const r = await ssrun(['mfa', 'get', '--output', 'yaml'], { home });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("ssrun: error: option '-o, --output <format>' argument 'yaml' is invalid. Allowed choices are json, table; see `ssrun mfa get --help` (USAGE)\n");
  });

  it('an unknown name: exit 3', async () => {
    expectRefused(await ssrun(['mfa', 'get', '-n', 'echo'], { home }), 3, 'CONFIG_NOT_FOUND', 'MFA configuration "echo" not found; `ssrun mfa get` lists them');
    expectRefused(await ssrun(['mfa', 'get', '-n', 'bad/name'], { home }), 2, 'INVALID_NAME', 'config name: "bad/name" is not a valid name');
  });
});

describe('mfa update', () => {
  let home: string;
  const get = async (name = 'Primary') => json(ok(await ssrun(['mfa', 'get', '-n', name, '-v', '--show-secrets'], { home, revealsSecrets: true })));
  beforeAll(async () => {
    home = tempHome();
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(doc('Primary')) }));
  });

  it('replaces the options from stdin and keeps CreatedAt', async () => {
    const before = await get();
    const r = ok(await ssrun(['mfa', 'update', '-n', 'Primary', '-f', '-'], { home, input: text(doc('Primary', { IntegrationKey: 'DINEWNEWNEWNEWNEWNEW', SecretKey: SK2, Host: 'api-bbbbbbbb.duosecurity.com' })) }));
    expect(r.stderr).toBe('');
    expect(json(r)).toEqual({ Type: 'duo', Name: 'Primary', Options: { IntegrationKey: 'DINEWNEWNEWNEWNEWNEW', SecretKey: '********', Host: 'api-bbbbbbbb.duosecurity.com' } });
    const after = await get();
    expect(after.Options.SecretKey).toBe(SK2);
    expect(after.CreatedAt).toBe(before.CreatedAt);
    expect(Date.parse(after.UpdatedAt)).toBeGreaterThanOrEqual(Date.parse(before.UpdatedAt));
  });

  it('round-trips `mfa get -n X` output: "SecretKey":"********" keeps the stored secret', async () => {
    const shown = json(ok(await ssrun(['mfa', 'get', '-n', 'Primary'], { home })));
    expect(shown.Options.SecretKey).toBe('********');
    shown.Options.Host = 'api-cccccccc.duosecurity.com';
    const r = ok(await ssrun(['mfa', 'update', '-n', 'Primary', '-f', '-'], { home, input: text(shown) }));
    expect(json(r).Options).toEqual({ IntegrationKey: 'DINEWNEWNEWNEWNEWNEW', SecretKey: '********', Host: 'api-cccccccc.duosecurity.com' });
    const after = await get();
    expect(after.Options.SecretKey).toBe(SK2);
    expect(after.Options.Host).toBe('api-cccccccc.duosecurity.com');
  });

  it('reads a file; Name may be left out or given in another case, and the stored name never changes', async () => {
    const file = join(dirname(home), 'update.json');
    const { Name: _omitted, ...noName } = doc('Primary', { SecretKey: SK3 });
    writeFileSync(file, text(noName));
    expect(json(ok(await ssrun(['mfa', 'update', '-f', file, '-n', 'primary'], { home }))).Name).toBe('Primary');
    writeFileSync(file, text(doc('PRIMARY', { SecretKey: SK3 })));
    expect(json(ok(await ssrun(['mfa', 'update', '-f', file, '-n', 'Primary'], { home }))).Name).toBe('Primary');
    const after = await get();
    expect(after.Name).toBe('Primary');
    expect(after.Options.SecretKey).toBe(SK3);
    expectRefused(await ssrun(['mfa', 'get', '-n', 'PRIMARY2'], { home }), 3, 'CONFIG_NOT_FOUND');
  });

  describe('refusals change nothing', () => {
    let before: unknown;
    beforeAll(async () => {
      before = await get();
    });
    afterAll(async () => {
      expect(await get()).toEqual(before);
    });

    it('a Name in the file that differs from -n: the name cannot change', async () => {
      const r = await ssrun(['mfa', 'update', '-n', 'Primary', '-f', '-'], { home, input: text(doc('Renamed')) });
      expectRefused(r, 2, 'NAME_IMMUTABLE', `Name: the file says "Renamed" but -n says "Primary"; a configuration's name cannot change`);
      expectRefused(await ssrun(['mfa', 'get', '-n', 'Renamed'], { home }), 3, 'CONFIG_NOT_FOUND');
      expect(await get()).toEqual(before);
    });

    it('another Type: the type cannot change (only duo exists, so any other is unknown)', async () => {
      const r = await ssrun(['mfa', 'update', '-n', 'Primary', '-f', '-'], { home, input: text(doc('Primary', {}, { Type: 'okta' })) });
      expectRefused(r, 2, 'INVALID_CONFIG', 'Type: unknown type "okta"; expected one of: duo');
      expect(await get()).toEqual(before);
    });

    it('an unknown configuration: exit 3', async () => {
      expectRefused(await ssrun(['mfa', 'update', '-n', 'Nope', '-f', '-'], { home, input: text(doc('Nope')) }), 3, 'CONFIG_NOT_FOUND', 'MFA configuration "Nope" not found');
    });

    it('an invalid -n', async () => {
      expectRefused(await ssrun(['mfa', 'update', '-n', 'a/b', '-f', '-'], { home, input: text(doc('Primary')) }), 2, 'INVALID_NAME', 'config name (-n): "a/b" is not a valid name');
    });

    it('invalid options', async () => {
      const r = await ssrun(['mfa', 'update', '-n', 'Primary', '-f', '-'], { home, input: text(doc('Primary', { Host: 'https://api-x.duosecurity.com' })) });
      expectRefused(r, 2, 'INVALID_CONFIG', 'Options.Host: "https://api-x.duosecurity.com" has a scheme');
      expect(await get()).toEqual(before);
      const missing = await ssrun(['mfa', 'update', '-n', 'Primary', '-f', '-'], { home, input: text({ Type: 'duo', Options: { IntegrationKey: IKEY, Host: HOST } }) });
      expectRefused(missing, 2, 'INVALID_CONFIG', 'Options.SecretKey: required, but missing');
    });

    it('malformed JSON', async () => {
      expectRefused(await ssrun(['mfa', 'update', '-n', 'Primary', '-f', '-'], { home, input: '{"Type": "duo",\n' }), 2, 'INVALID_JSON', 'stdin: malformed JSON at line 2, column 1: Expected double-quoted property name');
    });

    it('-n and -f are required', async () => {
      const r = await ssrun(['mfa', 'update', '-f', '-'], { home, input: text(doc('Primary')) });
      expect([r.exitCode, r.stdout, r.stderr]).toEqual([2, '', "ssrun: error: required option '-n, --name <name>' not specified; see `ssrun mfa update --help` (USAGE)\n"]);
      const f = await ssrun(['mfa', 'update', '-n', 'Primary'], { home });
      expect([f.exitCode, f.stdout, f.stderr]).toEqual([2, '', "ssrun: error: required option '-f, --file <file>' not specified; see `ssrun mfa update --help` (USAGE)\n"]);
    });
  });
});

describe('mfa create refuses invalid input, naming the field and changing nothing', () => {
  let home: string;
  let dir: string;
  let before: string;
  const snapshot = async () => ok(await ssrun(['mfa', 'get', '-v'], { home })).stdout;
  beforeAll(async () => {
    home = tempHome();
    dir = dirname(home);
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(doc('Existing')) }));
    before = await snapshot();
  });

  const UNQUOTED = secret('zq7XvKp2wq9RmT4bLs8nY3');
  const CONTROL = secret('ctl-secret-key-Hn5Jm8Pq');
  const MISPLACED = secret('misplaced-secret-key-Rt6Uw2');

  const cases: [string, unknown, number, string, string | RegExp][] = [
    ['malformed JSON (line and column)', '{\n  "Type": "duo",\n  "Name": "x",\n  "Options": {"IntegrationKey": "DI" "SecretKey": "s"}\n}\n', 2, 'INVALID_JSON', "stdin: malformed JSON at line 4, column 38: Expected ',' or '}' after property value"],
    ['a trailing comma', '{"Type": "duo",\n}', 2, 'INVALID_JSON', 'stdin: malformed JSON at line 2, column 1: Expected double-quoted property name'],
    ['an unquoted secret (located, never quoted)', `{\n  "Type": "duo", "Name": "u",\n  "Options": {"IntegrationKey": "DI", "SecretKey": ${UNQUOTED}, "Host": "h.example.com"}\n}`, 2, 'INVALID_JSON', 'stdin: malformed JSON at line 3, column 52: Unexpected token (INVALID_JSON)'],
    ['empty input', '', 2, 'INVALID_JSON', 'stdin: is empty; expected a JSON object'],
    ['a JSON array', '[]', 2, 'INVALID_CONFIG', 'expected a JSON object such as {"Type":"duo","Name":…,"Options":{…}}, received an array'],
    ['an unknown Type', doc('t1', {}, { Type: 'okta' }), 2, 'INVALID_CONFIG', 'Type: unknown type "okta"; expected one of: duo'],
    ['a missing Type', { Name: 't2', Options: doc('x').Options }, 2, 'INVALID_CONFIG', 'Type: required, but missing'],
    ['Options.Hots', doc('t3', { Hots: HOST }), 2, 'INVALID_CONFIG', 'Options.Hots: unknown key; did you mean "Host"?'],
    ['a misspelt SecretKey holding the secret', { Type: 'duo', Name: 't4', Options: { IntegrationKey: IKEY, SecretKy: MISPLACED, Host: HOST } }, 2, 'INVALID_CONFIG', 'Options.SecretKy: unknown key; did you mean "SecretKey"?'],
    ['an unknown top-level key', { ...doc('t5'), Description: 'x' }, 2, 'INVALID_CONFIG', 'Description: unknown key; expected one of: Type, Name, Options'],
    ['a numeric IntegrationKey', doc('t6', { IntegrationKey: 12345 }), 2, 'INVALID_CONFIG', 'Options.IntegrationKey: expected a string, received a number'],
    ['a boolean SecretKey', doc('t7', { SecretKey: true }), 2, 'INVALID_CONFIG', 'Options.SecretKey: expected a string, received a boolean'],
    ['Options as an array', doc('t8', {}, { Options: [] }), 2, 'INVALID_CONFIG', 'Options: expected an object, received an array'],
    ['a numeric Name', doc('t9', {}, { Name: 9 }), 2, 'INVALID_NAME', 'Name: expected a string, received a number'],
    ['an empty IntegrationKey', doc('t10', { IntegrationKey: '' }), 2, 'INVALID_CONFIG', 'Options.IntegrationKey: must not be empty'],
    ['a blank SecretKey', doc('t11', { SecretKey: '   ' }), 2, 'INVALID_CONFIG', 'Options.SecretKey: must not be empty'],
    ['an empty Host', doc('t12', { Host: '' }), 2, 'INVALID_CONFIG', 'Options.Host: must not be empty'],
    ['an empty Name', doc(''), 2, 'INVALID_NAME', 'Name: "" is not a valid name; expected 1–120 characters of letters, digits, space and . _ @ + -'],
    ['missing Options', { Type: 'duo', Name: 't13' }, 2, 'INVALID_CONFIG', 'Options: required, but missing'],
    ['a missing IntegrationKey', { Type: 'duo', Name: 't14', Options: { SecretKey: SK, Host: HOST } }, 2, 'INVALID_CONFIG', 'Options.IntegrationKey: required, but missing'],
    ['a missing SecretKey', { Type: 'duo', Name: 't15', Options: { IntegrationKey: IKEY, Host: HOST } }, 2, 'INVALID_CONFIG', 'Options.SecretKey: required, but missing'],
    ['a missing Host', { Type: 'duo', Name: 't16', Options: { IntegrationKey: IKEY, SecretKey: SK } }, 2, 'INVALID_CONFIG', 'Options.Host: required, but missing'],
    ['a missing Name', { Type: 'duo', Options: doc('x').Options }, 2, 'INVALID_CONFIG', 'Name: required, but missing'],
    ['a Host with a scheme', doc('t17', { Host: 'https://api-aaaaaaaa.duosecurity.com' }), 2, 'INVALID_CONFIG', 'Options.Host: "https://api-aaaaaaaa.duosecurity.com" has a scheme; expected a bare hostname such as api-XXXXXXXX.duosecurity.com'],
    ['a Host with a path', doc('t18', { Host: 'api-aaaaaaaa.duosecurity.com/auth/v2' }), 2, 'INVALID_CONFIG', 'Options.Host: "api-aaaaaaaa.duosecurity.com/auth/v2" has a path; expected hostname[:port] only'],
    ['a Host with a port out of range', doc('t19', { Host: 'h.example.com:99999' }), 2, 'INVALID_CONFIG', 'Options.Host: port 99999 is out of range 1–65535'],
    ['a name with a slash', doc('bad/name'), 2, 'INVALID_NAME', 'Name: "bad/name" is not a valid name'],
    ['a name with a control character', doc('bad\u001b[2Jname'), 2, 'INVALID_NAME', 'Name: "bad\\u001b[2Jname" is not a valid name'],
    ['a 121-character name', doc('x'.repeat(121)), 2, 'INVALID_NAME', `Name: "${'x'.repeat(60)}…" is not a valid name`],
    ['a duplicate name in another case', doc('EXISTING'), 4, 'CONFIG_EXISTS', 'MFA configuration "Existing" already exists (names are case-insensitive); use `ssrun mfa update`'],
    ['the redacted placeholder as SecretKey', doc('t20', { SecretKey: '********' }), 2, 'INVALID_CONFIG', 'Options.SecretKey: is the redacted placeholder "********"; give the real secret key'],
    ['Name twice in different case', { ...doc('t21'), NAME: 't22' }, 2, 'INVALID_CONFIG', 'NAME: given twice (keys are case-insensitive)'],
    ['SecretKey twice in different case', doc('t23', { secretkey: SK2 }), 2, 'INVALID_CONFIG', 'Options.secretkey: given twice (keys are case-insensitive)'],
    ['a control character in the secret (not echoed)', doc('t24', { SecretKey: `${CONTROL}\u0007` }), 2, 'INVALID_CONFIG', 'Options.SecretKey: contains control characters (INVALID_CONFIG)'],
    ['a SecretKey over 1024 characters', doc('t25', { SecretKey: `${SK}${'x'.repeat(1024)}` }), 2, 'INVALID_CONFIG', `Options.SecretKey: ${SK.length + 1024} characters, at most 1024 allowed`],
  ];

  // Independent of each other, so they run a few at a time; each has its own Name, so the check that follows
  // (the store is exactly as before) would show any one of them that changed something.
  it.concurrent.each(cases)('%s', async (_title, input, exitCode, code, message) => {
    const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(input) });
    expectRefused(r, exitCode, code, message);
    for (const s of [UNQUOTED, CONTROL, MISPLACED, SK]) expect(r.stderr).not.toContain(s.slice(0, 6));
  });

  it('none of the refusals above changed anything', async () => {
    expect(await snapshot()).toBe(before);
  });

  it('a file with malformed JSON reports the file, line and column', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{\n  "Type": "duo",\n  "Name": "x"\n  "Options": {}\n}\n');
    expectRefused(await ssrun(['mfa', 'create', '-f', file], { home }), 2, 'INVALID_JSON', `${file}: malformed JSON at line 4, column 3: Expected ',' or '}' after property value`);
    expect(await snapshot()).toBe(before);
  });

  it('a missing file', async () => {
    const file = join(dir, 'does-not-exist.json');
    expectRefused(await ssrun(['mfa', 'create', '-f', file], { home }), 2, 'FILE_UNREADABLE', `-f ${file}: no such file`);
  });

  it('a directory', async () => {
    expectRefused(await ssrun(['mfa', 'create', '-f', dir], { home }), 2, 'FILE_UNREADABLE', `-f ${dir}: not a regular file`);
  });

  it('a file over 64 KiB', async () => {
    const file = join(dir, 'big.json');
    const body = JSON.stringify(doc('Big'));
    writeFileSync(file, body + ' '.repeat(65537 - body.length));
    expectRefused(await ssrun(['mfa', 'create', '-f', file], { home }), 2, 'INPUT_TOO_LARGE', `-f ${file}: 65537 bytes, at most 65536 allowed`);
    expect(await snapshot()).toBe(before);
  });

  it('stdin over 64 KiB', async () => {
    const body = JSON.stringify(doc('BigStdin'));
    const r = await ssrun(['mfa', 'create', '-f', '-'], { home, input: body + ' '.repeat(70_000) });
    expectRefused(r, 2, 'INPUT_TOO_LARGE', 'stdin: more than 65536 bytes on stdin, at most 65536 allowed');
    expect(await snapshot()).toBe(before);
  });

  it('an unreadable CaFile', async () => {
    const file = join(dir, 'ca-missing.json');
    writeFileSync(file, text(doc('t26', { CaFile: 'missing-ca.pem' })));
    expectRefused(await ssrun(['mfa', 'create', '-f', file], { home }), 2, 'INVALID_CONFIG', `Options.CaFile: ${join(dir, 'missing-ca.pem')} cannot be read`);
    expect(await snapshot()).toBe(before);
  });

  it('-f is required', async () => {
    const r = await ssrun(['mfa', 'create'], { home });
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([2, '', "ssrun: error: required option '-f, --file <file>' not specified; see `ssrun mfa create --help` (USAGE)\n"]);
  });
});

describe('assignments: assign-principal, remove-principal, delete', () => {
  let home: string;
  const USER = 'principal/internal/user/mallory';
  const APP = 'principal/internal/application/ci-bot';
  const APP2 = 'principal/internal/application/deployer';
  const getV = async (name: string) => json(ok(await ssrun(['mfa', 'get', '-n', name, '-v'], { home })));
  beforeAll(async () => {
    home = tempHome();
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(doc('First')) }));
    ok(await ssrun(['mfa', 'create', '-f', '-'], { home, input: text(doc('Second', { SecretKey: SK2 })) }));
    ok(await ssrun(['user', 'create', '-n', 'mallory', '--password-stdin'], { home, input: `${PW}\n` }));
    for (const app of ['ci-bot', 'deployer']) {
      const r = ok(await ssrun(['application', 'create', '-n', app], { home, revealsSecrets: true }));
      secret(json(r).ApiKey);
    }
  });

  it('assigns a user and an application', async () => {
    const u = ok(await ssrun(['mfa', 'assign-principal', '-p', USER, '-m', 'mallory@example.com', '-c', 'first'], { home }));
    expect(u.stderr).toBe('');
    expect(json(u)).toEqual({ Principal: USER, Config: 'First', ProviderUserId: 'mallory@example.com', Replaced: null });
    const a = ok(await ssrun(['mfa', 'assign-principal', '--principal', APP, '--mfa-identity', 'ci-bot', '--config', 'First'], { home }));
    expect(json(a)).toEqual({ Principal: APP, Config: 'First', ProviderUserId: 'ci-bot', Replaced: null });
    const v = await getV('First');
    expect(v.Principals.map((p: any) => [p.Principal, p.ProviderUserId]).sort()).toEqual([
      [APP, 'ci-bot'],
      [USER, 'mallory@example.com'],
    ]);
    for (const p of v.Principals) expect(p.AssignedAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    const user = json(ok(await ssrun(['user', 'get', '-n', 'mallory'], { home })));
    expect(user.Mfa).toEqual({ Config: 'First', Type: 'duo', ProviderUserId: 'mallory@example.com' });
  });

  it('assigning again replaces the assignment, with a notice on stderr', async () => {
    const r = ok(await ssrun(['mfa', 'assign-principal', '-p', APP, '-m', 'ci-bot-2', '-c', 'Second'], { home }));
    expect(r.stderr).toBe(`ssrun: ${APP} was assigned to "First"; that assignment is replaced\n`);
    expect(json(r)).toEqual({ Principal: APP, Config: 'Second', ProviderUserId: 'ci-bot-2', Replaced: 'First' });
    expect((await getV('First')).Principals.map((p: any) => p.Principal)).toEqual([USER]);
    expect((await getV('Second')).Principals.map((p: any) => [p.Principal, p.ProviderUserId])).toEqual([[APP, 'ci-bot-2']]);
  });

  describe('refusals change nothing', () => {
    let before: string;
    const snapshot = async () => ok(await ssrun(['mfa', 'get', '-v'], { home })).stdout;
    beforeAll(async () => {
      before = await snapshot();
    });
    afterAll(async () => {
      expect(await snapshot()).toBe(before);
    });

    it.concurrent.each<[string, string[], number, string, string]>([
      ['a group principal', ['-p', 'principal/internal/group/admins', '-m', 'x', '-c', 'First'], 2, 'UNSUPPORTED_PRINCIPAL_TYPE', 'principal: "principal/internal/group/admins" is a "group" principal; only user and application principals support MFA'],
      ['a malformed path', ['-p', 'user/mallory', '-m', 'x', '-c', 'First'], 2, 'INVALID_PRINCIPAL', 'principal: "user/mallory" is not a principal path; expected principal/internal/user/NAME or principal/internal/application/NAME'],
      ['a path without a name', ['-p', 'principal/internal/user/', '-m', 'x', '-c', 'First'], 2, 'INVALID_PRINCIPAL', 'is not a principal path'],
      ['a path with a bad name', ['-p', 'principal/internal/user/bad name', '-m', 'x', '-c', 'First'], 2, 'INVALID_NAME', 'user name: "bad name" is not valid'],
      ['a provider user id with a space', ['-p', USER, '-m', 'has space', '-c', 'First'], 2, 'USAGE', 'provider user id (-m): "has space" is not valid'],
      ['an empty provider user id', ['-p', USER, '-m', ' ', '-c', 'First'], 2, 'USAGE', "provider user id (-m): required; expected the principal's user id at the provider"],
      ['an unknown principal', ['-p', 'principal/internal/user/nobody', '-m', 'x', '-c', 'First'], 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/user/nobody not found'],
      ['an unknown application', ['-p', 'principal/internal/application/nobody', '-m', 'x', '-c', 'First'], 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/application/nobody not found'],
      ['an unknown configuration', ['-p', USER, '-m', 'x', '-c', 'Third'], 3, 'CONFIG_NOT_FOUND', 'MFA configuration "Third" not found'],
    ])('assign-principal: %s', async (_title, args, exitCode, code, message) => {
      expectRefused(await ssrun(['mfa', 'assign-principal', ...args], { home }), exitCode, code, message);
    });

    it('assign-principal: each option is required (-m for a duo configuration)', async () => {
      for (const [args, missing] of [
        [['-m', 'x', '-c', 'First'], '-p, --principal <path>'],
        [['-p', USER, '-m', 'x'], '-c, --config <name>'],
      ] as const) {
        const r = await ssrun(['mfa', 'assign-principal', ...args], { home });
        expect([r.exitCode, r.stdout, r.stderr]).toEqual([2, '', `ssrun: error: required option '${missing}' not specified; see \`ssrun mfa assign-principal --help\` (USAGE)\n`]);
      }
      // -m is the Duo user for duo (a TOTP configuration generates a secret without it)
      expectRefused(await ssrun(['mfa', 'assign-principal', '-p', USER, '-c', 'First'], { home }), 2, 'USAGE', "provider user id (-m): required; expected the principal's user id at the provider");
    });

    it.each<[string, string, number, string, string]>([
      ['an unassigned principal', APP2, 3, 'ASSIGNMENT_NOT_FOUND', `${APP2} has no MFA configuration assigned`],
      ['an unknown principal', 'principal/internal/user/nobody', 3, 'PRINCIPAL_NOT_FOUND', 'principal/internal/user/nobody not found'],
      ['a group', 'principal/internal/group/g', 2, 'UNSUPPORTED_PRINCIPAL_TYPE', 'only user and application principals support MFA'],
      ['a malformed path', 'principal/internal', 2, 'INVALID_PRINCIPAL', 'is not a principal path'],
    ])('remove-principal: %s', async (_title, path, exitCode, code, message) => {
      expectRefused(await ssrun(['mfa', 'remove-principal', '-p', path], { home }), exitCode, code, message);
    });

    it('delete: refused while assigned, giving the count (exit 4)', async () => {
      ok(await ssrun(['mfa', 'assign-principal', '-p', APP2, '-m', 'deployer', '-c', 'First'], { home }));
      before = await snapshot();
      expectRefused(
        await ssrun(['mfa', 'delete', '-n', 'first'], { home }),
        4,
        'CONFIG_IN_USE',
        'MFA configuration "First" is assigned to 2 principals; remove them first or pass --force',
      );
      expectRefused(await ssrun(['mfa', 'delete', '-n', 'Second'], { home }), 4, 'CONFIG_IN_USE', 'MFA configuration "Second" is assigned to 1 principal; remove them first');
    });

    it('delete: unknown or invalid name', async () => {
      expectRefused(await ssrun(['mfa', 'delete', '-n', 'Third'], { home }), 3, 'CONFIG_NOT_FOUND', 'MFA configuration "Third" not found');
      expectRefused(await ssrun(['mfa', 'delete', '-n', '../x'], { home }), 2, 'INVALID_NAME', 'config name: "../x" is not a valid name');
    });
  });

  it('remove-principal removes the assignment', async () => {
    const r = ok(await ssrun(['mfa', 'remove-principal', '-p', APP], { home }));
    expect(r.stderr).toBe('');
    expect(json(r)).toEqual({ Principal: APP, Removed: 'Second' });
    expect((await getV('Second')).Principals).toEqual([]);
    expect(json(ok(await ssrun(['application', 'get', '-n', 'ci-bot'], { home }))).Mfa).toBeNull();
    expectRefused(await ssrun(['mfa', 'remove-principal', '-p', APP], { home }), 3, 'ASSIGNMENT_NOT_FOUND');
  });

  it('delete with no assignments', async () => {
    expect(json(ok(await ssrun(['mfa', 'delete', '-n', 'second'], { home })))).toEqual({ Deleted: 'Second', PrincipalsUnassigned: 0 });
    expectRefused(await ssrun(['mfa', 'get', '-n', 'Second'], { home }), 3, 'CONFIG_NOT_FOUND');
  });

  it('delete --force removes the assignments in the same step', async () => {
    expect((await getV('First')).Principals).toHaveLength(2);
    const r = ok(await ssrun(['mfa', 'delete', '-n', 'First', '--force'], { home }));
    expect(r.stderr).toBe('');
    expect(json(r)).toEqual({ Deleted: 'First', PrincipalsUnassigned: 2 });
    expect(json(ok(await ssrun(['mfa', 'get'], { home })))).toEqual([BUILTIN_TOTP, BUILTIN_WEBAUTHN]);
    expect(json(ok(await ssrun(['user', 'get', '-n', 'mallory'], { home }))).Mfa).toBeNull();
    expect(json(ok(await ssrun(['application', 'get', '-n', 'deployer'], { home }))).Mfa).toBeNull();
    // The principals themselves remain.
    expect(json<any[]>(ok(await ssrun(['application', 'get'], { home }))).map((a) => a.Name)).toEqual(['ci-bot', 'deployer']);
  });
});
