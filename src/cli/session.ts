// The CLI's own state in its conf file (cli.json, 0600) under the ssrun home: the contexts (servers), which
// one is current, and the session token of each. Reading is a plain JSON read (every command needs the
// current context, and start-up stays fast); writing goes through `conf`, which writes atomically.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SsrunError } from '../core/errors.js';
import { homeOf, type GlobalOptions } from './context.js';

export interface SavedSession {
  token: string;
  principal: string;
  expiresAt: string;
}

export interface SavedContext {
  /** Host name or address, without scheme. */
  host: string;
  port: number;
  /** https (default) or http (loopback hosts only). */
  scheme: 'https' | 'http';
  /** Verify the server's certificate. */
  verify: boolean;
  /** Absolute path of a CA file to trust. */
  ca?: string;
  version: string;
}

export interface CliState {
  current?: string;
  /** The context that was current when `context delete` removed it (commands then say they run on local). */
  deletedCurrent?: string;
  contexts?: Record<string, SavedContext>;
  sessions?: Record<string, SavedSession>;
  /** Written by ssrun 0.1 before contexts existed: the local session. */
  session?: SavedSession;
}

export const CONF_FILE = 'cli.json';
export const LOCAL_CONTEXT = 'local';

export async function readState(opts: GlobalOptions): Promise<CliState> {
  const file = join(await homeOf(opts), CONF_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // No home yet (or not a directory): no contexts; the store itself will say what is wrong with the home.
    if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return {};
    throw new SsrunError('STORE_READ_ONLY', `${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const state = JSON.parse(text) as unknown;
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new Error('not an object');
    return state as CliState;
  } catch {
    // Never fall back to the embedded store when the file that says which server to use is damaged.
    throw new SsrunError('STORE_CORRUPT', `${file} is damaged (not a JSON object); fix or delete it (it holds your contexts and session tokens)`);
  }
}

async function conf(opts: GlobalOptions) {
  const { default: Conf } = await import('conf');
  return new Conf<CliState>({ projectName: 'ssrun', cwd: await homeOf(opts), configName: 'cli', configFileMode: 0o600 });
}

export async function updateState(opts: GlobalOptions, change: (state: CliState) => void): Promise<void> {
  const c = await conf(opts);
  const state = c.store;
  if (state.session) {
    state.sessions = { ...state.sessions, [LOCAL_CONTEXT]: state.session };
    delete state.session;
  }
  change(state);
  c.store = state;
}

export async function savedSession(opts: GlobalOptions, key: string): Promise<SavedSession | undefined> {
  const state = await readState(opts);
  return state.sessions?.[key] ?? (key === LOCAL_CONTEXT ? state.session : undefined);
}

export async function saveSession(opts: GlobalOptions, key: string, session: SavedSession): Promise<void> {
  await updateState(opts, (s) => {
    s.sessions = { ...s.sessions, [key]: session };
  });
}

export async function takeSession(opts: GlobalOptions, key: string): Promise<SavedSession | undefined> {
  const saved = await savedSession(opts, key);
  if (saved) {
    await updateState(opts, (s) => {
      if (s.sessions) delete s.sessions[key];
    });
  }
  return saved;
}
