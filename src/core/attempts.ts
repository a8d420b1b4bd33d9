// Login and `mfa verify` attempts over the lockout rules (S12, S26). An attempt is a lease registered in one
// write transaction before its credentials are checked, counted per (principal, client address) and per
// principal, for known and unknown names alike (a lockout tells nothing about who exists). When the limit is
// held by attempts still in flight, a new one waits for them (polling the store, so it works across processes
// and replicas) instead of failing. A lease that expires (its process died or was stopped) counts as a
// failure, and an attempt whose lease is gone by the time it finishes is refused: parking attempts cannot
// buy extra guesses.
//
// A check that is local and instant (an application's API key, a digest, and a factor that waits on nothing)
// takes no lease: `atOnce` runs it first, without any side effect and showing nothing, then one transaction
// both admits it (as `begin` would) and settles it (as `finishIn` or `settle` would). Its begin and its end are
// one serialized step, so it is an attempt in flight for no time at all: the counts every other attempt sees
// are those of the leased protocol, and its outcome is told only once admitted and counted.

import { SsrunError } from './errors.js';
import type { Kit } from './kit.js';
import { LEASE_SLACK_MS, PASSWORD_LEASE_MS, beginScoped, lease, settleScoped, type AttemptOutcome, type Limits } from './lockout.js';
import { DENIED_MESSAGE, type FactorDenial } from './factor.js';
import type { StoreOps } from './ports.js';

export interface Attempt {
  /**
   * The last transaction of a check that passed, inside the caller's: the lease must still hold (else the
   * attempt is refused, its failure counted, nothing of its factor saved), then what the factor asks to save
   * (`commit`: a replay is a denial), then the outcome. The denial, if any, is returned (and audited).
   */
  finishIn(tx: StoreOps, commit?: (tx: StoreOps) => Promise<FactorDenial | undefined>): Promise<FactorDenial | undefined>;
  /** The caller's transaction that finished it has committed. */
  committed(): void;
  /** Settles it in a transaction of its own, then runs `also` in it. */
  settle<T>(outcome: AttemptOutcome, also?: (tx: StoreOps) => Promise<T>): Promise<T | undefined>;
  /**
   * Makes the lease last the second factor's timeout (the password was right); false when it was lost. A lease
   * that already outlives the timeout by LEASE_SLACK_MS is left as it is, without a commit (the last
   * transaction checks that it still holds).
   */
  extend(timeoutMs: number): Promise<boolean>;
  /** Settles an attempt that is not settled yet (a `finally`): with the outcome last intended, never downgraded. */
  settleLeftover(): Promise<void>;
  // An attempt without a lease (`atOnce`) is admitted in its last transaction: when that refuses it, `settle`
  // and `committed` throw once it has committed: LOCKED_OUT, or HeldInFlight (then take a lease and wait).
  readonly settled: boolean;
}

/** An attempt that outlived its lease: refused like a wrong code (its failure is counted where the lease ends). */
const LEASE_LOST: FactorDenial = { code: 'AUTH_DENIED', message: DENIED_MESSAGE, reason: 'the attempt outlived its lease', counted: false };

/** What an attempt without a lease returns from `finishIn` when it was not admitted (`committed` then throws why). */
const NOT_ADMITTED: FactorDenial = { code: 'AUTH_DENIED', message: DENIED_MESSAGE, reason: 'not admitted', counted: false };

/**
 * An attempt without a lease found the allowance held by attempts in flight: nothing of it was told or saved.
 * The caller starts it again with a lease (`begin`, which waits for them).
 */
export class HeldInFlight extends Error {
  constructor() {
    super('the allowance is held by attempts in flight');
  }
}

/** Whether one more attempt may be checked: go, wait for attempts in flight, or locked out (the error to throw). */
type Admission = { kind: 'go' } | { kind: 'wait' } | { kind: 'locked'; error: SsrunError };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** The longest any attempt waits for others in flight, whatever timeout a client asks for. */
export const MAX_WAIT_MS = 60_000;

export function lockedError(path: string, until: string, failedCount: number, everywhere: boolean): SsrunError {
  const where = everywhere ? ' from every address' : '';
  return new SsrunError('LOCKED_OUT', `${path} is locked${where} until ${until} after ${failedCount} failed attempts`, { lockedUntil: until });
}

/** The lockout subject of a principal path: known or not, case-insensitive like names. */
export const subjectOf = (path: string) => path.toLowerCase();

