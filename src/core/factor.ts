// The factor port: what every second-factor type (src/providers/<type>/) implements, so that configs, login,
// enrolment, `mfa get` and policies never name a type. Verification returns an outcome (a wrong code is a
// result, not an exception); transport and protocol failures throw PROVIDER_* errors and fail closed.

import type { Ceremony } from './ceremony.js';
import { SsrunError, type ErrorCode } from './errors.js';
import type { MfaMethod, PrincipalType, SecurityKey } from './model.js';
import type { FactorState, ProgressEvent } from './ports.js';
import { checkMfaShape, shown } from './validate.js';

/** The one answer for a wrong user name, password or code (S11): nothing tells which was wrong. */
export const DENIED_MESSAGE = 'authentication denied: wrong user name, password or passcode';

/** A method as a provider reads it: a passcode or a named factor (recovery codes are the core's). */
export type ProviderMethod = Exclude<MfaMethod, { kind: 'recovery' }>;

/**
 * How a terminal asks for the second factor when `-m` is not given. The answer is read like `-m` (so a
 * recovery code works there too).
 */
export type FactorPrompt =
  | { kind: 'code'; code: CodePrompt }
  /** A browser ceremony: no question; a client re-sends `method` as -m (over a server). */
  | { kind: 'ceremony'; message: string; method: string }
  | {
      kind: 'menu';
      message: string;
      /** value: what `-m` would say (`push`), or codeChoice: then ask for a code. */
      choices: { value: string; name: string; disabled?: boolean }[];
      codeChoice: string;
      code: CodePrompt;
    };

/**
 * A question for a code: a valid answer is `min`–`max` characters of `chars` (or a recovery code); `hint` says
 * what is expected. Declarative, not a regular expression: a server's prompt must not be able to hang a terminal.
 */
export interface CodePrompt {
  message: string;
  chars: 'digits' | 'alphanumeric';
  min: number;
  max: number;
  hint: string;
}

/** The answers a code prompt takes (recovery codes aside). */
export function codeShape(c: Pick<CodePrompt, 'chars' | 'min' | 'max'>): RegExp {
  return new RegExp(`^[${c.chars === 'digits' ? '0-9' : 'A-Za-z0-9'}]{${c.min},${c.max}}$`);
}

export interface FactorSubject {
  type: PrincipalType;
  name: string;
  path: string;
}

export interface EnrolRequest {
  options: Record<string, unknown>;
  configName: string;
  principal: FactorSubject;
  /** `-m` of assign-principal: the principal's identity at the provider, or a secret to import. */
  identity: string | undefined;
}

export interface Enrolment {
  providerUserId: string;
  /** Sealed at rest with the assignment (a TOTP seed); never shown again. */
  secret: string | null;
  pending: boolean;
  /** Shown this once in the answer (a generated secret, its URI). */
  shown?: Record<string, string>;
  /** For the audit trail (never a secret). */
  detail: string;
}

export interface VerifyRequest {
  options: Record<string, unknown>;
  configName: string;
  principal: FactorSubject;
  assignment: { providerUserId: string; pending: boolean };
  /** The assignment's provider state (its secret opened), read just before. */
  state: FactorState | undefined;
  /** A key factor's registered keys, read just before. */
  keys?: SecurityKey[];
  /** Where a browser ceremony runs (absent: none can run here). */
  ceremony?: Ceremony;
  method: ProviderMethod | undefined;
  /** Asks on a terminal (absent: not interactive). A recovery code typed there comes back as one. */
  choose?: (prompt: FactorPrompt) => Promise<MfaMethod>;
  /** The time, read when the code is checked (after any prompt: a code typed a minute later is of a later step). */
  now: () => Date;
  /** Absolute deadline (ms since epoch, by the clock) for the whole exchange. */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

/** A refusal: the error the user sees, the reason the audit records, and whether it was a guess. */
export interface FactorDenial {
  code: ErrorCode;
  message: string;
  reason: string;
  /** Counted toward the lockout (wrong codes, refusals, unanswered pushes); false for enrolment or policy. */
  counted: boolean;
  /** Safe structured detail for the error (never a secret). */
  detail?: Record<string, unknown>;
}

export type FactorOutcome =
  | {
      result: 'allow';
      factor: string;
      /** For the audit trail. */
      detail: string;
      /** Advances the assignment's counter (compare-and-set): a value not above the stored one is `replay`. */
      counter?: { value: number; replay: FactorDenial };
      /** Records the key's use (compare-and-set of its counter): a counter that did not grow is `cloned`. */
      key?: { id: string; counter: number; cloned: FactorDenial };
    }
  | ({ result: 'deny' } & FactorDenial)
  /** The user typed a recovery code at the provider's prompt: the core takes it from here. */
  | { result: 'recovery'; code: string };

/** A key's registration: the browser ceremony, then what to store (the core names it and saves it). */
export interface RegisterRequest {
  options: Record<string, unknown>;
  configName: string;
  principal: FactorSubject;
  /** An opaque, stable handle of the user (never a name): the credential's user id. */
  userHandle: string;
  /** The user's keys already registered (the browser is told not to register one twice). */
  existing: SecurityKey[];
  ceremony: Ceremony | undefined;
  deadline: number;
  signal?: AbortSignal;
  onProgress?: VerifyRequest['onProgress'];
}

export type NewKey = Omit<SecurityKey, 'principalId' | 'name' | 'createdAt' | 'lastUsedAt'>;

/** Where `-m` is read: the principal, and its configuration's options (loaded). */
export interface MethodContext {
  path: string;
  configName: string;
  options: Record<string, unknown>;
}

export interface FactorProvider {
  /** The configuration `Type` it serves. */
  readonly type: string;
  /** Origin-bound (security keys): what a `phishing-resistant` policy admits. */
  readonly phishingResistant: boolean;
  /** Needs an interactive ceremony (a browser) to verify. */
  readonly ceremony: boolean;
  /**
   * Verifies a `-m` given at login at once and here, from what the store holds: no network, no person, no
   * password hash (TOTP). An application's login (API key) with such a factor then takes no lease: it is
   * checked first and admitted, counted and committed in one transaction (attempts.ts, `atOnce`). Absent: false.
   */
  readonly instant?: boolean;
  /** Option keys that are secrets: sealed at rest, redacted in output. */
  readonly secretOptions: readonly string[];
  /** A configuration every store starts with, added once (deleting it is then for good). */
  readonly builtin?: { Name: string; Options: Record<string, unknown> };
  /** Whether `mfa verify` may confirm a pending enrolment with a code. */
  readonly confirmsWithCode: boolean;
  /** What `-m` may be for this type, for messages and help. */
  readonly methodHelp: string;

