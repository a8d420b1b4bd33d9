// How the active MFA policies bear on principals: who is covered and by what, whether a set of policies
// can be met at all, and enrolment windows. Used by configs, groups, policies, login and sessions.

import { SsrunError } from './errors.js';
import { DAY_MS, isRoot, pathOf, type Kit } from './kit.js';
import type { Policy, Principal } from './model.js';
import { allows, covering, describeFactors, effective, factorSetOf, satisfiable, type Effective, type FactorSet } from './policy.js';
import type { StoreOps } from './ports.js';

export function policyChecks(kit: Kit) {
  const phishingResistant = (type: string) => kit.factors.get(type)?.phishingResistant ?? false;

  /** Whether the principal's factor (a configuration's name and type) is one the set allows. */
  const allowsFactor = (set: FactorSet, config: { name: string; type: string }) => allows(set, config, phishingResistant);

  /** The active policies' requirements for this principal (undefined: no active policy covers it). */
  async function policyFor(ops: StoreOps, p: Principal, policies?: Policy[]): Promise<Effective | undefined> {
    const all = policies ?? (await ops.listPolicies());
    if (!all.some((x) => x.Active)) return undefined; // nothing enforced: no need to look up its groups
    return effective(covering(all, pathOf(p), await ops.groupsOf(p.id)));
  }

  /** Every principal an active policy covers, with its requirements; none read at all when nothing is active. */
  async function covered(ops: StoreOps, policies: Policy[]): Promise<{ p: Principal; eff: Effective }[]> {
    if (!policies.some((x) => x.Active)) return [];
    const out: { p: Principal; eff: Effective }[] = [];
    for (const p of [...(await ops.listPrincipals('user')), ...(await ops.listPrincipals('application'))]) {
      const eff = await policyFor(ops, p, policies);
      if (eff) out.push({ p, eff });
    }
    return out;
  }

  const coveredIds = async (ops: StoreOps, policies: Policy[]) => new Set((await covered(ops, policies)).map(({ p }) => p.id));

  /**
   * Refuses a set of policies that would allow some covered principal no factor at all, or that would leave
   * root with no way in (no allowed factor assigned and no recovery code).
   */
  async function checkPolicies(ops: StoreOps, policies: Policy[], changed?: Policy): Promise<void> {
    const types = new Map((await ops.configTypes()).map((c) => [c.name.toLowerCase(), c.type] as const));
    // The policy being saved must be satisfiable on its own, whoever it covers (now or later).
    if (changed && !satisfiable(factorSetOf(changed.Factors), types, phishingResistant)) {
      throw new SsrunError('EMPTY_FACTOR_SET', `policy ${changed.Name} allows ${describeFactors(factorSetOf(changed.Factors))}, and no configuration satisfies that (a phishing-resistant policy needs a webauthn configuration: security keys); nothing was changed`);
    }
    for (const { p, eff } of await covered(ops, policies)) {
      if (!satisfiable(eff.factors.value, types, phishingResistant)) {
        const from = eff.factors.from.length > 1 ? `${eff.factors.from.join(' and ')} together allow` : `${eff.factors.from[0]} allows`;
        throw new SsrunError('EMPTY_FACTOR_SET', `${pathOf(p)} would be allowed no factor at all: ${from} ${describeFactors(eff.factors.value)}, and no configuration satisfies that; nothing was changed`);
      }
      if (isRoot(p)) {
        const hasFactor = p.assignment !== null && allowsFactor(eff.factors.value, { name: p.assignment.configName, type: p.assignment.configType });
        if (!hasFactor && (await ops.recoveryCodesLeft(p.id)) === 0) {
          throw new SsrunError(
            'ROOT_LOCKOUT',
            `${eff.policies.join(', ')} would cover root, who has no allowed factor and no recovery codes: assign root a factor the policy allows, or issue root recovery codes (ssrun mfa recovery-codes -p ${pathOf(p)}), first; nothing was changed`,
          );
        }
      }
    }
  }

  /** Starts the enrolment window of every principal covered for the first time. */
  async function refreshSubjects(ops: StoreOps, policies: Policy[]): Promise<void> {
    const at = kit.nowIso();
    for (const { p } of await covered(ops, policies)) await ops.setFirstApplied(p.id, at, false);
  }

  /** When the principal must be enrolled by (its window starts the first time it is asked). */
  async function enrollmentDeadline(p: Principal, eff: Effective): Promise<Date> {
    let start = await kit.store.firstApplied(p.id);
    if (!start) {
      const at = kit.nowIso();
      await kit.store.write((tx) => tx.setFirstApplied(p.id, at, false));
      start = (await kit.store.firstApplied(p.id)) ?? at;
    }
    return new Date(Date.parse(start) + eff.enrollWithinDays.value * DAY_MS);
  }

  return { allowsFactor, policyFor, covered, coveredIds, checkPolicies, refreshSubjects, enrollmentDeadline };
}

export type PolicyChecks = ReturnType<typeof policyChecks>;
