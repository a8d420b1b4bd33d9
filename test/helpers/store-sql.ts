// One SQL statement on the store the CLI under test uses, whatever the backend: the SQLite file (the home's, or
// the server's in remote mode) with better-sqlite3, or the server's PostgreSQL database with pg (remote-pg).
// The e2e suites use it to move recorded times and counters, and to damage rows, behind the binary's back.
//
// The statement is written once with `?` placeholders (translated to $1..$n for PostgreSQL) in SQL both
// dialects read alike. The schemas keep the same column types on both (src/store/schema.ts, pg-schema.ts):
// timestamps are ISO-8601 TEXT, flags INTEGER, no blobs; so a Date is passed as its ISO string on both. The one
// difference in what comes back: PostgreSQL's count(*) and other bigints, which pg returns as strings, are
// read here as numbers, as better-sqlite3 returns them.

import Database from 'better-sqlite3';
import pg from 'pg';
import { storeLocation } from './cli.js';

export interface StoreSqlResult<R> {
  /** The rows of a statement that returns rows (empty for one that does not). */
  rows: R[];
  /** How many rows an INSERT, UPDATE or DELETE changed (0, on both, for one that returns rows: use them). */
  changes: number;
}

type Param = string | number | null | Date;
const plain = (p: Param) => (p instanceof Date ? p.toISOString() : p);

/** `?` placeholders outside string literals and quoted names, numbered as PostgreSQL wants them. */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\?/g, (m) => (m === '?' ? `$${++n}` : m));
}

const INT8 = 20;
const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) };

export async function storeSql<R = Record<string, unknown>>(home: string, sql: string, params: Param[] = []): Promise<StoreSqlResult<R>> {
  const where = await storeLocation(home);
  const values = params.map(plain);
  if ('sqlite' in where) {
    const d = new Database(where.sqlite, { fileMustExist: true });
    try {
      const st = d.prepare(sql);
      return st.reader ? { rows: st.all(...values) as R[], changes: 0 } : { rows: [], changes: st.run(...values).changes };
    } finally {
      d.close();
    }
  }
  const c = new pg.Client({ connectionString: where.postgres, types });
  await c.connect();
  try {
    const r = await c.query(numberPlaceholders(sql), values);
    return { rows: r.rows as R[], changes: r.fields.length > 0 ? 0 : (r.rowCount ?? 0) };
  } finally {
    await c.end();
  }
}

/** The first column of the first row (undefined when there is none), like better-sqlite3's pluck().get(). */
export async function storeValue<T>(home: string, sql: string, params: Param[] = []): Promise<T | undefined> {
  const row = (await storeSql<Record<string, unknown>>(home, sql, params)).rows[0];
  return row === undefined ? undefined : (Object.values(row)[0] as T);
}
