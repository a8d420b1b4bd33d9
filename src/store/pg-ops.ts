// The Store port's operations on PostgreSQL (node-postgres), one parameterized statement each, the same rows
// and the same sealing of secrets as sqlite-ops.ts. Inside a write transaction (READ COMMITTED), reading a
// principal locks its row (SELECT … FOR UPDATE): every read-then-write about one principal (the lockout's
// attempts in flight, its failure count) is serialized across replicas, while other principals go on in
// parallel. Compare-and-set operations (the TOTP counter, a recovery code, the epoch) are single UPDATEs
// whose WHERE clause PostgreSQL re-checks on the newest row after waiting for a concurrent writer. Policy and
// group changes, whose checks read many rows, take one store-wide advisory lock (pg-schema.ts).

import { createHmac, randomUUID } from 'node:crypto';
import { SsrunError } from '../core/errors.js';
import type { AuditEntry, Authorization, ConfigType, Effect, Group, Operation, Policy, Principal, PrincipalType, Session, StoredConfig } from '../core/model.js';
import { principalPath } from '../core/model.js';
import type { ConfigRecord, StoreOps } from '../core/ports.js';
import { AUTHZ_SELECT, PRINCIPAL_SELECT, sealing, toAuthz, toPrincipal, type AuthzRow, type ConfigRow } from './rows.js';
import { POLICY_LOCK, THROTTLE_LOCK_SPACE } from './pg-schema.js';
import { keyOps } from './pg-keys.js';
import { throttleOps } from './pg-throttle.js';

/** One statement on the pool (standalone) or on the transaction's client. */
export type Query = (text: string, values?: unknown[]) => Promise<{ rows: any[]; rowCount: number | null }>;

interface PolicyRow { id: string; name: string; factors: string; enroll_within_days: number; reverify_after_hours: number | null; active: number; created_at: string; updated_at: string }



/** The rows and helpers the groups of operations share. */
function helpers(q: Query, dataKey: Buffer, inTx: boolean) {
  const one = async <T = any>(text: string, values?: unknown[]): Promise<T | undefined> => (await q(text, values)).rows[0] as T | undefined;
  const all = async <T = any>(text: string, values?: unknown[]): Promise<T[]> => (await q(text, values)).rows as T[];
  const changed = async (text: string, values?: unknown[]) => (await q(text, values)).rowCount ?? 0;
  let policyLocked = false;
  /** Policy and group changes: one at a time across the cluster (their checks read every policy). */
  const policyLock = async () => {
    if (!inTx || policyLocked) return;
    await q(`SELECT pg_advisory_xact_lock($1)`, [POLICY_LOCK]);
    policyLocked = true;
  };
  const forUpdate = inTx ? ' FOR UPDATE OF p' : '';
  /** A lockout subject's read-decide-write, one at a time across the cluster (known names or not: no row to lock). */
  const subjectLocked = new Set<string>();
  const subjectLock = async (subject: string) => {
    if (!inTx || subjectLocked.has(subject)) return;
    await q(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [THROTTLE_LOCK_SPACE, subject]);
    subjectLocked.add(subject);
  };

  const { splitOptions, toConfig, forgetConfig, sealFactorSecret, openFactorSecret } = sealing(dataKey);
  const toGroup = async (r: { id: string; name: string; created_at: string }): Promise<Group> => ({
    id: r.id,
    name: r.name,
    createdAt: r.created_at,
    members: (await all<{ type: PrincipalType; name: string }>(`SELECT p.type, p.name FROM group_members m JOIN principals p ON p.id = m.principal_id WHERE m.group_id = $1 ORDER BY p.type, lower(p.name)`, [r.id]))
      .map((m) => principalPath(m.type, m.name)),
  });
  const toPolicy = async (r: PolicyRow): Promise<Policy> => ({
    Name: r.name,
    Factors: JSON.parse(r.factors) as Policy['Factors'],
    EnrollWithinDays: r.enroll_within_days,
    ReverifyAfterHours: r.reverify_after_hours,
    Targets: (await all<{ path: string }>(`SELECT coalesce('principal/internal/group/' || g.name, 'principal/internal/' || p.type || '/' || p.name) AS path
        FROM policy_targets t LEFT JOIN groups g ON g.id = t.group_id LEFT JOIN principals p ON p.id = t.principal_id
        WHERE t.policy_id = $1 ORDER BY t.position`, [r.id])).map((x) => x.path),
    Active: r.active === 1,
    CreatedAt: r.created_at,
    UpdatedAt: r.updated_at,
  });
  async function configId(name: string): Promise<string> {
    const r = await one<{ id: string }>(`SELECT id FROM mfa_configs WHERE lower(name) = lower($1)`, [name]);
    if (!r) throw new SsrunError('CONFIG_NOT_FOUND', `MFA configuration ${JSON.stringify(name)} not found`);
    return r.id;
  }
  const raiseEpoch = async (principalId: string, at: string) => {
    await q(`UPDATE principals SET epoch = epoch + 1, updated_at = $1 WHERE id = $2`, [at, principalId]);
    await q(`DELETE FROM sessions WHERE principal_id = $1`, [principalId]);
  };
  return { q, one, all, changed, policyLock, subjectLock, forUpdate, dataKey, splitOptions, toConfig, forgetConfig, sealFactorSecret, openFactorSecret, toGroup, toPolicy, configId, raiseEpoch };
}

