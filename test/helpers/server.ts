// A real `ssrun serve` for tests: the built binary on 127.0.0.1 at a random port, HTTPS with a certificate
// made at test time (or plain HTTP on loopback), stopped with SIGTERM by the test (and killed with the test
// process at the latest: execa's cleanup).

import { execa, type ResultPromise } from 'execa';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT } from './paths.js';
import { makeCertificate } from './tls.js';

export interface Tls {
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

let shared: Promise<Tls> | undefined;

/** A CA and a server certificate for 127.0.0.1, written under dir (made once per test file when dir is omitted). */
export function testTls(dir?: string): Promise<Tls> {
  const make = async (d: string) => {
    mkdirSync(d, { recursive: true });
    const { caPem, key, cert } = await makeCertificate();
    const tls = { caPem, caFile: join(d, 'ca.pem'), certFile: join(d, 'server.pem'), keyFile: join(d, 'server.key') };
    writeFileSync(tls.caFile, caPem);
    writeFileSync(tls.certFile, cert);
    writeFileSync(tls.keyFile, key, { mode: 0o600 });
    return tls;
  };
  if (dir) return make(dir);
  shared ??= make(mkdtempSync(join(tmpdir(), 'ssrun-test-tls-')));
  return shared;
}

export interface RunningServer {
  url: string;
  port: number;
  home: string;
  process: ResultPromise;
  stderr(): string;
  /** SIGTERM, then wait for the exit (SIGKILL after 10 s); resolves to the exit code. */
  stop(): Promise<number | undefined>;
}

const running = new Set<RunningServer>();

export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

export interface StartOptions {
  home: string;
  /** HTTPS with this certificate; plain HTTP (loopback) when omitted. */
  tls?: Tls;
  args?: string[];
  env?: Record<string, string>;
  /** The address to listen on (default 127.0.0.1:0, a random port). */
  listen?: string;
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const args = ['serve', '--home', opts.home, '--listen', opts.listen ?? '127.0.0.1:0', ...(opts.tls ? ['--tls-cert', opts.tls.certFile, '--tls-key', opts.tls.keyFile] : []), ...(opts.args ?? [])];
  const child = execa(BIN, args, { reject: false, cwd: ROOT, env: { NO_COLOR: '1', ...opts.env }, stdin: 'ignore', buffer: false, cleanup: true });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const listening = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ssrun serve did not start in 20 s:\n${err}`)), 20_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      try {
        const url = (JSON.parse(out) as { Listening: string }).Listening;
        clearTimeout(timer);
        resolve(url);
      } catch {
        // not the whole JSON yet
      }
    });
    void child.then((r) => {
      clearTimeout(timer);
      reject(new Error(`ssrun serve exited with ${r.exitCode} before listening:\n${err}`));
    });
  });
  let exit: Promise<number | undefined> | undefined;
  const server: RunningServer = {
    url: listening,
    port: Number(new URL(listening).port),
    home: opts.home,
    process: child,
    stderr: () => err,
    stop: () =>
      (exit ??= (async () => {
        running.delete(server);
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const r = await child;
        clearTimeout(timer);
        return r.exitCode;
      })()),
  };
  running.add(server);
  return server;
}
