// Runs the built binary (bin/ssrun) with execa in its own temporary SSRUN_HOME, and records everything it
// printed so each e2e file can assert that no secret ever reached stdout or stderr (S23).

import { execa, type Options } from 'execa';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { BIN, ROOT } from './paths.js';
import { startServer, stopAllServers, testTls, type RunningServer } from './server.js';

export { BIN, FIXTURES, ROOT } from './paths.js';

// ---- backends ----------------------------------------------------------------------------------------------
// The shared e2e suites run twice: on the embedded store (`local`), and on a real `ssrun serve` over HTTPS
// (`remote`; test/e2e/remote/*.test.ts select it). In remote mode each temporary home is a client home whose
// current context is its own server (started on first use, with a store where root is set up), and every
// command but login/logout/whoami runs with root's token in SSRUN_TOKEN, as an operator's CI would.

// `remote-pg` is `remote` with the server on a PostgreSQL database of the test cluster (`--database`): a
// template database (migrated, root set up through a server) copied for each server.
export type Backend = 'local' | 'remote' | 'remote-pg';
let backend: Backend = 'local';
export function useBackend(b: Backend): void {
  backend = b;
}
export const currentBackend = (): Backend => backend;

// Servers of the remote backends serve browser ceremonies (security keys) when a file asks for it: each is
// started on a port chosen first, with `--public-url https://localhost:PORT` (the test CA's certificate
// names localhost). Call before the first ssrun() of the file.
let publicUrl = false;
export function usePublicUrl(on = true): void {
  publicUrl = on;
}

/** A free port on 127.0.0.1 (closed again: the server binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
export const isRemote = (): boolean => backend !== 'local';

interface RemoteHome {
  server: RunningServer;
  serverHome: string;
  /** remote-pg: the URL of the server's own PostgreSQL database. */
  database?: string;
}
const remotes = new Map<string, Promise<RemoteHome>>();
let template: Promise<{ dir: string; token: string }> | undefined;
export const ROOT_PASSWORD = 'root-password-for-remote-tests-Qw7';

/** A server store with root's password set and a root session, copied for each server. */
function remoteTemplate(): Promise<{ dir: string; token: string }> {
  template ??= (async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ssrun-template-')), 'home');
    homes.push(dirname(dir));
    const env = { SSRUN_HOME: dir, NO_COLOR: '1' };
    const init = await execa(BIN, ['init', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env, reject: false });
    const login = await execa(BIN, ['login', '-u', 'root', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env, reject: false });
    if (init.exitCode !== 0 || login.exitCode !== 0) throw new Error(`remote template: ${init.stderr}\n${login.stderr}`);
    const token = (JSON.parse(readFileSync(join(dir, 'cli.json'), 'utf8')) as { sessions: { local: { token: string } } }).sessions.local.token;
    rmSync(join(dir, 'cli.json'));
    secret(token);
    secret(ROOT_PASSWORD);
    return { dir, token };
  })();
  return template;
}

let pgTemplate: Promise<{ dir: string; token: string; url: string }> | undefined;

/** A PostgreSQL database migrated, with root's password set and a root session, copied for each server. */
function remotePgTemplate(): Promise<{ dir: string; token: string; url: string }> {
  pgTemplate ??= (async () => {
    const { freshDatabase } = await import('./pg.js');
    const dir = join(mkdtempSync(join(tmpdir(), 'ssrun-pg-template-')), 'home');
    homes.push(dirname(dir));
    const url = await freshDatabase('template');
    const env = { SSRUN_HOME: dir, NO_COLOR: '1' };
    const migrated = await execa(BIN, ['migrate', '--database', url], { env, reject: false });
    if (migrated.exitCode !== 0) throw new Error(`remote-pg template: ${migrated.stderr}`);
    const server = await startServer({ home: dir, args: ['--database', url] });
    try {
      const client = join(dirname(dir), 'client');
      mkdirSync(client, { mode: 0o700 });
      const state = { current: 'srv', contexts: { srv: { host: '127.0.0.1', port: server.port, scheme: 'http', verify: true, version: 'v1' } } };
      writeFileSync(join(client, 'cli.json'), JSON.stringify(state), { mode: 0o600 });
      const cenv = { SSRUN_HOME: client, NO_COLOR: '1' };
      const init = await execa(BIN, ['init', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env: cenv, reject: false });
      const login = await execa(BIN, ['login', '-u', 'root', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env: cenv, reject: false });
      if (init.exitCode !== 0 || login.exitCode !== 0) throw new Error(`remote-pg template: ${init.stderr}\n${login.stderr}`);
      const token = (JSON.parse(readFileSync(join(client, 'cli.json'), 'utf8')) as { sessions: { srv: { token: string } } }).sessions.srv.token;
      secret(token);
      secret(ROOT_PASSWORD);
      return { dir, token, url };
    } finally {
      await server.stop();
    }
  })();
  return pgTemplate;
}