export type H = ReturnType<typeof helpers>;
export type Ops = Partial<StoreOps>;

function configOps(h: H) {
  const { q, one, all, splitOptions, toConfig, configId } = h;
  return {
    listConfigs: async () => (await all<ConfigRow>(`SELECT * FROM mfa_configs ORDER BY lower(name)`)).map(toConfig),
    getConfig: async (name) => {
      const row = await one<ConfigRow>(`SELECT * FROM mfa_configs WHERE lower(name) = lower($1)`, [name]);
      return row ? toConfig(row) : undefined;
    },
    findConfig: async (name) => {
      const row = await one<{ name: string; type: ConfigType }>(`SELECT name, type FROM mfa_configs WHERE lower(name) = lower($1)`, [name]);
      return row ? { Name: row.name, Type: row.type } : undefined;
    },
    insertConfig: async (config, at) => {
      const id = randomUUID();
      const { options, secrets } = splitOptions(config, id);
      return toConfig((await one<ConfigRow>(`INSERT INTO mfa_configs (id, name, type, options, secrets, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *`, [id, config.Name, config.Type, options, secrets, at]))!);
    },
    updateConfig: async (name, config, at) => {
      const id = await configId(name);
      const { options, secrets } = splitOptions(config, id);
      return toConfig((await one<ConfigRow>(`UPDATE mfa_configs SET options = $1, secrets = $2, updated_at = $3 WHERE id = $4 RETURNING *`, [options, secrets, at, id]))!);
    },
    deleteConfig: async (name) => {
      const id = await configId(name);
      await q(`DELETE FROM mfa_configs WHERE id = $1`, [id]);
      h.forgetConfig(id);
    },
    principalsOfConfig: async (name) =>
      (await all(`SELECT p.type, p.name, a.provider_user_id, a.assigned_at, a.pending FROM assignments a JOIN principals p ON p.id = a.principal_id
                  JOIN mfa_configs c ON c.id = a.config_id WHERE lower(c.name) = lower($1) ORDER BY p.type, lower(p.name)`, [name]))
        .map((r) => ({ path: principalPath(r.type, r.name), providerUserId: r.provider_user_id, assignedAt: r.assigned_at, pending: r.pending === 1 })),
    configTypes: async () => all<{ name: string; type: ConfigType }>(`SELECT name, type FROM mfa_configs`),
  } satisfies Ops;
}

