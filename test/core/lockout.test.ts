// Unit tests of the pure lockout rules in src/core/lockout.ts (S12): a reservation is counted before the
// credentials are checked, 5 failures lock for 15 minutes, a success resets, a refund undoes a reservation
// whose outcome was not a guess. Time is simulated.

import { describe, expect, it } from 'vitest';
import { LOCK_MINUTES, MAX_FAILURES, afterSuccess, beginAttempt, refund, type AuthState } from '../../src/core/lockout.js';

const T0 = new Date('2030-01-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MIN = 60_000;
const FRESH: AuthState = { failedCount: 0, lockedUntil: null };

/**
 * The service's use of the rules, over one stored state: reserve in one transaction, then, once the outcome
 * is known, reset (success), leave the reservation as the failure (a guess) or refund it (not a guess).
 */
class Principal {
  state: AuthState = FRESH;

  /** Starts an attempt; undefined when locked out. */
  reserve(now: Date): { reserved: AuthState; previous: AuthState } | undefined {
    const d = beginAttempt(this.state, now);
    if (d.decision === 'locked') return undefined;
    this.state = d.next;
    return { reserved: d.next, previous: d.previous };
  }

  finish(r: { reserved: AuthState; previous: AuthState }, outcome: 'fail' | 'success' | 'refund'): void {
    if (outcome === 'success') this.state = afterSuccess();
    if (outcome === 'refund') this.state = refund(this.state, r.reserved, r.previous);
  }

  /** One whole attempt; returns 'locked' when refused before any check. */
  attempt(now: Date, outcome: 'fail' | 'success' | 'refund'): 'locked' | 'checked' {
    const r = this.reserve(now);
    if (!r) return 'locked';
    this.finish(r, outcome);
    return 'checked';
  }
}

describe('beginAttempt', () => {
  it('counts an attempt before it is checked', () => {
    expect(beginAttempt(FRESH, T0)).toEqual({ decision: 'proceed', next: { failedCount: 1, lockedUntil: null }, previous: FRESH });
  });

  it.each([
    [0, null],
    [1, null],
    [2, null],
    [3, null],
    [4, at(LOCK_MINUTES * MIN).toISOString()],
    [5, at(LOCK_MINUTES * MIN).toISOString()],
    [40, at(LOCK_MINUTES * MIN).toISOString()],
  ])('after %i failures the next attempt proceeds holding lock %s', (failures, lockedUntil) => {
    const d = beginAttempt({ failedCount: failures, lockedUntil: null }, T0);
    expect(d).toEqual({ decision: 'proceed', next: { failedCount: failures + 1, lockedUntil }, previous: { failedCount: failures, lockedUntil: null } });
  });

  it('locks for exactly 15 minutes and 5 failures', () => {
    expect(MAX_FAILURES).toBe(5);
    expect(LOCK_MINUTES).toBe(15);
  });

  it('refuses while locked, up to the last millisecond, and proceeds from the instant the lock ends', () => {
    const until = at(15 * MIN).toISOString();
    const locked = { failedCount: 5, lockedUntil: until };
    expect(beginAttempt(locked, T0)).toEqual({ decision: 'locked', until, failedCount: 5 });
    expect(beginAttempt(locked, at(15 * MIN - 1))).toEqual({ decision: 'locked', until, failedCount: 5 });
    const d = beginAttempt(locked, at(15 * MIN));
    expect(d.decision).toBe('proceed');
    // One more failure after the lock ended locks again at once.
    expect(d.decision === 'proceed' && d.next).toEqual({ failedCount: 6, lockedUntil: at(30 * MIN).toISOString() });
  });

  it('ignores a lock that has already expired', () => {
    const d = beginAttempt({ failedCount: 2, lockedUntil: '2000-01-01T00:00:00.000Z' }, T0);
    expect(d).toEqual({
      decision: 'proceed',
      next: { failedCount: 3, lockedUntil: null },
      previous: { failedCount: 2, lockedUntil: '2000-01-01T00:00:00.000Z' },
    });
  });
});

describe('afterSuccess and refund', () => {
  it('a success resets everything', () => {
    expect(afterSuccess()).toEqual(FRESH);
  });

  it.each<[string, AuthState, AuthState, AuthState, AuthState]>([
    ['a reservation below the limit', { failedCount: 3, lockedUntil: null }, { failedCount: 3, lockedUntil: null }, { failedCount: 2, lockedUntil: null }, { failedCount: 2, lockedUntil: null }],
    [
      'the reservation that took the lock releases it',
      { failedCount: 5, lockedUntil: 'L1' },
      { failedCount: 5, lockedUntil: 'L1' },
      { failedCount: 4, lockedUntil: null },
      { failedCount: 4, lockedUntil: null },
    ],
    [
      'after an expired lock, the expired lock comes back (not a new one)',
      { failedCount: 6, lockedUntil: 'L2' },
      { failedCount: 6, lockedUntil: 'L2' },
      { failedCount: 5, lockedUntil: 'L1-expired' },
      { failedCount: 5, lockedUntil: 'L1-expired' },
    ],
    [
      "a newer lock taken by another attempt meanwhile stays",
      { failedCount: 5, lockedUntil: 'L-other' },
      { failedCount: 4, lockedUntil: null },
      { failedCount: 3, lockedUntil: null },
      { failedCount: 4, lockedUntil: 'L-other' },
    ],
    ['never below zero (a success came in between)', FRESH, { failedCount: 1, lockedUntil: null }, FRESH, FRESH],
  ])('refund: %s', (_title, current, reserved, previous, expected) => {
    expect(refund(current, reserved, previous)).toEqual(expected);
  });
});

describe('time travel', () => {
  it('5 failures lock for 15 minutes; even the right password is refused until then', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) expect(p.attempt(at(i * 1000), 'fail')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 5, lockedUntil: at(4000 + 15 * MIN).toISOString() });
    for (const t of [5000, MIN, 10 * MIN, 15 * MIN + 3999]) expect(p.attempt(at(t), 'success')).toBe('locked');
    expect(p.state.failedCount).toBe(5);
  });

  it('after the lock expires one more failure locks again at once; a success then resets', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) p.attempt(T0, 'fail');
    const expiry = 15 * MIN;
    expect(p.attempt(at(expiry), 'fail')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 6, lockedUntil: at(expiry + 15 * MIN).toISOString() });
    expect(p.attempt(at(expiry + 1), 'success')).toBe('locked');
    expect(p.attempt(at(expiry + 15 * MIN - 1), 'success')).toBe('locked');
    expect(p.attempt(at(expiry + 15 * MIN), 'success')).toBe('checked');
    expect(p.state).toEqual(FRESH);
    // A fresh allowance of 5.
    for (let i = 0; i < 4; i++) p.attempt(at(expiry + 16 * MIN), 'fail');
    expect(p.state).toEqual({ failedCount: 4, lockedUntil: null });
  });

  it('a success right after expiry resets the count', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) p.attempt(T0, 'fail');
    expect(p.attempt(at(15 * MIN), 'success')).toBe('checked');
    expect(p.state).toEqual(FRESH);
  });

  it('a success before the limit resets the count', () => {
    const p = new Principal();
    for (let i = 0; i < 4; i++) p.attempt(T0, 'fail');
    p.attempt(T0, 'success');
    expect(p.state).toEqual(FRESH);
    for (let i = 0; i < 4; i++) expect(p.attempt(T0, 'fail')).toBe('checked');
    expect(p.state.lockedUntil).toBeNull();
  });

  it('a refunded attempt (provider down, MFA required) after an expired lock leaves the principal unlocked', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) p.attempt(T0, 'fail');
    const expiredLock = p.state.lockedUntil;
    expect(p.attempt(at(20 * MIN), 'refund')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 5, lockedUntil: expiredLock });
    // Not locked: the next attempt is checked (and, failing, locks again at once).
    expect(p.attempt(at(20 * MIN), 'fail')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 6, lockedUntil: at(35 * MIN).toISOString() });
  });

  it('refunds are not failures: a principal whose provider is down never locks itself out', () => {
    const p = new Principal();
    for (let i = 0; i < 50; i++) expect(p.attempt(at(i), 'refund')).toBe('checked');
    expect(p.state).toEqual(FRESH);
  });

  it('the fifth attempt holds the lock while it runs; its success releases it', () => {
    const p = new Principal();
    for (let i = 0; i < 4; i++) p.attempt(T0, 'fail');
    const fifth = p.reserve(T0)!;
    expect(fifth).toBeDefined();
    expect(p.reserve(T0)).toBeUndefined(); // a parallel sixth is refused meanwhile
    p.finish(fifth, 'success');
    expect(p.state).toEqual(FRESH);
    expect(p.reserve(T0)).toBeDefined();
  });
});

