// `ssrun login`: the password or API key, the policies, then the second factor through the principal's
// provider (or a recovery code), and a session. Every refusal is audited; an attempt is settled as a failure
// only when it was a guess. S14: an assigned principal never falls back to "no MFA". A login whose every check
// is local and instant (an application's API key and a factor that waits on nothing) takes no lease and
// commits once; a password (its hash) and a factor that waits on the network or a person keep the lease.

import { HeldInFlight, type Attempt, type Attempts } from './attempts.js';
import { ERROR_CODES, SsrunError } from './errors.js';
import { DENIED_MESSAGE, checkMethodShape, type FactorDenial, type FactorPrompt, type ProviderMethod } from './factor.js';
import { DAY_MS, DEFAULT_MFA_TIMEOUT_MS, ENROLMENT_ONLY, type Kit } from './kit.js';
import { principalPath, type MfaMethod, type Principal, type PrincipalType } from './model.js';
import type { PolicyChecks } from './policy-checks.js';
import { describeFactors } from './policy.js';
import type { ProgressEvent, StoreOps } from './ports.js';
import type { Recovery } from './recovery.js';
import { normalizeRecoveryCode, shown, validatePassword, validatePrincipalName } from './validate.js';
import type { Verification } from './verification.js';

export interface LoginRequest {
  type: PrincipalType;
  name: string;
  /** The password (users) or API key (applications). */
  secret: string;
  /** `-m` as typed: read by the provider of the principal's assignment, or a recovery code. */
  mfa?: string;
  /** Asks on a terminal when MFA is required and no `-m` was given (interactive only); the answer is read like `-m`. */
  chooseFactor?: (prompt: FactorPrompt) => Promise<string>;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface EnrollmentNotice {
  Policy: string;
  DaysLeft: number;
  Deadline: string;
  How: string;
}

export interface LoginResult {
  Principal: string;
  Factor: string;
  ExpiresAt: string;
  /** The session token: the caller keeps it; never printed. */
  token: string;
  /** After a login with a recovery code: how many are left. */
  RecoveryCodesLeft?: number;
  /** A policy requires MFA and the principal has none yet: until when it may still log in without. */
  Enrollment?: EnrollmentNotice;
  /** A key assignment is pending: this session may only register a key. */
  KeyEnrollment?: { Config: string; How: string };
}

/** What the second-factor step decided: the factor, the audit detail, and what to commit with the session. */
interface Step {
  factor: string;
  detail: string;
  commit?: (tx: StoreOps) => Promise<FactorDenial | undefined>;
  recoveryLeft?: number;
  enrollment?: EnrollmentNotice;
  keyEnrollment?: { Config: string; How: string };
}

interface Ctx {
  kit: Kit;
  checks: PolicyChecks;
  verification: Verification;
  recovery: Recovery;
}

const isUsage = (e: unknown): e is SsrunError => e instanceof SsrunError && ERROR_CODES[e.code] === 'INVALID_INPUT';


/** The principal and whether the password or API key is right: read and compared, nothing written. */
interface Checked {
  principal: Principal | undefined;
  ok: boolean;
}

/** An unknown name costs the same hash (or digest) as a known one (S11, S26). */
async function check({ kit }: Ctx, req: LoginRequest, name: string): Promise<Checked> {
  const { crypto, store } = kit;
  const principal = await store.getPrincipal(req.type, name);
  const ok =
    req.type === 'user'
      ? await crypto.verifyPassword(req.secret, principal?.credential ?? null)
      : crypto.equalDigests(crypto.digestToken(req.secret), principal?.credential ?? crypto.digestToken('\0no-such-application'));
  return { principal, ok };
}

/** The password or API key's verdict; an unknown name is counted and answered the same (S11, S26). */
async function credentials({ kit }: Ctx, { principal, ok }: Checked, path: string, attempt: Attempt, timeoutMs: number): Promise<Principal> {
  // The second factor may take its own timeout: the lease grows, unless it ran out meanwhile (then refused).
  if (principal && ok && (await attempt.extend(timeoutMs))) return principal;
  // (A lease that ran out is audited where it ends.)
  const why = !principal ? 'unknown principal' : ok ? undefined : 'wrong credentials';
  await attempt.settle('failure', why ? (tx) => kit.audit(tx, path, 'login', 'denied', why) : undefined);
  throw new SsrunError('AUTH_DENIED', DENIED_MESSAGE);
}

/**
 * Whether every check of this login is local and instant, so that it needs no lease: an API key (a digest, no
 * password hash) that is wrong or names no one, or that is right with a second factor waiting on nothing (a
 * recovery code, a provider that verifies `-m` here at once, none at all, or a refusal for want of one).
 * A password (its hash) and a factor that waits on the network or a person keep the lease.
 */
function instant({ kit }: Ctx, req: LoginRequest, { principal, ok }: Checked): boolean {
  if (req.type !== 'application') return false;
  if (!principal || !ok) return true;
  if (req.mfa !== undefined && normalizeRecoveryCode(req.mfa)) return true;
  const a = principal.assignment;
  if (!a) return true;
  // No -m: refused as MFA_REQUIRED at once, unless a terminal asks (a person).
  if (req.mfa === undefined) return !req.chooseFactor;
  return kit.factors.get(a.configType)?.instant === true;
}

/** Policies: the enrolment deadline for principals without a factor, the allowed factors for the others. */
async function policies({ kit, checks }: Ctx, p: Principal, path: string, deny: (d: FactorDenial) => Promise<never>): Promise<EnrollmentNotice | undefined> {
  const { store, clock } = kit;
  const pol = await checks.policyFor(store, p);
  if (!pol) return undefined;
  // A key assignment still waiting for its first key is no factor yet: the enrolment deadline applies.
  const a = p.assignment && !keyPending(kit, p) ? p.assignment : null;
  if (a) {
    if (!checks.allowsFactor(pol.factors.value, { name: a.configName, type: a.configType })) {
      const from = pol.factors.from;
      await deny({
        code: 'MFA_FACTOR_NOT_ALLOWED',
        message: `login denied: ${path} uses ${shown(a.configName)} (${a.configType}), which policy ${from.join(' and ')} does not allow (allowed: ${describeFactors(pol.factors.value)}); ask an administrator to assign an allowed factor`,
        reason: `${a.configName} not allowed by ${from.join(', ')}`,
        counted: false,
      });
    }
    return undefined;
  }
  const deadline = await checks.enrollmentDeadline(p, pol);
  const policyName = pol.enrollWithinDays.from[0]!;
  if (clock.now().getTime() >= deadline.getTime()) {
    await deny({
      code: 'MFA_ENROLLMENT_REQUIRED',
      message: `login denied: policy ${policyName} requires MFA for ${path} since ${deadline.toISOString()}; ask an administrator to enrol you (ssrun mfa assign-principal -p ${path} -c CONFIG) or to reset your deadline`,
      reason: `enrolment deadline ${deadline.toISOString()} passed (policy ${policyName})`,
      counted: false,
    });
  }
  return {
    Policy: policyName,
    DaysLeft: Math.ceil((deadline.getTime() - clock.now().getTime()) / DAY_MS),
    Deadline: deadline.toISOString(),
    How: `ssrun mfa assign-principal -p ${path} -c CONFIG (an administrator), then log in with -m`,
  };
}

/** An assignment of security keys with no key yet (an administrator assigned it over a server). */
const keyPending = (kit: Kit, p: Principal) => p.assignment !== null && p.assignment.pending && kit.factors.get(p.assignment.configType)?.register !== undefined;

async function useRecovery({ recovery }: Ctx, p: Principal, code: string, deny: (d: FactorDenial) => Promise<never>): Promise<Step> {
  const r = await recovery.redeem(p, code);
  if (!('left' in r)) return deny(r);
  return { factor: 'recovery-code', detail: `recovery-code (${r.left} left)`, commit: r.commit, recoveryLeft: r.left };
}

/** The assigned provider's check (or none); denials settle the attempt and throw. */
async function secondFactor(c: Ctx, req: LoginRequest, path: string, p: Principal, attempt: Attempt, timeoutMs: number): Promise<Step> {
  const { kit, verification } = c;
  const { store, factors, clock } = kit;
  const deny = async (d: FactorDenial): Promise<never> => {
    await attempt.settle(d.counted ? 'failure' : 'not-a-guess', (tx) => kit.audit(tx, path, 'login', 'denied', d.reason));
    throw new SsrunError(d.code, d.message, d.detail);
  };
  // A configuration that cannot be read (SECRET_UNDECRYPTABLE…) or answered fails closed, audited, not counted.
  const failing = async (e: unknown): Promise<never> => {
    const code = e instanceof SsrunError ? e.code : 'INTERNAL';
    await attempt.settle('not-a-guess', (tx) => kit.audit(tx, path, 'login', 'error', `${code}${e instanceof Error ? `: ${e.message}` : ''}`));
    throw e;
  };
  const base = req.type === 'user' ? 'password' : 'api-key';
  const recoveryCode = req.mfa !== undefined ? normalizeRecoveryCode(req.mfa) : undefined;
  // A recovery code is the way in whatever the policies say.
  if (recoveryCode) return useRecovery(c, p, recoveryCode, deny);
  const enrollment = await policies(c, p, path, deny);
  const a = p.assignment;
  if (!a) return { factor: base, detail: enrollment ? `${base}; not enrolled, enrolment deadline ${enrollment.Deadline} (policy ${enrollment.Policy})` : base, enrollment };
  if (keyPending(kit, p)) {
    const keyEnrollment = { Config: a.configName, How: `ssrun mfa key add -u ${p.name} -c ${a.configName}` };
    return { factor: ENROLMENT_ONLY, detail: `${base}; security keys pending (${a.configName}): a session for registering a key only`, enrollment, keyEnrollment };
  }

  const config = await store.getConfig(a.configName).catch(failing);
  if (!config) return deny({ code: 'PROVIDER_MISCONFIGURED', message: `MFA configuration ${shown(a.configName)} assigned to ${path} is missing; login denied`, reason: 'configuration missing', counted: false });
  const provider = await Promise.resolve().then(() => factors.require(config.Type)).catch(failing);
  const ctx = { path, configName: config.Name, options: provider.loadOptions(config.Options) };
  if (req.mfa === undefined && !req.chooseFactor) {
    const r = provider.required(ctx);
    return deny({ code: 'MFA_REQUIRED', message: r.message, reason: 'MFA required, no factor given', counted: false, detail: { prompt: r.prompt } });
  }
  const read = (raw: string): MfaMethod => {
    const code = normalizeRecoveryCode(raw);
    return code ? { kind: 'recovery', code } : provider.parseMethod(raw, ctx);
  };
  const notAccepted = (e: SsrunError) => deny({ code: e.code, message: e.message, reason: `${config.Name}: -m not accepted`, counted: false });
  let method: ProviderMethod | undefined;
  if (req.mfa !== undefined) {
    try {
      method = provider.parseMethod(req.mfa, ctx);
    } catch (e) {
      return isUsage(e) ? notAccepted(e) : failing(e);
    }
  }
  const choose = req.chooseFactor ? async (prompt: FactorPrompt) => read(await req.chooseFactor!(prompt)) : undefined;
  // A factor may wait longer by default (a browser's prompt): the lease grows to it, unless it ran out meanwhile.
  const waitMs = req.timeoutMs ?? provider.timeoutMs?.(ctx.options) ?? timeoutMs;
  if (waitMs > timeoutMs && !(await attempt.extend(waitMs))) return deny({ code: 'AUTH_DENIED', message: DENIED_MESSAGE, reason: 'the attempt ran out before the second factor', counted: false });
  let outcome;
  try {
    outcome = await verification.check({ principal: p, config, provider, method, choose, deadline: clock.now().getTime() + waitMs, signal: req.signal, onProgress: req.onProgress });
  } catch (e) {
    return isUsage(e) ? notAccepted(e) : failing(e);
  }
  if (outcome.result === 'recovery') return useRecovery(c, p, outcome.code, deny);
  if (outcome.result === 'deny') return deny(outcome);
  const allowed = outcome;
  return { factor: allowed.factor, detail: allowed.detail, commit: (tx) => verification.commit(tx, p, allowed) };
}

/** The session, with whatever the factor asked to commit, in one transaction. */
async function finish({ kit }: Ctx, path: string, p: Principal, attempt: Attempt, step: Step): Promise<LoginResult> {
  const { store, crypto, clock } = kit;
  const token = crypto.randomToken();
  const now = clock.now();
  const expiresAt = new Date(now.getTime() + kit.sessionTtlMs).toISOString();
  const verifiedMfa = step.factor !== 'password' && step.factor !== 'api-key' && step.factor !== ENROLMENT_ONLY;
  const denial = await store.write(async (tx) => {
    // A lease that ran out, or a replayed code: refused, and nothing of the factor is saved.
    const d = await attempt.finishIn(tx, step.commit);
    if (d) return d;
    if (verifiedMfa) await tx.setLastMfa(p.id, now.toISOString());
    await tx.insertSession({ tokenHash: crypto.digestToken(token), principalId: p.id, epoch: p.epoch, factor: step.factor, createdAt: now.toISOString(), expiresAt });
    await kit.audit(tx, path, 'login', 'allowed', step.detail);
    return undefined;
  });
  attempt.committed();
  if (denial) throw new SsrunError(denial.code, denial.message);
  return {
    Principal: path,
    Factor: step.factor,
    ExpiresAt: expiresAt,
    token,
    ...(step.recoveryLeft !== undefined ? { RecoveryCodesLeft: step.recoveryLeft } : {}),
    ...(step.enrollment ? { Enrollment: step.enrollment } : {}),
    ...(step.keyEnrollment ? { KeyEnrollment: step.keyEnrollment } : {}),
  };
}

export function loginOf(kit: Kit, attempts: Attempts, checks: PolicyChecks, verification: Verification, recovery: Recovery) {
  const c: Ctx = { kit, checks, verification, recovery };
  return async function login(req: LoginRequest): Promise<LoginResult> {
    const name = validatePrincipalName(req.name, req.type);
    const path = principalPath(req.type, name);
    if (req.type === 'user') validatePassword(req.secret);
    // The shape every provider could read, before anything is counted; which one reads it comes after the password.
    if (req.mfa !== undefined) checkMethodShape(kit.factors, req.mfa);
    const timeoutMs = req.timeoutMs ?? DEFAULT_MFA_TIMEOUT_MS;
    const run = async (checked: Checked | (() => Promise<Checked>), attempt: Attempt): Promise<LoginResult> => {
      try {
        const principal = await credentials(c, typeof checked === 'function' ? await checked() : checked, path, attempt, timeoutMs);
        return await finish(c, path, principal, attempt, await secondFactor(c, req, path, principal, attempt, timeoutMs));
      } finally {
        await attempt.settleLeftover();
      }
    };
    if (req.type === 'application') {
      if (req.signal?.aborted) throw new SsrunError('CANCELLED', 'cancelled');
      // Checked first, told only once admitted and counted in the one transaction (attempts.ts, atOnce).
      const checked = await check(c, req, name);
      if (instant(c, req, checked)) {
        try {
          return await run(checked, attempts.atOnce(path, 'login'));
        } catch (e) {
          // The allowance is held by leased attempts in flight: nothing was told or saved; wait for them with a lease.
          if (!(e instanceof HeldInFlight)) throw e;
        }
      }
    }
    return run(() => check(c, req, name), await attempts.begin(path, 'login', timeoutMs, req.signal));
  };
}
