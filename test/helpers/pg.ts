// PostgreSQL for the tests: the throwaway cluster of .ci/run (or of test/pg-setup.ts) is in
// SSRUN_TEST_DATABASE_URL; each caller gets a database of its own on it.

import pg from 'pg';

export const PG_URL = process.env.SSRUN_TEST_DATABASE_URL;
/** Why the PostgreSQL tests are skipped (printed once by test/pg-setup.ts), or undefined when they run. */
export const PG_SKIP = PG_URL ? undefined : (process.env.SSRUN_TEST_PG_SKIP ?? 'SSRUN_TEST_DATABASE_URL is not set');

let n = 0;
/** A new, empty database on the test cluster; its URL. */
export async function freshDatabase(prefix = 'ssrun'): Promise<string> {
  if (!PG_URL) throw new Error(`no PostgreSQL: ${PG_SKIP}`);
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${n++}`.toLowerCase();
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.href;
}

/** A database copied from another one (CREATE DATABASE … TEMPLATE: nobody may be connected to it). */
export async function copyDatabase(fromUrl: string, prefix = 'ssrun'): Promise<string> {
  const from = new URL(fromUrl).pathname.slice(1);
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${n++}`.toLowerCase();
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name} TEMPLATE ${from}`);
  } finally {
    await c.end();
  }
  const u = new URL(PG_URL!);
  u.pathname = `/${name}`;
  return u.href;
}

/** Runs fn on a plain client of this database (looking at, or tampering with, what is stored). */
export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
