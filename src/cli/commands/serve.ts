// ssrun serve: the HTTP API over the store in --home. Plain HTTP only on a loopback address; SIGTERM and
// SIGINT finish the requests in flight, then close the database cleanly.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { SsrunError } from '../../core/errors.js';
import { isLoopbackHost } from '../address.js';
import { databaseUrl, io, openLocalDeps, openPgDeps, type GlobalOptions } from '../context.js';
import { printJson, printResult } from '../render.js';

export interface ServeOptions extends GlobalOptions {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  tokenTtl?: string;
  rateLimit?: string;
  loginRateLimit?: string;
  lockoutAllAddresses?: string;
  trustProxy?: string;
  requestTimeout?: string;
  publicUrl?: string;
  database?: string;
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!m || Number(m[3]) > 65535) throw new SsrunError('USAGE', `--listen: expected HOST:PORT such as 127.0.0.1:8443 or [::1]:8443, received ${JSON.stringify(value).slice(0, 80)}`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

/** --trust-proxy: addresses or CIDR blocks of the reverse proxies whose X-Forwarded-For is believed. */
function parseCidrs(value: string): string[] {
  const list = value.split(',').map((x) => x.trim());
  for (const c of list) {
    const [ip, bits, extra] = c.split('/');
    const family = isIP(ip ?? '');
    const max = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max))) {
      throw new SsrunError('USAGE', `--trust-proxy: ${JSON.stringify(c).slice(0, 60)} is not an address or CIDR block; expected e.g. 10.0.0.5 or 10.0.0.0/24[,…]`);
    }
  }
  return list;
}

function positive(value: string | undefined, flag: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1 || Number(value) > max) throw new SsrunError('USAGE', `${flag}: expected a whole number from 1 to ${max}, received ${JSON.stringify(value).slice(0, 40)}`);
  return Number(value);
}

function readPem(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new SsrunError('FILE_UNREADABLE', `${flag}: ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export async function serve(opts: ServeOptions): Promise<void> {
  const { host, port } = parseListen(opts.listen ?? '127.0.0.1:8443');
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new SsrunError('USAGE', '--tls-cert and --tls-key go together');
  const tls = opts.tlsCert !== undefined ? { cert: readPem(opts.tlsCert, '--tls-cert'), key: readPem(opts.tlsKey!, '--tls-key') } : undefined;
  if (!tls && !isLoopbackHost(host)) {
    throw new SsrunError('USAGE', `--listen ${host}: plain HTTP is served only on a loopback address (127.0.0.1, ::1); pass --tls-cert and --tls-key to listen on ${host}`);
  }
  const ttl = positive(opts.tokenTtl, '--token-ttl', 3600, 30 * 86400);
  const max = positive(opts.rateLimit, '--rate-limit', 1200, 10_000_000);
  const loginMax = positive(opts.loginRateLimit, '--login-rate-limit', 30, 10_000_000);
  const anywhere = positive(opts.lockoutAllAddresses, '--lockout-all-addresses', 50, 100);
  const trustProxy = opts.trustProxy === undefined ? undefined : parseCidrs(opts.trustProxy);
  const requestTimeoutMs = positive(opts.requestTimeout, '--request-timeout', 30, 600) * 1000;

  const url = databaseUrl(opts);
  const [{ home, opened, deps }, { buildServer }] = await Promise.all([url ? openPgDeps(opts, url) : openLocalDeps(opts, { server: true }), import('../../remote/server.js')]);
  const app = await buildServer({ deps: { ...deps, sessionTtlMs: ttl * 1000, lockout: { perAddress: 5, anywhere } }, https: tls, rateLimit: { max, loginMax }, trustProxy, requestTimeoutMs, publicUrl: opts.publicUrl });
  try {
    await app.listen({ host, port });
  } catch (e) {
    await opened.close();
    const code = (e as NodeJS.ErrnoException).code;
    throw new SsrunError('USAGE', `--listen ${host}:${port}: cannot listen (${code ?? (e as Error).message})`);
  }
  // Signals are handled before anything says "listening", so a supervisor may stop the server at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      io.notice(`${signal}: finishing requests in flight, then stopping`);
      // Requests get 10 s to finish (logins waiting on a device are cancelled at once); then connections are cut.
      const deadline = setTimeout(() => app.server.closeAllConnections(), 10_000);
      deadline.unref();
      // The store closes once the requests have ended (with their writes committed).
      const closeStore = () => Promise.resolve(opened.close()).catch(() => undefined);
      app.close().then(
        () =>
          closeStore().then(() => {
            io.notice('stopped');
            resolve();
          }),
        () => closeStore().then(() => resolve()),
      );
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });

  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const listening = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
  printJson({ Listening: listening, Store: opened.path });
  io.notice(`serving ${listening}/secretssafe/api/v1 for the store ${url ? `in ${opened.path}` : `in ${home}`}; SIGTERM or Ctrl-C stops`);
  if (!(await deps.store.getPrincipal('user', 'root'))?.credential) {
    io.notice('root has no password yet: run `ssrun init` now, from this machine (the server accepts it only from a loopback address)');
  }
  await stopped;
}

/** `ssrun migrate`: the schema of a PostgreSQL database (one transaction per version), its data key, the built-in configurations. */
export async function migrate(opts: GlobalOptions & { database?: string }): Promise<void> {
  const url = databaseUrl(opts);
  if (!url) throw new SsrunError('USAGE', 'migrate: pass --database postgres://USER@HOST:PORT/DB or set SSRUN_DATABASE_URL');
  const [{ pgOptions }, { migratePg }] = await Promise.all([import('../context.js'), import('../../store/postgres.js')]);
  const { open, home } = await pgOptions(opts, url);
  const r = await migratePg(open);
  if (r.dataKeyCreated) io.notice(`sealed a new data key in ${r.path} with the master key (SSRUN_MASTER_KEY, or the key file ${home}/master.key): back it up, the secrets cannot be read without it; every replica needs it`);
  await printResult({ Database: r.path, SchemaBefore: r.from, Schema: r.to });
}

