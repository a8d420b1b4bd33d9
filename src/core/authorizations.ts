// Authorization rules (server contexts): `authorization create|get|delete`.

import { SsrunError } from './errors.js';
import { pathOf, type Kit } from './kit.js';
import type { Authorization } from './model.js';
import { parsePrincipalPath, validateEffect, validateOperation, validateResource } from './validate.js';

export function authorizationUseCases(kit: Kit) {
  const { store } = kit;
  const target = (principal: string, operation: string, resource: string) => ({ ref: parsePrincipalPath(principal), op: validateOperation(operation), res: validateResource(resource) });

  return {
    async createAuthorization(principal: string, operation: string, effect: string, resource: string): Promise<Authorization> {
      const { ref, op, res } = target(principal, operation, resource);
      const eff = validateEffect(effect);
      return store.write(async (tx) => {
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        const existing = await tx.findAuthorization(p.id, op, res);
        if (existing) throw new SsrunError('AUTHORIZATION_EXISTS', `${existing.Principal} already has ${existing.Effect} ${op} on ${existing.Resource}; delete it first`);
        const z = await tx.insertAuthorization(p.id, op, eff, res, kit.nowIso());
        await kit.audit(tx, z.Principal, 'authorization.create', 'ok', `${eff} ${op} ${res}`);
        return z;
      });
    },

    async listAuthorizations(principal?: string): Promise<Authorization[]> {
      if (principal === undefined) return store.listAuthorizations();
      const ref = parsePrincipalPath(principal);
      return store.listAuthorizations((await kit.requirePrincipal(store, ref.type, ref.name)).id);
    },

    async deleteAuthorization(principal: string, operation: string, resource: string) {
      const { ref, op, res } = target(principal, operation, resource);
      return store.write(async (tx) => {
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        const existing = await tx.findAuthorization(p.id, op, res);
        if (!existing) throw new SsrunError('AUTHORIZATION_NOT_FOUND', `${pathOf(p)} has no rule for ${op} on ${res}; \`ssrun authorization get\` lists them`);
        await tx.deleteAuthorization(p.id, op, res);
        await kit.audit(tx, existing.Principal, 'authorization.delete', 'ok', `${existing.Effect} ${op} ${existing.Resource}`);
        return { Deleted: existing };
      });
    },
  };
}