function principalOps(h: H) {
  const { q, one, all, changed, forUpdate, raiseEpoch } = h;
  return {
    listPrincipals: async (type) => (await all(`${PRINCIPAL_SELECT} WHERE p.type = $1 ORDER BY lower(p.name)`, [type])).map(toPrincipal),
    // In a transaction the principal's row stays locked until it ends: the lockout's read-decide-write is one step.
    getPrincipal: async (type, name) => {
      const row = await one(`${PRINCIPAL_SELECT} WHERE p.type = $1 AND lower(p.name) = lower($2)${forUpdate}`, [type, name]);
      return row ? toPrincipal(row) : undefined;
    },
    getPrincipalById: async (id) => {
      const row = await one(`${PRINCIPAL_SELECT} WHERE p.id = $1${forUpdate}`, [id]);
      return row ? toPrincipal(row) : undefined;
    },
    insertPrincipal: async (type, name, credential, at) => {
      const id = randomUUID();
      await q(`INSERT INTO principals (id, type, name, credential, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`, [id, type, name, credential, at]);
      return toPrincipal((await one(`${PRINCIPAL_SELECT} WHERE p.id = $1`, [id]))!);
    },
    setCredential: async (principalId, credential, at) => {
      await q(`UPDATE principals SET credential = $1, updated_at = $2 WHERE id = $3`, [credential, at, principalId]);
      await raiseEpoch(principalId, at);
    },
    deletePrincipal: async (principalId) => void (await q(`DELETE FROM principals WHERE id = $1`, [principalId])),
    setLastMfa: async (principalId, at) => void (await q(`UPDATE principals SET last_mfa_at = $1 WHERE id = $2`, [at, principalId])),
  } satisfies Ops;
}

function assignmentOps(h: H) {
  const { q, one, changed, dataKey, configId, raiseEpoch, sealFactorSecret, openFactorSecret } = h;
  return {
    assign: async (principalId, configName, providerUserId, at, state) => {
      const sealed = sealFactorSecret(principalId, state?.secret);
      await q(`INSERT INTO assignments (principal_id, config_id, provider_user_id, assigned_at, secret, pending, last_step) VALUES ($1, $2, $3, $4, $5, $6, NULL)
               ON CONFLICT (principal_id) DO UPDATE SET config_id = excluded.config_id, provider_user_id = excluded.provider_user_id,
                 assigned_at = excluded.assigned_at, secret = excluded.secret, pending = excluded.pending, last_step = NULL`,
        [principalId, await configId(configName), providerUserId, at, sealed, state?.pending ? 1 : 0]);
      await q(`DELETE FROM factor_keys WHERE principal_id = $1`, [principalId]);
      await raiseEpoch(principalId, at);
    },
    getFactorState: async (principalId) => {
      const r = await one<{ secret: string | null; last_step: string | null; pending: number }>(`SELECT secret, last_step, pending FROM assignments WHERE principal_id = $1`, [principalId]);
      if (!r) return undefined;
      const secret = openFactorSecret(principalId, r.secret);
      return { secret, counter: r.last_step === null ? null : Number(r.last_step), pending: r.pending === 1 };
    },
    // One UPDATE: a concurrent one waits for this row, then PostgreSQL re-checks the WHERE on the new value.
    advanceCounter: async (principalId, value) =>
      (await changed(`UPDATE assignments SET last_step = $1 WHERE principal_id = $2 AND (last_step IS NULL OR last_step < $1)`, [value, principalId])) === 1,
    confirmAssignment: async (principalId) => void (await q(`UPDATE assignments SET pending = 0 WHERE principal_id = $1`, [principalId])),
    unassign: async (principalId, at) => {
      await q(`DELETE FROM assignments WHERE principal_id = $1`, [principalId]);
      await q(`DELETE FROM factor_keys WHERE principal_id = $1`, [principalId]);
      await raiseEpoch(principalId, at);
    },
    recoveryDigest: async (principalId, code) => createHmac('sha256', dataKey).update(`recovery:${principalId}:${code}`).digest('hex'),
    replaceRecoveryCodes: async (principalId, digests, at) => {
      await q(`DELETE FROM recovery_codes WHERE principal_id = $1`, [principalId]);
      if (digests.length) await q(`INSERT INTO recovery_codes (principal_id, digest, created_at) SELECT $1, d, $3 FROM unnest($2::text[]) AS d`, [principalId, digests, at]);
    },
    useRecoveryCode: async (principalId, digest, at) =>
      (await changed(`UPDATE recovery_codes SET used_at = $1 WHERE principal_id = $2 AND digest = $3 AND used_at IS NULL`, [at, principalId, digest])) === 1,
    recoveryCodesLeft: async (principalId) => (await one<{ n: number }>(`SELECT count(*)::int AS n FROM recovery_codes WHERE principal_id = $1 AND used_at IS NULL`, [principalId]))!.n,
  } satisfies Ops;
}

