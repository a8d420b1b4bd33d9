// Unit tests of the pure lockout rules in src/core/lockout.ts (S12): an attempt is registered in flight
// before its credentials are checked; it proceeds only while settled failures plus attempts in flight stay
// under the limit, else it waits; 5 settled failures lock for 15 minutes; a success resets; an outcome that
// was not a guess settles without counting. Time is simulated.

import { describe, expect, it } from 'vitest';
import { LOCK_MINUTES, MAX_FAILURES, beginAttempt, beginScoped, settle, settleScoped, type AttemptOutcome, type AuthState } from '../../src/core/lockout.js';

const T0 = new Date('2030-01-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const MIN = 60_000;
const FRESH: AuthState = { failedCount: 0, lockedUntil: null };

/** The service's use of the rules over one stored state: begin (in flight), then settle with the outcome. */
class Principal {
  state: AuthState = FRESH;
  inFlight = 0;

  /** Starts an attempt: 'locked' refused, 'wait' must wait for one in flight to settle. */
  begin(now: Date): 'locked' | 'wait' | 'proceed' {
    const d = beginAttempt(this.state, this.inFlight, now).decision;
    if (d === 'proceed') this.inFlight++;
    return d;
  }

  finish(outcome: AttemptOutcome, now: Date): void {
    this.inFlight--;
    this.state = settle(this.state, outcome, now);
  }

  /** One whole attempt, alone; returns 'locked' when refused before any check. */
  attempt(now: Date, outcome: AttemptOutcome): 'locked' | 'checked' {
    const d = this.begin(now);
    if (d === 'locked') return 'locked';
    expect(d).toBe('proceed');
    this.finish(outcome, now);
    return 'checked';
  }
}

describe('beginAttempt', () => {
  it.each([0, 1, 2, 3, 4])('after %i settled failures and nothing in flight, an attempt proceeds', (failures) => {
    expect(beginAttempt({ failedCount: failures, lockedUntil: null }, 0, T0)).toEqual({ decision: 'proceed' });
  });

  it.each([
    [0, 4, 'proceed'],
    [0, 5, 'wait'],
    [2, 2, 'proceed'],
    [2, 3, 'wait'],
    [4, 1, 'wait'],
    [3, 1, 'proceed'],
  ] as const)('%i failures and %i in flight: %s (in-flight attempts are held against the limit)', (failures, inFlight, decision) => {
    expect(beginAttempt({ failedCount: failures, lockedUntil: null }, inFlight, T0).decision).toBe(decision);
  });

  it('locks for exactly 15 minutes and 5 failures', () => {
    expect(MAX_FAILURES).toBe(5);
    expect(LOCK_MINUTES).toBe(15);
  });

  it('refuses while locked, up to the last millisecond, and proceeds from the instant the lock ends', () => {
    const until = at(15 * MIN).toISOString();
    const locked = { failedCount: 5, lockedUntil: until };
    expect(beginAttempt(locked, 0, T0)).toEqual({ decision: 'locked', until, failedCount: 5 });
    expect(beginAttempt(locked, 0, at(15 * MIN - 1))).toEqual({ decision: 'locked', until, failedCount: 5 });
    expect(beginAttempt(locked, 0, at(15 * MIN))).toEqual({ decision: 'proceed' });
    // One probe at a time after a lock: a second one waits for it.
    expect(beginAttempt(locked, 1, at(15 * MIN))).toEqual({ decision: 'wait' });
    // One more failure after the lock ended locks again at once.
    expect(settle(locked, 'failure', at(15 * MIN))).toEqual({ failedCount: 6, lockedUntil: at(30 * MIN).toISOString() });
  });

  it('ignores a lock that has already expired', () => {
    expect(beginAttempt({ failedCount: 2, lockedUntil: '2000-01-01T00:00:00.000Z' }, 0, T0)).toEqual({ decision: 'proceed' });
  });
});

describe('settle', () => {
  it('a success resets everything', () => {
    expect(settle({ failedCount: 4, lockedUntil: null }, 'success', T0)).toEqual(FRESH);
  });

  it('a failure counts; the fifth locks for 15 minutes from its own end', () => {
    expect(settle({ failedCount: 3, lockedUntil: null }, 'failure', T0)).toEqual({ failedCount: 4, lockedUntil: null });
    expect(settle({ failedCount: 4, lockedUntil: null }, 'failure', T0)).toEqual({ failedCount: 5, lockedUntil: at(15 * MIN).toISOString() });
  });

  it('an outcome that was not a guess changes nothing', () => {
    const s = { failedCount: 3, lockedUntil: null };
    expect(settle(s, 'not-a-guess', T0)).toEqual(s);
  });
});

describe('time travel', () => {
  it('5 failures lock for 15 minutes; even the right password is refused until then', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) expect(p.attempt(at(i * 1000), 'failure')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 5, lockedUntil: at(4000 + 15 * MIN).toISOString() });
    for (const t of [5000, MIN, 10 * MIN, 15 * MIN + 3999]) expect(p.attempt(at(t), 'success')).toBe('locked');
    expect(p.state.failedCount).toBe(5);
  });

  it('after the lock expires one more failure locks again at once; a success then resets', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) p.attempt(T0, 'failure');
    const expiry = 15 * MIN;
    expect(p.attempt(at(expiry), 'failure')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 6, lockedUntil: at(expiry + 15 * MIN).toISOString() });
    expect(p.attempt(at(expiry + 1), 'success')).toBe('locked');
    expect(p.attempt(at(expiry + 15 * MIN - 1), 'success')).toBe('locked');
    expect(p.attempt(at(expiry + 15 * MIN), 'success')).toBe('checked');
    expect(p.state).toEqual(FRESH);
    // A fresh allowance of 5.
    for (let i = 0; i < 4; i++) p.attempt(at(expiry + 16 * MIN), 'failure');
    expect(p.state).toEqual({ failedCount: 4, lockedUntil: null });
  });

  it('a success right after expiry resets the count', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) p.attempt(T0, 'failure');
    expect(p.attempt(at(15 * MIN), 'success')).toBe('checked');
    expect(p.state).toEqual(FRESH);
  });

  it('a success before the limit resets the count', () => {
    const p = new Principal();
    for (let i = 0; i < 4; i++) p.attempt(T0, 'failure');
    p.attempt(T0, 'success');
    expect(p.state).toEqual(FRESH);
    for (let i = 0; i < 4; i++) expect(p.attempt(T0, 'failure')).toBe('checked');
    expect(p.state.lockedUntil).toBeNull();
  });

  it('an attempt that was not a guess (provider down, MFA required) after an expired lock leaves the principal unlocked', () => {
    const p = new Principal();
    for (let i = 0; i < 5; i++) p.attempt(T0, 'failure');
    const expiredLock = p.state.lockedUntil;
    expect(p.attempt(at(20 * MIN), 'not-a-guess')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 5, lockedUntil: expiredLock });
    // Not locked: the next attempt is checked (and, failing, locks again at once).
    expect(p.attempt(at(20 * MIN), 'failure')).toBe('checked');
    expect(p.state).toEqual({ failedCount: 6, lockedUntil: at(35 * MIN).toISOString() });
  });

  it('outcomes that are not guesses never count: a principal whose provider is down never locks itself out', () => {
    const p = new Principal();
    for (let i = 0; i < 50; i++) expect(p.attempt(at(i), 'not-a-guess')).toBe('checked');
    expect(p.state).toEqual(FRESH);
  });

  it('with 4 failures, the fifth attempt runs alone: a parallel sixth waits, and proceeds once the fifth succeeds', () => {
    const p = new Principal();
    for (let i = 0; i < 4; i++) p.attempt(T0, 'failure');
    expect(p.begin(T0)).toBe('proceed');
    expect(p.begin(T0)).toBe('wait');
    p.finish('success', T0);
    expect(p.state).toEqual(FRESH);
    expect(p.begin(T0)).toBe('proceed');
  });
});

