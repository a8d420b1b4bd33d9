// MFA policies: `mfa policy create|get|update|delete|activate|deactivate|explain|reset-deadline`. A change is
// checked as the whole resulting set; principals newly covered by an active policy lose their sessions (all
// but the caller's own) and start their enrolment window.

import { SsrunError } from './errors.js';
import { pathOf, plural, type Kit } from './kit.js';
import type { Policy } from './model.js';
import type { PolicyChecks } from './policy-checks.js';
import { covering, describeFactors, effective } from './policy.js';
import type { PolicyTarget, StoreOps } from './ports.js';
import { parsePolicyDocument, parsePrincipalPath, parseTargetPath, shown, validatePolicyName } from './validate.js';

type PolicyFields = Omit<Policy, 'Targets' | 'CreatedAt' | 'UpdatedAt'>;

export function policyUseCases(kit: Kit, checks: PolicyChecks) {
  const { store } = kit;

  async function resolveTargets(tx: StoreOps, targets: ReturnType<typeof parsePolicyDocument>['Targets']): Promise<PolicyTarget[]> {
    const out: PolicyTarget[] = [];
    for (const t of targets) {
      if (t.type === 'group') {
        const g = await tx.getGroup(t.name);
        if (!g) throw new SsrunError('GROUP_NOT_FOUND', `Targets: ${t.path} not found; \`ssrun group create -n ${t.name}\` first`);
        out.push({ kind: 'group', id: g.id, path: `principal/internal/group/${g.name}` });
      } else {
        const p = await tx.getPrincipal(t.type, t.name);
        if (!p) throw new SsrunError('PRINCIPAL_NOT_FOUND', `Targets: ${t.path} not found`);
        out.push({ kind: 'principal', id: p.id, path: pathOf(p) });
      }
    }
    return out;
  }

  async function apply(tx: StoreOps, next: PolicyFields, targets: PolicyTarget[], keepToken: string | undefined, action: string) {
    const before = await tx.listPolicies();
    const draft: Policy = { ...next, Targets: targets.map((t) => t.path), CreatedAt: '', UpdatedAt: '' };
    await checks.checkPolicies(tx, [...before.filter((p) => p.Name !== next.Name), draft], draft);
    const was = await checks.coveredIds(tx, before);
    const saved = await tx.savePolicy(next, targets, kit.nowIso());
    const after = await tx.listPolicies();
    const keep = keepToken ? kit.crypto.digestToken(keepToken) : undefined;
    let revoked = 0;
    for (const id of await checks.coveredIds(tx, after)) if (!was.has(id)) revoked += await tx.deleteSessionsExcept(id, keep);
    await checks.refreshSubjects(tx, after);
    await kit.audit(tx, `policy/${saved.Name}`, action, 'ok', `${saved.Active ? 'active' : 'inactive'}; ${plural(revoked, 'session')} revoked`);
    return { ...saved, SessionsRevoked: revoked };
  }

  async function requirePolicy(ops: StoreOps, name: string): Promise<Policy> {
    const p = await ops.getPolicy(validatePolicyName(name, 'policy name (-n)'));
    if (!p) throw new SsrunError('POLICY_NOT_FOUND', `MFA policy ${shown(name)} not found; \`ssrun mfa policy get\` lists them`);
    return p;
  }

  async function checkFactorNames(tx: StoreOps, factors: Policy['Factors']): Promise<void> {
    if (!Array.isArray(factors)) return;
    for (const [i, n] of factors.entries()) {
      if (!(await tx.findConfig(n))) throw new SsrunError('INVALID_POLICY', `Factors[${i}]: no MFA configuration named ${shown(n)}; \`ssrun mfa get\` lists them`);
    }
  }

  return {
    async createPolicy(input: unknown, opts: { keepToken?: string } = {}) {
      const doc = parsePolicyDocument(input);
      if (doc.Name === undefined) throw new SsrunError('INVALID_POLICY', 'Name: required, but missing');
      const name = doc.Name;
      return store.write(async (tx) => {
        if (await tx.getPolicy(name)) throw new SsrunError('POLICY_EXISTS', `MFA policy ${shown(name)} already exists; use \`ssrun mfa policy update\``);
        await checkFactorNames(tx, doc.Factors);
        const { Targets, Name: _n, ...rest } = doc;
        return apply(tx, { ...rest, Name: name, Active: doc.Active ?? true }, await resolveTargets(tx, Targets), opts.keepToken, 'policy.create');
      });
    },

    listPolicies: (): Promise<Policy[]> => store.listPolicies(),

    getPolicy: (name: string): Promise<Policy> => requirePolicy(store, name),

    async updatePolicy(name: string, input: unknown, opts: { keepToken?: string } = {}) {
      const doc = parsePolicyDocument(input);
      return store.write(async (tx) => {
        const existing = await requirePolicy(tx, name);
        if (doc.Name !== undefined && doc.Name !== existing.Name) {
          throw new SsrunError('NAME_IMMUTABLE', `Name: the file says ${shown(doc.Name)} but -n says ${shown(existing.Name)}; a policy's name cannot change`);
        }
        await checkFactorNames(tx, doc.Factors);
        const { Targets, Name: _n, ...rest } = doc;
        return apply(tx, { ...rest, Name: existing.Name, Active: doc.Active ?? existing.Active }, await resolveTargets(tx, Targets), opts.keepToken, 'policy.update');
      });
    },

    async deletePolicy(name: string) {
      return store.write(async (tx) => {
        const p = await requirePolicy(tx, name);
        await tx.deletePolicy(p.Name);
        await kit.audit(tx, `policy/${p.Name}`, 'policy.delete', 'ok');
        return { Deleted: p.Name };
      });
    },

    async setPolicyActive(name: string, active: boolean, opts: { keepToken?: string } = {}) {
      return store.write(async (tx) => {
        const p = await requirePolicy(tx, name);
        const targets = await resolveTargets(tx, p.Targets.map((t) => parseTargetPath(t)));
        const fields = { Name: p.Name, Factors: p.Factors, EnrollWithinDays: p.EnrollWithinDays, ReverifyAfterHours: p.ReverifyAfterHours, Active: active };
        return apply(tx, fields, targets, opts.keepToken, active ? 'policy.activate' : 'policy.deactivate');
      });
    },

    explainPolicy: (principal: string) => explainPolicy(kit, checks, principal),

    async resetDeadline(principal: string) {
      const ref = parsePrincipalPath(principal);
      return store.write(async (tx) => {
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        const at = kit.nowIso();
        await tx.setFirstApplied(p.id, at, true);
        await kit.audit(tx, pathOf(p), 'policy.reset-deadline', 'ok');
        return { Principal: pathOf(p), EnrolmentWindowStarts: at };
      });
    },
  };
}

