// Every use case of ssrun, composed over the ports. No I/O of its own: the store persists, the factor
// providers verify, the CLI (or the server) renders. Each use case lives in its own module.

import { attemptsOf } from './attempts.js';
import { auditUseCases } from './audit.js';
import { authorizationUseCases } from './authorizations.js';
import { configUseCases } from './configs.js';
import { enrolmentUseCases } from './enrolment.js';
import { groupUseCases } from './groups.js';
import { keyUseCases } from './keys.js';
import { createKit, type SsrunDeps } from './kit.js';
import { DEFAULT_LIMITS } from './lockout.js';
import { loginOf } from './login.js';
import { policyUseCases } from './policies.js';
import { policyChecks } from './policy-checks.js';
import { principalUseCases } from './principals.js';
import { recoveryOf } from './recovery.js';
import { sessionsOf } from './sessions.js';
import { verificationOf } from './verification.js';

export { AUDIT_DEFAULT_LIMIT } from './audit.js';
export type { AssignResult } from './enrolment.js';
export type { AddKeyRequest, KeyView } from './keys.js';
export { DEFAULT_MFA_TIMEOUT_MS, ENROLMENT_ONLY, ROOT_USER, SESSION_TTL_MS, type ConfigView, type PrincipalView, type SsrunDeps } from './kit.js';
export type { EnrollmentNotice, LoginRequest, LoginResult } from './login.js';
export type { WhoAmI } from './sessions.js';

export function createSsrun(deps: SsrunDeps) {
  const kit = createKit(deps);
  const checks = policyChecks(kit);
  const attempts = attemptsOf(kit, deps.lockout ?? DEFAULT_LIMITS);
  const verification = verificationOf(kit);
  const recovery = recoveryOf(kit);
  const sessions = sessionsOf(kit, checks);
  const keys = keyUseCases(kit, checks, attempts);
  return {
    ...configUseCases(kit, checks),
    ...enrolmentUseCases(kit, attempts, verification, keys.addKey),
    ...keys,
    recoveryCodes: recovery.recoveryCodes,
    ...principalUseCases(kit, attempts),
    login: loginOf(kit, attempts, checks, verification, recovery),
    ...sessions,
    ...authorizationUseCases(kit),
    ...groupUseCases(kit, checks),
    ...policyUseCases(kit, checks),
    ...auditUseCases(kit),
  };
}

export type Ssrun = ReturnType<typeof createSsrun>;

/** What a command line needs: the embedded service, or the remote client over a server's HTTP API. */
export type SsrunApi = Omit<Ssrun, 'authenticate' | 'authorize' | 'refuse' | 'noteRefusal' | 'visible' | 'confirmPassword'>;
