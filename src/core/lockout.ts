// Throttling of guesses, per principal (S12). Pure: takes the stored state and the time, returns the state
// to save. An attempt is counted *before* its credentials are checked (a reservation), so N parallel
// attempts cannot slip past the limit; the attempt that reaches the limit locks the principal until its own
// outcome is known. Outcomes that are not guesses (provider down, MFA required, enrolment) are refunded.

export const MAX_FAILURES = 5;
export const LOCK_MINUTES = 15;

export interface AuthState {
  failedCount: number;
  lockedUntil: string | null;
}

export type AttemptDecision =
  | { decision: 'locked'; until: string; failedCount: number }
  | { decision: 'proceed'; next: AuthState; previous: AuthState };

export function beginAttempt(state: AuthState, now: Date): AttemptDecision {
  if (state.lockedUntil && Date.parse(state.lockedUntil) > now.getTime()) {
    return { decision: 'locked', until: state.lockedUntil, failedCount: state.failedCount };
  }
  const failedCount = state.failedCount + 1;
  // Reaching the limit (or probing again after a lock expired) holds the lock while this attempt runs.
  const lockedUntil = failedCount >= MAX_FAILURES ? new Date(now.getTime() + LOCK_MINUTES * 60_000).toISOString() : null;
  return { decision: 'proceed', next: { failedCount, lockedUntil }, previous: state };
}

export function afterSuccess(): AuthState {
  return { failedCount: 0, lockedUntil: null };
}

/**
 * Undo a reservation whose outcome was not a guess. The lock this reservation took (if any) is released
 * unless another attempt has taken a newer one meanwhile; that one stays.
 */
export function refund(current: AuthState, reserved: AuthState, previous: AuthState): AuthState {
  const failedCount = Math.max(0, current.failedCount - 1);
  const lockedUntil = current.lockedUntil === reserved.lockedUntil ? previous.lockedUntil : current.lockedUntil;
  return { failedCount, lockedUntil };
}