/** Which rule applies to the principal, and why: each requirement with the policies that set it. */
export async function explainPolicy(kit: Kit, checks: PolicyChecks, principal: string) {
  const { store } = kit;
  const ref = parsePrincipalPath(principal);
  const p = await kit.requirePrincipal(store, ref.type, ref.name);
  const groups = await store.groupsOf(p.id);
  const all = covering(await store.listPolicies(), pathOf(p), groups);
  const eff = effective(all);
  const base = { Principal: pathOf(p), Groups: groups, Policies: all.map((x) => ({ Name: x.Name, Active: x.Active })) };
  if (!eff) return { ...base, Enforced: false, Requirements: null };
  const deadline = p.assignment ? null : await checks.enrollmentDeadline(p, eff);
  const factorOk = p.assignment ? checks.allowsFactor(eff.factors.value, { name: p.assignment.configName, type: p.assignment.configType }) : null;
  return {
    ...base,
    Enforced: true,
    Requirements: {
      Factors: { Value: describeFactors(eff.factors.value), From: eff.factors.from },
      EnrollWithinDays: { Value: eff.enrollWithinDays.value, From: eff.enrollWithinDays.from },
      ReverifyAfterHours: eff.reverifyAfterHours ? { Value: eff.reverifyAfterHours.value, From: eff.reverifyAfterHours.from } : null,
    },
    Status: p.assignment
      ? { Factor: p.assignment.configName, Allowed: factorOk, LastVerifiedAt: p.lastMfaAt }
      : { Factor: null, EnrollBy: deadline!.toISOString(), DeadlinePassed: kit.clock.now().getTime() >= deadline!.getTime() },
  };
}
