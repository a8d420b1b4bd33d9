// The ports the core depends on. Adapters live outside core/ (store/, providers/, crypto/).

import type { AuditEntry, AuditRecord, Authorization, Effect, Operation, ConfigType, DuoOptions, Factor, MfaConfig, MfaMethod, Principal, PrincipalType, Session, StoredConfig } from './model.js';

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
  principalsOfConfig(name: string): { path: string; providerUserId: string; assignedAt: string }[];

  listPrincipals(type: PrincipalType): Principal[];
  getPrincipal(type: PrincipalType, name: string): Principal | undefined;
  getPrincipalById(id: string): Principal | undefined;
  insertPrincipal(type: PrincipalType, name: string, credential: string | null, at: string): Principal;
  /** Sets the password hash or API-key digest and raises the credential epoch (revoking its sessions). */
  setCredential(principalId: string, credential: string, at: string): void;
  deletePrincipal(principalId: string): void;
  /** Assigns (or replaces) the principal's MFA config and raises its credential epoch (revoking its sessions). */
  assign(principalId: string, configName: string, providerUserId: string, at: string): void;
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
}

/** Hashing and randomness: node:crypto lives behind this port. */
export interface Crypto {
  hashPassword(password: string): Promise<string>;
  verifyPassword(password: string, stored: string | null): Promise<boolean>;
  /** A fresh random token (base64url of 32 bytes). */
  randomToken(): string;
  /** SHA-256 digest (hex) of a high-entropy token, for storage and constant-time lookup. */
  digestToken(token: string): string;
  /** Constant-time comparison of two hex digests. */
  equalDigests(a: string, b: string): boolean;
  randomId(): string;
}

export type ProgressEvent = { kind: 'info'; message: string };

export interface DuoRequestContext {
  options: DuoOptions;
  providerUserId: string;
  /** Absolute deadline (ms since epoch, by the clock) for the whole exchange. */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Called when the preauth step asks for a factor and none was given. */
  chooseFactor?: (available: Factor[]) => Promise<MfaMethod>;
  method: MfaMethod | undefined;
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

export interface Providers {
  duo: MfaProviderApi;
}