const rootToken = async () => (backend === 'remote-pg' ? remotePgTemplate() : remoteTemplate()).then((t) => t.token);

function remoteFor(home: string): Promise<RemoteHome> {
  let r = remotes.get(home);
  if (!r) {
    r = (async () => {
      const pg = backend === 'remote-pg';
      const [{ dir, url }, tls] = await Promise.all([pg ? remotePgTemplate() : remoteTemplate().then((t) => ({ ...t, url: undefined })), testTls()]);
      const serverHome = join(dirname(home), 'server');
      cpSync(dir, serverHome, { recursive: true });
      const database = url ? await (await import('./pg.js')).copyDatabase(url) : undefined;
      const port = publicUrl ? await freePort() : 0;
      const ceremonies = publicUrl ? ['--public-url', `https://localhost:${port}`] : [];
      const server = await startServer({ home: serverHome, tls, listen: `127.0.0.1:${port}`, args: ['--rate-limit', '1000000', '--login-rate-limit', '1000000', ...(database ? ['--database', database] : []), ...ceremonies] });
      mkdirSync(home, { recursive: true, mode: 0o700 });
      const state = { current: 'srv', contexts: { srv: { host: '127.0.0.1', port: server.port, scheme: 'https', verify: true, ca: tls.caFile, version: 'v1' } } };
      if (!existsSync(join(home, 'cli.json'))) writeFileSync(join(home, 'cli.json'), JSON.stringify(state), { mode: 0o600 });
      return { server, serverHome, database };
    })();
    remotes.set(home, r);
  }
  return r;
}

/** The server of this home (remote backends only). */
export async function serverOf(home: string): Promise<RunningServer> {
  if (backend === 'local') throw new Error('serverOf: the local backend has no server');
  return (await remoteFor(home)).server;
}

/** Where the store of this home's backend lives: the SQLite file (the server's, in remote mode), or the server's PostgreSQL database. */
export async function storeLocation(home: string): Promise<{ sqlite: string } | { postgres: string }> {
  if (backend === 'local') return { sqlite: join(home, 'ssrun.db') };
  const r = await remoteFor(home);
  return r.database ? { postgres: r.database } : { sqlite: join(r.serverHome, 'ssrun.db') };
}


const homes: string[] = [];
const captured: { args: string[]; text: string }[] = [];
const secrets = new Set<string>();

afterAll(async () => {
  await stopAllServers();
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

const SESSION_COMMANDS = new Set(['login', 'logout', 'whoami']);

/** The test process's environment less what would point ssrun elsewhere (a context, a token, a server, a key). */
function inherited(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(SSRUN_(CONTEXT|TOKEN|MASTER_KEY|DATABASE_URL)|SECRETSSAFE_)/.test(k)) out[k] = v;
  return out;
}

export async function ssrun(args: string[], opts: RunOptions): Promise<RunResult> {
  let backendEnv: Record<string, string> = {};
  if (backend !== 'local') {
    await remoteFor(opts.home);
    if (!SESSION_COMMANDS.has(args[0] ?? '')) backendEnv = { SSRUN_TOKEN: await rootToken() };
  }
  const options: Options = {
    reject: false,
    input: opts.input ?? '',
    cwd: opts.cwd ?? ROOT,
    // The developer's own context, token or server (exported in their shell) must not choose what a test runs on.
    env: { ...inherited(), SSRUN_HOME: opts.home, NO_COLOR: '1', ...backendEnv, ...opts.env },
    extendEnv: false,
    timeout: opts.timeout ?? 60_000,
    stripFinalNewline: false,
  };
  const r = await execa(BIN, args, options);
  const result = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
  if (!opts.revealsSecrets) captured.push({ args, text: `${result.stdout}\n${result.stderr}` });
  return result;
}

/** The run succeeded (exit 0); otherwise fails showing everything it printed. */
export function ok(r: RunResult): RunResult {
  if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** A refusal: this exit code, nothing on stdout, one line on stderr carrying the message and the code. */
export function expectRefused(r: RunResult, exitCode: number, code: string, message?: string | RegExp): void {
  expect(r.stdout, `stdout of a refusal (stderr: ${r.stderr})`).toBe('');
  expect(r.stderr).toMatch(new RegExp(`^ssrun: error: [^\\n]+ \\(${code}\\)\\n$`));
  if (typeof message === 'string') expect(r.stderr).toContain(message);
  else if (message) expect(r.stderr).toMatch(message);
  expect(r.exitCode).toBe(exitCode);
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
