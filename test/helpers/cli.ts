// Runs the built binary (bin/ssrun) with execa in its own temporary SSRUN_HOME, and records everything it
// printed so each e2e file can assert that no secret ever reached stdout or stderr (S23).

import { execa, type Options } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'ssrun');
export const FIXTURES = join(ROOT, 'fixtures');

const homes: string[] = [];
const captured: { args: string[]; text: string }[] = [];
const secrets = new Set<string>();

afterAll(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** A fresh, empty SSRUN_HOME (removed after the file's tests). */
export function tempHome(prefix = 'ssrun-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  homes.push(dir);
  return join(dir, 'home');
}

/** Declares a value that must never appear in any captured output. */
export function secret(value: string): string {
  secrets.add(value);
  return value;
}

export interface RunOptions {
  home: string;
  input?: string;
  env?: Record<string, string>;
  /** This run's purpose is to print a secret (--show-secrets, application create): not scanned. */
  revealsSecrets?: boolean;
  timeout?: number;
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function ssrun(args: string[], opts: RunOptions): Promise<RunResult> {
  const options: Options = {
    reject: false,
    input: opts.input ?? '',
    cwd: opts.cwd ?? ROOT,
    env: { SSRUN_HOME: opts.home, NO_COLOR: '1', ...opts.env },
    extendEnv: true,
    timeout: opts.timeout ?? 60_000,
    stripFinalNewline: false,
  };
  const r = await execa(BIN, args, options);
  const result = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
  if (!opts.revealsSecrets) captured.push({ args, text: `${result.stdout}\n${result.stderr}` });
  return result;
}

/** Parses stdout as JSON, failing with the whole output shown when it is not. */
export function json<T = any>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.exitCode}):\n${r.stdout}\n--- stderr:\n${r.stderr}`);
  }
}

/** Call in afterAll of every e2e file: no declared secret in anything captured. */
export function expectNoSecretsLeaked(): void {
  const leaks: string[] = [];
  for (const s of secrets) for (const c of captured) if (s && c.text.includes(s)) leaks.push(`${JSON.stringify(s.slice(0, 4))}… in output of ssrun ${c.args.join(' ')}`);
  expect(leaks).toEqual([]);
  expect(captured.length).toBeGreaterThan(0);
}
