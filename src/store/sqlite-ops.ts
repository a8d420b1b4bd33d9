// The Store port's operations on better-sqlite3, one prepared statement each (cached). Secrets are sealed
// with the data key (see cipher.ts) on the way in and opened on the way out: the options a provider marks
// secret, and an assignment's factor secret.

import type DatabaseConstructor from 'better-sqlite3';
import { createHmac, randomUUID } from 'node:crypto';
import { SsrunError } from '../core/errors.js';
import type { AuditEntry, ConfigType, Group, Policy, PrincipalType, Session, StoredConfig } from '../core/model.js';
import { principalPath } from '../core/model.js';
import type { StoreOps } from '../core/ports.js';
import { keyOps } from './sqlite-keys.js';
import { AUTHZ_SELECT, PRINCIPAL_SELECT, sealing, toAuthz, toPrincipal, type AuthzRow, type ConfigRow, type PrincipalRow } from './rows.js';

type Database = DatabaseConstructor.Database;

/** The port's operations as better-sqlite3 runs them: synchronously. */
export type SyncOps = { [K in keyof StoreOps]: (...args: Parameters<StoreOps[K]>) => Awaited<ReturnType<StoreOps[K]>> };

interface PolicyRow { id: string; name: string; factors: string; enroll_within_days: number; reverify_after_hours: number | null; active: number; created_at: string; updated_at: string }

/** Prepared statements (cached), row mappers and the sealing of secrets, shared by the groups of operations below. */
function rows(db: Database, dataKey: Buffer) {
  const cache = new Map<string, DatabaseConstructor.Statement>();
  const stmt = (sql: string) => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };

  const { splitOptions, toConfig, forgetConfig, sealFactorSecret, openFactorSecret } = sealing(dataKey);

  const toGroup = (r: { id: string; name: string; created_at: string }): Group => ({
    id: r.id,
    name: r.name,
    createdAt: r.created_at,
    members: (stmt(`SELECT p.type, p.name FROM group_members m JOIN principals p ON p.id = m.principal_id WHERE m.group_id = ? ORDER BY p.type, p.name`).all(r.id) as { type: PrincipalType; name: string }[])
      .map((m) => principalPath(m.type, m.name)),
  });
  const toPolicy = (r: PolicyRow): Policy => ({
    Name: r.name,
    Factors: JSON.parse(r.factors) as Policy['Factors'],
    EnrollWithinDays: r.enroll_within_days,
    ReverifyAfterHours: r.reverify_after_hours,
    Targets: (stmt(`SELECT coalesce('principal/internal/group/' || g.name, 'principal/internal/' || p.type || '/' || p.name) AS path
                    FROM policy_targets t LEFT JOIN groups g ON g.id = t.group_id LEFT JOIN principals p ON p.id = t.principal_id
                    WHERE t.policy_id = ? ORDER BY t.position`).pluck().all(r.id) as string[]),
    Active: r.active === 1,
    CreatedAt: r.created_at,
    UpdatedAt: r.updated_at,
  });

  function configId(name: string): string {
    const id = stmt(`SELECT id FROM mfa_configs WHERE name = ?`).pluck().get(name) as string | undefined;
    if (!id) throw new SsrunError('CONFIG_NOT_FOUND', `MFA configuration ${JSON.stringify(name)} not found`);
    return id;
  }

  // A credential or MFA change revokes every session of the principal: the epoch check refuses old tokens,
  // and the rows go too.
  const raiseEpoch = (principalId: string, at: string) => {
    stmt(`UPDATE principals SET epoch = epoch + 1, updated_at = ? WHERE id = ?`).run(at, principalId);
    stmt(`DELETE FROM sessions WHERE principal_id = ?`).run(principalId);
  };


  return { stmt, inTransaction: () => db.inTransaction, dataKey, sealFactorSecret, openFactorSecret, splitOptions, toConfig, forgetConfig, toGroup, toPolicy, PRINCIPAL_SELECT, toPrincipal, configId, raiseEpoch, toAuthz, AUTHZ_SELECT };
}

