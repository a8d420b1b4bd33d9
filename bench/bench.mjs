#!/usr/bin/env node
// npm run bench: prints the figures the issues ask for. Not a test: nothing here fails on a number.
//  1. cold `ssrun mfa get` against `node -e 0` (ratio; target <= 1.5)
//  2. `ssrun mfa get` with 1,000 configurations
//  3. `ssrun mfa assign-principal` with 100,000 users in the store against an empty store (target <= 1.2x)
//  4. `ssrun serve`: requests/s and p50/p99 latency of GET /multi_factor and of a password + Duo passcode
//     login, 50 connections (bench/server.mjs)
//  5. reads and API-key + TOTP logins per second: the SQLite server, 1 and 3 replicas on one PostgreSQL
//     (bench/replicas.mjs; needs PostgreSQL installed, BENCH_SKIP_REPLICAS=1 skips it)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openSqliteStore } from '../dist/store/sqlite.js';
import { printReplicaBench, replicaBench } from './replicas.mjs';
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
  const [node0, cold] = compare([
    { run: () => [process.execPath, ['-e', '0'], {}] },
    { run: () => [process.execPath, [BIN, 'mfa', 'get'], { SSRUN_HOME: small }] },
  ]);
  console.log(`1. cold start     node -e 0: ${fmt(node0.median)} (${fmt(node0.p90)})   ssrun mfa get: ${fmt(cold.median)} (${fmt(cold.p90)})   ratio ${(cold.median / node0.median).toFixed(2)} (target <= 1.5)`);

  const many = await seed('many', { configs: 1000, users: 1 });
  const [get1000] = compare([{ run: () => [process.execPath, [BIN, 'mfa', 'get'], { SSRUN_HOME: many }] }]);
  console.log(`2. mfa get, 1,000 configs: ${fmt(get1000.median)} (${fmt(get1000.p90)})`);

  const empty = await seed('empty', { configs: 1, users: RUNS + 2 });
  const big = await seed('big', { configs: 1, users: 100_000 });
  const assign = (home) => (i) => [process.execPath, [BIN, 'mfa', 'assign-principal', '-p', `principal/internal/user/user${i}`, '-m', `duo-user-${i}`, '-c', 'Config-00000'], { SSRUN_HOME: home }];
  const [aEmpty, aBig] = compare([{ run: assign(empty) }, { run: assign(big) }]);
  console.log(`3. assign-principal   ${RUNS + 2} users: ${fmt(aEmpty.median)} (${fmt(aEmpty.p90)})   100,000 users: ${fmt(aBig.median)} (${fmt(aBig.p90)})   ratio ${(aBig.median / aEmpty.median).toFixed(2)} (target <= 1.2)`);

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

  if (process.env.BENCH_SKIP_SERVER !== '1') printServerBench(await serverBench({ scratch }));
  if (process.env.BENCH_SKIP_REPLICAS !== '1') {
    if (existsSync('/usr/lib/postgresql')) printReplicaBench(await replicaBench(scratch));
    else console.log('5. replicas: skipped, PostgreSQL is not installed (apt-get install postgresql)');
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
