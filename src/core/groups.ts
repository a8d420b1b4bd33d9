// Groups of principals (policy targets): `group create|get|delete|add-member|remove-member`.

import { SsrunError } from './errors.js';
import { byName, pathOf, type Kit } from './kit.js';
import type { Group } from './model.js';
import type { PolicyChecks } from './policy-checks.js';
import type { StoreOps } from './ports.js';
import { parsePrincipalPath, validateGroupName } from './validate.js';

const groupPath = (name: string) => `principal/internal/group/${name}`;

export const groupView = (g: Group, verbose = false) => ({
  Name: g.name,
  Group: groupPath(g.name),
  ...(verbose ? { Members: g.members, CreatedAt: g.createdAt } : { Members: g.members.length }),
});

export async function requireGroup(ops: StoreOps, name: string): Promise<Group> {
  const g = await ops.getGroup(validateGroupName(name));
  if (!g) throw new SsrunError('GROUP_NOT_FOUND', `${groupPath(name)} not found`);
  return g;
}

export function groupUseCases(kit: Kit, checks: PolicyChecks) {
  const { store } = kit;
  return {
    async createGroup(name: string) {
      const n = validateGroupName(name);
      return store.write(async (tx) => {
        if (await tx.getGroup(n)) throw new SsrunError('GROUP_EXISTS', `${groupPath(n)} already exists (names are case-insensitive)`);
        const g = await tx.insertGroup(n, kit.nowIso());
        await kit.audit(tx, groupPath(n), 'group.create', 'ok');
        return groupView(g);
      });
    },

    listGroups: async (opts: { verbose?: boolean } = {}) => (await store.listGroups()).map((g) => groupView(g, opts.verbose)).sort(byName),

    getGroup: async (name: string, opts: { verbose?: boolean } = {}) => groupView(await requireGroup(store, name), opts.verbose),

    async deleteGroup(name: string) {
      return store.write(async (tx) => {
        const g = await requireGroup(tx, name);
        const targeting = (await tx.listPolicies()).filter((p) => p.Targets.some((t) => t.toLowerCase() === groupPath(g.name).toLowerCase())).map((p) => p.Name);
        await tx.deleteGroup(g.id);
        await kit.audit(tx, groupPath(g.name), 'group.delete', 'ok', targeting.length ? `removed from policies ${targeting.join(', ')}` : '');
        return { Deleted: groupPath(g.name), RemovedFromPolicies: targeting };
      });
    },

    async addMember(group: string, principal: string) {
      const ref = parsePrincipalPath(principal);
      return store.write(async (tx) => {
        const g = await requireGroup(tx, group);
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        const before = (await checks.coveredIds(tx, await tx.listPolicies())).has(p.id);
        if (!(await tx.addMember(g.id, p.id, kit.nowIso()))) throw new SsrunError('MEMBER_EXISTS', `${pathOf(p)} is already a member of ${groupPath(g.name)}`);
        const policies = await tx.listPolicies();
        await checks.checkPolicies(tx, policies);
        await checks.refreshSubjects(tx, policies);
        const nowCovered = !before && (await checks.coveredIds(tx, policies)).has(p.id);
        await kit.audit(tx, pathOf(p), 'group.add-member', 'ok', groupPath(g.name));
        return { Group: groupPath(g.name), Member: pathOf(p), NewlyCoveredByPolicy: nowCovered };
      });
    },

    async removeMember(group: string, principal: string) {
      const ref = parsePrincipalPath(principal);
      return store.write(async (tx) => {
        const g = await requireGroup(tx, group);
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        if (!(await tx.removeMember(g.id, p.id))) throw new SsrunError('MEMBER_NOT_FOUND', `${pathOf(p)} is not a member of ${groupPath(g.name)}`);
        await kit.audit(tx, pathOf(p), 'group.remove-member', 'ok', groupPath(g.name));
        return { Group: groupPath(g.name), Removed: pathOf(p) };
      });
    },
  };
}
