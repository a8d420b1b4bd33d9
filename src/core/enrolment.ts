// Assigning a configuration to a principal (`mfa assign-principal`), confirming a pending enrolment with a
// code (`mfa verify`) and removing an assignment. The provider checks or makes the identity and any secret
// before the transaction opens; the write re-reads what it depends on.

import type { Attempts } from './attempts.js';
import { SsrunError } from './errors.js';
import type { FactorDenial } from './factor.js';
import type { Kit } from './kit.js';
import type { AddKeyRequest } from './keys.js';
import { principalPath } from './model.js';
import { parsePrincipalPath, shown, validatePrincipalName } from './validate.js';
import type { Verification } from './verification.js';

const VERIFY_WAIT_MS = 30_000;

export interface AssignResult {
  Principal: string;
  Config: string;
  ProviderUserId: string;
  Replaced: string | null;
  /** Until a first valid code (TOTP). */
  Pending?: boolean;
  /** What the provider shows this once (a generated TOTP secret and its otpauth:// URI). */
  Secret?: string;
  OtpauthUri?: string;
  /** The security key registered with it (the embedded store runs the ceremony). */
  Key?: { KeyId: string; Name: string };
}

type AddKey = (req: AddKeyRequest) => Promise<{ KeyId: string; Name: string; Config: string; Replaced?: string }>;

export function enrolmentUseCases(kit: Kit, attempts: Attempts, verification: Verification, addKey: AddKey) {
  const { store, factors } = kit;

  return {
    /**
     * Assigns a configuration. `identity` (-m) is read by the provider: the principal's Duo user, or a TOTP
     * secret to import (absent: one is generated and shown this once, and the assignment stays pending).
     */
    async assignPrincipal(path: string, identity: string | undefined, configName: string): Promise<AssignResult> {
      const ref = parsePrincipalPath(path);
      const config = await kit.requireConfig(store, configName);
      const provider = factors.require(config.Type);
      // Security keys: the local operator registers one now (a browser ceremony here); over a server the user
      // registers their own, and the assignment waits for it (pending).
      if (provider.register && kit.actor.principal === 'local' && ref.type === 'user') {
        const k = await addKey({ user: ref.name, config: config.Name, replace: true });
        return { Principal: ref.path, Config: k.Config, ProviderUserId: ref.name, Replaced: k.Replaced ?? null, Key: { KeyId: k.KeyId, Name: k.Name } };
      }
      const known = await store.getPrincipal(ref.type, ref.name);
      const subject = { type: ref.type, name: known?.name ?? ref.name, path: principalPath(ref.type, known?.name ?? ref.name) };
      const enrolment = await provider.enrol({ options: provider.loadOptions(config.Options), configName: config.Name, principal: subject, identity });
      const { replaced, name } = await store.write(async (tx) => {
        const now = await kit.requireConfigName(tx, configName);
        if (now.Type !== config.Type) throw new SsrunError('CONFIG_NOT_FOUND', `MFA configuration ${shown(configName)} changed type; try again`);
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        const replaced = p.assignment?.configName ?? null;
        await tx.assign(p.id, now.Name, enrolment.providerUserId, kit.nowIso(), { secret: enrolment.secret, pending: enrolment.pending });
        await kit.audit(tx, ref.path, 'mfa.assign', 'ok', `${now.Name}${enrolment.detail ? `, ${enrolment.detail}` : ''}${replaced ? ` (replaces ${replaced})` : ''}`);
        return { replaced, name: now.Name };
      });
      return {
        Principal: ref.path,
        Config: name,
        ProviderUserId: enrolment.providerUserId,
        Replaced: replaced,
        ...(enrolment.pending ? { Pending: true } : {}),
        ...enrolment.shown,
      };
    },

    /** `mfa verify`: a first valid code confirms a pending enrolment (failures count toward the lockout). */
    async verifyEnrollment(name: string, code: string) {
      const n = validatePrincipalName(name, 'user');
      const path = principalPath('user', n);
      await kit.requirePrincipal(store, 'user', n);
      const attempt = await attempts.begin(path, 'mfa.verify', VERIFY_WAIT_MS);
      try {
        const p = await kit.requirePrincipal(store, 'user', n);
        const refuse = async (d: FactorDenial): Promise<never> => {
          await attempt.settle(d.counted ? 'failure' : 'not-a-guess', (tx) => kit.audit(tx, path, 'mfa.verify', 'denied', d.reason));
          throw new SsrunError(d.code, d.message);
        };
        const config = p.assignment ? await store.getConfig(p.assignment.configName) : undefined;
        const provider = config ? factors.get(config.Type) : undefined;
        if (!p.assignment || !config || !provider?.confirmsWithCode) {
          return await refuse({ code: 'ASSIGNMENT_NOT_FOUND', message: `${path} has no MFA configuration assigned that a code confirms (mfa verify is for authenticator apps)`, reason: 'no assignment confirmed with a code', counted: false });
        }
        const wasPending = p.assignment.pending;
        const method = provider.parseMethod(code, { path, configName: config.Name, options: provider.loadOptions(config.Options) });
        const checked = await verification.check({ principal: p, config, provider, method, deadline: kit.clock.now().getTime() + VERIFY_WAIT_MS });
        if (checked.result === 'recovery') return await refuse({ code: 'INVALID_METHOD', message: '-m: mfa verify takes a code from the authenticator app, not a recovery code', reason: 'recovery code given', counted: false });
        if (checked.result === 'deny') return await refuse(checked);
        // A lease that ran out, or a replayed code: refused, and nothing of the factor is saved.
        const denial = await store.write(async (tx) => {
          const d = await attempt.finishIn(tx, (t) => verification.commit(t, p, checked));
          if (!d) await kit.audit(tx, path, 'mfa.verify', 'ok', wasPending ? 'enrolment confirmed' : 'code valid');
          return d;
        });
        attempt.committed();
        if (denial) throw new SsrunError(denial.code, denial.message);
        return { Principal: path, Config: config.Name, Verified: true, Pending: false, WasPending: wasPending };
      } finally {
        await attempt.settleLeftover();
      }
    },

    async removePrincipal(path: string) {
      const ref = parsePrincipalPath(path);
      return store.write(async (tx) => {
        const p = await kit.requirePrincipal(tx, ref.type, ref.name);
        if (!p.assignment) throw new SsrunError('ASSIGNMENT_NOT_FOUND', `${ref.path} has no MFA configuration assigned`);
        await tx.unassign(p.id, kit.nowIso());
        await kit.audit(tx, ref.path, 'mfa.unassign', 'ok', p.assignment.configName);
        return { Principal: ref.path, Removed: p.assignment.configName };
      });
    },
  };
}

