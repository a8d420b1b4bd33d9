// The audit trail: `audit get --since/--principal/--limit`.

import type { Kit } from './kit.js';
import type { AuditRecord } from './model.js';
import { parsePrincipalPath, parseSince } from './validate.js';

export const AUDIT_DEFAULT_LIMIT = 1000;

export function auditUseCases(kit: Kit) {
  return {
    async listAudit(filter: { since?: string; principal?: string; limit?: number } = {}): Promise<AuditRecord[]> {
      const since = filter.since === undefined ? undefined : parseSince(filter.since, kit.clock.now());
      const principal = filter.principal === undefined ? undefined : filter.principal === 'local' ? 'local' : parsePrincipalPath(filter.principal).path;
      return kit.store.listAudit({ since, principal, limit: filter.limit ?? AUDIT_DEFAULT_LIMIT });
    },
  };
}
