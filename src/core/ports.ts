// The ports the core depends on. Adapters live outside core/ (store/, providers/, crypto/). The factor port
// is in factor.ts.

import type { Throttle } from './lockout.js';
import type { AuditEntry, AuditRecord, Authorization, ConfigType, Effect, Group, MfaConfig, Operation, Policy, Principal, PrincipalType, SecurityKey, Session, StoredConfig } from './model.js';

/** A policy target resolved to the row it names. */
export type PolicyTarget = { kind: 'group'; id: string; path: string } | { kind: 'principal'; id: string; path: string };

export interface Clock {
  now(): Date;
}

/** A configuration on its way into the store: the provider's secret options apart, to be sealed at rest. */
export interface ConfigRecord extends MfaConfig {
  /** Option keys that are secrets (the provider's list): sealed at rest, the rest stored in clear. */
  secretKeys: readonly string[];
}

/** The provider-owned state of an assignment: a sealed secret (a TOTP seed) and a counter only allowed to grow. */
export interface FactorState {
  secret: string | null;
  /** The last value accepted (TOTP: the time step), for replay protection; null before the first. */
  counter: number | null;
  pending: boolean;
}

/**
 * Every operation of the store, asynchronous so that a network database is one more adapter. Outside `write`
 * each call stands alone; inside, the `tx` handed to the function runs in that transaction.
 */
export interface StoreOps {
  listConfigs(): Promise<StoredConfig[]>;
  getConfig(name: string): Promise<StoredConfig | undefined>;
  /** The stored name and type, without opening secrets (delete and assign need no keys). */
  findConfig(name: string): Promise<{ Name: string; Type: ConfigType } | undefined>;
  insertConfig(config: ConfigRecord, at: string): Promise<StoredConfig>;
  updateConfig(name: string, config: ConfigRecord, at: string): Promise<StoredConfig>;
  deleteConfig(name: string): Promise<void>;
  principalsOfConfig(name: string): Promise<{ path: string; providerUserId: string; assignedAt: string; pending: boolean }[]>;
  /** Every configuration's name and type (no secrets opened). */
  configTypes(): Promise<{ name: string; type: ConfigType }[]>;

  listPrincipals(type: PrincipalType): Promise<Principal[]>;
  getPrincipal(type: PrincipalType, name: string): Promise<Principal | undefined>;
  getPrincipalById(id: string): Promise<Principal | undefined>;
  insertPrincipal(type: PrincipalType, name: string, credential: string | null, at: string): Promise<Principal>;
  /** Sets the password hash or API-key digest and raises the credential epoch (revoking its sessions). */
  setCredential(principalId: string, credential: string, at: string): Promise<void>;
  deletePrincipal(principalId: string): Promise<void>;

  /**
   * Assigns (or replaces) the principal's MFA config and raises its credential epoch (revoking its sessions).
   * A provider's secret (sealed at rest) may come with it, and the assignment may start pending. The
   * principal's security keys go (they belong to the assignment they were registered under), here and in unassign.
   */
  assign(principalId: string, configName: string, providerUserId: string, at: string, state?: { secret: string | null; pending: boolean }): Promise<void>;
  /** The provider state of the principal's assignment (its secret opened). */
  getFactorState(principalId: string): Promise<FactorState | undefined>;
  /** Records the counter value, only if it is greater than the stored one (false: a replay). */
  advanceCounter(principalId: string, value: number): Promise<boolean>;
  confirmAssignment(principalId: string): Promise<void>;
  unassign(principalId: string, at: string): Promise<void>;

  /** Security keys: of one principal, or every principal's (with its path), oldest first. */
  listKeys(principalId?: string): Promise<(SecurityKey & { principal: string })[]>;
  /** Adds a key; KEY_EXISTS when its credential id is registered already (to anyone). */
  insertKey(key: SecurityKey): Promise<void>;
  renameKey(principalId: string, keyId: string, name: string): Promise<boolean>;
  /** Deletes a key and revokes the principal's sessions (one made with a lost or stolen key ends with it). */
  deleteKey(principalId: string, keyId: string, at: string): Promise<boolean>;
  /**
   * Records a use of the key: the new counter only if it is greater than the stored one, or both are 0 (a key
   * that keeps no counter). False otherwise: a counter that did not increase (a possibly cloned key).
   */
  useKey(principalId: string, keyId: string, counter: number, at: string): Promise<boolean>;

  /** A keyed digest of a recovery code (the key never leaves the adapter), for storage and lookup. */
  recoveryDigest(principalId: string, code: string): Promise<string>;
  replaceRecoveryCodes(principalId: string, digests: string[], at: string): Promise<void>;
  /** Marks an unused code used; false when there is none with this digest. */
  useRecoveryCode(principalId: string, digest: string, at: string): Promise<boolean>;
  recoveryCodesLeft(principalId: string): Promise<number>;

