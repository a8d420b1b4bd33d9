// The replicas figure of npm run bench: one `ssrun serve` on SQLite, then 1 and 3 replicas of `ssrun serve --database` on
// one PostgreSQL (a throwaway cluster of .ci/pg-cluster.sh on 127.0.0.1), 50 connections in all:
//  a. authenticated reads: GET /multi_factor with root's token (autocannon, one instance per replica, the 50
//     connections shared among them, figures added up);
//  b. logins: an application's API key (a SHA-256 digest, not scrypt) + a TOTP code, as figure 4 makes them
//     (bench/logins.mjs), spread over the replicas; logins/s = LOGINS / elapsed.
// Runnable alone: `npm run build && node bench/replicas.mjs` (needs PostgreSQL installed).
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOGINS, loginRate, makeTotpApps } from './logins.mjs';
import { call, expectCall, startServe } from './server.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'ssrun');
const API = '/secretssafe/api/v1';
const SCRIPT = join(ROOT, '.ci', 'pg-cluster.sh');
const ROOT_PASSWORD = 'root-password-for-the-bench-Vb4';
const CONNECTIONS = 50;
const SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 10);


/** Reads and logins against these server URLs (the first one set up: root, applications with TOTP). */
async function measure(urls) {
  const base = urls[0];
  const { access_token: token } = await expectCall(base, 'POST', '/connect/token/internal', 200, { body: { username: 'root', password: ROOT_PASSWORD } });
  const creds = await makeTotpApps(urls, token);
  // reads
  const per = Math.floor(CONNECTIONS / urls.length);
  const results = await Promise.all(urls.map((u, i) => autocannon({ url: `${u}${API}/multi_factor`, headers: { authorization: `Bearer ${token}` }, connections: i === 0 ? CONNECTIONS - per * (urls.length - 1) : per, duration: SECONDS })));
  const reads = { rps: results.reduce((s, r) => s + r.requests.average, 0), p99: Math.max(...results.map((r) => r.latency.p99)), non2xx: results.reduce((s, r) => s + r.non2xx + r.errors, 0) };
  return { reads, logins: await loginRate(urls, creds) };
}

async function initHome(home) {
  execFileSync(process.execPath, [BIN, 'init', '--password-stdin'], { input: `${ROOT_PASSWORD}\n`, env: { ...process.env, SSRUN_HOME: home, NO_COLOR: '1' }, stdio: ['pipe', 'ignore', 'pipe'] });
}

export async function replicaBench(scratch) {
  const rows = [];
  const run = async (label, servers) => {
    try {
      rows.push({ label, ...(await measure(servers.map((s) => s.url))) });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  };
  const sqliteHome = join(scratch, 'sqlite');
  await initHome(sqliteHome);
  await run('SQLite, 1 server', [await startServe(['--home', sqliteHome])]);

  // Its own folder right under the temporary directory: the cluster's owner (postgres, when run as root) must reach it.
  const cluster = join(mkdtempSync(join(tmpdir(), 'ssrun-bench-pg-')), 'cluster');
  const admin = execFileSync('bash', [SCRIPT, 'start', cluster], { encoding: 'utf8' }).trim();
  try {
    for (const n of [1, 3]) {
      const db = `bench${n}`;
      execFileSync(process.execPath, ['-e', `const pg=require('pg');const c=new pg.Client(${JSON.stringify(admin)});c.connect().then(()=>c.query('CREATE DATABASE ${db}')).then(()=>c.end())`], { cwd: ROOT });
      const url = admin.replace(/\/postgres$/, `/${db}`);
      const home = join(scratch, `pg-${n}`);
      execFileSync(process.execPath, [BIN, 'migrate', '--database', url, '--home', home], { stdio: ['ignore', 'ignore', 'pipe'] });
      const servers = await Promise.all(Array.from({ length: n }, () => startServe(['--home', home, '--database', url])));
      const init = await call(servers[0].url, 'POST', '/init', { body: { password: ROOT_PASSWORD } });
      if (init.status !== 200) throw new Error(`init: ${JSON.stringify(init.body)}`);
      await run(`PostgreSQL, ${n} replica${n > 1 ? 's' : ''}`, servers);
    }
  } finally {
    execFileSync('bash', [SCRIPT, 'stop', cluster]);
    rmSync(resolve(cluster, '..'), { recursive: true, force: true });
  }
  return rows;
}

export function printReplicaBench(rows, indent = '   ') {
  const n = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  console.log(`R. replicas: ${CONNECTIONS} connections in all, reads ${SECONDS} s (autocannon), ${LOGINS} logins (application API key + TOTP code), HTTP on 127.0.0.1`);
  console.log(`${indent}${'store'.padEnd(24)} ${'reads/s'.padStart(9)} ${'p99 ms'.padStart(7)} ${'logins/s'.padStart(9)} ${'failed'.padStart(7)}`);
  for (const r of rows) console.log(`${indent}${r.label.padEnd(24)} ${n(r.reads.rps, 1).padStart(9)} ${n(r.reads.p99).padStart(7)} ${n(r.logins.rps, 1).padStart(9)} ${String(r.logins.failed + r.reads.non2xx).padStart(7)}`);
  console.log(`${indent}(2 cores: the replicas, PostgreSQL and the load generator share them; on separate machines the replicas add up)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const scratch = mkdtempSync(join(tmpdir(), 'ssrun-bench-replicas-'));
  try {
    printReplicaBench(await replicaBench(scratch));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
