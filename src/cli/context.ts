// What every command needs: where the store lives, the service over it, and the terminal streams.

import { join } from 'node:path';
import { homedir } from 'node:os';
import type { Ssrun } from '../core/service.js';

export interface GlobalOptions {
  home?: string;
}

export interface Io {
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Colour only on a TTY and never with NO_COLOR. */
  color: boolean;
  out(text: string): void;
  notice(text: string): void;
}

export const io: Io = {
  stdinIsTTY: Boolean(process.stdin.isTTY),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  color: Boolean(process.stderr.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== ''),
  out: (text) => void process.stdout.write(text),
  notice: (text) => void process.stderr.write(`ssrun: ${text}\n`),
};

/** Prompts only when both stdin and stdout are terminals (GitHub CLI's rule). */
export const canPrompt = () => io.stdinIsTTY && io.stdoutIsTTY;

// Taken from the environment once at start-up and removed from it, so children never inherit it (S6).
let masterKeyFromEnv: string | undefined;
export function captureMasterKeyFromEnv(): void {
  masterKeyFromEnv = process.env.SSRUN_MASTER_KEY;
  delete process.env.SSRUN_MASTER_KEY;
}

export async function resolveHome(opts: GlobalOptions): Promise<string> {
  if (opts.home) return opts.home;
  if (process.env.SSRUN_HOME) return process.env.SSRUN_HOME;
  if (process.platform === 'linux') return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'ssrun');
  const { default: envPaths } = await import('env-paths');
  return envPaths('ssrun', { suffix: '' }).data;
}

let opened: { service: Ssrun; close(): void; home: string } | undefined;

/** Opens the embedded store (creating it on first use, with a one-line notice) and the service over it. */
export async function localService(opts: GlobalOptions): Promise<Ssrun> {
  if (opened) return opened.service;
  const home = await resolveHome(opts);
  const [{ openSqliteStore }, { createSsrun }, { nodeCrypto }, { createDuoProvider }] = await Promise.all([
    import('../store/sqlite.js'),
    import('../core/service.js'),
    import('../crypto/node.js'),
    import('../providers/duo/client.js'),
  ]);
  const s = openSqliteStore({ home, masterKey: { fromEnv: masterKeyFromEnv } });
  if (s.created) {
    io.notice(
      s.keyFileCreated
        ? `created a new store at ${s.path}; its master key is ${join(home, 'master.key')}: back it up, the secrets cannot be read without it`
        : `created a new store at ${s.path}, sealed with SSRUN_MASTER_KEY`,
    );
  }
  const service = createSsrun({ store: s.store, providers: { duo: createDuoProvider() }, clock: { now: () => new Date() }, crypto: nodeCrypto });
  opened = { service, close: s.close, home };
  return service;
}

export function closeLocal(): void {
  opened?.close();
  opened = undefined;
}

export async function homeOf(opts: GlobalOptions): Promise<string> {
  return opened?.home ?? resolveHome(opts);
}
