#!/usr/bin/env node
// npm run bench: prints the figures of issue 14 (and earlier ones). Not a test: nothing here fails on a number.
// Every ratio is of two figures measured side by side in this run (the machine is noisy; ratios are not).
//  1. cold `ssrun mfa get` (3 configurations) and `ssrun --version` against `node -e 0` (paired, interleaved runs)
//  2. `ssrun mfa get` with 1,000 configurations against 3
//  3. `ssrun serve`: GET /multi_factor (10 configurations, root's token) against a bare fastify route answering
//     the same JSON; a password + Duo passcode login (bench/server.mjs)
//  4. logins with an application's API key + TOTP (no password hash) against single-row INSERT commits of
//     better-sqlite3 on the same disk (bench/logins.mjs)
//  5. a new connection's first GET /whoami and reads during a burst of 40 writers, over HTTPS (bench/burst.mjs)
//  6. peak RSS of a cold `mfa get` (beside 1) and of `serve` under the read load (beside 3)
//  A. `ssrun mfa assign-principal` with 100,000 users in the store against an empty store
//  R. reads and API-key + TOTP logins: the SQLite server, 1 and 3 replicas on one PostgreSQL
//     (bench/replicas.mjs; needs PostgreSQL installed)
// BENCH_SKIP_SERVER=1 skips 3-5, BENCH_SKIP_REPLICAS=1 skips R; BENCH_RUNS, BENCH_SERVE_SECONDS, BENCH_LOGINS shorten.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openSqliteStore } from '../dist/store/sqlite.js';
import { printReplicaBench, replicaBench } from './replicas.mjs';
import { burstBench, printBurstBench } from './burst.mjs';
import { loginBench, printLoginBench } from './logins.mjs';
import { printServerBench, serverBench } from './server.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'ssrun');
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const scratch = mkdtempSync(join(tmpdir(), 'ssrun-bench-'));

function timeOnce(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  execFileSync(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p90: q(0.9), min: s[0] };
}

/** Interleaves runs of several commands so machine noise hits them alike; returns stats per command. */
function compare(cases, runs = RUNS) {
  const samples = cases.map(() => []);
  for (const c of cases) timeOnce(...c.run(0)); // warm the page cache
  for (let i = 0; i < runs; i++) cases.forEach((c, k) => samples[k].push(timeOnce(...c.run(i + 1))));
  return samples.map(stats);
}

const fmt = (ms) => `${ms.toFixed(1)} ms`;
const ratio = (a, b) => (a.median / b.median).toFixed(2);

/** Peak RSS (MB) of one more run of the command, with bench/rss-probe.cjs preloaded (not one of the timed runs). */
function peakRss(args, env) {
  const file = join(scratch, 'rss');
  execFileSync(process.execPath, ['-r', join(ROOT, 'bench', 'rss-probe.cjs'), ...args], { env: { ...process.env, ...env, BENCH_RSS_FILE: file }, stdio: ['ignore', 'ignore', 'inherit'] });
  return `${(Number(readFileSync(file, 'utf8')) / 1024).toFixed(1)} MB`;
}
const fakeHash = '$scrypt$ln=17,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const config = (i) => ({ Type: 'duo', Name: `Config-${String(i).padStart(5, '0')}`, Options: { IntegrationKey: `DI${String(i).padStart(18, '0')}`, SecretKey: `bench-secret-${i}-xxxxxxxxxxxxxxxxxxxxxxxx`, Host: 'api-bench.duosecurity.com' } });

async function seed(name, { configs = 1, users = 1 }) {
  const home = join(scratch, name);
  const s = openSqliteStore({ home, masterKey: {} });
  const at = new Date().toISOString();
  await s.store.write(async (tx) => {
    for (let i = 0; i < configs; i++) await tx.insertConfig({ ...config(i), secretKeys: ['SecretKey'] }, at);
    for (let i = 0; i < users; i++) await tx.insertPrincipal('user', `user${i}`, fakeHash, at);
  });
  s.db.pragma('wal_checkpoint(TRUNCATE)');
  s.close();
  return home;
}

/** A home made through a binary's own CLI (any version): three Duo configurations. */
function seedWith(bin, name) {
  const home = join(scratch, name);
  for (let i = 0; i < 3; i++) execFileSync(process.execPath, [bin, 'mfa', 'create', '-f', '-'], { env: { ...process.env, SSRUN_HOME: home }, input: JSON.stringify(config(i)), stdio: ['pipe', 'ignore', 'ignore'] });
  return home;
}

