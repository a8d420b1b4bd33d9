// What every command needs: where the store lives, the service over it, and the terminal streams.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { SsrunError } from '../core/errors.js';
import type { Ceremony } from '../core/ceremony.js';
import type { Ssrun, SsrunApi } from '../core/service.js';

export interface GlobalOptions {
  home?: string;
  /** --context NAME: the context of this one command (the current one is left as it is). */
  context?: string;
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

// Getters: process.stdin is made on first use (for a pipe or a file, with Node's stream modules), and most
// commands never read it (start-up time, see bench/).
export const io: Io = {
  get stdinIsTTY() {
    return Boolean(process.stdin.isTTY);
  },
  get stdoutIsTTY() {
    return Boolean(process.stdout.isTTY);
  },
  get stderrIsTTY() {
    return Boolean(process.stderr.isTTY);
  },
  get color() {
    return Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  },
  out: (text) => void process.stdout.write(text),
  notice: (text) => void process.stderr.write(`ssrun: ${text}\n`),
};

/** Prompts only when both stdin and stdout are terminals (GitHub CLI's rule). */
export const canPrompt = () => io.stdinIsTTY && io.stdoutIsTTY;

// Taken from the environment once at start-up and removed from it, so children never inherit it (S6).
let masterKeyFromEnv: string | undefined;
let tokenFromEnv: string | undefined;
let databaseFromEnv: string | undefined;
let pgPasswordFromEnv: string | undefined;
export function captureMasterKeyFromEnv(): void {
  masterKeyFromEnv = process.env.SSRUN_MASTER_KEY;
  delete process.env.SSRUN_MASTER_KEY;
  // The database URL and PGPASSWORD may carry a password: kept here, out of the environment of children.
  databaseFromEnv = process.env.SSRUN_DATABASE_URL || undefined;
  delete process.env.SSRUN_DATABASE_URL;
  pgPasswordFromEnv = process.env.PGPASSWORD || undefined;
  delete process.env.PGPASSWORD;
  tokenFromEnv = process.env.SSRUN_TOKEN || undefined;
  delete process.env.SSRUN_TOKEN;
}

export const masterKeySource = () => ({ fromEnv: masterKeyFromEnv });

/** The shape of a session token a server reads (as its Authorization header does). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{16,200}$/;

/** SSRUN_TOKEN, checked: one that cannot be a token is refused naming the variable (never showing it). */
export function tokenFromEnvironment(): string | undefined {
  if (tokenFromEnv === undefined || TOKEN_SHAPE.test(tokenFromEnv)) return tokenFromEnv;
  throw new SsrunError('UNAUTHENTICATED', `SSRUN_TOKEN: expected a session token (16–200 letters, digits, - and _, as \`ssrun auth token\` prints), received ${tokenFromEnv.length} characters that are not one; fix or unset it`);
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

/** This command only reads (set by the command tree): a store that does not exist yet is not created for it. */
let readOnly = false;
export const setReadOnly = (on: boolean) => void (readOnly = on);

/** No store file in this home (a home that cannot be looked at is left to opening it, which says why). */
function noStoreIn(home: string, file: string): boolean {
  try {
    statSync(join(home, file));
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Opens the embedded store (creating it on first use, with a one-line notice): what the service needs. A read
 * of a store that does not exist yet says so and sees what a new store holds, creating nothing.
 */
export async function openLocalDeps(opts: GlobalOptions, how: { server?: boolean } = {}) {
  const home = await resolveHome(opts);
  const { openSqliteStore, openEmptySqliteStore, DB_FILE, nodeCrypto, defaultFactors, builtinConfigs } = await import('./local.js');
  // A server reads and writes on two connections (reads never wait for a group of writers); a command, on one.
  const writer = how.server ? (await import('../store/split-store.js')).splitStore : undefined;
  // Each provider loads its heavy parts (the Duo client and node:https, otplib) only when a login needs them.
  const factors = defaultFactors();
  const deps = (s: ReturnType<typeof openSqliteStore>) => ({ store: s.store, factors, clock: { now: () => new Date() }, crypto: nodeCrypto });
  if (readOnly && noStoreIn(home, DB_FILE)) {
    io.notice(`no store at ${home} yet; it is created by the first command that writes`);
    const s = openEmptySqliteStore({ builtins: builtinConfigs(factors) });
    return { home, opened: s, deps: deps(s) };
  }
  let s: ReturnType<typeof openSqliteStore>;
  try {
    s = openSqliteStore({ home, masterKey: { fromEnv: masterKeyFromEnv }, builtins: builtinConfigs(factors), writer });
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
  return { home, opened: s, deps: deps(s) };
}

/** The PostgreSQL database of `serve` and `migrate`: --database, else SSRUN_DATABASE_URL; undefined for SQLite. */
export function databaseUrl(opts: { database?: string }): string | undefined {
  return opts.database || databaseFromEnv;
}

/** What `openPgStore` and `migratePg` need besides the URL: the key source and PGPASSWORD (when the URL has none). */
export async function pgOptions(opts: GlobalOptions, url: string) {
  const home = await resolveHome(opts);
  const { builtinConfigs } = await import('../core/factor.js');
  const { defaultFactors } = await import('../providers/registry.js');
  const factors = defaultFactors();
  let withPassword = url;
  try {
    const u = new URL(url);
    if (!u.password && pgPasswordFromEnv) {
      u.password = pgPasswordFromEnv;
      withPassword = u.href;
    }
  } catch {
    // openPgStore says what is wrong with it
  }
  return { factors, home, open: { url: withPassword, home, masterKey: { fromEnv: masterKeyFromEnv }, builtins: builtinConfigs(factors) } };
}

/** `ssrun serve --database`: the service's dependencies over PostgreSQL. */
export async function openPgDeps(opts: GlobalOptions, url: string) {
  const [{ factors, home, open }, { openPgStore }, { nodeCrypto }] = await Promise.all([pgOptions(opts, url), import('../store/postgres.js'), import('../crypto/node.js')]);
  const s = await openPgStore(open);
  return { home, opened: { path: s.path, close: () => void s.close().catch(() => undefined) }, deps: { store: s.store, factors, clock: { now: () => new Date() }, crypto: nodeCrypto } };
}

/**
 * The embedded store's browser ceremonies: a one-shot loopback page (loaded only when a key is used). One a use
 * case starts without a command's own progress (assign-principal) is shown all the same.
 */
export const localCeremony: Ceremony = {
  async run(req) {
    const [{ loopbackCeremony }, { progress }] = await Promise.all([import('./ceremony.js'), import('./progress.js')]);
    if (req.onProgress) return loopbackCeremony().run(req);
    const shown = progress();
    try {
      return await loopbackCeremony().run({ ...req, onProgress: shown.onProgress });
    } finally {
      await shown.stop();
    }
  },
  // A redirect ceremony (Duo's Universal Prompt) comes back to this machine, over a server as well.
  async redirect(req, answer) {
    return (await import('./redirect.js')).loopbackRedirect(req, answer);
  },
};

/** The service over the embedded store. */
export async function localService(opts: GlobalOptions): Promise<Ssrun> {
  if (opened) return opened.service;
  const [{ home, opened: s, deps }, { createSsrun }] = await Promise.all([openLocalDeps(opts), import('./local.js')]);
  const service = createSsrun({ ...deps, ceremony: localCeremony });
  opened = { service, close: s.close, home };
  return service;
}

export type Target =
  | { kind: 'local'; name: 'local'; key: 'local' }
  | { kind: 'remote'; name: string; key: string; url: string; verify: boolean; caFile?: string };

/** Notices said once per command (a command may resolve its target more than once). */
const said = new Set<string>();
function noticeOnce(text: string): void {
  if (said.has(text)) return;
  said.add(text);
  io.notice(text);
}

/** The embedded store as the target, saying why when the user may not expect it. */
async function localTarget(opts: GlobalOptions, deletedCurrent: string | undefined): Promise<Target> {
  if (deletedCurrent !== undefined) {
    noticeOnce(`the current context ${JSON.stringify(deletedCurrent)} was deleted; using local (the embedded store at ${await homeOf(opts)}); \`ssrun context set-current -n NAME\` chooses one`);
  }
  if (tokenFromEnv !== undefined) noticeOnce('warning: SSRUN_TOKEN is set, but this command runs on local (the embedded store), which does not use it: it is ignored');
  return { kind: 'local', name: 'local', key: 'local' };
}

/**
 * The context commands run against, the first of: --context NAME, SSRUN_CONTEXT, SECRETSSAFE_HOST (CI), the
 * current context, the embedded store (`local`).
 */
export async function resolveTarget(opts: GlobalOptions): Promise<Target> {
  const { readState, LOCAL_CONTEXT } = await import('./session.js');
  const fromEnv = process.env.SSRUN_CONTEXT;
  const chosen = opts.context !== undefined ? { name: opts.context, by: '--context' } : fromEnv ? { name: fromEnv, by: 'SSRUN_CONTEXT' } : undefined;
  const host = process.env.SECRETSSAFE_HOST;
  if (host && !chosen) {
    const { serverUrl } = await import('./address.js');
    const verifyCa = process.env.SECRETSSAFE_VERIFY_CA ?? 'true';
    const verify = verifyCa.toLowerCase() !== 'false';
    const url = serverUrl(host, process.env.SECRETSSAFE_PORT ?? '443', 'SECRETSSAFE_HOST', 'SECRETSSAFE_PORT');
    const caFile = verify && verifyCa.toLowerCase() !== 'true' ? verifyCa : undefined;
    return { kind: 'remote', name: 'SECRETSSAFE_HOST', key: `env:${url}`, url, verify, caFile };
  }
  const state = await readState(opts);
  const name = chosen?.name ?? state.current ?? LOCAL_CONTEXT;
  if (name === LOCAL_CONTEXT) return localTarget(opts, chosen ? undefined : state.deletedCurrent);
  const c = Object.prototype.hasOwnProperty.call(state.contexts ?? {}, name) ? state.contexts![name] : undefined;
  if (!c && chosen) throw new SsrunError('CONTEXT_NOT_FOUND', `${chosen.by}: there is no context ${JSON.stringify(name).slice(0, 80)}; \`ssrun context get\` lists them`);
  if (!c) throw new SsrunError('CONTEXT_NOT_FOUND', `the current context ${JSON.stringify(name)} does not exist; \`ssrun context set-current -n local\` or create it`);
  const { urlOf } = await import('./address.js');
  return { kind: 'remote', name, key: name, url: urlOf(c), verify: c.verify, caFile: c.ca };
}

/** The service the command runs against: the embedded store, or the server of the current context. */
export async function service(opts: GlobalOptions, target?: Target): Promise<SsrunApi> {
  const t = target ?? (await resolveTarget(opts));
  if (t.kind === 'local') return localService(opts);
  const [{ createRemoteSsrun }, { savedSession }, { readFileSync }] = await Promise.all([import('../remote/client.js'), import('./session.js'), import('node:fs')]);
  let ca: string | undefined;
  if (t.caFile) {
    try {
      ca = readFileSync(t.caFile, 'utf8');
    } catch (e) {
      throw new SsrunError('SERVER_UNTRUSTED', `the CA file ${t.caFile} of context ${JSON.stringify(t.name)} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const token = tokenFromEnvironment() ?? (await savedSession(opts, t.key))?.token;
  return createRemoteSsrun({ name: t.name, url: t.url, verify: t.verify, ca, token }, { ceremony: localCeremony });
}

export function closeLocal(): void {
  opened?.close();
  opened = undefined;
}

export async function homeOf(opts: GlobalOptions): Promise<string> {
  return opened?.home ?? resolveHome(opts);
}
