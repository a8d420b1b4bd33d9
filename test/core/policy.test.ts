// The effective-policy merge, table-driven: which policies cover a principal (directly or through groups),
// inactive ones ignored, the most stringent of each requirement with the policies that set it, factor-set
// intersections, and which intersections no configuration can satisfy (an error at policy creation).

import { describe, expect, it } from 'vitest';
import type { ConfigType, Policy } from '../../src/core/model.js';
import { allows, covering, describeFactors, effective, satisfiable } from '../../src/core/policy.js';

const P = (Name: string, o: Partial<Policy> = {}): Policy => ({
  Name,
  Factors: 'any',
  EnrollWithinDays: 7,
  ReverifyAfterHours: null,
  Targets: ['principal/internal/group/eng'],
  Active: true,
  CreatedAt: '',
  UpdatedAt: '',
  ...o,
});

const BOB = 'principal/internal/user/bob';
const ENG = 'principal/internal/group/eng';
const OPS = 'principal/internal/group/ops';
const CONFIGS = new Map<string, ConfigType>([
  ['totp', 'totp'],
  ['duo-main', 'duo'],
  ['duo-backup', 'duo'],
]);

interface Case {
  title: string;
  policies: Policy[];
  groups: string[];
  /** covering policy names (active or not) */
  covers: string[];
  /** effective: undefined when no active policy applies */
  expected?: { factors: string; factorsFrom: string[]; enroll: number; enrollFrom: string[]; reverify: number | null; reverifyFrom?: string[] };
  satisfiable?: boolean;
  allowed?: Record<string, boolean>;
}

const cases: Case[] = [
  { title: 'no policy at all', policies: [], groups: [ENG], covers: [] },
  { title: 'a policy on another group', policies: [P('a', { Targets: [OPS] })], groups: [ENG], covers: [] },
  {
    title: 'one policy through a group',
    policies: [P('a', { ReverifyAfterHours: 12 })],
    groups: [ENG],
    covers: ['a'],
    expected: { factors: 'any', factorsFrom: ['a'], enroll: 7, enrollFrom: ['a'], reverify: 12, reverifyFrom: ['a'] },
    satisfiable: true,
    allowed: { totp: true, 'duo-main': true },
  },
  {
    title: 'one policy naming the user directly (case-insensitive)',
    policies: [P('a', { Targets: ['principal/internal/user/BOB'] })],
    groups: [],
    covers: ['a'],
    expected: { factors: 'any', factorsFrom: ['a'], enroll: 7, enrollFrom: ['a'], reverify: null },
  },
  { title: 'an inactive policy covers but is not enforced', policies: [P('a', { Active: false })], groups: [ENG], covers: ['a'] },
  {
    title: 'inactive policies are ignored in the merge',
    policies: [P('a', { EnrollWithinDays: 30 }), P('b', { Active: false, EnrollWithinDays: 1, ReverifyAfterHours: 1, Factors: ['totp'] })],
    groups: [ENG],
    covers: ['a', 'b'],
    expected: { factors: 'any', factorsFrom: ['a'], enroll: 30, enrollFrom: ['a'], reverify: null },
  },
  {
    title: 'overlapping groups: the smallest enrolment window wins',
    policies: [P('a', { EnrollWithinDays: 14 }), P('b', { Targets: [OPS], EnrollWithinDays: 3 })],
    groups: [ENG, OPS],
    covers: ['a', 'b'],
    expected: { factors: 'any', factorsFrom: ['a', 'b'], enroll: 3, enrollFrom: ['b'], reverify: null },
  },
  {
    title: 'the shortest re-verification interval wins; a policy without one does not loosen it',
    policies: [P('a', { ReverifyAfterHours: 24 }), P('b', { Targets: [OPS], ReverifyAfterHours: 8 }), P('c', { Targets: [BOB] })],
    groups: [ENG, OPS],
    covers: ['a', 'b', 'c'],
    expected: { factors: 'any', factorsFrom: ['a', 'b', 'c'], enroll: 7, enrollFrom: ['a', 'b', 'c'], reverify: 8, reverifyFrom: ['b'] },
  },
  {
    title: 'equal values name every policy that set them',
    policies: [P('a', { ReverifyAfterHours: 8 }), P('b', { Targets: [BOB], ReverifyAfterHours: 8 })],
    groups: [ENG],
    covers: ['a', 'b'],
    expected: { factors: 'any', factorsFrom: ['a', 'b'], enroll: 7, enrollFrom: ['a', 'b'], reverify: 8, reverifyFrom: ['a', 'b'] },
  },
  {
    title: 'any and a list: the list',
    policies: [P('a'), P('b', { Targets: [BOB], Factors: ['totp', 'duo-main'] })],
    groups: [ENG],
    covers: ['a', 'b'],
    expected: { factors: 'duo-main, totp', factorsFrom: ['b'], enroll: 7, enrollFrom: ['a', 'b'], reverify: null },
    satisfiable: true,
    allowed: { totp: true, 'duo-main': true, 'duo-backup': false },
  },
  {
    title: 'two lists: their intersection (names without regard to case)',
    policies: [P('a', { Factors: ['TOTP', 'duo-main'] }), P('b', { Targets: [BOB], Factors: ['duo-main', 'duo-backup'] })],
    groups: [ENG],
    covers: ['a', 'b'],
    expected: { factors: 'duo-main', factorsFrom: ['a', 'b'], enroll: 7, enrollFrom: ['a', 'b'], reverify: null },
    satisfiable: true,
    allowed: { totp: false, 'duo-main': true, 'duo-backup': false },
  },
  {
    title: 'two disjoint lists: empty, not satisfiable',
    policies: [P('a', { Factors: ['totp'] }), P('b', { Targets: [BOB], Factors: ['duo-main'] })],
    groups: [ENG],
    covers: ['a', 'b'],
    expected: { factors: '(none)', factorsFrom: ['a', 'b'], enroll: 7, enrollFrom: ['a', 'b'], reverify: null },
    satisfiable: false,
    allowed: { totp: false, 'duo-main': false },
  },
  {
    title: 'phishing-resistant alone, with only duo and totp configurations: nothing satisfies it, no duo or totp factor is allowed',
    policies: [P('a', { Factors: 'phishing-resistant' })],
    groups: [ENG],
    covers: ['a'],
    expected: { factors: 'phishing-resistant', factorsFrom: ['a'], enroll: 7, enrollFrom: ['a'], reverify: null },
    satisfiable: false,
    allowed: { totp: false, 'duo-main': false },
  },
  {
    title: 'phishing-resistant and a list of duo/totp configurations: nothing can satisfy both',
    policies: [P('a', { Factors: 'phishing-resistant' }), P('b', { Targets: [BOB], Factors: ['totp', 'duo-main'] })],
    groups: [ENG],
    covers: ['a', 'b'],
    expected: { factors: 'phishing-resistant and duo-main, totp', factorsFrom: ['a', 'b'], enroll: 7, enrollFrom: ['a', 'b'], reverify: null },
    satisfiable: false,
  },
  {
    title: 'a list naming a configuration that does not exist (any more) is not satisfiable',
    policies: [P('a', { Factors: ['deleted-config'] })],
    groups: [ENG],
    covers: ['a'],
    expected: { factors: 'deleted-config', factorsFrom: ['a'], enroll: 7, enrollFrom: ['a'], reverify: null },
    satisfiable: false,
  },
  {
    title: 'three policies through two groups and the user: each requirement from a different one',
    policies: [
      P('a', { EnrollWithinDays: 2, ReverifyAfterHours: 48 }),
      P('b', { Targets: [OPS], EnrollWithinDays: 10, ReverifyAfterHours: 4, Factors: ['totp', 'duo-main'] }),
      P('c', { Targets: [BOB], EnrollWithinDays: 5, Factors: ['totp'] }),
    ],
    groups: [ENG, OPS],
    covers: ['a', 'b', 'c'],
    expected: { factors: 'totp', factorsFrom: ['b', 'c'], enroll: 2, enrollFrom: ['a'], reverify: 4, reverifyFrom: ['b'] },
    satisfiable: true,
    allowed: { totp: true, 'duo-main': false },
  },
  {
    title: 'EnrollWithinDays 0: enrol before the next login',
    policies: [P('a', { EnrollWithinDays: 0 }), P('b', { Targets: [BOB], EnrollWithinDays: 30 })],
    groups: [ENG],
    covers: ['a', 'b'],
    expected: { factors: 'any', factorsFrom: ['a', 'b'], enroll: 0, enrollFrom: ['a'], reverify: null },
  },
  {
    title: 'a group the user left no longer applies',
    policies: [P('a', { Targets: [OPS], EnrollWithinDays: 1 }), P('b', { EnrollWithinDays: 9 })],
    groups: [ENG],
    covers: ['b'],
    expected: { factors: 'any', factorsFrom: ['b'], enroll: 9, enrollFrom: ['b'], reverify: null },
  },
];

