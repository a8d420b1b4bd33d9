// What both Store adapters (SQLite, PostgreSQL) share: how a configuration's secret options and an
// assignment's factor secret are sealed in a row and opened again (AES-256-GCM under the data key, the
// associated data binding table, row and field: S5), and how rows map to the domain's types.

import { SsrunError } from '../core/errors.js';
import { principalPath, type Authorization, type ConfigType, type Effect, type Operation, type Principal, type PrincipalType, type SecurityKey, type StoredConfig } from '../core/model.js';
import type { ConfigRecord } from '../core/ports.js';
import { keyId, open, openText, seal } from './cipher.js';

export interface ConfigRow { id: string; name: string; type: ConfigType; options: string; secrets: string; created_at: string; updated_at: string }
export interface AuthzRow { type: PrincipalType; name: string; operation: Operation; effect: Effect; resource: string; created_at: string }
export interface PrincipalRow {
  id: string;
  type: PrincipalType;
  name: string;
  credential: string | null;
  epoch: number;
  last_mfa_at: string | null;
  failed_count: number;
  locked_until: string | null;
  created_at: string;
  updated_at: string;
  config_name: string | null;
  config_type: ConfigType | null;
  provider_user_id: string | null;
  assigned_at: string | null;
  pending: number | null;
}

// The lockout counters live in `throttle`, by subject (the principal's path in lower case) and address: a
// principal shows its count from every address ('*') and its latest lock from any. Both dialects read this.
const SUBJECT = `lower('principal/internal/' || p.type || '/' || p.name)`;
export const PRINCIPAL_SELECT = `SELECT p.id, p.type, p.name, p.credential, p.epoch, p.last_mfa_at, p.created_at, p.updated_at,
    coalesce((SELECT t.failed_count FROM throttle t WHERE t.subject = ${SUBJECT} AND t.address = '*'), 0) AS failed_count,
    (SELECT max(t.locked_until) FROM throttle t WHERE t.subject = ${SUBJECT}) AS locked_until,
    c.name AS config_name, c.type AS config_type, a.provider_user_id, a.assigned_at, a.pending
  FROM principals p LEFT JOIN assignments a ON a.principal_id = p.id LEFT JOIN mfa_configs c ON c.id = a.config_id`;
export const AUTHZ_SELECT = `SELECT p.type, p.name, z.operation, z.effect, z.resource, z.created_at FROM authorizations z JOIN principals p ON p.id = z.principal_id`;

const secretAad = (id: string) => `mfa_configs:${id}:secrets`;
// The AAD of an assignment's secret (the name predates other factors: TOTP seeds are sealed under it).
const factorSecretAad = (principalId: string) => `assignments:${principalId}:secret`;

/** How many read configurations a store keeps (see `decoded` below). */
const CONFIGS_KEPT = 2048;

