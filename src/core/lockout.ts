// Throttling of guesses, per principal and client address (S12, S26). Pure: takes the stored state and the time, returns the state
// to save. An attempt is registered as *in flight* before its credentials are checked, so N parallel attempts
// cannot slip past the limit: an attempt proceeds only while settled failures plus attempts in flight stay
// under the limit; otherwise it waits (bounded) for those in flight to settle. A settled failure counts; five
// lock the principal for 15 minutes; a success resets. Outcomes that are not guesses (provider down, MFA
// required, enrolment) settle without counting. So parallel correct logins are never refused, and parallel
// wrong guesses are never more than the limit.

export const MAX_FAILURES = 5;
export const LOCK_MINUTES = 15;

export interface AuthState {
  failedCount: number;
  lockedUntil: string | null;
}

export type AttemptDecision =
  | { decision: 'locked'; until: string; failedCount: number }
  /** The limit is reached by attempts still in flight: wait for one to settle, then ask again. */
  | { decision: 'wait' }
  | { decision: 'proceed' };

/**
 * Whether an attempt may start, given the settled state and how many attempts are in flight. After a lock
 * expires, one probe at a time may run (its failure locks again at once).
 */
export function beginAttempt(state: AuthState, inFlight: number, now: Date, limit = MAX_FAILURES): AttemptDecision {
  if (state.lockedUntil && Date.parse(state.lockedUntil) > now.getTime()) {
    return { decision: 'locked', until: state.lockedUntil, failedCount: state.failedCount };
  }
  if (inFlight === 0 || state.failedCount + inFlight < limit) return { decision: 'proceed' };
  return { decision: 'wait' };
}

export type AttemptOutcome = 'success' | 'failure' | 'not-a-guess';

/** The state after an attempt settles. */
export function settle(state: AuthState, outcome: AttemptOutcome, now: Date, limit = MAX_FAILURES): AuthState {
  if (outcome === 'success') return { failedCount: 0, lockedUntil: null };
  if (outcome === 'not-a-guess') return state;
  const failedCount = state.failedCount + 1;
  const lockedUntil = failedCount >= limit ? new Date(now.getTime() + LOCK_MINUTES * 60_000).toISOString() : null;
  return { failedCount, lockedUntil };
}

/**
 * An attempt in flight is a lease: short while its password is checked, extended once the password was right
 * (for the second factor's own timeout). A lease that expires counts as a failure (its process died or was
 * stopped, and its guess may have been seen): it cannot be used to hold the allowance for free.
 */
export const PASSWORD_LEASE_MS = 120_000;
export const lease = (timeoutMs: number) => timeoutMs + 60_000;
/** A lease that still outlives the second factor's timeout by this much is not extended (one commit fewer). */
export const LEASE_SLACK_MS = 30_000;

// ---- two scopes: one client address, and every address together (S26) ------------------------------------

/** How many settled failures lock a principal: from one address, and from all addresses together. */
export interface Limits {
  perAddress: number;
  anywhere: number;
}

export const DEFAULT_LIMITS: Limits = { perAddress: MAX_FAILURES, anywhere: 50 };

/** The state of a principal seen from one address, and from every address. */
export interface Throttle {
  here: AuthState;
  all: AuthState;
  /** When this address last logged in as this principal (a known-good address), if ever. */
  lastSuccessHere?: string | null;
}

/** An address that logged in as the principal within this many days is not locked out by failures from others. */
export const TRUSTED_DAYS = 30;
const trusted = (t: Throttle, now: Date) => !!t.lastSuccessHere && now.getTime() - Date.parse(t.lastSuccessHere) < TRUSTED_DAYS * 86_400_000;

export type ScopedDecision =
  | { decision: 'locked'; until: string; failedCount: number; everywhere: boolean }
  | { decision: 'wait' }
  | { decision: 'proceed' };

/** Both scopes must let the attempt start; a lock of either refuses it, a full allowance of either makes it wait. */
export function beginScoped(t: Throttle, inFlight: { here: number; all: number }, now: Date, limits: Limits): ScopedDecision {
  // Failures from elsewhere never lock out an address this principal logs in from (S26: no denial of service
  // by name); that address keeps its own allowance of 5.
  const all = trusted(t, now) ? ({ decision: 'proceed' } as const) : beginAttempt(t.all, inFlight.all, now, limits.anywhere);
  if (all.decision === 'locked') return { ...all, everywhere: true };
  const here = beginAttempt(t.here, inFlight.here, now, limits.perAddress);
  if (here.decision === 'locked') return { ...here, everywhere: false };
  return here.decision === 'wait' || all.decision === 'wait' ? { decision: 'wait' } : { decision: 'proceed' };
}

/**
 * Past the all-address limit, each further failure doubles the lock (15 min, 30, 1 h … at most 16 h): an
 * attacker spread over many addresses gets ever fewer guesses, not 4 an hour for ever.
 */
export function settleScoped(t: Throttle, outcome: AttemptOutcome, now: Date, limits: Limits): Throttle {
  const all = settle(t.all, outcome, now, limits.anywhere);
  const over = all.failedCount - limits.anywhere;
  if (outcome === 'failure' && over > 0) all.lockedUntil = new Date(now.getTime() + LOCK_MINUTES * 2 ** Math.min(over, 6) * 60_000).toISOString();
  return { here: settle(t.here, outcome, now, limits.perAddress), all, lastSuccessHere: outcome === 'success' ? now.toISOString() : t.lastSuccessHere };
}