function sessionOps(h: H) {
  const { q, one, all, changed } = h;
  return {
    insertSession: async (s: Session) => void (await q(`INSERT INTO sessions (token_hash, principal_id, epoch, factor, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [s.tokenHash, s.principalId, s.epoch, s.factor, s.createdAt, s.expiresAt])),
    deleteSession: async (tokenHash) => (await changed(`DELETE FROM sessions WHERE token_hash = $1`, [tokenHash])) > 0,
    getSession: async (tokenHash) => {
      const r = await one(`SELECT * FROM sessions WHERE token_hash = $1`, [tokenHash]);
      return r ? { tokenHash: r.token_hash, principalId: r.principal_id, epoch: r.epoch, factor: r.factor, createdAt: r.created_at, expiresAt: r.expires_at } : undefined;
    },
    deleteExpiredSessions: async (now) => changed(`DELETE FROM sessions WHERE expires_at <= $1`, [now]),
    deleteSessionsExcept: async (principalId, keep) => changed(`DELETE FROM sessions WHERE principal_id = $1 AND token_hash IS DISTINCT FROM $2`, [principalId, keep ?? null]),
    listAuthorizations: async (principalId) =>
      (principalId === undefined
        ? await all<AuthzRow>(`${AUTHZ_SELECT} ORDER BY p.type, lower(p.name), lower(z.resource), z.operation`)
        : await all<AuthzRow>(`${AUTHZ_SELECT} WHERE z.principal_id = $1 ORDER BY lower(z.resource), z.operation`, [principalId])
      ).map(toAuthz),
    findAuthorization: async (principalId, operation, resource) => {
      const r = await one<AuthzRow>(`${AUTHZ_SELECT} WHERE z.principal_id = $1 AND z.operation = $2 AND lower(z.resource) = lower($3)`, [principalId, operation, resource]);
      return r ? toAuthz(r) : undefined;
    },
    insertAuthorization: async (principalId, operation, effect, resource, at) => {
      await q(`INSERT INTO authorizations (principal_id, operation, effect, resource, created_at) VALUES ($1, $2, $3, $4, $5)`, [principalId, operation, effect, resource, at]);
      return toAuthz((await one<AuthzRow>(`${AUTHZ_SELECT} WHERE z.principal_id = $1 AND z.operation = $2 AND lower(z.resource) = lower($3)`, [principalId, operation, resource]))!);
    },
    deleteAuthorization: async (principalId, operation, resource) =>
      (await changed(`DELETE FROM authorizations WHERE principal_id = $1 AND operation = $2 AND lower(resource) = lower($3)`, [principalId, operation, resource])) > 0,
    audit: async (e: AuditEntry) => void (await q(`INSERT INTO audit (at, principal, action, outcome, detail, actor, source) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [e.at, e.principal, e.action, e.outcome, e.detail, e.actor ?? '', e.source ?? ''])),
    listAudit: async ({ since, principal, limit }) =>
      (await all(`SELECT * FROM (SELECT id::float8 AS id, at, actor, source, action, principal, outcome, detail FROM audit
                  WHERE ($1::text IS NULL OR at >= $1) AND ($2::text IS NULL OR lower(principal) = lower($2) OR lower(actor) = lower($2))
                  ORDER BY audit.id DESC LIMIT $3) AS recent ORDER BY id`, [since ?? null, principal ?? null, limit]))
        .map((r) => ({ Id: r.id, At: r.at, Actor: r.actor, Source: r.source, Action: r.action, Principal: r.principal, Outcome: r.outcome, Detail: r.detail })),
  } satisfies Ops;
}