export function sealing(dataKey: Buffer) {
  // The data key's id, once: every secret of a listing is opened with it.
  const id = keyId(dataKey);
  // Configurations already read, by their whole row (every column, the sealed secrets and their binding
  // included): the same bytes under the same key open to the same configuration, so a read of an unchanged row
  // (every GET /multi_factor of a server) skips AES-GCM and JSON. A changed, tampered or moved ciphertext is
  // another entry, opened and authenticated afresh. (The process holds the data key that opens them all anyway.)
  // Kept by row id with the row's bytes beside it: a rotated secret replaces its entry, a deleted row's goes.
  const decoded = new Map<string, { row: string; config: StoredConfig }>();
  const decode = (row: ConfigRow): StoredConfig => {
    let secret: Record<string, string>;
    try {
      secret = JSON.parse(openText(dataKey, row.secrets, secretAad(row.id), id)) as Record<string, string>;
    } catch (e) {
      if (!(e instanceof SsrunError)) throw e;
      throw new SsrunError('SECRET_UNDECRYPTABLE', `the secrets of MFA configuration ${JSON.stringify(row.name)} cannot be decrypted (${e.message.replace(/^.*: /, '')}); restore the store from a backup, or delete the configuration and create it again`);
    }
    const options = { ...(JSON.parse(row.options) as Record<string, unknown>), ...secret };
    return { id: row.id, Type: row.type, Name: row.name, Options: options, createdAt: row.created_at, updatedAt: row.updated_at };
  };
  return {
    /** A configuration's options in clear, and its provider's secret options sealed. */
    splitOptions(config: ConfigRecord, rowId: string) {
      const clear: Record<string, unknown> = {};
      const secret: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(config.Options)) (config.secretKeys.includes(k) ? secret : clear)[k] = v;
      return { options: JSON.stringify(clear), secrets: seal(dataKey, Buffer.from(JSON.stringify(secret), 'utf8'), secretAad(rowId), id) };
    },
    toConfig(row: ConfigRow): StoredConfig {
      const k = JSON.stringify([row.name, row.type, row.created_at, row.updated_at, row.options, row.secrets]);
      const hit = decoded.get(row.id);
      let c = hit?.row === k ? hit.config : undefined;
      if (!c) {
        decoded.delete(row.id);
        c = decode(row);
        if (decoded.size >= CONFIGS_KEPT) decoded.delete(decoded.keys().next().value!);
        decoded.set(row.id, { row: k, config: c });
      }
      // A copy: callers may change what they are given.
      return { ...c, Options: { ...c.Options } };
    },
    /** A deleted configuration's options in clear leave the memory with it. */
    forgetConfig: (rowId: string) => void decoded.delete(rowId),
    sealFactorSecret: (principalId: string, secret: string | null | undefined) => (secret ? seal(dataKey, Buffer.from(secret, 'utf8'), factorSecretAad(principalId), id) : null),
    openFactorSecret(principalId: string, sealed: string | null): string | null {
      if (!sealed) return null;
      try {
        return open(dataKey, sealed, factorSecretAad(principalId), id).toString('utf8');
      } catch (e) {
        if (!(e instanceof SsrunError)) throw e;
        throw new SsrunError('SECRET_UNDECRYPTABLE', `the factor secret of this principal cannot be decrypted; assign its configuration again to enrol anew`);
      }
    },
  };
}

export function toPrincipal(r: PrincipalRow): Principal {
  return {
    id: r.id,
    type: r.type,
    name: r.name,
    credential: r.credential,
    epoch: r.epoch,
    lastMfaAt: r.last_mfa_at,
    failedCount: r.failed_count,
    lockedUntil: r.locked_until,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    assignment: r.config_name ? { configName: r.config_name, configType: r.config_type!, providerUserId: r.provider_user_id!, assignedAt: r.assigned_at!, pending: r.pending === 1 } : null,
  };
}

export const toAuthz = (r: AuthzRow): Authorization => ({ Principal: principalPath(r.type, r.name), Operation: r.operation, Effect: r.effect, Resource: r.resource, CreatedAt: r.created_at });

export interface KeyRow {
  id: string;
  principal_id: string;
  name: string;
  public_key: string;
  counter: number | string;
  transports: string;
  device_type: string;
  backed_up: number | boolean;
  aaguid: string;
  rp_id: string;
  created_at: string;
  last_used_at: string | null;
}

/** Security keys with their principal's type and name (both adapters' SQL). */
export const KEY_SELECT = `SELECT k.*, p.type AS p_type, p.name AS p_name FROM factor_keys k JOIN principals p ON p.id = k.principal_id`;

export const toKey = (r: KeyRow): SecurityKey => ({
  id: r.id,
  principalId: r.principal_id,
  name: r.name,
  publicKey: r.public_key,
  counter: Number(r.counter),
  transports: JSON.parse(r.transports) as string[],
  deviceType: r.device_type,
  backedUp: r.backed_up === 1 || r.backed_up === true,
  aaguid: r.aaguid,
  rpId: r.rp_id,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});
