// Unit tests of the pure validation in src/core/validate.ts: every error names its field, says what was
// received and what was expected, and never repeats a secret.

import { describe, expect, it } from 'vitest';
import { SsrunError } from '../../src/core/errors.js';
import { parseConfigDocument as parseDocument, parseNewConfig as parseNew } from '../../src/core/config-document.js';
import { MAX_INPUT_BYTES, checkMfaShape, normalizeRecoveryCode, parseJsonText, parsePrincipalPath, sanitizeLine, validatePassword } from '../../src/core/validate.js';
import { defaultFactors } from '../../src/providers/registry.js';

const FACTORS = defaultFactors();
const parseConfigDocument = (raw: unknown) => parseDocument(raw, FACTORS);
const parseNewConfig = (raw: unknown) => parseNew(raw, FACTORS);

const SECRET = 'unit-test-secret-key-Qw3rTy9';

function duo(options: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { Type: 'duo', Name: 'Cfg', Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: SECRET, Host: 'api-12345678.duosecurity.com', ...options }, ...top };
}

/** Runs fn, which must throw an SsrunError; returns it. */
function caught(fn: () => unknown): SsrunError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SsrunError);
    return e as SsrunError;
  }
  throw new Error('expected an SsrunError, nothing was thrown');
}

describe('parseConfigDocument / parseNewConfig: accepted documents', () => {
  it('returns canonical keys and a lower-case type from a canonical document', () => {
    expect(parseNewConfig(duo())).toEqual({
      Type: 'duo',
      Name: 'Cfg',
      Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: SECRET, Host: 'api-12345678.duosecurity.com' },
    });
  });

  it.each([
    ['lower-case keys', { type: 'duo', name: 'Cfg', options: { integrationkey: 'DI1', secretkey: SECRET, host: 'h.example.com' } }],
    ['upper-case keys', { TYPE: 'DUO', NAME: 'Cfg', OPTIONS: { INTEGRATIONKEY: 'DI1', SECRETKEY: SECRET, HOST: 'h.example.com' } }],
    ['mixed-case keys', { tYpE: 'Duo', nAmE: 'Cfg', Options: { integrationKey: 'DI1', secretKEY: SECRET, hOsT: 'h.example.com' } }],
  ])('accepts %s and normalises them', (_title, input) => {
    expect(parseNewConfig(input)).toEqual({ Type: 'duo', Name: 'Cfg', Options: { IntegrationKey: 'DI1', SecretKey: SECRET, Host: 'h.example.com' } });
  });

  it('trims names and values, and keeps CaFile', () => {
    const c = parseNewConfig(duo({ IntegrationKey: '  DI1 ', Host: ' h.example.com:8443 ', CaFile: ' /etc/ca.pem ' }, { Name: '  My Cfg  ' }));
    expect(c).toEqual({ Type: 'duo', Name: 'My Cfg', Options: { IntegrationKey: 'DI1', SecretKey: SECRET, Host: 'h.example.com:8443', CaFile: '/etc/ca.pem' } });
  });

  it('lets an update document leave Name out; a new configuration needs it', () => {
    const { Name, ...noName } = duo();
    expect(Name).toBe('Cfg');
    expect(parseConfigDocument(noName).Name).toBeUndefined();
    const e = caught(() => parseNewConfig(noName));
    expect([e.code, e.message]).toEqual(['INVALID_CONFIG', 'Name: required, but missing']);
  });

  it.each([
    ['a 1-character name', 'a'],
    ['a 120-character name', 'n'.repeat(120)],
    ['every allowed punctuation', 'a b.c_d@e+f-g'],
    ['digits only', '12345'],
  ])('accepts %s', (_t, name) => {
    expect(parseNewConfig(duo({}, { Name: name })).Name).toBe(name);
  });

  it.each(['api-12345678.duosecurity.com', 'localhost', '127.0.0.1', '127.0.0.1:8443', 'h:1', 'h:65535', `${'a'.repeat(63)}.example.com`])('accepts Host %s', (host) => {
    expect(parseNewConfig(duo({ Host: host })).Options.Host).toBe(host);
  });
});