/** The lockout's steps inside a transaction, for attempts from the actor's address. */
function stepsOf(kit: Kit, limits: Limits) {
  const address = kit.actor.source;

  /** Counts a failure for the subject from one address (and so from all), as a settled attempt would. */
  async function fail(tx: StoreOps, subject: string, from: string): Promise<void> {
    const t = await tx.getThrottle(subject, from);
    await tx.saveThrottle(subject, from, settleScoped(t, 'failure', kit.clock.now(), limits), kit.nowIso());
  }

  /**
   * In the caller's transaction: leases that ran out count as failures, then the lockout decides whether one
   * more attempt on `path` may be checked from here (a lock is audited).
   */
  async function admit(tx: StoreOps, subject: string, path: string, action: string): Promise<Admission> {
    const now = kit.clock.now();
    const inFlight = await tx.countAttempts(subject, address, now.toISOString());
    for (const lost of inFlight.expired) await fail(tx, subject, lost.address);
    if (inFlight.expired.length) await kit.audit(tx, path, action, 'denied', `${inFlight.expired.length} attempt(s) in flight expired (stopped or killed): counted as failures`);
    const d = beginScoped(await tx.getThrottle(subject, address), inFlight, now, limits);
    if (d.decision === 'locked') {
      await kit.audit(tx, path, action, 'denied', d.everywhere ? 'locked out from every address' : 'locked out from this address');
      return { kind: 'locked', error: lockedError(path, d.until, d.failedCount, d.everywhere) };
    }
    return { kind: d.decision === 'wait' ? 'wait' : 'go' };
  }

  /** Records an admitted attempt's outcome. */
  async function record(tx: StoreOps, subject: string, outcome: AttemptOutcome): Promise<void> {
    const t = await tx.getThrottle(subject, address);
    await tx.saveThrottle(subject, address, settleScoped(t, outcome, kit.clock.now(), limits), kit.nowIso());
  }

  /** The end of an admitted check that passed: what the factor asks to save (a replay is a denial), the outcome. */
  async function conclude(tx: StoreOps, subject: string, path: string, action: string, commit?: (tx: StoreOps) => Promise<FactorDenial | undefined>) {
    const denial = commit ? await commit(tx) : undefined;
    await record(tx, subject, denial ? (denial.counted ? 'failure' : 'not-a-guess') : 'success');
    if (denial) await kit.audit(tx, path, action, 'denied', denial.reason);
    return denial;
  }

  return { fail, admit, record, conclude };
}

type Steps = ReturnType<typeof stepsOf>;

/** An attempt with a lease (`begin`). */
function leased(kit: Kit, { fail, record, conclude }: Steps, subject: string, path: string, action: string, id: string, leaseUntil: number): Attempt {
  const { store } = kit;
  let settled = false;
  // What a settle that did not commit meant: a failure stays a failure when it is tried again.
  let intended: AttemptOutcome = 'not-a-guess';
  /** Ends the lease; false when it had run out (counted as a failure here, or already by whoever swept it). */
  const endLease = async (tx: StoreOps): Promise<boolean> => {
    const lease = await tx.deleteAttempt(id, kit.nowIso());
    if (lease === 'expired') await fail(tx, subject, kit.actor.source);
    if (lease === 'live') return true;
    await kit.audit(tx, path, action, 'denied', 'the attempt outlived its lease (stopped or too slow); counted as a failure');
    return false;
  };
  const settleIn = async (tx: StoreOps, outcome: AttemptOutcome) => {
    if (outcome === 'failure') intended = 'failure';
    if (await endLease(tx)) await record(tx, subject, outcome);
  };
  return {
    async finishIn(tx, commit) {
      if (!(await endLease(tx))) return LEASE_LOST;
      // A counted denial stays a failure if this transaction is tried again (settleLeftover).
      return conclude(tx, subject, path, action, async (t) => {
        const d = commit ? await commit(t) : undefined;
        if (d?.counted) intended = 'failure';
        return d;
      });
    },
    committed: () => void (settled = true),
    async settle(outcome, also) {
      const r = await store.write(async (tx) => {
        await settleIn(tx, outcome);
        return also ? also(tx) : undefined;
      });
      settled = true;
      return r;
    },
    async extend(timeoutMs) {
      const now = kit.clock.now().getTime();
      if (now + timeoutMs + LEASE_SLACK_MS <= leaseUntil) return true;
      return store.write((tx) => tx.extendAttempt(id, kit.nowIso(), new Date(now + lease(timeoutMs)).toISOString()));
    },
    async settleLeftover() {
      if (settled) return;
      try {
        await this.settle(intended);
      } catch {
        // The store failed again: the lease expires and is counted as a failure then (never lost as a non-guess).
      }
    },
    get settled() {
      return settled;
    },
  };
}