function groupOps(h: H) {
  const { q, one, all, changed, policyLock, toGroup } = h;
  return {
    insertGroup: async (name, at) => {
      await policyLock();
      const id = randomUUID();
      await q(`INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3)`, [id, name, at]);
      return { id, name, createdAt: at, members: [] };
    },
    getGroup: async (name) => {
      await policyLock();
      const r = await one(`SELECT * FROM groups WHERE lower(name) = lower($1)`, [name]);
      return r ? toGroup(r) : undefined;
    },
    listGroups: async () => {
      await policyLock();
      return Promise.all((await all(`SELECT * FROM groups ORDER BY lower(name)`)).map(toGroup));
    },
    deleteGroup: async (groupId) => {
      await policyLock();
      await q(`DELETE FROM groups WHERE id = $1`, [groupId]);
    },
    addMember: async (groupId, principalId, at) => {
      await policyLock();
      return (await changed(`INSERT INTO group_members (group_id, principal_id, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [groupId, principalId, at])) === 1;
    },
    removeMember: async (groupId, principalId) => {
      await policyLock();
      return (await changed(`DELETE FROM group_members WHERE group_id = $1 AND principal_id = $2`, [groupId, principalId])) === 1;
    },
    groupsOf: async (principalId) =>
      (await all<{ name: string }>(`SELECT g.name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.principal_id = $1 ORDER BY lower(g.name)`, [principalId])).map((r) => `principal/internal/group/${r.name}`),
  } satisfies Ops;
}

function policyOps(h: H) {
  const { q, one, all, policyLock, toPolicy } = h;
  return {
    listPolicies: async () => {
      await policyLock();
      const rows = await all<PolicyRow>(`SELECT * FROM policies ORDER BY name`);
      const out: Policy[] = [];
      for (const r of rows) out.push(await toPolicy(r));
      return out;
    },
    getPolicy: async (name) => {
      await policyLock();
      const r = await one<PolicyRow>(`SELECT * FROM policies WHERE name = $1`, [name]);
      return r ? toPolicy(r) : undefined;
    },
    savePolicy: async (p, targets, at) => {
      await policyLock();
      const existing = await one<{ id: string }>(`SELECT id FROM policies WHERE name = $1`, [p.Name]);
      const id = existing?.id ?? randomUUID();
      const factors = JSON.stringify(p.Factors);
      if (existing) {
        await q(`UPDATE policies SET factors = $1, enroll_within_days = $2, reverify_after_hours = $3, active = $4, updated_at = $5 WHERE id = $6`,
          [factors, p.EnrollWithinDays, p.ReverifyAfterHours, p.Active ? 1 : 0, at, id]);
        await q(`DELETE FROM policy_targets WHERE policy_id = $1`, [id]);
      } else {
        await q(`INSERT INTO policies (id, name, factors, enroll_within_days, reverify_after_hours, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
          [id, p.Name, factors, p.EnrollWithinDays, p.ReverifyAfterHours, p.Active ? 1 : 0, at]);
      }
      for (const [i, t] of targets.entries()) {
        await q(`INSERT INTO policy_targets (policy_id, position, group_id, principal_id) VALUES ($1, $2, $3, $4)`, [id, i, t.kind === 'group' ? t.id : null, t.kind === 'principal' ? t.id : null]);
      }
      return toPolicy((await one<PolicyRow>(`SELECT * FROM policies WHERE id = $1`, [id]))!);
    },
    deletePolicy: async (name) => {
      await policyLock();
      await q(`DELETE FROM policies WHERE name = $1`, [name]);
    },
    firstApplied: async (principalId) => (await one<{ at: string }>(`SELECT first_applied_at AS at FROM policy_subjects WHERE principal_id = $1`, [principalId]))?.at,
    setFirstApplied: async (principalId, at, overwrite) =>
      void (await q(`INSERT INTO policy_subjects (principal_id, first_applied_at) VALUES ($1, $2) ON CONFLICT (principal_id) DO ${overwrite ? 'UPDATE SET first_applied_at = excluded.first_applied_at' : 'NOTHING'}`, [principalId, at])),
  } satisfies Ops;
}

/** The store's operations on one query function: the pool's (standalone) or a transaction's client (inTx). */
export function pgOps(q: Query, dataKey: Buffer, inTx: boolean): StoreOps {
  const h = helpers(q, dataKey, inTx);
  return { ...configOps(h), ...principalOps(h), ...throttleOps(h), ...assignmentOps(h), ...keyOps(h), ...sessionOps(h), ...groupOps(h), ...policyOps(h) };
}
