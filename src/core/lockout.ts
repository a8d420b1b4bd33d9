// Throttling of guesses, per principal (S12). Pure: takes the stored state and the time, returns the state
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
export function beginAttempt(state: AuthState, inFlight: number, now: Date): AttemptDecision {
  if (state.lockedUntil && Date.parse(state.lockedUntil) > now.getTime()) {
    return { decision: 'locked', until: state.lockedUntil, failedCount: state.failedCount };
  }
  if (inFlight === 0 || state.failedCount + inFlight < MAX_FAILURES) return { decision: 'proceed' };
  return { decision: 'wait' };
}

export type AttemptOutcome = 'success' | 'failure' | 'not-a-guess';

/** The state after an attempt settles. */
export function settle(state: AuthState, outcome: AttemptOutcome, now: Date): AuthState {
  if (outcome === 'success') return { failedCount: 0, lockedUntil: null };
  if (outcome === 'not-a-guess') return state;
  const failedCount = state.failedCount + 1;
  const lockedUntil = failedCount >= MAX_FAILURES ? new Date(now.getTime() + LOCK_MINUTES * 60_000).toISOString() : null;
  return { failedCount, lockedUntil };
}

/** How long an attempt stays in flight at most (a crashed process's attempt is then forgotten). */
export function attemptLifetimeMs(timeoutMs: number): number {
  return timeoutMs + 5 * 60_000;
}
