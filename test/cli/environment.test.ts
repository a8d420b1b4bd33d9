// `ssrun --help` lists every environment variable the code reads: a variable read in src/ (process.env.X,
// env.X of an environment handed in, 'X' in process.env) and missing from the help's Environment section fails.

import { execa } from 'execa';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../helpers/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function readVariables(): string[] {
  const names = new Set<string>();
  for (const f of sources(join(ROOT, 'src'))) {
    const code = readFileSync(f, 'utf8');
    for (const m of code.matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b|\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]|['"]([A-Z][A-Z0-9_]*)['"] in process\.env/g)) names.add(m[1] ?? m[2] ?? m[3]!);
  }
  return [...names].sort();
}

describe('the Environment section of ssrun --help', () => {
  it('lists every variable the code reads, each once, and -V prints the version', async () => {
    const read = readVariables();
    expect(read.length).toBeGreaterThan(10);
    const help = await execa(BIN, ['--help'], { reject: false, env: { SSRUN_HOME: '/nonexistent-ssrun-home' } });
    expect(help.exitCode).toBe(0);
    const section = help.stdout.slice(help.stdout.indexOf('\nEnvironment:\n'));
    expect(section.length).toBeGreaterThan(20);
    const listed = [...section.matchAll(/^ {2}([A-Z][A-Z0-9_]*) /gm)].map((m) => m[1]!);
    expect(new Set(listed).size).toBe(listed.length);
    expect(read.filter((v) => !listed.includes(v))).toEqual([]);
    const v = await execa(BIN, ['-V'], { reject: false });
    expect([v.exitCode, v.stdout, v.stderr]).toEqual([0, '0.1.0', '']);
  });

  it('`ssrun help mfa get` prints the help of `mfa get` (and `help user` the group\'s)', async () => {
    const h = await execa(BIN, ['help', 'mfa', 'get'], { reject: false });
    expect([h.exitCode, h.stderr]).toEqual([0, '']);
    expect(h.stdout).toMatch(/^Usage: ssrun mfa get \[options\]\n/);
    expect(h.stdout).toContain('--show-secrets');
    const k = await execa(BIN, ['help', 'mfa', 'key', 'add'], { reject: false });
    expect(k.stdout).toMatch(/^Usage: ssrun mfa key add \[options\]\n/);
    const u = await execa(BIN, ['help', 'user'], { reject: false });
    expect(u.stdout).toMatch(/^Usage: ssrun user \[options\] \[command\]\n/);
  });
});
