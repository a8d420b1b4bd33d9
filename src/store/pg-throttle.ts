// The lockout's operations on PostgreSQL (see sqlite-ops.ts for the same on SQLite): counters by subject and
// client address ('*': every address), attempts in flight as leases. Inside a write transaction every one of
// them takes the subject's advisory lock first (pg-ops.ts), so a read-decide-write of one subject is one step
// across replicas, for known and unknown names alike.

import type { H, Ops } from './pg-ops.js';

export function throttleOps(h: H) {
  const { q, one, all, changed, subjectLock } = h;
  type Row = { failed_count: number; locked_until: string | null; last_success_at: string | null };
  const read = (subject: string, address: string) =>
    one<Row>(`SELECT failed_count, locked_until, last_success_at FROM throttle WHERE subject = $1 AND address = $2`, [subject, address]);
  const state = (r: Row | undefined) => ({ failedCount: r?.failed_count ?? 0, lockedUntil: r?.locked_until ?? null });
  /** A row with nothing to remember goes; one of a known-good address stays (for its last success). */
  const write = async (subject: string, address: string, s: { failedCount: number; lockedUntil: string | null }, at: string, lastSuccess: string | null) => {
    if (s.failedCount === 0 && s.lockedUntil === null && !lastSuccess) return void (await q(`DELETE FROM throttle WHERE subject = $1 AND address = $2`, [subject, address]));
    await q(`INSERT INTO throttle (subject, address, failed_count, locked_until, last_failure_at, last_success_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (subject, address) DO UPDATE SET failed_count = excluded.failed_count, locked_until = excluded.locked_until,
               last_failure_at = coalesce(excluded.last_failure_at, throttle.last_failure_at), last_success_at = excluded.last_success_at`,
      [subject, address, s.failedCount, s.lockedUntil, s.failedCount > 0 ? at : null, lastSuccess]);
  };
  return {
    // In a transaction, the subject's advisory lock is taken first and held to the end: attempts.ts reads,
    // decides and writes the subject's counters and attempts as one step.
    getThrottle: async (subject, address) => {
      await subjectLock(subject);
      const here = await read(subject, address);
      return { here: state(here), all: state(await read(subject, '*')), lastSuccessHere: here?.last_success_at ?? null };
    },
    saveThrottle: async (subject, address, t, at) => {
      await subjectLock(subject);
      await write(subject, address, t.here, at, t.lastSuccessHere ?? null);
      await write(subject, '*', t.all, at, null);
    },
    listThrottle: async (subject) =>
      (await all<Row & { address: string }>(`SELECT address, failed_count, locked_until FROM throttle WHERE subject = $1 AND (failed_count > 0 OR locked_until IS NOT NULL) ORDER BY address = '*' DESC, address`, [subject]))
        .map((r) => ({ address: r.address, failedCount: r.failed_count, lockedUntil: r.locked_until })),
    clearThrottle: async (subject) => {
      await subjectLock(subject);
      return changed(`DELETE FROM throttle WHERE subject = $1`, [subject]);
    },
    sweepThrottle: async (before, now, trustedSince) =>
      changed(`DELETE FROM throttle WHERE (locked_until IS NULL OR locked_until <= $1) AND (last_failure_at IS NULL OR last_failure_at < $2)
                AND (last_success_at IS NULL OR last_success_at < $3)`, [now, before, trustedSince]),
    countAttempts: async (subject, address, now) => {
      await subjectLock(subject);
      const expired = (await all<{ address: string }>(`DELETE FROM attempts WHERE subject = $1 AND expires_at <= $2 RETURNING address`, [subject, now])).map((r) => ({ address: r.address }));
      const n = (await one<{ here: number; all: number }>(`SELECT count(*) FILTER (WHERE address = $2)::int AS here, count(*)::int AS all FROM attempts WHERE subject = $1`, [subject, address]))!;
      return { here: n.here, all: n.all, expired };
    },
    insertAttempt: async (id, subject, address, expiresAt) => void (await q(`INSERT INTO attempts (id, subject, address, expires_at) VALUES ($1, $2, $3, $4)`, [id, subject, address, expiresAt])),
    extendAttempt: async (id, now, expiresAt) => (await changed(`UPDATE attempts SET expires_at = $1 WHERE id = $2 AND expires_at > $3`, [expiresAt, id, now])) === 1,
    // The subject's lock before the row's, in the order countAttempts takes them (no deadlock between the two).
    deleteAttempt: async (id, now) => {
      const found = await one<{ subject: string }>(`SELECT subject FROM attempts WHERE id = $1`, [id]);
      if (!found) return 'gone';
      await subjectLock(found.subject);
      const r = await one<{ expires_at: string }>(`DELETE FROM attempts WHERE id = $1 RETURNING expires_at`, [id]);
      if (!r) return 'gone';
      return r.expires_at > now ? 'live' : 'expired';
    },
  } satisfies Ops;
}
