// Security keys on SQLite (see pg-keys.ts for PostgreSQL): one row per registered WebAuthn credential.

import type DatabaseConstructor from 'better-sqlite3';
import { SsrunError } from '../core/errors.js';
import { principalPath, type PrincipalType } from '../core/model.js';
import { KEY_SELECT, toKey, type KeyRow } from './rows.js';
import type { SyncOps } from './sqlite-ops.js';

type Stmt = (sql: string) => DatabaseConstructor.Statement;

export function keyOps(stmt: Stmt, raiseEpoch: (principalId: string, at: string) => void) {
  return {
    listKeys: (principalId) => {
      const rows = (principalId === undefined
        ? stmt(`${KEY_SELECT} ORDER BY k.created_at, k.id`).all()
        : stmt(`${KEY_SELECT} WHERE k.principal_id = ? ORDER BY k.created_at, k.id`).all(principalId)) as (KeyRow & { p_type: PrincipalType; p_name: string })[];
      return rows.map((r) => ({ ...toKey(r), principal: principalPath(r.p_type, r.p_name) }));
    },
    insertKey: (k) => {
      try {
        stmt(`INSERT INTO factor_keys (id, principal_id, name, public_key, counter, transports, device_type, backed_up, aaguid, rp_id, created_at, last_used_at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(k.id, k.principalId, k.name, k.publicKey, k.counter, JSON.stringify(k.transports), k.deviceType, k.backedUp ? 1 : 0, k.aaguid, k.rpId, k.createdAt, k.lastUsedAt);
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new SsrunError('KEY_EXISTS', 'this security key is registered already');
        throw e;
      }
    },
    renameKey: (principalId, keyId, name) => stmt(`UPDATE factor_keys SET name = ? WHERE principal_id = ? AND id = ?`).run(name, principalId, keyId).changes === 1,
    deleteKey: (principalId, keyId, at) => {
      if (stmt(`DELETE FROM factor_keys WHERE principal_id = ? AND id = ?`).run(principalId, keyId).changes !== 1) return false;
      raiseEpoch(principalId, at);
      return true;
    },
    useKey: (principalId, keyId, counter, at) =>
      stmt(`UPDATE factor_keys SET counter = ?, last_used_at = ? WHERE principal_id = ? AND id = ? AND (counter < ? OR (counter = 0 AND ? = 0))`)
        .run(counter, at, principalId, keyId, counter, counter).changes === 1,
  } satisfies Partial<SyncOps>;
}
