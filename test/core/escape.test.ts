// Text from outside never reaches a terminal or the audit as itself (S24, S25): sanitizeLine and shown
// (src/core/validate.ts) escape every character of the list, for every code point of Unicode, alone,
// between other text, and when the output is cut to its maximum length. (A unit file: it runs no binary, so
// it has no output to scan for secrets.)

import { describe, expect, it } from 'vitest';
import { sanitizeLine, shown } from '../../src/core/validate.js';
import { ALL_UNSAFE, UNSAFE_CODE_POINTS, hex, rawUnsafe } from '../helpers/unsafe.js';

const MAX = 0x10ffff;

describe('sanitizeLine and shown', () => {
  it('the list is the issue\'s: C0, DEL, C1, U+061C, U+200E, U+200F, U+2028, U+2029, U+202A–U+202E, U+2066–U+2069', () => {
    expect(UNSAFE_CODE_POINTS.length).toBe(32 + 33 + 1 + 2 + 2 + 5 + 4);
    expect(rawUnsafe(ALL_UNSAFE).length).toBe(UNSAFE_CODE_POINTS.length);
  });

  it('each unsafe code point is escaped as \\uXXXX by sanitizeLine, and inside shown\'s JSON quoting', () => {
    for (const cp of UNSAFE_CODE_POINTS) {
      const ch = String.fromCodePoint(cp);
      expect(sanitizeLine(ch), `U+${hex(cp)}`).toBe(`\\u${hex(cp)}`);
      expect(sanitizeLine(`a${ch}b`), `U+${hex(cp)}`).toBe(`a\\u${hex(cp)}b`);
      const s = shown(`a${ch}b`);
      expect(rawUnsafe(s), `shown U+${hex(cp)}`).toEqual([]);
      expect(s, `shown U+${hex(cp)}`).toMatch(new RegExp(`^"a\\\\(u${hex(cp)}|[bfnrt])b"$`, 'i'));
    }
  });

  it('no code point of 0..0x10FFFF ever comes out of sanitizeLine or shown raw, alone or cut at the maximum length', () => {
    const bad: string[] = [];
    for (let cp = 0; cp <= MAX; cp++) {
      const ch = String.fromCodePoint(cp);
      const a = sanitizeLine(ch);
      const b = sanitizeLine(`x${ch}y`, 2);
      const c = shown(`${ch}${ch}`, 1);
      if (rawUnsafe(a).length || rawUnsafe(b).length || rawUnsafe(c).length) bad.push(`U+${hex(cp)}`);
      if (bad.length > 20) break;
    }
    expect(bad).toEqual([]);
  });

  it('a long text of every code point, in pieces of 4096: nothing unsafe in the output, and the safe text is kept', () => {
    const bad: string[] = [];
    for (let start = 0; start <= MAX; start += 4096) {
      const cps = [];
      for (let cp = start; cp < Math.min(start + 4096, MAX + 1); cp++) cps.push(cp);
      const text = String.fromCodePoint(...cps);
      const out = sanitizeLine(text, 1_000_000);
      bad.push(...rawUnsafe(out));
      bad.push(...rawUnsafe(shown(text, 1_000_000)));
      // what is not in the list passes through unchanged; what is, becomes \\uXXXX
      const expected = cps.map((cp) => (UNSAFE_CODE_POINTS.includes(cp) ? `\\u${hex(cp)}` : String.fromCodePoint(cp))).join('');
      if (out !== expected) bad.push(`changed text in U+${hex(start)}…`);
    }
    expect([...new Set(bad)]).toEqual([]);
  });

  it('the bidi spoof of the issue reads escaped', () => {
    const name = 'e2e\u202etoor ot ssecca detnarg';
    expect(sanitizeLine(name)).toBe('e2e\\u202etoor ot ssecca detnarg');
    expect(shown(name)).toBe('"e2e\\u202etoor ot ssecca detnarg"');
  });
});
