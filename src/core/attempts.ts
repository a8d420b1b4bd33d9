// Login and `mfa verify` attempts over the lockout rules (S12, S26). An attempt is a lease registered in one
// write transaction before its credentials are checked, counted per (principal, client address) and per
// principal, for known and unknown names alike (a lockout tells nothing about who exists). When the limit is
// held by attempts still in flight, a new one waits for them (polling the store, so it works across processes
// and replicas) instead of failing. A lease that expires (its process died or was stopped) counts as a
// failure, and an attempt whose lease is gone by the time it finishes is refused: parking attempts cannot
// buy extra guesses.

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
  readonly settled: boolean;
}

/** An attempt that outlived its lease: refused like a wrong code (its failure is counted where the lease ends). */
const LEASE_LOST: FactorDenial = { code: 'AUTH_DENIED', message: DENIED_MESSAGE, reason: 'the attempt outlived its lease', counted: false };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** The longest any attempt waits for others in flight, whatever timeout a client asks for. */
export const MAX_WAIT_MS = 60_000;

export function lockedError(path: string, until: string, failedCount: number, everywhere: boolean): SsrunError {
  const where = everywhere ? ' from every address' : '';
  return new SsrunError('LOCKED_OUT', `${path} is locked${where} until ${until} after ${failedCount} failed attempts`, { lockedUntil: until });
}

/** The lockout subject of a principal path: known or not, case-insensitive like names. */
export const subjectOf = (path: string) => path.toLowerCase();

export function attemptsOf(kit: Kit, limits: Limits) {
  const { store } = kit;
  const address = kit.actor.source;

  /** Counts a failure for the subject from one address (and so from all), as a settled attempt would. */
  async function fail(tx: StoreOps, subject: string, from: string): Promise<void> {
    const t = await tx.getThrottle(subject, from);
    await tx.saveThrottle(subject, from, settleScoped(t, 'failure', kit.clock.now(), limits), kit.nowIso());
  }

  function track(subject: string, path: string, action: string, id: string, leaseUntil: number): Attempt {
    let settled = false;
    // What a settle that did not commit meant: a failure stays a failure when it is tried again.
    let intended: AttemptOutcome = 'not-a-guess';
    /** Ends the lease; false when it had run out (counted as a failure here, or already by whoever swept it). */
    const endLease = async (tx: StoreOps): Promise<boolean> => {
      const lease = await tx.deleteAttempt(id, kit.nowIso());
      if (lease === 'expired') await fail(tx, subject, address);
      if (lease === 'live') return true;
      await kit.audit(tx, path, action, 'denied', 'the attempt outlived its lease (stopped or too slow); counted as a failure');
      return false;
    };
    const record = async (tx: StoreOps, outcome: AttemptOutcome) => {
      if (outcome === 'failure') intended = 'failure';
      const t = await tx.getThrottle(subject, address);
      await tx.saveThrottle(subject, address, settleScoped(t, outcome, kit.clock.now(), limits), kit.nowIso());
    };
    const settleIn = async (tx: StoreOps, outcome: AttemptOutcome) => {
      if (outcome === 'failure') intended = 'failure';
      if (await endLease(tx)) await record(tx, outcome);
    };
    return {
      async finishIn(tx, commit) {
        if (!(await endLease(tx))) return LEASE_LOST;
        const denial = commit ? await commit(tx) : undefined;
        await record(tx, denial ? (denial.counted ? 'failure' : 'not-a-guess') : 'success');
        if (denial) await kit.audit(tx, path, action, 'denied', denial.reason);
        return denial;
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
        const r = await store.write(async (tx) => {
          const now = kit.clock.now();
          const inFlight = await tx.countAttempts(subject, address, now.toISOString());
          for (const lost of inFlight.expired) await fail(tx, subject, lost.address);
          if (inFlight.expired.length) await kit.audit(tx, path, action, 'denied', `${inFlight.expired.length} attempt(s) in flight expired (stopped or killed): counted as failures`);
          const d = beginScoped(await tx.getThrottle(subject, address), inFlight, now, limits);
          if (d.decision === 'locked') {
            await kit.audit(tx, path, action, 'denied', d.everywhere ? 'locked out from every address' : 'locked out from this address');
            return { kind: 'error' as const, error: lockedError(path, d.until, d.failedCount, d.everywhere) };
          }
          if (d.decision === 'wait') {
            if (waited < bound) return { kind: 'wait' as const };
            await kit.audit(tx, path, action, 'denied', 'the allowance is held by attempts still in flight');
            return { kind: 'error' as const, error: new SsrunError('ATTEMPTS_IN_FLIGHT', `${path} has as many attempts in progress as its lockout allows (after ${Math.round(waited / 1000)} s of waiting); try again when they finish`) };
          }
          const id = kit.crypto.randomId();
          const until = now.getTime() + PASSWORD_LEASE_MS;
          await tx.insertAttempt(id, subject, address, new Date(until).toISOString());
          return { kind: 'go' as const, attempt: track(subject, path, action, id, until) };
        });
        if (r.kind === 'error') throw r.error;
        if (r.kind === 'go') return r.attempt;
        await sleep(delay);
        waited += delay;
      }
    },

    /** `user unlock`: forgets the subject's failures and locks from every address. */
    async unlock(path: string): Promise<number> {
      return store.write((tx) => tx.clearThrottle(subjectOf(path)));
    },
  };
}

export type Attempts = ReturnType<typeof attemptsOf>;
