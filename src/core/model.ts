// Domain types. Output shapes use the capitalised keys of the documented CLI (Type, Name, Options…).

/** A configuration's type names its factor provider (src/providers/<type>/, registered in one place). */
export type ConfigType = string;

export const REDACTED = '********';

/** A validated MFA configuration, secrets in clear (only ever in memory); Options are the provider's. */
export interface MfaConfig {
  Type: ConfigType;
  Name: string;
  Options: Record<string, unknown>;
}

export type StoredConfig = MfaConfig & {
  id: string;
  createdAt: string;
  updatedAt: string;
};

export type PrincipalType = 'user' | 'application';

export interface PrincipalRef {
  type: PrincipalType;
  name: string;
  path: string;
}

export interface Assignment {
  configName: string;
  configType: ConfigType;
  providerUserId: string;
  assignedAt: string;
  /** Enrolled but not yet confirmed (a TOTP secret before its first valid code). */
  pending: boolean;
}

export interface Principal {
  id: string;
  type: PrincipalType;
  name: string;
  /** Password hash (users) or API-key digest (applications); never shown. */
  credential: string | null;
  epoch: number;
  /** When a second factor (or recovery code) was last verified at login. */
  lastMfaAt: string | null;
  failedCount: number;
  lockedUntil: string | null;
  createdAt: string;
  updatedAt: string;
  assignment: Assignment | null;
}

/** What `-m` (or the terminal prompt) asked for, as the principal's provider read it; recovery codes are the core's. */
export type MfaMethod = { kind: 'passcode'; passcode: string } | { kind: 'factor'; factor: string } | { kind: 'recovery'; code: string };

export const RECOVERY_CODE_COUNT = 10;

/**
 * A registered security key (a WebAuthn credential) of a principal: what verifying its assertions needs
 * (public, nothing here is a secret), and what `mfa key get` shows.
 */
export interface SecurityKey {
  /** The credential id (base64url), unique in the store. */
  id: string;
  principalId: string;
  name: string;
  /** The COSE public key (base64url). */
  publicKey: string;
  /** The signature counter last seen (0: the authenticator keeps none). */
  counter: number;
  transports: string[];
  /** `singleDevice` or `multiDevice` (a synced passkey). */
  deviceType: string;
  backedUp: boolean;
  aaguid: string;
  /** The relying-party id it was registered for (a key works only there). */
  rpId: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface Session {
  tokenHash: string;
  principalId: string;
  epoch: number;
  factor: string;
  createdAt: string;
  expiresAt: string;
}

export interface AuditEntry {
  at: string;
  /** The principal acted on (or '-'). */
  principal: string;
  action: string;
  outcome: 'allowed' | 'denied' | 'error' | 'ok';
  detail: string;
  /** Who acted: a principal path, or `local` for the embedded store's own user. */
  actor?: string;
  /** From where: `cli` for the embedded store, the client address on a server. */
  source?: string;
}

export interface AuditRecord {
  Id: number;
  At: string;
  Actor: string;
  Source: string;
  Action: string;
  Principal: string;
  Outcome: string;
  Detail: string;
}

export const OPERATIONS = ['create', 'read', 'update', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const EFFECTS = ['allow', 'deny'] as const;
export type Effect = (typeof EFFECTS)[number];

/** A rule: the principal may (allow) or may not (deny) do the operation on the resource and below it. */
export interface Authorization {
  Principal: string;
  Operation: Operation;
  Effect: Effect;
  Resource: string;
  CreatedAt: string;
}

/** Who is calling, as the server knows it from a bearer token. */
export interface Caller {
  principalId: string;
  type: PrincipalType;
  name: string;
  path: string;
  isRoot: boolean;
  factor: string;
  expiresAt: string;
  /** When the session began (its login). */
  since: string;
}

export function principalPath(type: PrincipalType, name: string): string {
  return `principal/internal/${type}/${name}`;
}

// ---- groups and MFA policies ------------------------------------------------------------------------------

export interface Group {
  id: string;
  name: string;
  createdAt: string;
  /** Member principal paths, sorted. */
  members: string[];
}

/** Which second factors a policy allows: any, only phishing-resistant ones, or these configurations. */
export type FactorSpec = 'any' | 'phishing-resistant' | string[];

export interface Policy {
  Name: string;
  Factors: FactorSpec;
  /** Days a newly covered principal may log in without a factor; 0: enrol before the next login. */
  EnrollWithinDays: number;
  /** Hours after which a second-factor verification must be repeated, even with a valid session; null: never. */
  ReverifyAfterHours: number | null;
  /** principal/internal/{user,application,group}/NAME */
  Targets: string[];
  Active: boolean;
  CreatedAt: string;
  UpdatedAt: string;
}
