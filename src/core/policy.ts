// MFA policies, pure: which active policies cover a principal, and the most stringent of their requirements
// (smallest enrolment window, shortest re-verification interval, the intersection of the factor sets), each
// with the policies that set it, so `mfa policy explain` can say why.

import type { ConfigType, FactorSpec, Policy } from './model.js';

/** Which configuration types resist phishing: the factor registry's answer (none by default). */
export type PhishingResistance = (type: ConfigType) => boolean;
const NONE: PhishingResistance = () => false;

/** A factor set: every configuration, or the configurations that pass all of the constraints. */
export interface FactorSet {
  any: boolean;
  /** Only phishing-resistant configuration types. */
  phishingResistant: boolean;
  /** Only these configuration names (lower case); undefined: no list constrains. */
  names: Set<string> | undefined;
}

export const ANY_FACTOR: FactorSet = { any: true, phishingResistant: false, names: undefined };

export function factorSetOf(spec: FactorSpec): FactorSet {
  if (spec === 'any') return ANY_FACTOR;
  if (spec === 'phishing-resistant') return { any: false, phishingResistant: true, names: undefined };
  return { any: false, phishingResistant: false, names: new Set(spec.map((n) => n.toLowerCase())) };
}

export function intersect(a: FactorSet, b: FactorSet): FactorSet {
  if (a.any) return b;
  if (b.any) return a;
  const names = a.names && b.names ? new Set([...a.names].filter((n) => b.names!.has(n))) : (a.names ?? b.names);
  return { any: false, phishingResistant: a.phishingResistant || b.phishingResistant, names };
}

/** Whether a configuration (name and type) satisfies the set. */
export function allows(set: FactorSet, config: { name: string; type: ConfigType }, resists: PhishingResistance = NONE): boolean {
  if (set.any) return true;
  if (set.phishingResistant && !resists(config.type)) return false;
  return set.names === undefined || set.names.has(config.name.toLowerCase());
}

/**
 * Whether any configuration could satisfy the set, given the configurations that exist (name → type). A list
 * that became empty, or a phishing-resistant constraint over a list with no phishing-resistant member, cannot.
 * A phishing-resistant constraint alone needs one phishing-resistant configuration to exist.
 */
export function satisfiable(set: FactorSet, configs: ReadonlyMap<string, ConfigType>, resists: PhishingResistance = NONE): boolean {
  if (set.any) return true;
  if (set.names === undefined) return !set.phishingResistant || [...configs.values()].some((t) => resists(t));
  return [...set.names].some((n) => {
    const type = configs.get(n);
    return type !== undefined && (!set.phishingResistant || resists(type));
  });
}

export function describeFactors(set: FactorSet): string {
  if (set.any) return 'any';
  const parts: string[] = [];
  if (set.phishingResistant) parts.push('phishing-resistant');
  if (set.names) parts.push(set.names.size ? [...set.names].sort().join(', ') : '(none)');
  return parts.join(' and ');
}

/** The policies, active or not, whose targets name the principal or one of its groups. */
export function covering(policies: readonly Policy[], principalPath: string, groupPaths: readonly string[]): Policy[] {
  const mine = new Set([principalPath, ...groupPaths].map((p) => p.toLowerCase()));
  return policies.filter((p) => p.Targets.some((t) => mine.has(t.toLowerCase())));
}

export interface Requirement<T> {
  value: T;
  /** The policies that set this value (the most stringent; several when they agree). */
  from: string[];
}

export interface Effective {
  policies: string[];
  factors: Requirement<FactorSet>;
  enrollWithinDays: Requirement<number>;
  reverifyAfterHours: Requirement<number> | null;
}

/** The most stringent requirements of the active policies given; undefined when none is active. */
export function effective(policies: readonly Policy[]): Effective | undefined {
  const active = policies.filter((p) => p.Active).sort((a, b) => (a.Name < b.Name ? -1 : 1));
  if (active.length === 0) return undefined;
  let factors: FactorSet = ANY_FACTOR;
  const factorFrom: string[] = [];
  for (const p of active) {
    if (p.Factors === 'any') continue;
    factors = intersect(factors, factorSetOf(p.Factors));
    factorFrom.push(p.Name);
  }
  const min = <T extends number>(pick: (p: Policy) => T | null): Requirement<T> | null => {
    let best: Requirement<T> | null = null;
    for (const p of active) {
      const v = pick(p);
      if (v === null) continue;
      if (!best || v < best.value) best = { value: v, from: [p.Name] };
      else if (v === best.value) best.from.push(p.Name);
    }
    return best;
  };
  return {
    policies: active.map((p) => p.Name),
    factors: { value: factors, from: factorFrom.length ? factorFrom : active.map((p) => p.Name) },
    enrollWithinDays: min((p) => p.EnrollWithinDays)!,
    reverifyAfterHours: min((p) => p.ReverifyAfterHours),
  };
}