describe('parseConfigDocument / parseNewConfig: rejected documents name the field', () => {
  const cases: [string, unknown, string, string | RegExp][] = [
    ['an array', [], 'INVALID_CONFIG', /^expected a JSON object such as .*, received an array$/],
    ['null', null, 'INVALID_CONFIG', /received null$/],
    ['a string', 'duo', 'INVALID_CONFIG', /received a string$/],
    ['an unknown type', duo({}, { Type: 'okta' }), 'INVALID_CONFIG', 'Type: unknown type "okta"; expected one of: duo, totp, webauthn'],
    ['a missing type', { Name: 'Cfg', Options: duo().Options }, 'INVALID_CONFIG', 'Type: required, but missing'],
    ['a numeric type', duo({}, { Type: 1 }), 'INVALID_CONFIG', 'Type: expected a string, received a number'],
    ['an empty type', duo({}, { Type: '  ' }), 'INVALID_CONFIG', 'Type: must not be empty'],
    ['a near-miss option key', duo({ Hots: 'h.example.com' }), 'INVALID_CONFIG', 'Options.Hots: unknown key; did you mean "Host"?'],
    ['a near-miss top key', { ...duo(), Nmae: 'x' }, 'INVALID_CONFIG', 'Nmae: unknown key; did you mean "Name"?'],
    ['a near-miss in another case', duo({ integrationkee: 'x' }), 'INVALID_CONFIG', 'Options.integrationkee: unknown key; did you mean "IntegrationKey"?'],
    ['an unrelated top key', { ...duo(), Colour: 'red' }, 'INVALID_CONFIG', 'Colour: unknown key; expected one of: Type, Name, Options'],
    ['an unrelated option key', duo({ Region: 'eu' }), 'INVALID_CONFIG', 'Options.Region: unknown key; expected one of: IntegrationKey, SecretKey, Host, CaFile, Prompt'],
    ['Name given twice', { ...duo(), name: 'Other' }, 'INVALID_CONFIG', 'name: given twice (keys are case-insensitive)'],
    ['SecretKey given twice', duo({ secretkey: 'another' }), 'INVALID_CONFIG', 'Options.secretkey: given twice (keys are case-insensitive)'],
    ['missing Options', { Type: 'duo', Name: 'Cfg' }, 'INVALID_CONFIG', 'Options: required, but missing'],
    ['Options an array', duo({}, { Options: [] }), 'INVALID_CONFIG', 'Options: expected an object, received an array'],
    ['Options a string', duo({}, { Options: 'x' }), 'INVALID_CONFIG', 'Options: expected an object, received a string'],
    ['missing IntegrationKey', { Type: 'duo', Name: 'C', Options: { SecretKey: SECRET, Host: 'h.example.com' } }, 'INVALID_CONFIG', 'Options.IntegrationKey: required, but missing'],
    ['missing SecretKey', { Type: 'duo', Name: 'C', Options: { IntegrationKey: 'DI', Host: 'h.example.com' } }, 'INVALID_CONFIG', 'Options.SecretKey: required, but missing'],
    ['missing Host', { Type: 'duo', Name: 'C', Options: { IntegrationKey: 'DI', SecretKey: SECRET } }, 'INVALID_CONFIG', 'Options.Host: required, but missing'],
    ['a numeric IntegrationKey', duo({ IntegrationKey: 42 }), 'INVALID_CONFIG', 'Options.IntegrationKey: expected a string, received a number'],
    ['a boolean SecretKey', duo({ SecretKey: true }), 'INVALID_CONFIG', 'Options.SecretKey: expected a string, received a boolean'],
    ['a null Host', duo({ Host: null }), 'INVALID_CONFIG', 'Options.Host: expected a string, received null'],
    ['an object CaFile', duo({ CaFile: {} }), 'INVALID_CONFIG', 'Options.CaFile: expected a string, received an object'],
    ['an empty IntegrationKey', duo({ IntegrationKey: '' }), 'INVALID_CONFIG', 'Options.IntegrationKey: must not be empty'],
    ['a blank SecretKey', duo({ SecretKey: '   ' }), 'INVALID_CONFIG', 'Options.SecretKey: must not be empty'],
    ['an empty Host', duo({ Host: '' }), 'INVALID_CONFIG', 'Options.Host: must not be empty'],
    ['an empty CaFile', duo({ CaFile: '' }), 'INVALID_CONFIG', 'Options.CaFile: must not be empty'],
    ['a SecretKey over 1024 characters', duo({ SecretKey: 's'.repeat(1025) }), 'INVALID_CONFIG', 'Options.SecretKey: 1025 characters, at most 1024 allowed'],
    ['an IntegrationKey over 128 characters', duo({ IntegrationKey: 'D'.repeat(129) }), 'INVALID_CONFIG', 'Options.IntegrationKey: 129 characters, at most 128 allowed'],
    ['a control character in IntegrationKey', duo({ IntegrationKey: 'DI\u001b[31m' }), 'INVALID_CONFIG', 'Options.IntegrationKey: contains control characters (received "DI\\u001b[31m")'],
    ['a control character in SecretKey', duo({ SecretKey: `${SECRET}\u0007` }), 'INVALID_CONFIG', 'Options.SecretKey: contains control characters'],
    ['a Host with a scheme', duo({ Host: 'https://api-1.duosecurity.com' }), 'INVALID_CONFIG', /^Options\.Host: "https:\/\/api-1\.duosecurity\.com" has a scheme; expected a bare hostname/],
    ['a Host with a path', duo({ Host: 'api-1.duosecurity.com/auth/v2' }), 'INVALID_CONFIG', 'Options.Host: "api-1.duosecurity.com/auth/v2" has a path; expected hostname[:port] only'],
    ['a Host with port 0', duo({ Host: 'h.example.com:0' }), 'INVALID_CONFIG', 'Options.Host: port 0 is out of range 1–65535'],
    ['a Host with port 65536', duo({ Host: 'h.example.com:65536' }), 'INVALID_CONFIG', 'Options.Host: port 65536 is out of range 1–65535'],
    ['a Host with an underscore', duo({ Host: 'bad_host.example.com' }), 'INVALID_CONFIG', /^Options\.Host: "bad_host\.example\.com" is not a hostname/],
    ['a Host with an empty label', duo({ Host: 'a..example.com' }), 'INVALID_CONFIG', /is not a hostname/],
    ['a Host starting with a hyphen', duo({ Host: '-a.example.com' }), 'INVALID_CONFIG', /is not a hostname/],
    ['a Host with a 64-character label', duo({ Host: `${'a'.repeat(64)}.example.com` }), 'INVALID_CONFIG', /is not a hostname/],
    ['a Host with a non-numeric port', duo({ Host: 'h.example.com:https' }), 'INVALID_CONFIG', /is not a hostname/],
    ['a Host with a space', duo({ Host: 'h example.com' }), 'INVALID_CONFIG', /is not a hostname/],
    ['a name with a slash', duo({}, { Name: 'a/b' }), 'INVALID_NAME', /^Name: "a\/b" is not a valid name; expected 1–120 characters of letters, digits, space and \. _ @ \+ -$/],
    ['a name with a newline', duo({}, { Name: 'a\nb' }), 'INVALID_NAME', /^Name: "a\\nb" is not a valid name/],
    ['a name with a non-ASCII letter', duo({}, { Name: 'café' }), 'INVALID_NAME', /^Name: "café" is not a valid name/],
    ['a 121-character name', duo({}, { Name: 'n'.repeat(121) }), 'INVALID_NAME', /^Name: "n{60}…" is not a valid name/],
    ['an empty name', duo({}, { Name: '' }), 'INVALID_NAME', /^Name: "" is not a valid name/],
    ['a blank name', duo({}, { Name: '   ' }), 'INVALID_NAME', /^Name: "   " is not a valid name/],
    ['a numeric name', duo({}, { Name: 7 }), 'INVALID_NAME', 'Name: expected a string, received a number'],
  ];
  it.each(cases)('rejects %s', (_title, input, code, message) => {
    const e = caught(() => parseNewConfig(input));
    expect(e.code).toBe(code);
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
    expect(e.exitCode).toBe(2);
    expect(e.message).not.toContain(SECRET);
    expect(e.message).not.toMatch(/[\n\r\u001b]/);
  });

  it('never repeats a secret in the message, whatever is wrong with it', () => {
    for (const input of [duo({ SecretKey: `${SECRET}\n${SECRET}` }), duo({ SecretKy: SECRET }), duo({ SecretKey: SECRET.repeat(50) }), duo({ Host: 'x/y' }), duo({ secretkey: SECRET })]) {
      expect(caught(() => parseNewConfig(input)).message).not.toContain(SECRET.slice(0, 10));
    }
  });
});

