// One output convention (issue 13): every command that prints a result takes -o/--output; tables are cut to
// the terminal's width without losing a character.

import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { fitWidths, wrapText } from '../../src/cli/render.js';
import { mfaCommands } from '../../src/cli/tree-mfa.js';
import { groupCommands, principalCommands } from '../../src/cli/tree-principals.js';
import { sessionCommands } from '../../src/cli/tree-session.js';
import { addOutputOptions } from '../../src/cli/tree.js';

const leaves = (cmd: Command, path = ''): { path: string; cmd: Command }[] =>
  cmd.commands.flatMap((c) => (c.commands.length > 0 ? leaves(c, `${path}${c.name()} `) : [{ path: `${path}${c.name()}`, cmd: c }]));

describe('-o, --output', () => {
  it('every command but serve takes it; -o is its short form except where -o is --operation', () => {
    const program = new Command('ssrun');
    for (const add of [mfaCommands, groupCommands, principalCommands, sessionCommands]) add(program);
    addOutputOptions(program);
    const all = leaves(program);
    expect(all.length).toBeGreaterThan(40);
    const flags = Object.fromEntries(all.map(({ path, cmd }) => [path, cmd.options.find((o) => o.long === '--output')?.flags ?? null]));
    for (const [path, f] of Object.entries(flags)) {
      if (path === 'serve') expect(f).toBeNull();
      else if (path === 'authorization create' || path === 'authorization delete') expect(f, path).toBe('--output <format>');
      else expect(f, path).toBe('-o, --output <format>');
    }
  });
});

describe('tables fit the terminal', () => {
  it('wrapText wraps at spaces, cuts longer words, and loses nothing', () => {
    expect(wrapText('principal/internal/user/someone', 10)).toBe('principal/\ninternal/u\nser/someon\ne');
    expect(wrapText('user.create ok for bob', 11)).toBe('user.create\nok for bob');
    const text = 'a long detail: principal/internal/application/ci-bot was locked until 2026-12-06T23:21:25.563Z';
    for (const w of [5, 9, 20]) {
      const wrapped = wrapText(text, w);
      expect(wrapped.split('\n').every((l) => [...l].length <= w)).toBe(true);
      expect(wrapped.replace(/\n/g, '').replace(/ /g, '')).toBe(text.replace(/ /g, ''));
    }
  });

  it('fitWidths: nothing to do when it fits; narrow columns keep their width; the whole fits the terminal', () => {
    expect(fitWidths([2, 24, 5], 120)).toBeUndefined();
    expect(fitWidths([2, 24, 5], undefined)).toBeUndefined();
    const natural = [2, 24, 5, 6, 12, 60, 7, 80];
    const w = fitWidths(natural, 120)!;
    expect(w.reduce((a, b) => a + b + 2, 0) + natural.length + 1).toBeLessThanOrEqual(120);
    // the narrow ones keep their width; the three wide ones share what is left, equally
    expect([w[0], w[2], w[3], w[4], w[6]]).toEqual([2, 5, 6, 12, 7]);
    expect([w[1], w[5], w[7]]).toEqual([21, 21, 21]);
  });
});