/**
 * An attempt on `path` that takes no lease, for a check that is local and instant and done before its last
 * transaction, with no side effect and nothing told: that transaction admits it as `begin` would (a lock is
 * LOCKED_OUT, thrown once it commits; a full allowance is HeldInFlight: nothing saved, start again with
 * `begin`) and then settles it. `extend` has no lease to extend; `settleLeftover` has nothing to end.
 */
function unleased(kit: Kit, { admit, record, conclude }: Steps, path: string, action: string): Attempt {
  const { store } = kit;
  const subject = subjectOf(path);
  let settled = false;
  let refusal: Error | undefined;
  /** The start of the one transaction; false when not admitted (the refusal is thrown once it commits). */
  const admitted = async (tx: StoreOps): Promise<boolean> => {
    const a = await admit(tx, subject, path, action);
    refusal = a.kind === 'go' ? undefined : a.kind === 'locked' ? a.error : new HeldInFlight();
    return a.kind === 'go';
  };
  const committed = () => {
    settled = true;
    if (refusal) throw refusal;
  };
  return {
    async finishIn(tx, commit) {
      return (await admitted(tx)) ? conclude(tx, subject, path, action, commit) : NOT_ADMITTED;
    },
    committed,
    async settle(outcome, also) {
      const r = await store.write(async (tx) => {
        if (!(await admitted(tx))) return undefined;
        await record(tx, subject, outcome);
        return { value: also ? await also(tx) : undefined };
      });
      committed();
      return r?.value;
    },
    extend: async () => true,
    settleLeftover: async () => undefined,
    get settled() {
      return settled;
    },
  };
}

export function attemptsOf(kit: Kit, limits: Limits) {
  const steps = stepsOf(kit, limits);
  const address = kit.actor.source;

  return {
    /**
     * Starts an attempt on the principal at `path` (known or not). Refused at once while locked from here or
     * everywhere; waits up to `waitMs` (at most MAX_WAIT_MS) while the allowance is held by attempts in flight.
     */
    async begin(path: string, action: string, waitMs: number, signal?: AbortSignal): Promise<Attempt> {
      const subject = subjectOf(path);
      const bound = Math.min(waitMs, MAX_WAIT_MS);
      let waited = 0;
      for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
        if (signal?.aborted) throw new SsrunError('CANCELLED', 'cancelled');
        const r = await kit.store.write(async (tx) => {
          const a = await steps.admit(tx, subject, path, action);
          if (a.kind === 'locked') return { kind: 'error' as const, error: a.error };
          if (a.kind === 'wait') {
            if (waited < bound) return { kind: 'wait' as const };
            await kit.audit(tx, path, action, 'denied', 'the allowance is held by attempts still in flight');
            return { kind: 'error' as const, error: new SsrunError('ATTEMPTS_IN_FLIGHT', `${path} has as many attempts in progress as its lockout allows (after ${Math.round(waited / 1000)} s of waiting); try again when they finish`) };
          }
          const id = kit.crypto.randomId();
          const until = kit.clock.now().getTime() + PASSWORD_LEASE_MS;
          await tx.insertAttempt(id, subject, address, new Date(until).toISOString());
          return { kind: 'go' as const, attempt: leased(kit, steps, subject, path, action, id, until) };
        });
        if (r.kind === 'error') throw r.error;
        if (r.kind === 'go') return r.attempt;
        await sleep(delay);
        waited += delay;
      }
    },

    /**
     * An attempt on `path` without a lease, for a check that is local and instant, done before its one
     * transaction (see unleased).
     */
    atOnce: (path: string, action: string): Attempt => unleased(kit, steps, path, action),

    /** `user unlock`: forgets the subject's failures and locks from every address. */
    async unlock(path: string): Promise<number> {
      return kit.store.write((tx) => tx.clearThrottle(subjectOf(path)));
    },
  };
}

export type Attempts = ReturnType<typeof attemptsOf>;