describe('parallel attempts', () => {
  it('20 wrong guesses begun at once: 5 proceed, the rest wait, then find the principal locked', () => {
    const p = new Principal();
    const first = Array.from({ length: 20 }, () => p.begin(T0));
    expect(first.filter((d) => d === 'proceed')).toHaveLength(5);
    expect(first.slice(0, 5).every((d) => d === 'proceed')).toBe(true);
    for (let i = 0; i < 5; i++) p.finish('failure', T0);
    expect(p.state).toEqual({ failedCount: 5, lockedUntil: at(15 * MIN).toISOString() });
    // The 15 that waited ask again: locked.
    for (let i = 0; i < 15; i++) expect(p.begin(T0)).toBe('locked');
  });

  it('50 correct logins at once: every one proceeds in the end, none is refused', () => {
    const p = new Principal();
    let waiting = 50;
    let done = 0;
    let running = 0;
    while (done < 50) {
      // Everyone waiting asks again; those that may, start.
      for (let i = waiting; i > 0; i--) {
        const d = p.begin(T0);
        expect(d).not.toBe('locked');
        if (d === 'proceed') {
          waiting--;
          running++;
        }
      }
      expect(running).toBeGreaterThan(0);
      // One finishes, with the right password.
      p.finish('success', T0);
      running--;
      done++;
    }
    expect(p.state).toEqual(FRESH);
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

  it('whatever the interleaving of guesses and non-guesses, no more than 5 guesses are checked before the lock ends', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const random = rng(seed);
      const p = new Principal();
      // Attackers always fail; the owner (right password) meets a provider outage: not a guess.
      let pending: AttemptOutcome[] = [...Array.from({ length: 12 }, () => 'failure' as const), ...Array.from({ length: 4 }, () => 'not-a-guess' as const)];
      const inFlight: AttemptOutcome[] = [];
      let guessesChecked = 0;
      let clock = 0;
      while (pending.length > 0 || inFlight.length > 0) {
        clock += Math.floor(random() * 1000); // time passes, but far less than 15 minutes in all
        if (pending.length > 0 && (inFlight.length === 0 || random() < 0.5)) {
          const i = Math.floor(random() * pending.length);
          const outcome = pending[i]!;
          const d = p.begin(at(clock));
          if (d === 'proceed') {
            if (outcome === 'failure') guessesChecked++;
            inFlight.push(outcome);
          }
          // 'wait' keeps it pending (it asks again later); 'locked' is refused for good.
          if (d !== 'wait') pending = pending.filter((_, j) => j !== i);
        } else if (inFlight.length > 0) {
          const i = Math.floor(random() * inFlight.length);
          p.finish(inFlight.splice(i, 1)[0]!, at(clock));
        }
        expect(p.state.failedCount).toBeGreaterThanOrEqual(0);
        expect(p.inFlight + p.state.failedCount, `seed ${seed}`).toBeLessThanOrEqual(Math.max(MAX_FAILURES, p.state.failedCount + 1));
      }
      expect(clock).toBeLessThan(15 * MIN);
      expect(guessesChecked, `seed ${seed}`).toBeLessThanOrEqual(MAX_FAILURES);
      // Once 5 guesses were checked the principal is locked.
      if (guessesChecked === MAX_FAILURES) expect(beginAttempt(p.state, 0, at(clock)).decision, `seed ${seed}`).toBe('locked');
    }
  });
});