try {
  console.log(`ssrun benchmark: node ${process.version}, ${RUNS} runs each, median (p90)\n`);

  const small = await seed('small', { configs: 3, users: 3 });
  const [node0, version, cold] = compare([
    { run: () => [process.execPath, ['-e', '0'], {}] },
    { run: () => [process.execPath, [BIN, '--version'], {}] },
    { run: () => [process.execPath, [BIN, 'mfa', 'get'], { SSRUN_HOME: small }] },
  ]);
  console.log(`1. cold start     node -e 0: ${fmt(node0.median)} (${fmt(node0.p90)})   ssrun --version: ${fmt(version.median)} (${fmt(version.p90)}) ratio ${ratio(version, node0)} (target <= 1.2)`);
  console.log(`                  ssrun mfa get (3 configs): ${fmt(cold.median)} (${fmt(cold.p90)}) ratio ${ratio(cold, node0)} (target <= 1.3)   6. peak RSS: mfa get ${peakRss([BIN, 'mfa', 'get'], { SSRUN_HOME: small })}, node -e 0 ${peakRss(['-e', '0'], {})}`);

  const many = await seed('many', { configs: 1000, users: 1 });
  const [get3, get1000] = compare([
    { run: () => [process.execPath, [BIN, 'mfa', 'get'], { SSRUN_HOME: small }] },
    { run: () => [process.execPath, [BIN, 'mfa', 'get'], { SSRUN_HOME: many }] },
  ]);
  console.log(`2. mfa get        3 configs: ${fmt(get3.median)} (${fmt(get3.p90)})   1,000 configs: ${fmt(get1000.median)} (${fmt(get1000.p90)})   ratio ${ratio(get1000, get3)} (target <= 1.5)`);

  const empty = await seed('empty', { configs: 1, users: RUNS + 2 });
  const big = await seed('big', { configs: 1, users: 100_000 });
  const assign = (home) => (i) => [process.execPath, [BIN, 'mfa', 'assign-principal', '-p', `principal/internal/user/user${i}`, '-m', `duo-user-${i}`, '-c', 'Config-00000'], { SSRUN_HOME: home }];
  const [aEmpty, aBig] = compare([{ run: assign(empty) }, { run: assign(big) }]);
  console.log(`A. assign-principal   ${RUNS + 2} users: ${fmt(aEmpty.median)} (${fmt(aEmpty.p90)})   100,000 users: ${fmt(aBig.median)} (${fmt(aBig.p90)})   ratio ${(aBig.median / aEmpty.median).toFixed(2)} (target <= 1.2)`);

  // BENCH_BASELINE=DIR (a built checkout of an earlier ssrun): its cold `mfa get` and ours, interleaved in this run.
  const baseline = process.env.BENCH_BASELINE;
  if (baseline) {
    const oldBin = join(resolve(baseline), 'bin', 'ssrun');
    const [homeOld, homeNew] = [seedWith(oldBin, 'baseline-old'), seedWith(BIN, 'baseline-new')];
    const [n0, before, after] = compare([
      { run: () => [process.execPath, ['-e', '0'], {}] },
      { run: () => [process.execPath, [oldBin, 'mfa', 'get'], { SSRUN_HOME: homeOld }] },
      { run: () => [process.execPath, [BIN, 'mfa', 'get'], { SSRUN_HOME: homeNew }] },
    ]);
    console.log(`1b. cold mfa get, baseline ${baseline}: ${fmt(before.median)} (ratio ${(before.median / n0.median).toFixed(2)})   this tree: ${fmt(after.median)} (ratio ${(after.median / n0.median).toFixed(2)})   this / baseline ${(after.median / before.median).toFixed(3)}`);
  }

  if (process.env.BENCH_SKIP_SERVER !== '1') {
    printServerBench(await serverBench({ scratch }));
    printLoginBench(await loginBench(scratch));
    printBurstBench(await burstBench({ scratch }));
  }
  if (process.env.BENCH_SKIP_REPLICAS !== '1') {
    if (existsSync('/usr/lib/postgresql')) printReplicaBench(await replicaBench(scratch));
    else console.log('R. replicas: skipped, PostgreSQL is not installed (apt-get install postgresql)');
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