  /** Validates Options of a configuration document (fields named `Options.X`); throws INVALID_CONFIG. */
  parseOptions(raw: unknown): Record<string, unknown>;
  /** Stored Options read back (defaults for keys added since). */
  loadOptions(stored: Record<string, unknown>): Record<string, unknown>;
  /** Options as `mfa get` shows them: secrets redacted unless asked for. */
  view(options: Record<string, unknown>, showSecrets: boolean): Record<string, string | number>;
  /** Options of an update, given the stored ones (the redacted placeholder keeps a stored secret). */
  merge(next: Record<string, unknown>, existing: Record<string, unknown>): Record<string, unknown>;

  /** Whether this type could read `raw` at all (the shape check before any attempt is counted). */
  accepts(raw: string): boolean;
  /** `-m` for a principal of this type (never a recovery code: those are checked first); throws INVALID_METHOD. */
  parseMethod(raw: string, ctx: MethodContext): ProviderMethod;
  /** What login says when MFA is required and no `-m` was given, and how a terminal asks. */
  required(ctx: MethodContext): { message: string; prompt: FactorPrompt };
  /** How long a login waits for this factor when the caller set no timeout (default: DEFAULT_MFA_TIMEOUT_MS). */
  timeoutMs?(options: Record<string, unknown>): number | undefined;

  /** A principal's enrolment: checks or makes its identity and secret (outside any transaction). */
  enrol(req: EnrolRequest): Promise<Enrolment>;
  verify(req: VerifyRequest): Promise<FactorOutcome>;
  /**
   * A factor whose state is a set of registered keys (security keys): registers one through a browser ceremony;
   * throws KEY_REJECTED when the browser refuses or the answer does not verify.
   */
  register?(req: RegisterRequest): Promise<NewKey>;
  /**
   * Checks a configuration's credentials with the provider, asking nothing of any user (Duo: /auth/v2/check);
   * throws PROVIDER_* when they do not work. What it returns is shown as is (never a secret).
   */
  check?(options: Record<string, unknown>, ctx: { deadline: number; signal?: AbortSignal }): Promise<Record<string, string>>;
}

export interface FactorRegistry {
  get(type: string): FactorProvider | undefined;
  /** The provider of a stored configuration; a type this ssrun does not know fails closed. */
  require(type: string): FactorProvider;
  types(): string[];
  all(): readonly FactorProvider[];
}

export function createRegistry(providers: readonly FactorProvider[]): FactorRegistry {
  const byType = new Map(providers.map((p) => [p.type, p] as const));
  return {
    get: (type) => byType.get(type.toLowerCase()),
    require(type) {
      const p = byType.get(type.toLowerCase());
      if (!p) throw new SsrunError('PROVIDER_MISCONFIGURED', `MFA configuration type ${shown(type)} is not known to this ssrun (known: ${[...byType.keys()].join(', ')})`);
      return p;
    },
    types: () => [...byType.keys()],
    all: () => providers,
  };
}

/** The providers' built-in configurations, as a store adds them once each (under `builtin_<type>`). */
export function builtinConfigs(factors: FactorRegistry) {
  return factors.all().flatMap((f) => (f.builtin ? [{ key: `builtin_${f.type}`, config: { Type: f.type, ...f.builtin, secretKeys: f.secretOptions } }] : []));
}

/** `-m`'s shape, before anything is counted: what some registered type could read, or a recovery code. */
export function checkMethodShape(factors: FactorRegistry, raw: string): void {
  const all = factors.all();
  checkMfaShape(raw, (v) => all.some((f) => f.accepts(v)), all.map((f) => f.methodHelp));
}
