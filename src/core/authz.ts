// Authorization on resource paths (server contexts): pure decisions over the stored rules.
//  - root may do everything;
//  - a rule on resource R covers R and everything below it (R/…), case-insensitively;
//  - among the rules that cover the resource for the operation, deny wins over allow; no rule is a deny.

import type { Authorization, Operation } from './model.js';

export const RESOURCE_MFA = 'system/multi_factor';
export const RESOURCE_AUTHORIZATION = 'system/authorization';
export const RESOURCE_AUDIT = 'system/audit';

export function covers(rule: string, resource: string): boolean {
  const r = rule.toLowerCase();
  const x = resource.toLowerCase();
  return x === r || x.startsWith(`${r}/`);
}

export type Decision = { allowed: true; rule: Authorization } | { allowed: false; rule: Authorization | null };

export function decide(rules: readonly Authorization[], operation: Operation, resource: string): Decision {
  const matching = rules.filter((z) => z.Operation === operation && covers(z.Resource, resource));
  const deny = matching.find((z) => z.Effect === 'deny');
  if (deny) return { allowed: false, rule: deny };
  const allow = matching.find((z) => z.Effect === 'allow');
  return allow ? { allowed: true, rule: allow } : { allowed: false, rule: null };
}
