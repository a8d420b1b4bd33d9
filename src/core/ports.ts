// The ports the core depends on. Adapters live outside core/ (store/, providers/, crypto/).

import type { AuditEntry, AuditRecord, Authorization, Effect, Group, Operation, Policy, TotpOptions, ConfigType, DuoOptions, Factor, MfaConfig, MfaMethod, Principal, PrincipalType, Session, StoredConfig } from './model.js';

/** A policy target resolved to the row it names. */
export type PolicyTarget = { kind: 'group'; id: string; path: string } | { kind: 'principal'; id: string; path: string };

export interface Clock {
  now(): Date;
}

/** Persistence. Secrets cross this port in clear; the adapter encrypts them at rest. */
export interface Store {
  /** Runs fn in one write transaction (BEGIN IMMEDIATE), so read-modify-write cannot race. */
  write<T>(fn: () => T): T;

  listConfigs(): StoredConfig[];
  getConfig(name: string): StoredConfig | undefined;
  /** The stored name and type, without opening secrets (delete and assign need no keys). */
  findConfig(name: string): { Name: string; Type: ConfigType } | undefined;
  insertConfig(config: MfaConfig, at: string): StoredConfig;
  updateConfig(name: string, config: MfaConfig, at: string): StoredConfig;
  deleteConfig(name: string): void;
  principalsOfConfig(name: string): { path: string; providerUserId: string; assignedAt: string; pending: boolean }[];

  listPrincipals(type: PrincipalType): Principal[];
  getPrincipal(type: PrincipalType, name: string): Principal | undefined;
  getPrincipalById(id: string): Principal | undefined;
  insertPrincipal(type: PrincipalType, name: string, credential: string | null, at: string): Principal;
  /** Sets the password hash or API-key digest and raises the credential epoch (revoking its sessions). */
  setCredential(principalId: string, credential: string, at: string): void;
  deletePrincipal(principalId: string): void;
  /**
   * Assigns (or replaces) the principal's MFA config and raises its credential epoch (revoking its sessions).
   * A TOTP assignment carries its secret (sealed at rest) and starts pending until a first valid code.
   */
  assign(principalId: string, configName: string, providerUserId: string, at: string, totp?: { secret: string; pending: boolean }): void;
  /** The TOTP secret of the principal's assignment and the last time step accepted. */
  getTotpState(principalId: string): { secret: string; lastStep: number | null; pending: boolean } | undefined;
  /** Records that this time step was used, only if it is later than the last one (false: a replay). */
  commitTimeStep(principalId: string, step: number): boolean;
  confirmAssignment(principalId: string): void;

  /** A keyed digest of a recovery code (the key never leaves the adapter), for storage and lookup. */
  recoveryDigest(principalId: string, code: string): string;
  replaceRecoveryCodes(principalId: string, digests: string[], at: string): void;
  /** Marks an unused code used; false when there is none with this digest. */
  useRecoveryCode(principalId: string, digest: string, at: string): boolean;
  recoveryCodesLeft(principalId: string): number;
  unassign(principalId: string, at: string): void;
  /** Saves the lockout state computed by the core. */
  saveAuthState(principalId: string, failedCount: number, lockedUntil: string | null): void;

  insertSession(session: Session): void;
  deleteSession(tokenHash: string): boolean;
  getSession(tokenHash: string): Session | undefined;
  deleteExpiredSessions(now: string): number;

  listAuthorizations(principalId?: string): Authorization[];
  findAuthorization(principalId: string, operation: Operation, resource: string): Authorization | undefined;
  insertAuthorization(principalId: string, operation: Operation, effect: Effect, resource: string, at: string): Authorization;
  deleteAuthorization(principalId: string, operation: Operation, resource: string): boolean;

  audit(entry: AuditEntry): void;
  listAudit(filter: { since?: string; principal?: string; limit: number }): AuditRecord[];

  insertGroup(name: string, at: string): Group;
  getGroup(name: string): Group | undefined;
  listGroups(): Group[];
  deleteGroup(groupId: string): void;
  addMember(groupId: string, principalId: string, at: string): boolean;
  removeMember(groupId: string, principalId: string): boolean;
  /** Paths of the groups the principal belongs to. */
  groupsOf(principalId: string): string[];

  /** Every configuration's name and type (no secrets opened). */
  configTypes(): { name: string; type: ConfigType }[];
  listPolicies(): Policy[];
  getPolicy(name: string): Policy | undefined;
  /** Inserts or replaces the policy (by name) with its targets, resolved to ids. */
  savePolicy(policy: Omit<Policy, 'Targets' | 'CreatedAt' | 'UpdatedAt'>, targets: PolicyTarget[], at: string): Policy;
  deletePolicy(name: string): void;

  /** When policies first applied to the principal (the start of its enrolment window). */
  firstApplied(principalId: string): string | undefined;
  setFirstApplied(principalId: string, at: string, overwrite: boolean): void;
  setLastMfa(principalId: string, at: string): void;
  /** Ends the principal's sessions but the one with this token digest; returns how many ended. */
  deleteSessionsExcept(principalId: string, keepTokenHash: string | undefined): number;
}

/** Hashing and randomness: node:crypto lives behind this port. */
export interface Crypto {
  hashPassword(password: string): Promise<string>;
  verifyPassword(password: string, stored: string | null): Promise<boolean>;
  /** A fresh random token (base64url of 32 bytes). */
  randomToken(): string;
  /** A random string of `length` characters drawn uniformly from `alphabet`. */
  randomString(alphabet: string, length: number): string;
  /** SHA-256 digest (hex) of a high-entropy token, for storage and constant-time lookup. */
  digestToken(token: string): string;
  /** Constant-time comparison of two hex digests. */
  equalDigests(a: string, b: string): boolean;
  randomId(): string;
}

export type ProgressEvent = { kind: 'info'; message: string };

/** What Duo is asked for: a passcode or a factor (recovery codes never reach a provider). */
export type DuoMethod = Exclude<MfaMethod, { kind: 'recovery' }>;

export interface DuoRequestContext {
  options: DuoOptions;
  providerUserId: string;
  /** Absolute deadline (ms since epoch, by the clock) for the whole exchange. */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Called when the preauth step asks for a factor and none was given. */
  chooseFactor?: (available: Factor[]) => Promise<DuoMethod>;
  method: DuoMethod | undefined;
  /** Context shown to the user on the device (Duo's pushinfo). */
  pushInfo?: Record<string, string>;
}

export type ProviderOutcome =
  | { result: 'allow'; factor: string; bypass: boolean; message: string }
  | { result: 'deny'; reason: 'denied' | 'policy' | 'fraud' | 'enroll' | 'sms_sent' | 'timeout' | 'invalid_passcode'; message: string };

/** A second-factor provider. Transport and protocol failures throw PROVIDER_* errors (fail closed). */
export interface MfaProviderApi {
  authenticate(ctx: DuoRequestContext): Promise<ProviderOutcome>;
}

/** RFC 6238 time-based one-time passwords. */
export interface TotpApi {
  /** A fresh secret of 160 bits, base32. */
  generateSecret(): Promise<string>;
  /** The otpauth:// URI an authenticator app scans. */
  uri(args: { secret: string; issuer: string; label: string; options: TotpOptions }): Promise<string>;
  /** Whether the code matches within ±Skew steps of `at`; the matched time step when it does. */
  verify(args: { secret: string; code: string; options: TotpOptions; at: Date }): Promise<{ valid: true; timeStep: number } | { valid: false }>;
}

export interface Providers {
  duo: MfaProviderApi;
  totp: TotpApi;
}
