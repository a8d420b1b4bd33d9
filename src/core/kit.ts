// What every use case shares: the ports, who is acting, the audit helper, lookups that fail with the
// documented errors, and the views users see (secrets redacted by default).

import type { Ceremony } from './ceremony.js';
import { SsrunError } from './errors.js';
import type { FactorRegistry } from './factor.js';
import type { Limits } from './lockout.js';
import { principalPath, type Principal, type PrincipalType, type StoredConfig } from './model.js';
import type { Clock, Crypto, Store, StoreOps } from './ports.js';
import { sanitizeLine, shown, validateConfigName, validatePrincipalName } from './validate.js';

export const SESSION_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_MFA_TIMEOUT_MS = 60_000;
export const ROOT_USER = 'root';
/** The factor of a session of a user whose key assignment is pending: it may only register a key. */
export const ENROLMENT_ONLY = 'password (key enrolment only)';
export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

export interface SsrunDeps {
  store: Store;
  factors: FactorRegistry;
  clock: Clock;
  crypto: Crypto;
  /** Who is acting and from where, for the audit trail (default: the embedded store's local user). */
  actor?: { principal: string; source: string };
  /** How long a session token lives (default one hour). */
  sessionTtlMs?: number;
  /** Failures that lock a principal from one address, and from all (default 5 and 50). */
  lockout?: Limits;
  /** Where browser ceremonies (security keys) run; absent: none can. */
  ceremony?: Ceremony;
}

export interface ConfigView {
  Type: string;
  Name: string;
  Options: Record<string, string | number>;
  CreatedAt?: string;
  UpdatedAt?: string;
  /** Pending: an enrolment not yet confirmed (a TOTP secret before its first valid code). */
  Principals?: { Principal: string; ProviderUserId: string; AssignedAt: string; Pending: boolean }[];
}

export interface PrincipalView {
  Name: string;
  Principal: string;
  Mfa: { Config: string; Type: string; ProviderUserId: string; Pending?: boolean } | null;
  CreatedAt?: string;
  UpdatedAt?: string;
  /** Failures from every address together, and the latest lock (from any address). */
  FailedAttempts?: number;
  LockedUntil?: string | null;
  /** `get -v` of one principal: its unused recovery codes. */
  RecoveryCodesLeft?: number;
  /** `get -v` of one principal: the counters by client address. */
  Lockout?: { Address: string; FailedAttempts: number; LockedUntil: string | null }[];
}

export type Outcome = 'allowed' | 'denied' | 'error' | 'ok';

export interface Kit {
  store: Store;
  factors: FactorRegistry;
  clock: Clock;
  crypto: Crypto;
  actor: { principal: string; source: string };
  sessionTtlMs: number;
  ceremony: Ceremony | undefined;
  nowIso(): string;
  /** One audit record, in the transaction of `ops` (or on its own with the store). */
  audit(ops: StoreOps, principal: string, action: string, outcome: Outcome, detail?: string): Promise<void>;
  requireConfig(ops: StoreOps, name: string): Promise<StoredConfig>;
  /** Looks a configuration up without opening its secrets (so an undecryptable one can still be deleted). */
  requireConfigName(ops: StoreOps, name: string): Promise<{ Name: string; Type: string }>;
  requirePrincipal(ops: StoreOps, type: PrincipalType, name: string): Promise<Principal>;
  configView(c: StoredConfig, opts?: { verbose?: boolean; showSecrets?: boolean }): Promise<ConfigView>;
}

export const pathOf = (p: { type: PrincipalType; name: string }) => principalPath(p.type, p.name);
export const isRoot = (p: { type: PrincipalType; name: string }) => p.type === 'user' && p.name.toLowerCase() === ROOT_USER;

export const byName = (a: { Name: string }, b: { Name: string }) =>
  a.Name.toLowerCase() < b.Name.toLowerCase() ? -1 : a.Name.toLowerCase() > b.Name.toLowerCase() ? 1 : a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0;

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function configNotFound(name: string): SsrunError {
  return new SsrunError('CONFIG_NOT_FOUND', `MFA configuration ${shown(name)} not found; \`ssrun mfa get\` lists them`);
}

export function principalView(p: Principal, verbose = false): PrincipalView {
  const view: PrincipalView = {
    Name: p.name,
    Principal: pathOf(p),
    Mfa: p.assignment
      ? { Config: p.assignment.configName, Type: p.assignment.configType, ProviderUserId: p.assignment.providerUserId, ...(verbose ? { Pending: p.assignment.pending } : {}) }
      : null,
  };
  if (verbose) {
    view.CreatedAt = p.createdAt;
    view.UpdatedAt = p.updatedAt;
    view.FailedAttempts = p.failedCount;
    view.LockedUntil = p.lockedUntil;
  }
  return view;
}

export function createKit({ store, factors, clock, crypto, actor = { principal: 'local', source: 'cli' }, sessionTtlMs = SESSION_TTL_MS, ceremony }: SsrunDeps): Kit {
  const nowIso = () => clock.now().toISOString();
  return {
    store,
    factors,
    clock,
    crypto,
    actor,
    sessionTtlMs,
    // The page says where the request came from (a server shows it before the key is touched).
    ceremony: ceremony && { run: ceremony.run && ((req) => ceremony.run!({ ...req, from: actor.source })), redirect: ceremony.redirect?.bind(ceremony) },
    nowIso,
    audit: (ops, principal, action, outcome, detail = '') =>
      ops.audit({ at: nowIso(), principal: sanitizeLine(principal, 300), action, outcome, detail: sanitizeLine(detail), actor: actor.principal, source: actor.source }),
    async requireConfig(ops, name) {
      const config = await ops.getConfig(validateConfigName(name, 'config name'));
      if (!config) throw configNotFound(name);
      return config;
    },
    async requireConfigName(ops, name) {
      const config = await ops.findConfig(validateConfigName(name, 'config name'));
      if (!config) throw configNotFound(name);
      return config;
    },
    async requirePrincipal(ops, type, name) {
      const p = await ops.getPrincipal(type, validatePrincipalName(name, type));
      if (!p) throw new SsrunError('PRINCIPAL_NOT_FOUND', `${principalPath(type, name)} not found`);
      return p;
    },
    async configView(c, opts = {}) {
      const view: ConfigView = { Type: c.Type, Name: c.Name, Options: factors.require(c.Type).view(c.Options, opts.showSecrets === true) };
      if (opts.verbose) {
        view.CreatedAt = c.createdAt;
        view.UpdatedAt = c.updatedAt;
        view.Principals = (await store.principalsOfConfig(c.Name)).map((p) => ({ Principal: p.path, ProviderUserId: p.providerUserId, AssignedAt: p.assignedAt, Pending: p.pending }));
      }
      return view;
    },
  };
}
