// What every command needs: where the store lives, the service over it, and the terminal streams.

import { join } from 'node:path';
import { homedir } from 'node:os';
import { SsrunError } from '../core/errors.js';
import type { Ssrun } from '../core/service.js';
import type { MfaProviderApi } from '../core/ports.js';

export interface GlobalOptions {
  home?: string;
}

export interface Io {
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  /** Colour on stdout only when it is a TTY, and never with NO_COLOR. */
  color: boolean;
  out(text: string): void;
  notice(text: string): void;
}

export const io: Io = {
  stdinIsTTY: Boolean(process.stdin.isTTY),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  color: Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== ''),
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

/** A home that cannot be made or written (a file in the way, permissions, read-only disk) is the store being unavailable, not a bug. */
function homeError(e: unknown, home: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (e instanceof SsrunError || typeof code !== 'string') return e;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new SsrunError('STORE_FULL', `the disk holding ${home} is full; nothing was changed`);
  if (['EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS', 'ELOOP', 'ENAMETOOLONG'].includes(code)) {
    return new SsrunError('STORE_READ_ONLY', `the store at ${home} cannot be opened or created (${code}); nothing was changed. Check --home / SSRUN_HOME and its permissions`);
  }
  return e;
}

/** Opens the embedded store (creating it on first use, with a one-line notice) and the service over it. */
export async function localService(opts: GlobalOptions): Promise<Ssrun> {
  if (opened) return opened.service;
  const home = await resolveHome(opts);
  const [{ openSqliteStore }, { createSsrun }, { nodeCrypto }] = await Promise.all([
    import('../store/sqlite.js'),
    import('../core/service.js'),
    import('../crypto/node.js'),
  ]);
  let s: ReturnType<typeof openSqliteStore>;
  try {
    s = openSqliteStore({ home, masterKey: { fromEnv: masterKeyFromEnv } });
  } catch (e) {
    throw homeError(e, home);
  }
  if (s.created) {
    io.notice(
      // Say where the key came from (as loadMasterKey chose it), not whether this process wrote the key file:
      // a key file made beforehand, or by a concurrent first use, is still the key to back up.
      masterKeyFromEnv === undefined || masterKeyFromEnv === ''
        ? `created a new store at ${s.path}; its master key is ${join(home, 'master.key')}: back it up, the secrets cannot be read without it`
        : `created a new store at ${s.path}, sealed with SSRUN_MASTER_KEY`,
    );
  }
  // The Duo client (and node:https) loads only when a login needs it.
  const duo: MfaProviderApi = {
    authenticate: async (ctx) => (await import('../providers/duo/client.js')).createDuoProvider().authenticate(ctx),
  };
  const service = createSsrun({ store: s.store, providers: { duo }, clock: { now: () => new Date() }, crypto: nodeCrypto });
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
