// Recovery codes: ten single-use codes per principal (60 bits each), only keyed digests kept. A code stands
// in for any provider's second factor at login, once (S16 for codes: one UPDATE wins).

import { DENIED_MESSAGE, type FactorDenial } from './factor.js';
import type { Kit } from './kit.js';
import { RECOVERY_CODE_COUNT, principalPath, type Principal } from './model.js';
import type { StoreOps } from './ports.js';
import { RECOVERY_ALPHABET, parsePrincipalPath } from './validate.js';

export interface Redemption {
  /** How many are left once this one is used. */
  left: number;
  /** Uses the code in the caller's final transaction; the denial when it is wrong or already used. */
  commit(tx: StoreOps): Promise<FactorDenial | undefined>;
}

export function recoveryOf(kit: Kit) {
  const { store } = kit;
  return {
    /** Ten new codes, shown this once; earlier codes stop working. */
    async recoveryCodes(path: string) {
      const ref = parsePrincipalPath(path);
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
        const raw = kit.crypto.randomString(RECOVERY_ALPHABET, 12);
        return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
      });
      return store.write(async (tx) => {
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        const digests: string[] = [];
        for (const c of codes) digests.push(await tx.recoveryDigest(p.id, c));
        await tx.replaceRecoveryCodes(p.id, digests, kit.nowIso());
        await kit.audit(tx, ref.path, 'mfa.recovery-codes', 'ok', `${codes.length} codes issued; earlier codes revoked`);
        return { Principal: principalPath(p.type, p.name), RecoveryCodes: codes };
      });
    },

    /** Prepares the use of a (normalized) code at login: refused at once when none is left. */
    async redeem(p: Principal, code: string): Promise<Redemption | FactorDenial> {
      const path = principalPath(p.type, p.name);
      const left = await store.recoveryCodesLeft(p.id);
      if (left === 0) {
        return { code: 'RECOVERY_CODES_EXHAUSTED', message: `${path} has no recovery codes left; an administrator can issue new ones with \`ssrun mfa recovery-codes -p ${path}\``, reason: 'no recovery codes left', counted: false };
      }
      const digest = await store.recoveryDigest(p.id, code);
      return {
        left: left - 1,
        commit: async (tx) =>
          (await tx.useRecoveryCode(p.id, digest, kit.nowIso())) ? undefined : { code: 'AUTH_DENIED', message: DENIED_MESSAGE, reason: 'recovery code: wrong or already used', counted: true },
      };
    },
  };
}

export type Recovery = ReturnType<typeof recoveryOf>;
