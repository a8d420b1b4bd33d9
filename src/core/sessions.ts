// Sessions and authorization: who a bearer token stands for (unknown, expired and revoked tokens refused
// alike), re-verification asked by policies, the rules on resource paths, and refusals left in the audit.

import { decide } from './authz.js';
import { SsrunError } from './errors.js';
import { ENROLMENT_ONLY, HOUR_MS, isRoot, pathOf, type Kit } from './kit.js';
import type { Caller, Operation } from './model.js';
import type { PolicyChecks } from './policy-checks.js';

export interface WhoAmI {
  Principal: string;
  Factor: string;
  ExpiresAt: string;
}

export function sessionsOf(kit: Kit, checks: PolicyChecks) {
  const { store, crypto, clock } = kit;

  /** The caller behind a bearer token; unknown, expired and revoked tokens are all refused alike. */
  async function authenticate(token: string | undefined): Promise<Caller> {
    if (!token) throw new SsrunError('UNAUTHENTICATED', 'not logged in: run `ssrun login` (or set SSRUN_TOKEN)');
    const now = clock.now();
    const session = await store.getSession(crypto.digestToken(token));
    const principal = session ? await store.getPrincipalById(session.principalId) : undefined;
    if (!session || !principal || principal.epoch !== session.epoch || Date.parse(session.expiresAt) <= now.getTime()) {
      if (session) await store.write((tx) => tx.deleteSession(session.tokenHash));
      throw new SsrunError('SESSION_EXPIRED', 'the session is not valid (expired, logged out, or revoked by a password or MFA change): run `ssrun login` again');
    }
    // A key-enrolment session has no second factor to repeat: it may only register one.
    const pol = principal.assignment && session.factor !== ENROLMENT_ONLY ? await checks.policyFor(store, principal) : undefined;
    const every = pol?.reverifyAfterHours;
    if (every) {
      const last = principal.lastMfaAt ? Date.parse(principal.lastMfaAt) : 0;
      if (now.getTime() - last > every.value * HOUR_MS) {
        const names = every.from.join(' and ');
        const why = `policy ${names} asks for the second factor every ${every.value} h; last at ${principal.lastMfaAt ?? 'never'}`;
        await store.write((tx) => kit.audit(tx, pathOf(principal), 'reverify', 'denied', why));
        throw new SsrunError(
          'REVERIFY_REQUIRED',
          `re-verification required: policy ${names} asks for the second factor every ${every.value} h${principal.lastMfaAt ? ` (last at ${principal.lastMfaAt})` : ''}; run \`ssrun login\` again with -m`,
        );
      }
    }
    return { principalId: principal.id, type: principal.type, name: principal.name, path: pathOf(principal), isRoot: isRoot(principal), factor: session.factor, expiresAt: session.expiresAt, since: session.createdAt };
  }

  /** Throws FORBIDDEN unless the caller may do the operation on the resource (root may do everything). */
  async function authorize(caller: Caller, operation: Operation, resource: string): Promise<void> {
    if (caller.isRoot) return;
    const d = decide(await store.listAuthorizations(caller.principalId), operation, resource);
    if (d.allowed) return;
    await store.write((tx) => kit.audit(tx, resource, `authorize.${operation}`, 'denied', d.rule ? `deny rule on ${d.rule.Resource}` : 'no allow rule'));
    throw new SsrunError(
      'FORBIDDEN',
      `${caller.path} may not ${operation} ${resource}${d.rule ? ` (denied by the rule on ${d.rule.Resource})` : ''}; ask root for \`ssrun authorization create -p ${caller.path} -o ${operation} -a allow ${resource}\``,
    );
  }

  /**
   * For the lists a caller may read: whether it may see each child. Deny wins on lists too: a child covered by
   * a deny rule of the caller is left out (root sees everything).
   */
  async function visible(caller: Caller): Promise<(resource: string) => boolean> {
    if (caller.isRoot) return () => true;
    const rules = await store.listAuthorizations(caller.principalId);
    return (resource) => {
      const d = decide(rules, 'read', resource);
      return d.allowed || d.rule === null;
    };
  }

  return {
    authenticate,
    authorize,
    visible,

    /** Records a request refused before any use case ran (no valid token, rate limit). */
    async noteRefusal(action: string, principal: string, detail: string): Promise<void> {
      await store.write((tx) => kit.audit(tx, principal, action, 'denied', detail));
    },

    /** A refusal no rule can lift (root's own credentials): audited, FORBIDDEN. */
    async refuse(caller: Caller, why: string): Promise<never> {
      await store.write((tx) => kit.audit(tx, caller.path, 'authorize', 'denied', why));
      throw new SsrunError('FORBIDDEN', `${caller.path} may not do this: ${why}`);
    },

    async logout(token: string) {
      const removed = await store.write((tx) => tx.deleteSession(crypto.digestToken(token)));
      return { LoggedOut: removed };
    },

    async whoami(token: string | undefined): Promise<WhoAmI> {
      const c = await authenticate(token);
      return { Principal: c.path, Factor: c.factor, ExpiresAt: c.expiresAt };
    },
  };
}
