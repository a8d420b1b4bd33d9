// The README runs as written (issue 13): every code block marked `<!-- runnable -->` runs in bash (set -e),
// each in a fresh temporary directory holding a copy of fixtures/, with its own HOME (the default store lands
// in HOME/.local/share/ssrun) and `ssrun` / `npx ssrun` meaning the built bin/ssrun. A block marked
// `<!-- output -->` right after a runnable one is what that block prints (stderr and stdout as they come, the
// temporary HOME shown as /home/you). Files the blocks write hold secrets at 0600 and are in .gitignore.

import { execa } from 'execa';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/paths.js';

interface Block {
  line: number;
  code: string;
  output?: string;
}

/** The runnable blocks of the README, each with the output block that follows it, if any. */
function runnableBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  const fence = /<!-- (runnable|output) -->\n```[a-z]*\n([\s\S]*?)```/g;
  for (const m of text.matchAll(fence)) {
    const line = text.slice(0, m.index).split('\n').length + 1;
    if (m[1] === 'runnable') blocks.push({ line, code: m[2]! });
    else if (blocks.length > 0 && blocks[blocks.length - 1]!.output === undefined) blocks[blocks.length - 1]!.output = m[2]!;
    else throw new Error(`README.md:${line}: an output block that follows no runnable block`);
  }
  return blocks;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A scratch directory: fixtures/, a bin/ with ssrun and an npx that runs only ssrun, and a HOME. */
function scratch(): { cwd: string; home: string; bin: string } {
  const root = mkdtempSync(join(tmpdir(), 'ssrun-readme-'));
  dirs.push(root);
  const cwd = join(root, 'work');
  const home = join(root, 'home');
  const bin = join(root, 'bin');
  for (const d of [cwd, home, bin]) mkdirSync(d);
  cpSync(join(ROOT, 'fixtures'), join(cwd, 'fixtures'), { recursive: true });
  symlinkSync(BIN, join(bin, 'ssrun'));
  writeFileSync(join(bin, 'npx'), '#!/bin/sh\nif [ "$1" = ssrun ]; then shift; exec ssrun "$@"; fi\necho "npx $1: only npx ssrun runs in the README tests" >&2; exit 127\n');
  chmodSync(join(bin, 'npx'), 0o755);
  return { cwd, home, bin };
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = runnableBlocks(README);

describe('README code blocks marked runnable', () => {
  it('there are some: the quick start, TOTP, policies, administration', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(blocks[0]!.code).toContain('npx ssrun mfa create -f fixtures/mfa/duo.json');
    expect(blocks[0]!.output).toBeDefined();
  });

  for (const block of blocks) {
    it(`README.md:${block.line} runs as written`, async () => {
      const { cwd, home, bin } = scratch();
      const before = new Set(readdirSync(cwd));
      const r = await execa('bash', ['-c', `set -eo pipefail\n${block.code}`], {
        cwd,
        env: { PATH: `${bin}:${process.env.PATH}`, HOME: home, LANG: 'C.UTF-8', NO_COLOR: '1' },
        extendEnv: false,
        reject: false,
        all: true,
        timeout: 120_000,
      });
      expect(r.exitCode, `README.md:${block.line} exited ${r.exitCode}:\n${r.all}`).toBe(0);
      if (block.output !== undefined) expect(String(r.all).split(home).join('/home/you')).toBe(block.output.trimEnd());
      // What the block wrote: secrets at 0600, and every file in .gitignore (it was written into the clone).
      for (const name of readdirSync(cwd).filter((n) => !before.has(n))) {
        const ignored = await execa('git', ['check-ignore', '-q', statSync(join(cwd, name)).isDirectory() ? `${name}/` : name], { cwd: ROOT, reject: false });
        expect(ignored.exitCode, `${name}, written by README.md:${block.line}, is not in .gitignore`).toBe(0);
        // recovery codes, a TOTP QR code, an API key (my-duo.json here is `mfa get` output: its secret redacted)
        if (/recovery|\.png$|ci-bot/.test(name)) expect((statSync(join(cwd, name)).mode & 0o777).toString(8), name).toBe('600');
      }
    });
  }
});
