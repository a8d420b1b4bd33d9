// S2: a writer killed with SIGKILL at random moments, many times, never leaves a damaged store, never loses
// a commit it reported, and never leaves half a transaction behind. The child (crash-writer.mjs) writes
// through the Store port of the built code (one round in four with `ssrun serve`'s split store); each
// "add" transaction writes a config, a principal and its assignment (and an audit line) together.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, json, ssrun, tempHome } from '../helpers/cli.js';
import { dbPath, keyPath, raw, sqlite } from './util.js';

const WRITER = join(import.meta.dirname, 'crash-writer.mjs');
const ROUNDS = 24;
const MIN_ROUNDS = 12;
const BUDGET_MS = 32_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Round {
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/** Runs one writer and SIGKILLs it: either at a random moment after spawn (it may still be opening or
 *  creating the store) or at a random moment after it reported the store open. */
async function runAndKill(home: string, round: number, aggressive: boolean, early: boolean, split: boolean): Promise<Round> {
  const child = spawn(process.execPath, [WRITER, home, String(round), aggressive ? 'aggressive' : 'normal', ...(split ? ['split'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.startsWith('ready\n')) onReady();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  if (early) {
    await sleep(Math.random() * 250);
  } else {
    await Promise.race([ready, closed]);
    await sleep(5 + Math.random() * 400);
  }
  child.kill('SIGKILL');
  const { code, signal } = await closed;
  return { lines: out.split('\n').filter((l) => l !== ''), signal, code, stderr };
}

afterAll(() => expectNoSecretsLeaked());

describe('S2: SIGKILL at random moments', () => {
  it(`${ROUNDS} killed writers: integrity ok, every reported commit present, nothing half-applied`, async () => {
    const home = tempHome();
    const reportedAdds = new Map<number, number>(); // round -> highest reported index
    const reportedVersions = new Map<string, number>(); // config name -> last reported version
    const settled = new Map<number, number[]>(); // round -> indexes present once that round was checked
    const started = Date.now();
    let rounds = 0;
    let totalCommits = 0;

    for (let round = 0; round < ROUNDS; round++) {
      if (round >= MIN_ROUNDS && Date.now() - started > BUDGET_MS) break;
      const early = round % 4 === 0;
      // One round in four writes through `ssrun serve`'s split store (src/store/split-store.ts).
      const r = await runAndKill(home, round, round % 2 === 1, early, round % 4 === 2);
      rounds++;
      // It died of our SIGKILL, not of an error of its own.
      expect(r.stderr).toBe('');
      expect(r.signal).toBe('SIGKILL');

      for (const line of r.lines) {
        const [kind, rr, i, v] = line.split(' ');
        if (kind === 'add') {
          reportedAdds.set(Number(rr), Number(i));
          totalCommits++;
        } else if (kind === 'update') {
          reportedVersions.set(`c-${rr}-${i}`, Number(v));
          totalCommits++;
        } else expect(kind).toBe('ready');
      }
      if (!existsSync(dbPath(home))) {
        // Killed before it made anything: nothing can have been reported.
        expect(r.lines).toEqual([]);
        continue;
      }

      // 1. The database file is sound, WAL replayed by this open.
      const db = raw(home);
      try {
        expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
        expect(db.pragma('foreign_key_check')).toEqual([]);
        const userVersion = db.pragma('user_version', { simple: true }) as number;
        if (r.lines.includes('ready')) expect(userVersion).toBe(sqlite.SCHEMA_VERSION);

        if (userVersion === sqlite.SCHEMA_VERSION) {
          // 2. Nothing half-applied: configs, principals, assignments and audit lines come in complete sets.
          const configs = db.prepare(`SELECT name FROM mfa_configs WHERE name LIKE 'c-%'`).pluck().all() as string[]; // not the built-in totp
          const principals = db.prepare(`SELECT name FROM principals WHERE type = 'user'`).pluck().all() as string[];
          const triples = db
            .prepare(
              `SELECT c.name FROM assignments a JOIN principals p ON p.id = a.principal_id JOIN mfa_configs c ON c.id = a.config_id
               WHERE p.name = 'u-' || substr(c.name, 3) AND a.provider_user_id = 'duo-' || substr(c.name, 3)
                 AND p.credential = 'cred-' || substr(c.name, 3)`,
            )
            .pluck()
            .all() as string[];
          const audits = db.prepare(`SELECT principal FROM audit WHERE action = 'crash.add'`).pluck().all() as string[];
          const ids = (names: string[], prefix: string) => names.map((n) => n.slice(prefix.length)).sort();
          expect(ids(principals, 'u-')).toEqual(ids(configs, 'c-'));
          expect(ids(triples, 'c-')).toEqual(ids(configs, 'c-'));
          expect(ids(audits, 'principal/internal/user/u-')).toEqual(ids(configs, 'c-'));

          // 3. Every reported commit is there; at most the one in flight at the kill is there unreported.
          const present = new Map<number, number[]>();
          for (const name of configs) {
            const [, rr, i] = name.split('-');
            present.set(Number(rr), [...(present.get(Number(rr)) ?? []), Number(i)]);
          }
          for (let past = 0; past < round; past++) {
            // Earlier rounds: exactly what was settled after them, later writers did not disturb them.
            expect({ round: past, have: (present.get(past) ?? []).sort((a, b) => a - b) }).toEqual({ round: past, have: settled.get(past) ?? [] });
          }
          const last = reportedAdds.get(round) ?? -1;
          const have = (present.get(round) ?? []).sort((a, b) => a - b);
          const expected = Array.from({ length: last + 1 }, (_, k) => k);
          if (have.length === last + 2) expected.push(last + 1); // committed, killed before it could report
          expect({ round, have }).toEqual({ round, have: expected });
          settled.set(round, have);
        } else {
          // Killed while creating the store: it reported nothing, and holds no data.
          expect(r.lines).toEqual([]);
          expect(db.prepare(`SELECT count(*) FROM sqlite_schema WHERE name = 'mfa_configs'`).pluck().get()).toBe(0);
        }
      } finally {
        db.close();
      }

      // 4. The store opens through ssrun's own code with the key file, and every secret decrypts to the
      //    reported version (or the next one, when the kill came between commit and report).
      if (existsSync(keyPath(home))) {
        const s = sqlite.openSqliteStore({ home, masterKey: {} });
        try {
          for (const c of await s.store.listConfigs()) {
            if (c.Type !== 'duo') continue; // the built-in totp configuration has no secret
            const v = reportedVersions.get(c.Name) ?? 0;
            expect([`sk-${c.Name.slice(2)}-v${v}-${'s'.repeat(24)}`, `sk-${c.Name.slice(2)}-v${v + 1}-${'s'.repeat(24)}`]).toContain(c.Options.SecretKey);
          }
        } finally {
          s.close();
        }
      }
    }

    expect(rounds).toBeGreaterThanOrEqual(MIN_ROUNDS);
    // The kills did land among writes (not only before the first one).
    expect(totalCommits).toBeGreaterThan(rounds);

    // What a user sees afterwards: the CLI opens the store and lists every config and user.
    const got = await ssrun(['mfa', 'get'], { home });
    expect(got.stderr).toBe('');
    expect(got.exitCode).toBe(0);
    expect(got.stdout).not.toContain('sk-');
    const names = (json(got) as { Name: string }[]).map((c) => c.Name).filter((n) => n !== 'totp' && n !== 'webauthn'); // besides the built-ins
    const expectedCount = [...reportedAdds.values()].reduce((n, last) => n + last + 1, 0);
    expect(names.length).toBe([...settled.values()].reduce((n, have) => n + have.length, 0));
    expect(names.length).toBeGreaterThanOrEqual(expectedCount);
  }, 60_000);
});