describe('parseJsonText', () => {
  it('decodes JSON and drops a byte-order mark', () => {
    expect(parseJsonText('{"a":1}', 'f')).toEqual({ a: 1 });
    expect(parseJsonText('\uFEFF{"a":1}', 'f')).toEqual({ a: 1 });
    expect(parseJsonText('[1, "x", null]', 'f')).toEqual([1, 'x', null]);
  });

  const cases: [string, string, string, string][] = [
    ['an empty text', '', 'INVALID_JSON', 'cfg.json: is empty; expected a JSON object'],
    ['only white space', ' \n\t\n', 'INVALID_JSON', 'cfg.json: is empty; expected a JSON object'],
    ['a trailing comma', '{"a": 1,}', 'INVALID_JSON', 'cfg.json: malformed JSON at line 1, column 9: Expected double-quoted property name'],
    ['a missing comma on line 4', '{\n  "Type": "duo",\n  "Name": "x"\n  "Options": {}\n}', 'INVALID_JSON', "cfg.json: malformed JSON at line 4, column 3: Expected ',' or '}' after property value"],
    ['garbage after the document', '{"a": 1}\n\nxyz', 'INVALID_JSON', 'cfg.json: malformed JSON at line 3, column 1: Unexpected non-whitespace character after JSON'],
    ['a control character in a string', '{\n "a": "x\ty"\n}', 'INVALID_JSON', 'cfg.json: malformed JSON at line 2, column 9: Bad control character in string literal'],
    ['an unfinished array', '{\n  "a": [1, 2', 'INVALID_JSON', "cfg.json: malformed JSON at line 2, column 13: Expected ',' or ']' after array element"],
    ['a document cut short', '{\n  "a":\n\n', 'INVALID_JSON', 'cfg.json: malformed JSON at line 2, column 7: Unexpected end of JSON input'],
    ['a byte-order mark before an error on line 1', '\uFEFF{"a": 1,}', 'INVALID_JSON', 'cfg.json: malformed JSON at line 1, column 9: Expected double-quoted property name'],
    ['a bare word', 'NaN', 'INVALID_JSON', 'cfg.json: malformed JSON: not valid JSON'],
  ];
  it.each(cases)('rejects %s with its line and column', (_title, text, code, message) => {
    const e = caught(() => parseJsonText(text, 'cfg.json'));
    expect([e.code, e.message]).toEqual([code, message]);
  });

  it.each([
    ['an unquoted value deep in a line', `{\n  "Type": "duo",\n  "Options": {"SecretKey": ${SECRET}, "Host": "h"}\n}`, 3, 28],
    ['a single-quoted value', `{\n  "Options": {\n    "Host": "h",\n    "SecretKey": '${SECRET}'\n  }\n}`, 4, 18],
    ['an unquoted value near the start', `[x, ${SECRET}, ${SECRET}]`, 1, 2],
  ])('locates an unexpected token (%s) without quoting the text around it', (_t, text, line, column) => {
    const e = caught(() => parseJsonText(text, 'stdin'));
    expect(e.code).toBe('INVALID_JSON');
    expect(e.message).toBe(`stdin: malformed JSON at line ${line}, column ${column}: Unexpected token`);
    expect(e.message).not.toContain(SECRET.slice(0, 4));
  });

  it('refuses more than 64 KiB', () => {
    const e = caught(() => parseJsonText(' '.repeat(MAX_INPUT_BYTES + 1), 'stdin'));
    expect([e.code, e.message]).toEqual(['INPUT_TOO_LARGE', 'stdin: 65537 bytes, at most 65536 allowed']);
    expect(parseJsonText(`${' '.repeat(MAX_INPUT_BYTES - 2)}{}`, 'stdin')).toEqual({});
  });
});