describe('two scopes: one client address, and every address together (S26)', () => {
  const limits = { perAddress: 5, anywhere: 12 };
  const fresh = () => ({ here: FRESH, all: FRESH });

  it('5 failures from one address lock it from there; the same principal from another address proceeds', () => {
    let a = fresh();
    for (let i = 0; i < 5; i++) a = settleScoped(a, 'failure', T0, limits);
    expect(beginScoped(a, { here: 0, all: 0 }, T0, limits)).toEqual({ decision: 'locked', until: at(15 * MIN).toISOString(), failedCount: 5, everywhere: false });
    // another address: its own counter is fresh, the total is 5 of 12
    expect(beginScoped({ here: FRESH, all: a.all }, { here: 0, all: 0 }, T0, limits)).toEqual({ decision: 'proceed' });
  });

  it('the total locks everywhere at its own limit', () => {
    const all = { failedCount: 12, lockedUntil: at(15 * MIN).toISOString() };
    expect(beginScoped({ here: FRESH, all }, { here: 0, all: 0 }, T0, limits)).toEqual({ decision: 'locked', until: all.lockedUntil, failedCount: 12, everywhere: true });
    expect(settleScoped({ here: FRESH, all: { failedCount: 11, lockedUntil: null } }, 'failure', T0, limits).all).toEqual({ failedCount: 12, lockedUntil: at(15 * MIN).toISOString() });
  });

  it('attempts in flight count in both scopes: the total allowance makes a new address wait too', () => {
    expect(beginScoped(fresh(), { here: 0, all: 12 }, T0, limits)).toEqual({ decision: 'wait' });
    expect(beginScoped(fresh(), { here: 5, all: 5 }, T0, limits)).toEqual({ decision: 'wait' });
    expect(beginScoped(fresh(), { here: 0, all: 5 }, T0, limits)).toEqual({ decision: 'proceed' });
  });

  it('a success resets both scopes; an outcome that was not a guess changes neither', () => {
    const t = { here: { failedCount: 3, lockedUntil: null }, all: { failedCount: 9, lockedUntil: null } };
    // …and remembers the address as one the principal logs in from
    expect(settleScoped(t, 'success', T0, limits)).toEqual({ ...fresh(), lastSuccessHere: T0.toISOString() });
    expect(settleScoped(t, 'not-a-guess', T0, limits)).toEqual({ ...t, lastSuccessHere: undefined });
  });

  it('an address that logged in as the principal within 30 days is not locked out by failures from elsewhere', () => {
    const all = { failedCount: 12, lockedUntil: at(15 * MIN).toISOString() };
    const known = { here: FRESH, all, lastSuccessHere: at(-29 * 24 * 60 * MIN).toISOString() };
    expect(beginScoped(known, { here: 0, all: 0 }, T0, limits)).toEqual({ decision: 'proceed' });
    // its own allowance still holds
    expect(beginScoped({ ...known, here: { failedCount: 5, lockedUntil: at(MIN).toISOString() } }, { here: 0, all: 0 }, T0, limits).decision).toBe('locked');
    // older than 30 days: like any other address
    expect(beginScoped({ ...known, lastSuccessHere: at(-31 * 24 * 60 * MIN).toISOString() }, { here: 0, all: 0 }, T0, limits)).toMatchObject({ decision: 'locked', everywhere: true });
  });

  it('past the all-address limit each failure doubles the lock, up to 16 hours', () => {
    let t = { here: FRESH, all: { failedCount: 12, lockedUntil: null as string | null } };
    const minutes: number[] = [];
    for (let i = 0; i < 8; i++) {
      t = settleScoped({ ...t, here: FRESH }, 'failure', T0, limits);
      minutes.push((Date.parse(t.all.lockedUntil!) - T0.getTime()) / MIN);
    }
    expect(minutes).toEqual([30, 60, 120, 240, 480, 960, 960, 960]);
  });
});
