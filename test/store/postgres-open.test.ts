// `ssrun migrate` and `ssrun serve --database`: versioned schema (S4), refusal of a schema too new or too
// old with the command to run, of a foreign database, of a wrong or missing master key; the database
// password never in any output (S23), an unreachable server a clean STORE_UNREACHABLE.

import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoSecretsLeaked, expectRefused, json, ok, secret, ssrun, tempHome } from '../helpers/cli.js';
import { PG_SKIP, freshDatabase, withClient } from '../helpers/pg.js';

afterAll(() => {
  if (!PG_SKIP) expectNoSecretsLeaked();
});

const serveOnce = (home: string, url: string) => ssrun(['serve', '--listen', '127.0.0.1:0', '--database', url], { home, timeout: 20_000 });

describe.skipIf(PG_SKIP)(`ssrun migrate and serve --database${PG_SKIP ? ` (skipped: ${PG_SKIP})` : ''}`, () => {
  it('a replica refuses an empty database with the command to run; migrate creates the current schema, then has nothing to do', async () => {
    const url = await freshDatabase('open');
    const home = tempHome();
    const shown = url.replace(/^postgres:\/\/[^@]*@/, (m) => m);
    expectRefused(await serveOnce(home, url), 8, 'STORE_OLDER_SCHEMA', `run \`ssrun migrate --database ${shown}\``);
    const first = await ssrun(['migrate', '--database', url], { home });
    expect(json(ok(first))).toEqual({ Database: url, SchemaBefore: 0, Schema: 2 });
    expect(first.stderr).toContain('sealed a new data key');
    expect(json(ok(await ssrun(['migrate'], { home, env: { SSRUN_DATABASE_URL: url } })))).toEqual({ Database: url, SchemaBefore: 2, Schema: 2 });
    const tables = await withClient(url, async (c) => (await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename));
    expect(tables).toContain('attempts');
    expect(tables).toContain('meta');
  });

  it('two migrations at once: both succeed, one data key', async () => {
    const url = await freshDatabase('open');
    const key = randomBytes(32).toString('base64');
    const [a, b] = await Promise.all([0, 1].map(() => ssrun(['migrate', '--database', url], { home: tempHome(), env: { SSRUN_MASTER_KEY: key } })));
    ok(a);
    ok(b);
    expect(await withClient(url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM meta WHERE key = 'data_key'`)).rows[0].n)).toBe(1);
  });

  it('a schema newer than this ssrun is refused by migrate and serve, and left alone', async () => {
    const url = await freshDatabase('open');
    const home = tempHome();
    ok(await ssrun(['migrate', '--database', url], { home }));
    await withClient(url, (c) => c.query(`UPDATE meta SET value = '99' WHERE key = 'schema_version'`));
    expectRefused(await ssrun(['migrate', '--database', url], { home }), 8, 'STORE_NEWER_SCHEMA', 'schema 99');
    expectRefused(await serveOnce(home, url), 8, 'STORE_NEWER_SCHEMA', 'upgrade ssrun');
    expect(await withClient(url, async (c) => (await c.query(`SELECT value FROM meta WHERE key = 'schema_version'`)).rows[0].value)).toBe('99');
  });

  it('another program\'s database is refused, not migrated', async () => {
    const url = await freshDatabase('open');
    await withClient(url, (c) => c.query(`CREATE TABLE orders (id int)`));
    expectRefused(await ssrun(['migrate', '--database', url], { home: tempHome() }), 8, 'STORE_CORRUPT', 'not an ssrun database');
  });

  it('the master key: missing, or another one, is refused; the database holds no master key', async () => {
    const url = await freshDatabase('open');
    const key = secret(randomBytes(32).toString('base64'));
    ok(await ssrun(['migrate', '--database', url], { home: tempHome(), env: { SSRUN_MASTER_KEY: key } }));
    expectRefused(await serveOnce(tempHome(), url), 8, 'MASTER_KEY_MISSING', 'set SSRUN_MASTER_KEY');
    const other = randomBytes(32).toString('base64');
    expectRefused(await ssrun(['serve', '--listen', '127.0.0.1:0', '--database', url], { home: tempHome(), env: { SSRUN_MASTER_KEY: other }, timeout: 20_000 }), 8, 'MASTER_KEY_WRONG');
    const dump = await withClient(url, async (c) => JSON.stringify((await c.query(`SELECT * FROM meta`)).rows));
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(Buffer.from(key, 'base64').toString('hex'));
  });

  it('an unreachable database is STORE_UNREACHABLE, and its password (URL or PGPASSWORD) is never printed', async () => {
    const pw = secret(`Pw-${randomBytes(9).toString('hex')}`);
    const r = await ssrun(['migrate', '--database', `postgres://ssrun:${pw}@127.0.0.1:1/nowhere`], { home: tempHome() });
    expectRefused(r, 8, 'STORE_UNREACHABLE', 'postgres://ssrun@127.0.0.1:1/nowhere');
    const viaEnv = await ssrun(['serve', '--listen', '127.0.0.1:0'], { home: tempHome(), env: { SSRUN_DATABASE_URL: 'postgres://ssrun@127.0.0.1:1/nowhere', PGPASSWORD: pw } });
    expectRefused(viaEnv, 8, 'STORE_UNREACHABLE');
    const bad = await ssrun(['migrate', '--database', `mysql://root:${pw}@host/db`], { home: tempHome() });
    expectRefused(bad, 2, 'USAGE', 'expected a URL such as postgres://');
  });

  it('with the password in the URL, the server works and names the database without it', async () => {
    const url = await freshDatabase('open');
    const pw = secret(`Pw-${randomBytes(9).toString('hex')}`);
    const withPw = url.replace('postgres://ssrun@', `postgres://ssrun:${pw}@`);
    const home = tempHome();
    const m = ok(await ssrun(['migrate', '--database', withPw], { home }));
    expect(json(m).Database).toBe(url);
  });
});
