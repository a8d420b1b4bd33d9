// The question a server sends with MFA_REQUIRED (what a terminal asks when no -m was given) is text from
// outside: promptFrom keeps a well-formed one, escapes what it shows, and falls back to a plain code question
// for anything odd. A prompt says which characters and how many, never a regular expression (no ReDoS).

import { describe, expect, it } from 'vitest';
import { promptFrom } from '../../src/remote/client.js';
import { defaultFactors } from '../../src/providers/registry.js';

const FALLBACK = { kind: 'code', code: { message: 'Code:', chars: 'alphanumeric', min: 1, max: 64, hint: 'a code is 1–64 letters and digits; a recovery code is xxxx-xxxx-xxxx' } };
const ctx = { path: 'principal/internal/user/bob', configName: 'cfg', options: {} };

describe('promptFrom', () => {
  it("keeps every provider's own question as it is", () => {
    for (const f of defaultFactors().all()) {
      const { prompt } = f.required(ctx);
      expect(promptFrom(JSON.parse(JSON.stringify(prompt)))).toEqual(prompt);
    }
  });

  it('escapes control characters and terminal escapes in what it shows', () => {
    const p = promptFrom({ kind: 'code', code: { message: 'Code\u001b[2J:\r\n', chars: 'digits', min: 6, max: 6, hint: 'six\u0007 digits' } });
    expect(p).toEqual({ kind: 'code', code: { message: 'Code\\u001b[2J:\\u000d\\u000a', chars: 'digits', min: 6, max: 6, hint: 'six\\u0007 digits' } });
  });

  it.each([
    ['nothing', undefined],
    ['not an object', 'menu'],
    ['an unknown kind', { kind: 'browser' }],
    ['a regular expression instead of a shape', { kind: 'code', code: { message: 'Code:', pattern: '^(a|a)*$', hint: 'h' } }],
    ['an unknown character class', { kind: 'code', code: { message: 'Code:', chars: '.*', min: 1, max: 6, hint: 'h' } }],
    ['lengths out of range', { kind: 'code', code: { message: 'Code:', chars: 'digits', min: 0, max: 1000, hint: 'h' } }],
    ['an over-long message', { kind: 'code', code: { message: 'x'.repeat(500), chars: 'digits', min: 6, max: 6, hint: 'h' } }],
    ['a menu without a code question', { kind: 'menu', message: 'M', codeChoice: 'passcode', choices: [{ value: 'push', name: 'Push' }] }],
    ['a menu of too many choices', { kind: 'menu', message: 'M', codeChoice: 'p', code: { message: 'C', chars: 'digits', min: 1, max: 1, hint: 'h' }, choices: Array.from({ length: 11 }, (_, i) => ({ value: `v${i}`, name: `n${i}` })) }],
  ])('%s: the plain code question', (_title, raw) => {
    expect(promptFrom(raw)).toEqual(FALLBACK);
  });
});
