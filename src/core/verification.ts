// One second-factor check through the factor port, shared by login and `mfa verify`: the provider state is
// read, the provider decides, and what it asks to save (a counter, a confirmed enrolment) is committed by the
// caller's final transaction with a compare-and-set, so N parallel uses of one code succeed exactly once (S16).

import type { FactorDenial, FactorOutcome, FactorProvider, ProviderMethod, VerifyRequest } from './factor.js';
import { pathOf, type Kit } from './kit.js';
import type { MfaMethod, Principal, StoredConfig } from './model.js';
import type { ProgressEvent, StoreOps } from './ports.js';

export type Allowed = Extract<FactorOutcome, { result: 'allow' }>;

export interface CheckRequest {
  principal: Principal;
  config: StoredConfig;
  provider: FactorProvider;
  method: ProviderMethod | undefined;
  choose?: (prompt: Parameters<NonNullable<VerifyRequest['choose']>>[0]) => Promise<MfaMethod>;
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export function verificationOf(kit: Kit) {
  return {
    /** Asks the provider; transport and protocol failures throw (the caller fails closed). */
    async check(req: CheckRequest): Promise<FactorOutcome> {
      const assignment = req.principal.assignment!;
      const state = await kit.store.getFactorState(req.principal.id);
      const keys = req.provider.register ? await kit.store.listKeys(req.principal.id) : undefined;
      return req.provider.verify({
        options: req.provider.loadOptions(req.config.Options),
        configName: req.config.Name,
        principal: { type: req.principal.type, name: req.principal.name, path: pathOf(req.principal) },
        assignment: { providerUserId: assignment.providerUserId, pending: assignment.pending },
        state,
        keys,
        ceremony: kit.ceremony,
        method: req.method,
        choose: req.choose,
        now: () => kit.clock.now(),
        deadline: req.deadline,
        signal: req.signal,
        onProgress: req.onProgress,
      });
    },

    /** Saves what an allowed check asked for, in the caller's transaction; the denial when it was a replay. */
    async commit(tx: StoreOps, principal: Principal, allowed: Allowed): Promise<FactorDenial | undefined> {
      if (allowed.counter && !(await tx.advanceCounter(principal.id, allowed.counter.value))) return allowed.counter.replay;
      if (allowed.key && !(await tx.useKey(principal.id, allowed.key.id, allowed.key.counter, kit.nowIso()))) return allowed.key.cloned;
      if (principal.assignment?.pending) await tx.confirmAssignment(principal.id);
      return undefined;
    },
  };
}

export type Verification = ReturnType<typeof verificationOf>;
