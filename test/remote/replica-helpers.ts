// Several `ssrun serve --database` replicas on one PostgreSQL database, for the replica tests and the bench:
// each on 127.0.0.1 at a random port (plain HTTP on loopback), one --home for the key file, rate limits out of
// the way; root set up through the first one, and its token.

import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { BIN } from '../helpers/paths.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { http, type HttpAnswer } from './remote-helpers.js';

export const ROOT_PW = 'root-password-for-replica-tests-Zk3';
export const USER_PW = 'user-password-for-replica-tests-Pm8';

export interface Cluster {
  url: string;
  home: string;
  replicas: RunningServer[];
  rootToken: string;
  start(): Promise<RunningServer>;
}

export async function replicas(url: string, n: number): Promise<Cluster> {
  const home = join(mkdtempSync(join(tmpdir(), 'ssrun-replicas-')), 'home');
  const m = await execa(BIN, ['migrate', '--database', url, '--home', home], { reject: false, env: { NO_COLOR: '1' } });
  if (m.exitCode !== 0) throw new Error(`migrate: ${m.stderr}`);
  const start = () => startServer({ home, args: ['--database', url, '--rate-limit', '10000000', '--login-rate-limit', '10000000'] });
  const list = await Promise.all(Array.from({ length: n }, start));
  const init = await http(list[0]!.url, 'POST', '/init', { body: { password: ROOT_PW } });
  if (init.status !== 200) throw new Error(`init: ${init.text}`);
  const rootToken = (await loginUser(list[0]!, 'root', ROOT_PW)).body.access_token as string;
  return { url, home, replicas: list, rootToken, start };
}

export const loginUser = (s: RunningServer, username: string, password: string, mfa?: string): Promise<HttpAnswer> =>
  http(s.url, 'POST', '/connect/token/internal', { body: { username, password, ...(mfa !== undefined ? { mfa } : {}) } });
export const loginApp = (s: RunningServer, name: string, apiKey: string, mfa?: string): Promise<HttpAnswer> =>
  http(s.url, 'POST', '/connect/api_key_token', { body: { name, api_key: apiKey, ...(mfa !== undefined ? { mfa } : {}) } });

/** The current code of a TOTP secret, `offset` steps away; waits first when the step is about to end. */
export async function totpCode(secret: string, offset = 0): Promise<string> {
  const left = 30 - (Math.floor(Date.now() / 1000) % 30);
  if (left < 6) await new Promise((r) => setTimeout(r, left * 1000 + 200));
  return generate({ secret, digits: 6, period: 30, algorithm: 'sha1', epoch: Math.floor(Date.now() / 1000) + offset * 30 });
}