  /** The lockout state of a subject (a principal path in lower case, known or not) from one address and from all. */
  getThrottle(subject: string, address: string): Promise<Throttle>;
  saveThrottle(subject: string, address: string, throttle: Throttle, at: string): Promise<void>;
  /** The subject's counters by address (`*`: every address together), where there is a failure or a lock. */
  listThrottle(subject: string): Promise<{ address: string; failedCount: number; lockedUntil: string | null }[]>;
  /** Forgets the subject's counters and locks (`user unlock`); how many rows went. */
  clearThrottle(subject: string): Promise<number>;
  /** Forgets counters with no lock in force at `now`, no failure since `before` and no success since `trustedSince`. */
  sweepThrottle(before: string, now: string, trustedSince: string): Promise<number>;
  /** The subject's attempts in flight, from this address and from all; the expired leases are removed and returned. */
  countAttempts(subject: string, address: string, now: string): Promise<{ here: number; all: number; expired: { address: string }[] }>;
  insertAttempt(id: string, subject: string, address: string, expiresAt: string): Promise<void>;
  /** Extends a lease still live at `now`; false when it expired or is gone. */
  extendAttempt(id: string, now: string, expiresAt: string): Promise<boolean>;
  /** Ends an attempt: `live` when its lease held until `now`, `expired` when it had run out, `gone` when already removed. */
  deleteAttempt(id: string, now: string): Promise<'live' | 'expired' | 'gone'>;

  insertSession(session: Session): Promise<void>;
  deleteSession(tokenHash: string): Promise<boolean>;
  getSession(tokenHash: string): Promise<Session | undefined>;
  deleteExpiredSessions(now: string): Promise<number>;
  /** Ends the principal's sessions but the one with this token digest; returns how many ended. */
  deleteSessionsExcept(principalId: string, keepTokenHash: string | undefined): Promise<number>;

  listAuthorizations(principalId?: string): Promise<Authorization[]>;
  findAuthorization(principalId: string, operation: Operation, resource: string): Promise<Authorization | undefined>;
  insertAuthorization(principalId: string, operation: Operation, effect: Effect, resource: string, at: string): Promise<Authorization>;
  deleteAuthorization(principalId: string, operation: Operation, resource: string): Promise<boolean>;

  audit(entry: AuditEntry): Promise<void>;
  listAudit(filter: { since?: string; principal?: string; limit: number }): Promise<AuditRecord[]>;

  insertGroup(name: string, at: string): Promise<Group>;
  getGroup(name: string): Promise<Group | undefined>;
  listGroups(): Promise<Group[]>;
  deleteGroup(groupId: string): Promise<void>;
  addMember(groupId: string, principalId: string, at: string): Promise<boolean>;
  removeMember(groupId: string, principalId: string): Promise<boolean>;
  /** Paths of the groups the principal belongs to. */
  groupsOf(principalId: string): Promise<string[]>;

  listPolicies(): Promise<Policy[]>;
  getPolicy(name: string): Promise<Policy | undefined>;
  /** Inserts or replaces the policy (by name) with its targets, resolved to ids. */
  savePolicy(policy: Omit<Policy, 'Targets' | 'CreatedAt' | 'UpdatedAt'>, targets: PolicyTarget[], at: string): Promise<Policy>;
  deletePolicy(name: string): Promise<void>;
  /** When policies first applied to the principal (the start of its enrolment window). */
  firstApplied(principalId: string): Promise<string | undefined>;
  setFirstApplied(principalId: string, at: string, overwrite: boolean): Promise<void>;
  setLastMfa(principalId: string, at: string): Promise<void>;
}

/** Persistence. Secrets cross this port in clear; the adapter encrypts them at rest. */
export interface Store extends StoreOps {
  /**
   * Runs fn in one write transaction (SQLite: BEGIN IMMEDIATE), so read-modify-write cannot race; rolled back
   * when fn throws. fn awaits only `tx`'s operations: no provider call, hash or other slow work inside.
   */
  write<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;
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

/** What a long step reports: a line to show, or a browser ceremony's URL to open (and the line to show with it). */
export type ProgressEvent =
  | { kind: 'info'; message: string }
  | { kind: 'ceremony'; url: string; message: string; deadline: number }
  /** A server's redirect ceremony waits for the client's loopback address (`flow` names it: a 256-bit secret). */
  | { kind: 'redirect'; flow: string; message: string; deadline: number }
  /**
   * Waiting for the user to answer on a device (a push, a call) until `deadline` (ms since epoch): the CLI counts
   * down. `device` is the provider's name for it, already escaped; `message` says the same in words.
   */
  | { kind: 'waiting'; factor: 'push' | 'phone'; device: string | undefined; deadline: number; message: string };