type Rows = ReturnType<typeof rows>;

function configOps(r: Rows) {
  const { stmt, splitOptions, toConfig, configId } = r;
  // The configurations as last listed, while nothing changed them: this connection's own changes count in
  // `changes` (even those rolled back: a miss), another connection's commits change SQLite's data_version.
  let changes = 0;
  let listed: { version: number; changes: number; configs: StoredConfig[] } | undefined;
  const copy = (c: StoredConfig): StoredConfig => ({ ...c, Options: { ...c.Options } });
  return {
    listConfigs: () => {
      // Inside a transaction the list may hold changes that roll back: read, never kept.
      if (r.inTransaction()) return (stmt(`SELECT * FROM mfa_configs ORDER BY name`).all() as ConfigRow[]).map(toConfig).map(copy);
      const version = stmt(`PRAGMA data_version`).pluck().get() as number;
      if (listed?.version !== version || listed.changes !== changes) {
        listed = { version, changes, configs: (stmt(`SELECT * FROM mfa_configs ORDER BY name`).all() as ConfigRow[]).map(toConfig) };
      }
      return listed.configs.map(copy);
    },
    getConfig: (name) => {
      const row = stmt(`SELECT * FROM mfa_configs WHERE name = ?`).get(name) as ConfigRow | undefined;
      return row ? toConfig(row) : undefined;
    },
    findConfig: (name) => {
      const row = stmt(`SELECT name, type FROM mfa_configs WHERE name = ?`).get(name) as { name: string; type: ConfigType } | undefined;
      return row ? { Name: row.name, Type: row.type } : undefined;
    },
    insertConfig: (config, at) => {
      changes++;
      const id = randomUUID();
      const { options, secrets } = splitOptions(config, id);
      stmt(`INSERT INTO mfa_configs (id, name, type, options, secrets, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(id, config.Name, config.Type, options, secrets, at, at);
      return toConfig(stmt(`SELECT * FROM mfa_configs WHERE id = ?`).get(id) as ConfigRow);
    },
    updateConfig: (name, config, at) => {
      changes++;
      const id = configId(name);
      const { options, secrets } = splitOptions(config, id);
      stmt(`UPDATE mfa_configs SET options = ?, secrets = ?, updated_at = ? WHERE id = ?`).run(options, secrets, at, id);
      return toConfig(stmt(`SELECT * FROM mfa_configs WHERE id = ?`).get(id) as ConfigRow);
    },
    deleteConfig: (name) => {
      changes++;
      const id = configId(name);
      stmt(`DELETE FROM mfa_configs WHERE id = ?`).run(id);
      r.forgetConfig(id);
    },
    principalsOfConfig: (name) =>
      (stmt(`SELECT p.type, p.name, a.provider_user_id, a.assigned_at, a.pending FROM assignments a JOIN principals p ON p.id = a.principal_id
             JOIN mfa_configs c ON c.id = a.config_id WHERE c.name = ? ORDER BY p.type, p.name`).all(name) as { type: PrincipalType; name: string; provider_user_id: string; assigned_at: string; pending: number }[])
        .map((r) => ({ path: principalPath(r.type, r.name), providerUserId: r.provider_user_id, assignedAt: r.assigned_at, pending: r.pending === 1 })),

    configTypes: () => stmt(`SELECT name, type FROM mfa_configs`).all() as { name: string; type: ConfigType }[],
  } satisfies Partial<SyncOps>;
}

function principalOps(r: Rows) {
  const { stmt, PRINCIPAL_SELECT, toPrincipal, raiseEpoch } = r;
  return {
    listPrincipals: (type) => (stmt(`${PRINCIPAL_SELECT} WHERE p.type = ? ORDER BY p.name`).all(type) as PrincipalRow[]).map(toPrincipal),
    getPrincipal: (type, name) => {
      const row = stmt(`${PRINCIPAL_SELECT} WHERE p.type = ? AND p.name = ?`).get(type, name) as PrincipalRow | undefined;
      return row ? toPrincipal(row) : undefined;
    },
    getPrincipalById: (id) => {
      const row = stmt(`${PRINCIPAL_SELECT} WHERE p.id = ?`).get(id) as PrincipalRow | undefined;
      return row ? toPrincipal(row) : undefined;
    },
    insertPrincipal: (type, name, credential, at) => {
      const id = randomUUID();
      stmt(`INSERT INTO principals (id, type, name, credential, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`).run(id, type, name, credential, at, at);
      return toPrincipal(stmt(`${PRINCIPAL_SELECT} WHERE p.id = ?`).get(id) as PrincipalRow);
    },
    setCredential: (principalId, credential, at) => {
      stmt(`UPDATE principals SET credential = ?, updated_at = ? WHERE id = ?`).run(credential, at, principalId);
      raiseEpoch(principalId, at);
    },
    deletePrincipal: (principalId) => void stmt(`DELETE FROM principals WHERE id = ?`).run(principalId),

    setLastMfa: (principalId, at) => void stmt(`UPDATE principals SET last_mfa_at = ? WHERE id = ?`).run(at, principalId),
  } satisfies Partial<SyncOps>;
}

function assignmentOps(r: Rows) {
  const { stmt, dataKey, configId, raiseEpoch, sealFactorSecret, openFactorSecret } = r;
  return {
    assign: (principalId, configName, providerUserId, at, state) => {
      const sealed = sealFactorSecret(principalId, state?.secret);
      stmt(`INSERT INTO assignments (principal_id, config_id, provider_user_id, assigned_at, secret, pending, last_step) VALUES (?, ?, ?, ?, ?, ?, NULL)
            ON CONFLICT (principal_id) DO UPDATE SET config_id = excluded.config_id, provider_user_id = excluded.provider_user_id,
              assigned_at = excluded.assigned_at, secret = excluded.secret, pending = excluded.pending, last_step = NULL`)
        .run(principalId, configId(configName), providerUserId, at, sealed, state?.pending ? 1 : 0);
      stmt(`DELETE FROM factor_keys WHERE principal_id = ?`).run(principalId);
      raiseEpoch(principalId, at);
    },
    getFactorState: (principalId) => {
      const r = stmt(`SELECT secret, last_step, pending FROM assignments WHERE principal_id = ?`).get(principalId) as { secret: string | null; last_step: number | null; pending: number } | undefined;
      if (!r) return undefined;
      const secret = openFactorSecret(principalId, r.secret);
      return { secret, counter: r.last_step, pending: r.pending === 1 };
    },
    advanceCounter: (principalId, value) =>
      stmt(`UPDATE assignments SET last_step = ? WHERE principal_id = ? AND (last_step IS NULL OR last_step < ?)`).run(value, principalId, value).changes === 1,
    confirmAssignment: (principalId) => void stmt(`UPDATE assignments SET pending = 0 WHERE principal_id = ?`).run(principalId),

    unassign: (principalId, at) => {
      stmt(`DELETE FROM assignments WHERE principal_id = ?`).run(principalId);
      stmt(`DELETE FROM factor_keys WHERE principal_id = ?`).run(principalId);
      raiseEpoch(principalId, at);
    },
    recoveryDigest: (principalId, code) => createHmac('sha256', dataKey).update(`recovery:${principalId}:${code}`).digest('hex'),
    replaceRecoveryCodes: (principalId, digests, at) => {
      stmt(`DELETE FROM recovery_codes WHERE principal_id = ?`).run(principalId);
      for (const d of digests) stmt(`INSERT INTO recovery_codes (principal_id, digest, created_at) VALUES (?, ?, ?)`).run(principalId, d, at);
    },
    useRecoveryCode: (principalId, digest, at) =>
      stmt(`UPDATE recovery_codes SET used_at = ? WHERE principal_id = ? AND digest = ? AND used_at IS NULL`).run(at, principalId, digest).changes === 1,
    recoveryCodesLeft: (principalId) => stmt(`SELECT count(*) FROM recovery_codes WHERE principal_id = ? AND used_at IS NULL`).pluck().get(principalId) as number,
  } satisfies Partial<SyncOps>;
}

function sessionOps(r: Rows) {
  const { stmt, toAuthz, AUTHZ_SELECT } = r;
  return {
    insertSession: (s: Session) => void stmt(`INSERT INTO sessions (token_hash, principal_id, epoch, factor, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(s.tokenHash, s.principalId, s.epoch, s.factor, s.createdAt, s.expiresAt),
    deleteSession: (tokenHash) => stmt(`DELETE FROM sessions WHERE token_hash = ?`).run(tokenHash).changes > 0,
    getSession: (tokenHash) => {
      const r = stmt(`SELECT * FROM sessions WHERE token_hash = ?`).get(tokenHash) as
        | { token_hash: string; principal_id: string; epoch: number; factor: string; created_at: string; expires_at: string }
        | undefined;
      return r ? { tokenHash: r.token_hash, principalId: r.principal_id, epoch: r.epoch, factor: r.factor, createdAt: r.created_at, expiresAt: r.expires_at } : undefined;
    },

    deleteExpiredSessions: (now) => stmt(`DELETE FROM sessions WHERE expires_at <= ?`).run(now).changes,

    deleteSessionsExcept: (principalId, keep) => stmt(`DELETE FROM sessions WHERE principal_id = ? AND token_hash IS NOT ?`).run(principalId, keep ?? null).changes,

    listAuthorizations: (principalId) =>
      (principalId === undefined
        ? (stmt(`${AUTHZ_SELECT} ORDER BY p.type, p.name, z.resource, z.operation`).all() as AuthzRow[])
        : (stmt(`${AUTHZ_SELECT} WHERE z.principal_id = ? ORDER BY z.resource, z.operation`).all(principalId) as AuthzRow[])
      ).map(toAuthz),
    findAuthorization: (principalId, operation, resource) => {
      const r = stmt(`${AUTHZ_SELECT} WHERE z.principal_id = ? AND z.operation = ? AND z.resource = ?`).get(principalId, operation, resource) as AuthzRow | undefined;
      return r ? toAuthz(r) : undefined;
    },
    insertAuthorization: (principalId, operation, effect, resource, at) => {
      stmt(`INSERT INTO authorizations (principal_id, operation, effect, resource, created_at) VALUES (?, ?, ?, ?, ?)`).run(principalId, operation, effect, resource, at);
      return toAuthz(stmt(`${AUTHZ_SELECT} WHERE z.principal_id = ? AND z.operation = ? AND z.resource = ?`).get(principalId, operation, resource) as AuthzRow);
    },
    deleteAuthorization: (principalId, operation, resource) =>
      stmt(`DELETE FROM authorizations WHERE principal_id = ? AND operation = ? AND resource = ?`).run(principalId, operation, resource).changes > 0,
  } satisfies Partial<SyncOps>;
}

function groupOps(r: Rows) {
  const { stmt, toGroup, toPolicy } = r;
  return {
    insertGroup: (name, at) => {
      const id = randomUUID();
      stmt(`INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)`).run(id, name, at);
      return { id, name, createdAt: at, members: [] };
    },
    getGroup: (name) => {
      const r = stmt(`SELECT * FROM groups WHERE name = ?`).get(name) as { id: string; name: string; created_at: string } | undefined;
      return r ? toGroup(r) : undefined;
    },
    listGroups: () => (stmt(`SELECT * FROM groups ORDER BY name`).all() as { id: string; name: string; created_at: string }[]).map(toGroup),
    deleteGroup: (groupId) => void stmt(`DELETE FROM groups WHERE id = ?`).run(groupId),
    addMember: (groupId, principalId, at) =>
      stmt(`INSERT INTO group_members (group_id, principal_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`).run(groupId, principalId, at).changes === 1,
    removeMember: (groupId, principalId) => stmt(`DELETE FROM group_members WHERE group_id = ? AND principal_id = ?`).run(groupId, principalId).changes === 1,
    groupsOf: (principalId) =>
      (stmt(`SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.principal_id = ? ORDER BY g.name`).pluck().all(principalId) as string[]).map((n) => `principal/internal/group/${n}`),

    listPolicies: () => (stmt(`SELECT * FROM policies ORDER BY name`).all() as PolicyRow[]).map(toPolicy),
    getPolicy: (name) => {
      const r = stmt(`SELECT * FROM policies WHERE name = ?`).get(name) as PolicyRow | undefined;
      return r ? toPolicy(r) : undefined;
    },
    savePolicy: (p, targets, at) => {
      const existing = stmt(`SELECT id, created_at FROM policies WHERE name = ?`).get(p.Name) as { id: string; created_at: string } | undefined;
      const id = existing?.id ?? randomUUID();
      const factors = JSON.stringify(p.Factors);
      if (existing) {
        stmt(`UPDATE policies SET factors = ?, enroll_within_days = ?, reverify_after_hours = ?, active = ?, updated_at = ? WHERE id = ?`)
          .run(factors, p.EnrollWithinDays, p.ReverifyAfterHours, p.Active ? 1 : 0, at, id);
        stmt(`DELETE FROM policy_targets WHERE policy_id = ?`).run(id);
      } else {
        stmt(`INSERT INTO policies (id, name, factors, enroll_within_days, reverify_after_hours, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(id, p.Name, factors, p.EnrollWithinDays, p.ReverifyAfterHours, p.Active ? 1 : 0, at, at);
      }
      targets.forEach((t, i) =>
        stmt(`INSERT INTO policy_targets (policy_id, position, group_id, principal_id) VALUES (?, ?, ?, ?)`).run(id, i, t.kind === 'group' ? t.id : null, t.kind === 'principal' ? t.id : null),
      );
      return toPolicy(stmt(`SELECT * FROM policies WHERE id = ?`).get(id) as PolicyRow);
    },
    deletePolicy: (name) => void stmt(`DELETE FROM policies WHERE name = ?`).run(name),

    firstApplied: (principalId) => stmt(`SELECT first_applied_at FROM policy_subjects WHERE principal_id = ?`).pluck().get(principalId) as string | undefined,
    setFirstApplied: (principalId, at, overwrite) =>
      void stmt(`INSERT INTO policy_subjects (principal_id, first_applied_at) VALUES (?, ?) ON CONFLICT (principal_id) DO ${overwrite ? 'UPDATE SET first_applied_at = excluded.first_applied_at' : 'NOTHING'}`).run(principalId, at),
    audit: (e: AuditEntry) => void stmt(`INSERT INTO audit (at, principal, action, outcome, detail, actor, source) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(e.at, e.principal, e.action, e.outcome, e.detail, e.actor ?? '', e.source ?? ''),
    listAudit: ({ since, principal, limit }) =>
      (stmt(`SELECT * FROM (SELECT id, at, actor, source, action, principal, outcome, detail FROM audit
              WHERE (@since IS NULL OR at >= @since) AND (@principal IS NULL OR principal = @principal COLLATE NOCASE OR actor = @principal COLLATE NOCASE)
              ORDER BY id DESC LIMIT @limit) ORDER BY id`).all({ since: since ?? null, principal: principal ?? null, limit }) as
        { id: number; at: string; actor: string; source: string; action: string; principal: string; outcome: string; detail: string }[])
        .map((r) => ({ Id: r.id, At: r.at, Actor: r.actor, Source: r.source, Action: r.action, Principal: r.principal, Outcome: r.outcome, Detail: r.detail })),
  } satisfies Partial<SyncOps>;
}

function throttleOps({ stmt }: Rows) {
  type Row = { failed_count: number; locked_until: string | null; last_success_at: string | null };
  const read = (subject: string, address: string) =>
    stmt(`SELECT failed_count, locked_until, last_success_at FROM throttle WHERE subject = ? AND address = ?`).get(subject, address) as Row | undefined;
  const state = (r: Row | undefined) => ({ failedCount: r?.failed_count ?? 0, lockedUntil: r?.locked_until ?? null });
  /** A row with nothing to remember goes; one of a known-good address stays (for its last success). */
  const write = (subject: string, address: string, s: { failedCount: number; lockedUntil: string | null }, at: string, lastSuccess: string | null) => {
    if (s.failedCount === 0 && s.lockedUntil === null && !lastSuccess) return void stmt(`DELETE FROM throttle WHERE subject = ? AND address = ?`).run(subject, address);
    stmt(`INSERT INTO throttle (subject, address, failed_count, locked_until, last_failure_at, last_success_at) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (subject, address) DO UPDATE SET failed_count = excluded.failed_count, locked_until = excluded.locked_until,
            last_failure_at = coalesce(excluded.last_failure_at, throttle.last_failure_at), last_success_at = excluded.last_success_at`)
      .run(subject, address, s.failedCount, s.lockedUntil, s.failedCount > 0 ? at : null, lastSuccess);
  };
  return {
    getThrottle: (subject, address) => {
      const here = read(subject, address);
      return { here: state(here), all: state(read(subject, '*')), lastSuccessHere: here?.last_success_at ?? null };
    },
    saveThrottle: (subject, address, t, at) => {
      write(subject, address, t.here, at, t.lastSuccessHere ?? null);
      write(subject, '*', t.all, at, null);
    },
    listThrottle: (subject) =>
      (stmt(`SELECT address, failed_count, locked_until FROM throttle WHERE subject = ? AND (failed_count > 0 OR locked_until IS NOT NULL) ORDER BY address = '*' DESC, address`).all(subject) as (Row & { address: string })[])
        .map((r) => ({ address: r.address, failedCount: r.failed_count, lockedUntil: r.locked_until })),
    clearThrottle: (subject) => stmt(`DELETE FROM throttle WHERE subject = ?`).run(subject).changes,
    sweepThrottle: (before, now, trustedSince) =>
      stmt(`DELETE FROM throttle WHERE (locked_until IS NULL OR locked_until <= ?) AND (last_failure_at IS NULL OR last_failure_at < ?)
            AND (last_success_at IS NULL OR last_success_at < ?)`).run(now, before, trustedSince).changes,
    countAttempts: (subject, address, now) => {
      const expired = stmt(`SELECT address FROM attempts WHERE subject = ? AND expires_at <= ?`).all(subject, now) as { address: string }[];
      if (expired.length) stmt(`DELETE FROM attempts WHERE subject = ? AND expires_at <= ?`).run(subject, now);
      const here = stmt(`SELECT count(*) FROM attempts WHERE subject = ? AND address = ?`).pluck().get(subject, address) as number;
      const all = stmt(`SELECT count(*) FROM attempts WHERE subject = ?`).pluck().get(subject) as number;
      return { here, all, expired };
    },
    insertAttempt: (id, subject, address, expiresAt) => void stmt(`INSERT INTO attempts (id, subject, address, expires_at) VALUES (?, ?, ?, ?)`).run(id, subject, address, expiresAt),
    extendAttempt: (id, now, expiresAt) => stmt(`UPDATE attempts SET expires_at = ? WHERE id = ? AND expires_at > ?`).run(expiresAt, id, now).changes === 1,
    deleteAttempt: (id, now) => {
      const expires = stmt(`SELECT expires_at FROM attempts WHERE id = ?`).pluck().get(id) as string | undefined;
      if (expires === undefined) return 'gone';
      stmt(`DELETE FROM attempts WHERE id = ?`).run(id);
      return expires > now ? 'live' : 'expired';
    },
  } satisfies Partial<SyncOps>;
}

/** The store's operations, synchronous (better-sqlite3); serialized.ts makes them the async port. */
export function sqliteOps(db: Database, dataKey: Buffer): SyncOps {
  const r = rows(db, dataKey);
  return { ...configOps(r), ...principalOps(r), ...throttleOps(r), ...assignmentOps(r), ...keyOps(r.stmt, r.raiseEpoch), ...sessionOps(r), ...groupOps(r) };
}