describe('parsePrincipalPath', () => {
  it.each([
    ['principal/internal/user/alice', { type: 'user', name: 'alice', path: 'principal/internal/user/alice' }],
    ['principal/internal/application/ci-bot', { type: 'application', name: 'ci-bot', path: 'principal/internal/application/ci-bot' }],
    ['principal/internal/user/a.b_c@d+e-f', { type: 'user', name: 'a.b_c@d+e-f', path: 'principal/internal/user/a.b_c@d+e-f' }],
  ])('parses %s', (path, ref) => {
    expect(parsePrincipalPath(path)).toEqual(ref);
  });

  const cases: [string, unknown, string, string | RegExp][] = [
    ['a group', 'principal/internal/group/admins', 'UNSUPPORTED_PRINCIPAL_TYPE', 'principal: "principal/internal/group/admins" is a "group" principal; only user and application principals support MFA'],
    ['a role', 'principal/internal/role/x', 'UNSUPPORTED_PRINCIPAL_TYPE', /only user and application principals support MFA$/],
    ['an empty string', '', 'INVALID_PRINCIPAL', 'principal: required; expected principal/internal/user/NAME or principal/internal/application/NAME'],
    ['a non-string', 42, 'INVALID_PRINCIPAL', /^principal: required/],
    ['three segments', 'principal/internal/user', 'INVALID_PRINCIPAL', /^principal: "principal\/internal\/user" is not a principal path; expected principal\/internal\/user\/NAME/],
    ['five segments', 'principal/internal/user/a/b', 'INVALID_PRINCIPAL', /is not a principal path/],
    ['an empty name', 'principal/internal/user/', 'INVALID_PRINCIPAL', /is not a principal path/],
    ['an empty type', 'principal/internal//alice', 'INVALID_PRINCIPAL', /is not a principal path/],
    ['another namespace', 'principal/external/user/alice', 'INVALID_PRINCIPAL', /is not a principal path/],
    ['no prefix', 'user/alice', 'INVALID_PRINCIPAL', /is not a principal path/],
    ['a name with a space', 'principal/internal/user/bad name', 'INVALID_NAME', /^user name: "bad name" is not valid; expected 1–120 characters of letters, digits and \. _ @ \+ -$/],
    ['a 121-character name', `principal/internal/application/${'a'.repeat(121)}`, 'INVALID_NAME', /^application name: /],
  ];
  it.each(cases)('rejects %s', (_title, input, code, message) => {
    const e = caught(() => parsePrincipalPath(input));
    expect(e.code).toBe(code);
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
    expect(e.exitCode).toBe(2);
  });
});

