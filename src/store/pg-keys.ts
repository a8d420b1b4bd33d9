// Security keys on PostgreSQL (see sqlite-keys.ts for SQLite). A use of a key is one compare-and-set UPDATE,
// re-checked by PostgreSQL on the newest row after a concurrent writer: two uses of one counter, one wins.

import { principalPath, type PrincipalType } from '../core/model.js';
import type { H, Ops } from './pg-ops.js';
import { KEY_SELECT, toKey, type KeyRow } from './rows.js';

export function keyOps(h: H) {
  const { q, all, changed, raiseEpoch } = h;
  return {
    listKeys: async (principalId) => {
      const rows = principalId === undefined
        ? await all<KeyRow & { p_type: PrincipalType; p_name: string }>(`${KEY_SELECT} ORDER BY k.created_at, k.id`)
        : await all<KeyRow & { p_type: PrincipalType; p_name: string }>(`${KEY_SELECT} WHERE k.principal_id = $1 ORDER BY k.created_at, k.id`, [principalId]);
      return rows.map((r) => ({ ...toKey(r), principal: principalPath(r.p_type, r.p_name) }));
    },
    insertKey: async (k) =>
      void (await q(`INSERT INTO factor_keys (id, principal_id, name, public_key, counter, transports, device_type, backed_up, aaguid, rp_id, created_at, last_used_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [k.id, k.principalId, k.name, k.publicKey, k.counter, JSON.stringify(k.transports), k.deviceType, k.backedUp ? 1 : 0, k.aaguid, k.rpId, k.createdAt, k.lastUsedAt])),
    renameKey: async (principalId, keyId, name) => (await changed(`UPDATE factor_keys SET name = $1 WHERE principal_id = $2 AND id = $3`, [name, principalId, keyId])) === 1,
    deleteKey: async (principalId, keyId, at) => {
      if ((await changed(`DELETE FROM factor_keys WHERE principal_id = $1 AND id = $2`, [principalId, keyId])) !== 1) return false;
      await raiseEpoch(principalId, at);
      return true;
    },
    useKey: async (principalId, keyId, counter, at) =>
      (await changed(`UPDATE factor_keys SET counter = $1, last_used_at = $2 WHERE principal_id = $3 AND id = $4 AND (counter < $1 OR (counter = 0 AND $1 = 0))`, [counter, at, principalId, keyId])) === 1,
  } satisfies Ops;
}
