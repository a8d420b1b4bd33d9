// Login and `mfa verify` attempts over the lockout rules (S12): an attempt is registered in flight in one write
// transaction before its credentials are checked, and settled once its outcome is known. When the limit is
// reached by attempts still in flight, a new one waits for them (polling the store, so it works across
// processes and replicas) instead of failing; a crashed process's attempt expires.

import { SsrunError } from './errors.js';
import type { Kit } from './kit.js';
import { attemptLifetimeMs, beginAttempt, settle, type AttemptOutcome, type AuthState } from './lockout.js';
import type { Principal } from './model.js';
import type { StoreOps } from './ports.js';

export interface Attempt {
  principal: Principal;
  /** Settles the attempt inside the caller's transaction (with what else it writes). */
  settleIn(tx: StoreOps, outcome: AttemptOutcome): Promise<void>;
  /** Settles it in a transaction of its own, then runs `also` in it. */
  settle<T>(outcome: AttemptOutcome, also?: (tx: StoreOps) => Promise<T>): Promise<T | undefined>;
  readonly settled: boolean;
}

const stateOf = (p: Principal): AuthState => ({ failedCount: p.failedCount, lockedUntil: p.lockedUntil });
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function lockedError(path: string, until: string, failedCount: number): SsrunError {
  return new SsrunError('LOCKED_OUT', `${path} is locked until ${until} after ${failedCount} failed attempts`, { lockedUntil: until });
}

export function attemptsOf(kit: Kit) {
  const { store } = kit;

  function track(principal: Principal, id: string): Attempt {
    let settled = false;
    const settleIn = async (tx: StoreOps, outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      await tx.deleteAttempt(id);
      const current = await tx.getPrincipalById(principal.id);
      if (!current) return;
      const next = settle(stateOf(current), outcome, kit.clock.now());
      await tx.saveAuthState(principal.id, next.failedCount, next.lockedUntil);
    };
    return {
      principal,
      settleIn,
      settle: (outcome, also) =>
        store.write(async (tx) => {
          await settleIn(tx, outcome);
          return also ? also(tx) : undefined;
        }),
      get settled() {
        return settled;
      },
    };
  }

  return {
    /**
     * Starts an attempt on the principal `find` returns (undefined: no such principal, nothing to count).
     * Refused at once while locked; waits up to `waitMs` while the limit is held by attempts in flight.
     */
    async begin(find: (ops: StoreOps) => Promise<Principal | undefined>, path: string, action: string, waitMs: number, lifetimeMs = attemptLifetimeMs(waitMs)): Promise<Attempt | undefined> {
      let waited = 0;
      for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
        const r = await store.write(async (tx) => {
          const p = await find(tx);
          if (!p) return { kind: 'none' as const };
          const now = kit.clock.now();
          const d = beginAttempt(stateOf(p), await tx.countAttempts(p.id, now.toISOString()), now);
          if (d.decision === 'locked') {
            await kit.audit(tx, path, action, 'denied', 'locked out');
            return { kind: 'error' as const, error: lockedError(path, d.until, d.failedCount) };
          }
          if (d.decision === 'wait') {
            if (waited < waitMs) return { kind: 'wait' as const };
            await kit.audit(tx, path, action, 'denied', 'the limit is held by attempts still in flight');
            return { kind: 'error' as const, error: new SsrunError('ATTEMPTS_IN_FLIGHT', `${path} has as many attempts in progress as its lockout allows (after ${Math.round(waited / 1000)} s of waiting); try again when they finish`) };
          }
          const id = kit.crypto.randomId();
          await tx.insertAttempt(id, p.id, new Date(now.getTime() + lifetimeMs).toISOString());
          return { kind: 'go' as const, attempt: track(p, id) };
        });
        if (r.kind === 'none') return undefined;
        if (r.kind === 'error') throw r.error;
        if (r.kind === 'go') return r.attempt;
        await sleep(delay);
        waited += delay;
      }
    },
  };
}

export type Attempts = ReturnType<typeof attemptsOf>;