describe('-m: the shape check, recovery codes, and how each provider reads it', () => {
  const duo = FACTORS.require('duo');
  const totp = FACTORS.require('totp');
  // A configuration's options as the provider reads them (no Prompt: Duo's Auth API).
  const ctx = { path: 'principal/internal/user/bob', configName: 'cfg', options: {} };
  const shape = (v: string) => checkMfaShape(v, (raw) => FACTORS.all().some((f) => f.accepts(raw)), FACTORS.all().map((f) => f.methodHelp));

  it.each([
    ['77552', { kind: 'passcode', passcode: '77552' }], // the seed's own example: Duo says whether it is right
    ['123456', { kind: 'passcode', passcode: '123456' }],
    ['12345678901234567890', { kind: 'passcode', passcode: '12345678901234567890' }],
    ['ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded', { kind: 'passcode', passcode: 'ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded' }], // a YubiKey OTP
    ['1', { kind: 'passcode', passcode: '1' }],
    ['x'.repeat(64), { kind: 'passcode', passcode: 'x'.repeat(64) }],
    ['push', { kind: 'factor', factor: 'push' }],
    ['PUSH', { kind: 'factor', factor: 'push' }],
    ['Phone', { kind: 'factor', factor: 'phone' }],
    ['sms', { kind: 'factor', factor: 'sms' }],
    ['auto', { kind: 'factor', factor: 'auto' }],
  ])('duo reads %j as typed', (input, method) => {
    expect(() => shape(input)).not.toThrow();
    expect(duo.parseMethod(input, ctx)).toEqual(method);
  });

  it.each([
    ['abcd-efgh-jkmn', 'abcd-efgh-jkmn'],
    ['ABCD-EFGH-JKMN', 'abcd-efgh-jkmn'],
    ['o0il-0000-1111', '0011-0000-1111'], // o reads as 0, i and l as 1
  ])('a recovery code %j passes the shape check, normalized to %j', (input, code) => {
    expect(() => shape(input)).not.toThrow();
    expect(normalizeRecoveryCode(input)).toBe(code);
  });

  const EXPECTED = "expected a Duo passcode (1–64 letters and digits) or one of push, phone, sms, auto; browser for Duo's Universal Prompt; an authenticator app's code (digits); key, for a security key (in a browser); or a recovery code (xxxx-xxxx-xxxx)";
  it.each([
    ['', `-m: is empty; ${EXPECTED}`],
    ['1234 56', `-m: contains white space (a code is taken exactly as typed); ${EXPECTED}`],
    // S17: a padded code is not a code (no trimming)
    [' 654321 ', `-m: contains white space (a code is taken exactly as typed); ${EXPECTED}`],
    ['１２３４５６', `-m: contains characters other than ASCII letters and digits; ${EXPECTED}`],
    ['x'.repeat(65), `-m: has 65 characters, at most 64 allowed; ${EXPECTED}`],
    ['abcd-efgh-jkm', `-m: is not a code or factor any MFA configuration accepts; ${EXPECTED}`],
    ['12_34', `-m: is not a code or factor any MFA configuration accepts; ${EXPECTED}`],
  ])('the shape check refuses %j, without echoing it', (input, message) => {
    const e = caught(() => shape(input));
    expect([e.code, e.message, e.exitCode]).toEqual(['INVALID_METHOD', message, 2]);
  });

  it("duo: -m browser is for a Universal Prompt configuration, and the only thing one takes (besides a recovery code)", () => {
    const universal = { ...ctx, options: { IntegrationKey: 'D'.repeat(20), SecretKey: 'x'.repeat(40), Host: 'h.example.com', Prompt: 'universal' } };
    expect(duo.parseMethod('browser', universal)).toEqual({ kind: 'factor', factor: 'browser' });
    expect(duo.parseMethod('Browser', universal)).toEqual({ kind: 'factor', factor: 'browser' });
    for (const v of ['push', '123456']) expect(caught(() => duo.parseMethod(v, universal)).message).toBe(`-m: principal/internal/user/bob uses Duo's Universal Prompt ("cfg"); pass -m browser (a browser window opens), or a recovery code`);
    expect(caught(() => duo.parseMethod('browser', ctx)).message).toBe(`-m browser: principal/internal/user/bob uses Duo's Auth API ("cfg"), not the Universal Prompt; pass a passcode or one of push, phone, sms, auto`);
  });

  it('totp takes digits only (a wrong length is the uniform denial later, S17); a factor name or letters are a usage error', () => {
    expect(totp.parseMethod('12345678', ctx)).toEqual({ kind: 'passcode', passcode: '12345678' });
    expect(totp.parseMethod('77552', ctx)).toEqual({ kind: 'passcode', passcode: '77552' });
    for (const v of ['push', '12345a']) {
      const e = caught(() => totp.parseMethod(v, ctx));
      expect([e.code, e.message]).toEqual(['INVALID_METHOD', '-m: principal/internal/user/bob uses TOTP ("cfg"); pass the code from the authenticator app']);
    }
  });
});

