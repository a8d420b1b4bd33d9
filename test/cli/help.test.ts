// Discoverability (issue 13): every command's --help has an Examples section taken from the README and marks
// the options it cannot run without "(required)".

import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { EXAMPLES } from '../../src/cli/examples.js';
import { mfaCommands } from '../../src/cli/tree-mfa.js';
import { groupCommands, principalCommands } from '../../src/cli/tree-principals.js';
import { sessionCommands } from '../../src/cli/tree-session.js';
import { completionCommands } from '../../src/cli/tree-completion.js';
import { BIN, ROOT } from '../helpers/paths.js';

function tree(): { path: string; cmd: Command }[] {
  const program = new Command('ssrun');
  for (const add of [mfaCommands, groupCommands, principalCommands, sessionCommands, completionCommands]) add(program);
  const walk = (cmd: Command, path: string): { path: string; cmd: Command }[] =>
    cmd.commands.filter((c) => c.name() !== '__complete').flatMap((c) => {
      const p = path ? `${path} ${c.name()}` : c.name();
      return [{ path: p, cmd: c }, ...walk(c, p)];
    });
  return walk(program, '');
}

/** The README as a reader copies commands from it: `npx ssrun` is `ssrun`. */
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/npx ssrun/g, 'ssrun');

describe('--help', () => {
  const commands = tree();

  it('every command (and the top level) has examples, each one a command of the README', () => {
    expect(commands.length).toBeGreaterThan(50);
    const missing = ['', ...commands.map((c) => c.path)].filter((p) => !(EXAMPLES[p]?.length));
    expect(missing).toEqual([]);
    const notInReadme = Object.values(EXAMPLES).flat().filter((e) => !readme.includes(e));
    expect(notInReadme).toEqual([]);
    for (const [path, lines] of Object.entries(EXAMPLES)) {
      if (path !== '' && !['mfa', 'mfa key', 'mfa policy', 'group', 'user', 'application', 'context', 'authorization', 'audit', 'completion'].includes(path)) {
        for (const l of lines) expect(l, path).toMatch(new RegExp(`(^|\\| |&& )ssrun ${path}( |$)`));
      }
    }
  });

  it('the help of every command shows its examples and says which options are required', async () => {
    const runs = await Promise.all(commands.map(async ({ path, cmd }) => ({ path, cmd, r: await execa(BIN, [...path.split(' '), '--help'], { reject: false, env: { NO_COLOR: '1' } }) })));
    for (const { path, cmd, r } of runs) {
      expect(r.exitCode, path).toBe(0);
      expect(r.stdout, path).toContain(`\nExamples:\n${EXAMPLES[path]!.map((l) => `  $ ${l}`).join('\n')}`);
      for (const o of cmd.options) {
        const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(o.flags))!;
        expect(line, `${path} ${o.flags}`).toBeDefined();
        // the description may wrap: "(required)" ends the option's text
        const text = r.stdout.slice(r.stdout.indexOf(line)).split(/\n  -/)[0]!;
        expect(text.trimEnd().endsWith('(required)'), `${path} ${o.flags}`).toBe(o.mandatory);
      }
    }
    expect(runs.filter((x) => x.cmd.options.some((o) => o.mandatory)).length).toBeGreaterThan(30);
  });
});
