// Figure 4 of npm run bench: logins without a password hash (an application's API key, a SHA-256 digest, and a
// TOTP code) per second on the SQLite server, beside the rate of single-row INSERT commits better-sqlite3
// reaches in the same run, on the same disk, with the store's pragmas (WAL, synchronous=FULL): a login that
// commits once can reach about that rate. The login workload is also the replicas figure's (bench/replicas.mjs).
// A TOTP step is accepted once per principal, so each login is a different application's current code:
// LOGINS applications are made first, then logged in, 50 at a time, spread over the servers.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { call, eachLimit, expectCall, startServe } from './server.mjs';

const BIN = join(resolve(import.meta.dirname, '..'), 'bin', 'ssrun');
const ROOT_PASSWORD = 'root-password-for-the-bench-Vb4';

export const LOGINS = Number(process.env.BENCH_LOGINS ?? 1500);
const CONNECTIONS = 50;

/** RFC 6238, SHA-1, 6 digits, 30 s: what an authenticator app computes. */
export function totp(base32, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of base32.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** `n` applications, each assigned the built-in TOTP configuration, made through these servers: their credentials. */
export async function makeTotpApps(urls, token, n = LOGINS) {
  const apps = Array.from({ length: n }, (_, i) => `bench-app-${i}`);
  const creds = [];
  await eachLimit(apps, 16, async (name, i) => {
    const u = urls[i % urls.length];
    const { ApiKey } = await expectCall(u, 'POST', '/applications', 201, { token, body: { name } });
    const { Secret } = await expectCall(u, 'POST', '/multi_factor_assignments', 200, { token, body: { principal: `principal/internal/application/${name}`, config: 'totp' } });
    creds[i] = { name, ApiKey, Secret };
  });
  return creds;
}

/** Logs each application in once, 50 at a time: logins/s. */
export async function loginRate(urls, creds) {
  // Away from the end of a time step, so each code is the current one when it arrives.
  const left = 30 - (Math.floor(Date.now() / 1000) % 30);
  if (left < 12) await new Promise((r) => setTimeout(r, left * 1000 + 200));
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  await eachLimit(creds, CONNECTIONS, async (c, i) => {
    const r = await call(urls[i % urls.length], 'POST', '/connect/api_key_token', { body: { name: c.name, api_key: c.ApiKey, mfa: totp(c.Secret) } });
    if (r.status === 200) ok++;
    else failed++;
  });
  const seconds = (performance.now() - t0) / 1000;
  return { rps: ok / seconds, ok, failed };
}

/** Single-row INSERT commits per second on better-sqlite3 in `dir`, WAL and synchronous=FULL (the store's pragmas). */
export function insertCommitRate(dir, seconds = 2) {
  const Database = createRequire(import.meta.url)('better-sqlite3');
  const db = new Database(join(dir, 'insert-baseline.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, at TEXT NOT NULL, v TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO t (at, v) VALUES (?, ?)');
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      insert.run(new Date().toISOString(), `row-${n}`);
      n++;
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    db.close();
  }
}

/** Figure 4: API-key + TOTP logins/s on a fresh SQLite server, then the INSERT baseline in the same folder. */
export async function loginBench(scratch) {
  const home = join(scratch, 'logins');
  execFileSync(process.execPath, [BIN, 'init', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env: { ...process.env, SSRUN_HOME: home, NO_COLOR: '1' }, stdio: ['pipe', 'ignore', 'pipe'] });
  const before = insertCommitRate(home);
  const server = await startServe(['--home', home]);
  let logins;
  try {
    const { access_token: token } = await expectCall(server.url, 'POST', '/connect/token/internal', 200, { body: { username: 'root', password: ROOT_PASSWORD } });
    logins = await loginRate([server.url], await makeTotpApps([server.url], token));
  } finally {
    await server.stop();
  }
  // The disk's fsync rate drifts (other work on the machine): the baseline is the mean of a run just before
  // the logins and one just after.
  return { logins, inserts: (before + insertCommitRate(home)) / 2 };
}

export function printLoginBench({ logins, inserts }, indent = '   ') {
  const n = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  console.log(`4. logins without a password hash (application API key + TOTP), SQLite server, ${LOGINS} logins, ${CONNECTIONS} at a time, HTTP on 127.0.0.1`);
  console.log(`${indent}logins/s: ${n(logins.rps, 1)} (${logins.failed} failed)   single-row INSERT commits/s (better-sqlite3, WAL, synchronous=FULL, same disk, mean of one run before and one after): ${n(inserts, 1)}   ratio ${n(logins.rps / inserts, 2)} (target >= 0.5)`);
}
