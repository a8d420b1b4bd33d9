// The same suite as test/e2e/login-universal.test.ts, on a real `ssrun serve --database` over HTTPS, its store in PostgreSQL.
import { describe, it } from 'vitest';
import { useBackend } from '../../helpers/cli.js';
import { PG_SKIP } from '../../helpers/pg.js';

if (PG_SKIP) describe.skip(`login-universal on PostgreSQL (skipped: ${PG_SKIP})`, () => it('needs PostgreSQL', () => undefined));
else {
  useBackend('remote-pg');
  await import('../login-universal.test.js');
}
