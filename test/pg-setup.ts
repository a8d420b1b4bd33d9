// vitest globalSetup: when SSRUN_TEST_DATABASE_URL is not set (a developer's `npm test`; .ci/run sets it), start
// a throwaway PostgreSQL cluster with .ci/pg-cluster.sh if PostgreSQL is installed, and stop it at the end.
// Without PostgreSQL the tests that need it skip, and say why here once.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './helpers/paths.js';

export default function setup(): (() => void) | undefined {
  if (process.env.SSRUN_TEST_DATABASE_URL) return undefined;
  const installed = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').length > 0;
  if (!installed) {
    process.env.SSRUN_TEST_PG_SKIP = 'PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)';
    console.warn(`ssrun tests: skipping the PostgreSQL tests: ${process.env.SSRUN_TEST_PG_SKIP}`);
    return undefined;
  }
  const dir = join(mkdtempSync(join(tmpdir(), 'ssrun-pg-')), 'cluster');
  const script = join(ROOT, '.ci', 'pg-cluster.sh');
  try {
    process.env.SSRUN_TEST_DATABASE_URL = execFileSync('bash', [script, 'start', dir], { encoding: 'utf8' }).trim();
    process.env.SSRUN_TEST_PG_DIR = dir;
  } catch (e) {
    process.env.SSRUN_TEST_PG_SKIP = `the test cluster did not start (${(e as Error).message.split('\n')[0]})`;
    console.warn(`ssrun tests: skipping the PostgreSQL tests: ${process.env.SSRUN_TEST_PG_SKIP}`);
    return undefined;
  }
  return () => {
    execFileSync('bash', [script, 'stop', dir]);
    rmSync(dirname(dir), { recursive: true, force: true });
  };
}