describe('sanitizeLine', () => {
  it.each([
    ['plain text', 'plain text'],
    ['unicode letters stay: café ✓', 'unicode letters stay: café ✓'],
    ['line\nbreak', 'line\\u000abreak'],
    ['carriage\rreturn', 'carriage\\u000dreturn'],
    ['\u001b[31mred\u001b[0m', '\\u001b[31mred\\u001b[0m'],
    ['nul\u0000byte', 'nul\\u0000byte'],
    ['del\u007f', 'del\\u007f'],
    ['c1 csi\u009b2J', 'c1 csi\\u009b2J'],
    ['line\u2028separator\u2029', 'line\\u2028separator\\u2029'],
    ['tab\there', 'tab\\u0009here'],
  ])('escapes %j', (input, output) => {
    expect(sanitizeLine(input)).toBe(output);
  });

  it('truncates at the limit with an ellipsis', () => {
    expect(sanitizeLine('a'.repeat(201))).toBe(`${'a'.repeat(200)}…`);
    expect(sanitizeLine('a'.repeat(200))).toBe('a'.repeat(200));
    expect(sanitizeLine('abcdef', 3)).toBe('abc…');
  });
});

describe('validatePassword', () => {
  it('counts characters for the minimum and bytes for the maximum', () => {
    expect(validatePassword('12345678')).toBe('12345678');
    expect(validatePassword('€'.repeat(8))).toBe('€'.repeat(8));
    expect(validatePassword('x'.repeat(1024))).toHaveLength(1024);
    expect(caught(() => validatePassword('1234567')).message).toBe('password: too short; at least 8 characters required');
    expect(caught(() => validatePassword('x'.repeat(1025))).message).toBe('password: 1025 bytes, at most 1024 allowed');
    // 342 three-byte characters: well under 1024 characters, but 1026 bytes
    expect(caught(() => validatePassword('€'.repeat(342))).message).toBe('password: 1026 bytes, at most 1024 allowed');
    expect(caught(() => validatePassword('short', 'root password')).message).toBe('root password: too short; at least 8 characters required');
  });
});