describe('parallel reservations', () => {
  it('20 attempts reserved before any outcome: exactly 5 are checked', () => {
    const p = new Principal();
    const reservations = Array.from({ length: 20 }, () => p.reserve(T0));
    expect(reservations.filter(Boolean)).toHaveLength(5);
    expect(reservations.slice(0, 5).every(Boolean)).toBe(true);
    for (const r of reservations) if (r) p.finish(r, 'fail');
    expect(p.state).toEqual({ failedCount: 5, lockedUntil: at(15 * MIN).toISOString() });
  });

  /** A small deterministic PRNG (mulberry32) so failures are reproducible. */
  function rng(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('whatever the interleaving of guesses and refunds, no more than 5 guesses are checked before the lock ends', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const random = rng(seed);
      const p = new Principal();
      // Attackers always fail; the owner (right password) meets a provider outage and is refunded.
      const actors = [...Array.from({ length: 12 }, () => 'fail' as const), ...Array.from({ length: 4 }, () => 'refund' as const)];
      const inFlight: { r: { reserved: AuthState; previous: AuthState }; outcome: 'fail' | 'refund' }[] = [];
      let pending = [...actors];
      let guessesChecked = 0;
      let clock = 0;
      while (pending.length > 0 || inFlight.length > 0) {
        clock += Math.floor(random() * 1000); // time passes, but far less than 15 minutes in all
        if (pending.length > 0 && (inFlight.length === 0 || random() < 0.5)) {
          const i = Math.floor(random() * pending.length);
          const outcome = pending[i]!;
          pending = pending.filter((_, j) => j !== i);
          const r = p.reserve(at(clock));
          if (r) {
            if (outcome === 'fail') guessesChecked++;
            inFlight.push({ r, outcome });
          }
        } else {
          const i = Math.floor(random() * inFlight.length);
          const { r, outcome } = inFlight.splice(i, 1)[0]!;
          p.finish(r, outcome);
        }
        expect(p.state.failedCount).toBeGreaterThanOrEqual(0);
      }
      expect(clock).toBeLessThan(15 * MIN);
      expect(guessesChecked, `seed ${seed}`).toBeLessThanOrEqual(MAX_FAILURES);
      // Once 5 guesses were checked the principal is locked, whatever the refunds did.
      if (guessesChecked === MAX_FAILURES) expect(beginAttempt(p.state, at(clock)).decision, `seed ${seed}`).toBe('locked');
    }
  });
});
