// The error-code registry: every failure ssrun reports has a stable UPPER_SNAKE code and belongs to one
// exit-code family. The CLI maps families to process exit codes in one place (cli/main.ts); the README
// documents the table. Messages never carry secrets.

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  INVALID_INPUT: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  AUTH_DENIED: 5,
  LOCKED_OUT: 6,
  PROVIDER_UNAVAILABLE: 7,
  STORE_UNAVAILABLE: 8,
  FORBIDDEN: 9,
  CANCELLED: 130,
} as const;

export type ExitFamily = keyof typeof EXIT;

/** Every error code ssrun can report, and the exit-code family it belongs to. */
export const ERROR_CODES = {
  // usage and input
  USAGE: 'INVALID_INPUT',
  INVALID_JSON: 'INVALID_INPUT',
  INVALID_CONFIG: 'INVALID_INPUT',
  INVALID_NAME: 'INVALID_INPUT',
  INVALID_PRINCIPAL: 'INVALID_INPUT',
  UNSUPPORTED_PRINCIPAL_TYPE: 'INVALID_INPUT',
  INVALID_PASSWORD: 'INVALID_INPUT',
  INVALID_METHOD: 'INVALID_INPUT',
  INVALID_TOTP_SECRET: 'INVALID_INPUT',
  INVALID_POLICY: 'INVALID_INPUT',
  /** The policies covering some principal would allow no factor at all. */
  EMPTY_FACTOR_SET: 'INVALID_INPUT',
  FILE_UNREADABLE: 'INVALID_INPUT',
  INPUT_TOO_LARGE: 'INVALID_INPUT',
  NAME_IMMUTABLE: 'INVALID_INPUT',
  /** HTTP: the request was not received in time. */
  REQUEST_TIMEOUT: 'INVALID_INPUT',
  /** HTTP: the request line and headers are over the limit. */
  HEADERS_TOO_LARGE: 'INVALID_INPUT',
  /** HTTP: the URL is too long. */
  URI_TOO_LONG: 'INVALID_INPUT',
  /** HTTP: malformed framing (Content-Length and Transfer-Encoding together, a bad length…). */
  BAD_REQUEST: 'INVALID_INPUT',
  TYPE_IMMUTABLE: 'INVALID_INPUT',
  // lookups
  CONFIG_NOT_FOUND: 'NOT_FOUND',
  PRINCIPAL_NOT_FOUND: 'NOT_FOUND',
  ASSIGNMENT_NOT_FOUND: 'NOT_FOUND',
  NOT_LOGGED_IN: 'NOT_FOUND',
  AUTHORIZATION_NOT_FOUND: 'NOT_FOUND',
  GROUP_NOT_FOUND: 'NOT_FOUND',
  POLICY_NOT_FOUND: 'NOT_FOUND',
  MEMBER_NOT_FOUND: 'NOT_FOUND',
  CONTEXT_NOT_FOUND: 'NOT_FOUND',
  ROUTE_NOT_FOUND: 'NOT_FOUND',
  /** No security key with this id for this user. */
  KEY_NOT_FOUND: 'NOT_FOUND',
  /** No browser login flow with this id on this server (it ended, or the id is wrong). */
  FLOW_NOT_FOUND: 'NOT_FOUND',
  // state conflicts
  CONFIG_EXISTS: 'CONFLICT',
  CONFIG_IN_USE: 'CONFLICT',
  PRINCIPAL_EXISTS: 'CONFLICT',
  ALREADY_INITIALIZED: 'CONFLICT',
  ROOT_PROTECTED: 'CONFLICT',
  AUTHORIZATION_EXISTS: 'CONFLICT',
  GROUP_EXISTS: 'CONFLICT',
  POLICY_EXISTS: 'CONFLICT',
  MEMBER_EXISTS: 'CONFLICT',
  /** Enforcing the policy would leave root without a way in. */
  ROOT_LOCKOUT: 'CONFLICT',
  CONTEXT_EXISTS: 'CONFLICT',
  /** The security key (credential id) is registered already. */
  KEY_EXISTS: 'CONFLICT',
  /** The user's last security key, which a policy needs: add another first (or an administrator deletes it). */
  LAST_KEY: 'CONFLICT',
  /** The user has another factor assigned: `--replace` to switch to security keys. */
  OTHER_FACTOR_ASSIGNED: 'CONFLICT',
  // authentication
  AUTH_DENIED: 'AUTH_DENIED',
  MFA_REQUIRED: 'AUTH_DENIED',
  MFA_DENIED: 'AUTH_DENIED',
  MFA_NOT_ENROLLED: 'AUTH_DENIED',
  MFA_FRAUD: 'AUTH_DENIED',
  MFA_TIMEOUT: 'AUTH_DENIED',
  MFA_SMS_SENT: 'AUTH_DENIED',
  /** The principal has no unused recovery code left. */
  RECOVERY_CODES_EXHAUSTED: 'AUTH_DENIED',
  /** A policy requires MFA and the enrolment deadline has passed. */
  MFA_ENROLLMENT_REQUIRED: 'AUTH_DENIED',
  /** The principal's factor is not one a policy allows. */
  MFA_FACTOR_NOT_ALLOWED: 'AUTH_DENIED',
  /** A policy asks for the second factor again (the session is older than ReverifyAfterHours). */
  REVERIFY_REQUIRED: 'AUTH_DENIED',
  /** A change of one's own security keys needs a login less than 5 minutes old, or the password again. */
  REAUTH_REQUIRED: 'AUTH_DENIED',
  /** The browser or the key refused the ceremony, or its answer did not verify. */
  KEY_REJECTED: 'AUTH_DENIED',
  /** No token, or one the server does not know (server contexts). */
  UNAUTHENTICATED: 'AUTH_DENIED',
  /** The token expired, was logged out, or was revoked by a password or MFA change. */
  SESSION_EXPIRED: 'AUTH_DENIED',
  LOCKED_OUT: 'LOCKED_OUT',
  /** As many attempts of the principal are in progress as the lockout allows, for longer than the wait bound. */
  ATTEMPTS_IN_FLIGHT: 'LOCKED_OUT',
  /** Too many requests from this address (server contexts). */
  RATE_LIMITED: 'LOCKED_OUT',
  // authorization (server contexts)
  FORBIDDEN: 'FORBIDDEN',
  /** A session of a user whose key assignment is pending: it may only register a key (`ssrun mfa key add`). */
  KEY_ENROLMENT_ONLY: 'FORBIDDEN',
  // the provider could not give an answer we can trust
  PROVIDER_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  PROVIDER_RATE_LIMITED: 'PROVIDER_UNAVAILABLE',
  PROVIDER_MISCONFIGURED: 'PROVIDER_UNAVAILABLE',
  PROVIDER_CLOCK_SKEW: 'PROVIDER_UNAVAILABLE',
  /** No browser ceremony here (a server started without --public-url, a client that cannot show one). */
  CEREMONY_UNAVAILABLE: 'PROVIDER_UNAVAILABLE',
  // the store
  STORE_BUSY: 'STORE_UNAVAILABLE',
  STORE_CORRUPT: 'STORE_UNAVAILABLE',
  STORE_NEWER_SCHEMA: 'STORE_UNAVAILABLE',
  /** The database's schema is older than this ssrun needs (or absent): run `ssrun migrate`. */
  STORE_OLDER_SCHEMA: 'STORE_UNAVAILABLE',
  /** The database server cannot be reached or dropped the connection (PostgreSQL down, restarting, refusing us). */
  STORE_UNREACHABLE: 'STORE_UNAVAILABLE',
  STORE_READ_ONLY: 'STORE_UNAVAILABLE',
  STORE_FULL: 'STORE_UNAVAILABLE',
  MASTER_KEY_MISSING: 'STORE_UNAVAILABLE',
  MASTER_KEY_INVALID: 'STORE_UNAVAILABLE',
  MASTER_KEY_WRONG: 'STORE_UNAVAILABLE',
  MASTER_KEY_UNSAFE: 'STORE_UNAVAILABLE',
  SECRET_UNDECRYPTABLE: 'STORE_UNAVAILABLE',
  // the server of a remote context
  SERVER_UNAVAILABLE: 'STORE_UNAVAILABLE',
  SERVER_UNTRUSTED: 'STORE_UNAVAILABLE',
  SERVER_PROTOCOL: 'STORE_UNAVAILABLE',
  // everything else
  CANCELLED: 'CANCELLED',
  INTERNAL: 'INTERNAL',
} as const satisfies Record<string, ExitFamily>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SsrunError extends Error {
  readonly code: ErrorCode;
  /** Optional structured detail, safe to show (never a secret). */
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = 'SsrunError';
    this.code = code;
    this.detail = detail;
  }

  get exitCode(): number {
    return EXIT[ERROR_CODES[this.code]];
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export function isSsrunError(e: unknown): e is SsrunError {
  return e instanceof SsrunError;
}

export function exitCodeOf(code: ErrorCode): number {
  return EXIT[ERROR_CODES[code]];
}