describe('effective policy merge', () => {
  it('has at least 15 cases', () => expect(cases.length).toBeGreaterThanOrEqual(15));

  for (const c of cases) {
    it(c.title, () => {
      const cover = covering(c.policies, BOB, c.groups);
      expect(cover.map((p) => p.Name)).toEqual(c.covers);
      const eff = effective(cover);
      if (!c.expected) {
        expect(eff).toBeUndefined();
        return;
      }
      expect(eff).toBeDefined();
      expect({
        factors: describeFactors(eff!.factors.value),
        factorsFrom: eff!.factors.from,
        enroll: eff!.enrollWithinDays.value,
        enrollFrom: eff!.enrollWithinDays.from,
        reverify: eff!.reverifyAfterHours?.value ?? null,
        ...(eff!.reverifyAfterHours ? { reverifyFrom: eff!.reverifyAfterHours.from } : {}),
      }).toEqual(c.expected);
      if (c.satisfiable !== undefined) expect(satisfiable(eff!.factors.value, CONFIGS)).toBe(c.satisfiable);
      for (const [name, ok] of Object.entries(c.allowed ?? {})) expect([name, allows(eff!.factors.value, { name, type: CONFIGS.get(name)! })]).toEqual([name, ok]);
    });
  }

  it('phishing-resistant alone is satisfiable once a phishing-resistant configuration exists, and admits only that type', () => {
    const resists = (t: ConfigType) => t === 'webauthn';
    const set = effective([P('a', { Factors: 'phishing-resistant' })].map((p) => ({ ...p, Targets: [BOB] })))!.factors.value;
    expect(satisfiable(set, CONFIGS, resists)).toBe(false);
    const withKeys = new Map([...CONFIGS, ['keys', 'webauthn']]);
    expect(satisfiable(set, withKeys, resists)).toBe(true);
    expect(allows(set, { name: 'keys', type: 'webauthn' }, resists)).toBe(true);
    expect(allows(set, { name: 'totp', type: 'totp' }, resists)).toBe(false);
    // A list naming only duo and totp, under phishing-resistant: nothing, keys or not.
    const both = effective([P('a', { Factors: 'phishing-resistant' }), P('b', { Factors: ['totp', 'duo-main'] })])!.factors.value;
    expect(satisfiable(both, withKeys, resists)).toBe(false);
  });
});
