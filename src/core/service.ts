// Every use case of ssrun, over the ports. No I/O of its own: the store persists, providers talk to Duo,
// the CLI (or the server) renders. Views returned here are what users see, secrets redacted by default.

import { decide } from './authz.js';
import { allows, covering, describeFactors, effective, satisfiable, type Effective } from './policy.js';
import { SsrunError } from './errors.js';
import { afterSuccess, beginAttempt, refund, type AuthState } from './lockout.js';
import {
  REDACTED,
  RECOVERY_CODE_COUNT,
  principalPath,
  type AuditRecord,
  type Authorization,
  type Caller,
  type Factor,
  type MfaConfig,
  type Operation,
  type Group,
  type Policy,
  type MfaMethod,
  type Principal,
  type PrincipalType,
  type StoredConfig,
} from './model.js';
import type { Clock, Crypto, DuoMethod, PolicyTarget, ProgressEvent, Providers, Store } from './ports.js';
import {
  MIN_ROOT_PASSWORD_CHARS,
  parseConfigDocument,
  parseNewConfig,
  parsePrincipalPath,
  parseSince,
  validateEffect,
  parsePolicyDocument,
  parseTargetPath,
  validateGroupName,
  validatePolicyName,
  validateOperation,
  validateResource,
  shown,
  sanitizeLine,
  validateConfigName,
  validatePassword,
  validatePrincipalName,
  validateProviderUserId,
  validateTotpSecret,
  normalizeRecoveryCode,
  RECOVERY_ALPHABET,
} from './validate.js';

export const SESSION_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_MFA_TIMEOUT_MS = 60_000;
export const ROOT_USER = 'root';

export interface ConfigView {
  Type: string;
  Name: string;
  Options: Record<string, string | number>;
  CreatedAt?: string;
  UpdatedAt?: string;
  /** Pending: a TOTP enrolment not yet confirmed by a first valid code. */
  Principals?: { Principal: string; ProviderUserId: string; AssignedAt: string; Pending: boolean }[];
}

export interface PrincipalView {
  Name: string;
  Principal: string;
  Mfa: { Config: string; Type: string; ProviderUserId: string; Pending?: boolean } | null;
  CreatedAt?: string;
  UpdatedAt?: string;
  FailedAttempts?: number;
  LockedUntil?: string | null;
}

export interface LoginRequest {
  type: PrincipalType;
  name: string;
  /** The password (users) or API key (applications). */
  secret: string;
  method?: MfaMethod;
  /** Offered the factors when MFA is required and no method was given (interactive only). */
  chooseFactor?: (available: Factor[]) => Promise<DuoMethod>;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
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
}

export interface EnrollmentNotice {
  Policy: string;
  DaysLeft: number;
  Deadline: string;
  How: string;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

export interface SsrunDeps {
  store: Store;
  providers: Providers;
  clock: Clock;
  crypto: Crypto;
  /** Who is acting and from where, for the audit trail (default: the embedded store's local user). */
  actor?: { principal: string; source: string };
  /** How long a session token lives (default one hour). */
  sessionTtlMs?: number;
}

export interface AssignResult {
  Principal: string;
  Config: string;
  ProviderUserId: string;
  Replaced: string | null;
  /** TOTP: until a first valid code. */
  Pending?: boolean;
  /** TOTP, generated: shown this once. */
  Secret?: string;
  OtpauthUri?: string;
}

export interface WhoAmI {
  Principal: string;
  Factor: string;
  ExpiresAt: string;
}

export const AUDIT_DEFAULT_LIMIT = 1000;

const byName = (a: { Name: string }, b: { Name: string }) =>
  a.Name.toLowerCase() < b.Name.toLowerCase() ? -1 : a.Name.toLowerCase() > b.Name.toLowerCase() ? 1 : a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0;

export function createSsrun({ store, providers, clock, crypto, actor = { principal: 'local', source: 'cli' }, sessionTtlMs = SESSION_TTL_MS }: SsrunDeps) {
  const nowIso = () => clock.now().toISOString();

  function configView(c: StoredConfig, opts: { verbose?: boolean; showSecrets?: boolean } = {}): ConfigView {
    let Options: Record<string, string | number>;
    if (c.Type === 'duo') {
      Options = { IntegrationKey: c.Options.IntegrationKey, SecretKey: opts.showSecrets ? c.Options.SecretKey : REDACTED, Host: c.Options.Host };
      if (c.Options.CaFile !== undefined) Options.CaFile = c.Options.CaFile;
    } else {
      Options = { ...c.Options };
    }
    const view: ConfigView = { Type: c.Type, Name: c.Name, Options };
    if (opts.verbose) {
      view.CreatedAt = c.createdAt;
      view.UpdatedAt = c.updatedAt;
      view.Principals = store.principalsOfConfig(c.Name).map((p) => ({ Principal: p.path, ProviderUserId: p.providerUserId, AssignedAt: p.assignedAt, Pending: p.pending }));
    }
    return view;
  }

  function principalView(p: Principal, verbose = false): PrincipalView {
    const view: PrincipalView = {
      Name: p.name,
      Principal: principalPath(p.type, p.name),
      Mfa: p.assignment
        ? { Config: p.assignment.configName, Type: p.assignment.configType, ProviderUserId: p.assignment.providerUserId, ...(verbose ? { Pending: p.assignment.pending } : {}) }
        : null,
    };
    if (verbose) {
      view.CreatedAt = p.createdAt;
      view.UpdatedAt = p.updatedAt;
      view.FailedAttempts = p.failedCount;
      view.LockedUntil = p.lockedUntil;
    }
    return view;
  }

  function notFound(name: string): SsrunError {
    return new SsrunError('CONFIG_NOT_FOUND', `MFA configuration ${shown(name)} not found; \`ssrun mfa get\` lists them`);
  }

  function requireConfig(name: string): StoredConfig {
    const config = store.getConfig(validateConfigName(name, 'config name'));
    if (!config) throw notFound(name);
    return config;
  }

  /** Looks a configuration up without opening its secrets (so an undecryptable one can still be deleted). */
  function requireConfigName(name: string): { Name: string; Type: string } {
    const config = store.findConfig(validateConfigName(name, 'config name'));
    if (!config) throw notFound(name);
    return config;
  }

  function requirePrincipal(type: PrincipalType, name: string): Principal {
    const p = store.getPrincipal(type, validatePrincipalName(name, type));
    if (!p) throw new SsrunError('PRINCIPAL_NOT_FOUND', `${principalPath(type, name)} not found`);
    return p;
  }

  function audit(principal: string, action: string, outcome: 'allowed' | 'denied' | 'error' | 'ok', detail = '') {
    store.audit({ at: nowIso(), principal: sanitizeLine(principal, 300), action, outcome, detail: sanitizeLine(detail), actor: actor.principal, source: actor.source });
  }

  async function createPrincipal(type: PrincipalType, name: string, credential: string | null): Promise<Principal> {
    return store.write(() => {
      if (store.getPrincipal(type, name)) throw new SsrunError('PRINCIPAL_EXISTS', `${principalPath(type, name)} already exists`);
      const p = store.insertPrincipal(type, name, credential, nowIso());
      audit(principalPath(type, name), `${type}.create`, 'ok');
      return p;
    });
  }

  function deletePrincipal(type: PrincipalType, name: string) {
    return store.write(() => {
      const p = requirePrincipal(type, name);
      store.deletePrincipal(p.id);
      audit(principalPath(type, p.name), `${type}.delete`, 'ok', p.assignment ? `assignment to ${p.assignment.configName} removed` : '');
      return { Deleted: principalPath(type, p.name), MfaAssignmentRemoved: p.assignment !== null };
    });
  }

  // ---- login -------------------------------------------------------------------------------------------

  function stateOf(p: Principal): AuthState {
    return { failedCount: p.failedCount, lockedUntil: p.lockedUntil };
  }

  interface Reservation {
    principal: Principal;
    reserved: AuthState;
    previous: AuthState;
  }

  /**
   * Counts an attempt before it is checked (S12), in one write transaction, so parallel guesses cannot exceed
   * the limit; refused at once while locked. Undefined when there is no such principal.
   */
  function reserveAttempt(find: () => Principal | undefined, path: string, action: string): Reservation | undefined {
    const r = store.write(() => {
      const p = find();
      if (!p) return undefined;
      const d = beginAttempt(stateOf(p), clock.now());
      if (d.decision === 'locked') {
        audit(path, action, 'denied', 'locked out');
        return lockedError(path, d.until, d.failedCount);
      }
      store.saveAuthState(p.id, d.next.failedCount, d.next.lockedUntil);
      return { principal: p, reserved: d.next, previous: d.previous };
    });
    if (r instanceof SsrunError) throw r;
    return r;
  }

  /** Gives a reserved attempt back: it was not a guess (MFA required, provider down…). */
  function refundAttempt(r: Reservation): void {
    store.write(() => {
      const p = store.getPrincipalById(r.principal.id);
      if (p) {
        const s = refund(stateOf(p), r.reserved, r.previous);
        store.saveAuthState(p.id, s.failedCount, s.lockedUntil);
      }
    });
  }

  function lockedError(path: string, until: string, failedCount: number): SsrunError {
    return new SsrunError('LOCKED_OUT', `${path} is locked until ${until} after ${failedCount} failed attempts`, { lockedUntil: until });
  }

  // ---- policies ----------------------------------------------------------------------------------------------

  const pathOf = (p: Principal) => principalPath(p.type, p.name);
  const allPrincipals = () => [...store.listPrincipals('user'), ...store.listPrincipals('application')];

  /** The active policies' requirements for this principal (undefined: no active policy covers it). */
  function policyFor(p: Principal, policies: Policy[] = store.listPolicies()): Effective | undefined {
    if (!policies.some((x) => x.Active)) return undefined; // nothing enforced: no need to look up its groups
    return effective(covering(policies, pathOf(p), store.groupsOf(p.id)));
  }

  /** Every principal an active policy covers, with its requirements; none read at all when nothing is active. */
  function covered(policies: Policy[]): { p: Principal; eff: Effective }[] {
    if (!policies.some((x) => x.Active)) return [];
    return allPrincipals().flatMap((p) => {
      const eff = policyFor(p, policies);
      return eff ? [{ p, eff }] : [];
    });
  }

  function coveredIds(policies: Policy[]): Set<string> {
    return new Set(covered(policies).map(({ p }) => p.id));
  }

  /**
   * Refuses a set of policies that would allow some covered principal no factor at all, or that would leave
   * root with no way in (no allowed factor assigned and no recovery code).
   */
  function checkPolicies(policies: Policy[]): void {
    const types = new Map(store.configTypes().map((c) => [c.name.toLowerCase(), c.type] as const));
    for (const { p, eff } of covered(policies)) {
      if (!satisfiable(eff.factors.value, types)) {
        throw new SsrunError(
          'EMPTY_FACTOR_SET',
          `${pathOf(p)} would be allowed no factor at all: ${eff.factors.from.length > 1 ? `${eff.factors.from.join(' and ')} together allow` : `${eff.factors.from[0]} allows`} ${describeFactors(eff.factors.value)}, and no configuration satisfies that; nothing was changed`,
        );
      }
      if (p.type === 'user' && p.name.toLowerCase() === ROOT_USER) {
        const hasFactor = p.assignment !== null && allows(eff.factors.value, { name: p.assignment.configName, type: p.assignment.configType });
        if (!hasFactor && store.recoveryCodesLeft(p.id) === 0) {
          throw new SsrunError(
            'ROOT_LOCKOUT',
            `${eff.policies.join(', ')} would cover root, who has no allowed factor and no recovery codes: assign root a factor the policy allows, or issue root recovery codes (ssrun mfa recovery-codes -p ${pathOf(p)}), first; nothing was changed`,
          );
        }
      }
    }
  }

  /** Starts the enrolment window of every principal covered for the first time. */
  function refreshSubjects(policies: Policy[]): void {
    const at = nowIso();
    for (const { p } of covered(policies)) store.setFirstApplied(p.id, at, false);
  }

  function enrollmentDeadline(p: Principal, eff: Effective): Date {
    let start = store.firstApplied(p.id);
    if (!start) {
      start = nowIso();
      store.write(() => store.setFirstApplied(p.id, start!, false));
    }
    return new Date(Date.parse(start) + eff.enrollWithinDays.value * DAY_MS);
  }

  function resolveTargets(targets: ReturnType<typeof parsePolicyDocument>['Targets']): PolicyTarget[] {
    return targets.map((t) => {
      if (t.type === 'group') {
        const g = store.getGroup(t.name);
        if (!g) throw new SsrunError('GROUP_NOT_FOUND', `Targets: ${t.path} not found; \`ssrun group create -n ${t.name}\` first`);
        return { kind: 'group' as const, id: g.id, path: `principal/internal/group/${g.name}` };
      }
      const p = store.getPrincipal(t.type, t.name);
      if (!p) throw new SsrunError('PRINCIPAL_NOT_FOUND', `Targets: ${t.path} not found`);
      return { kind: 'principal' as const, id: p.id, path: pathOf(p) };
    });
  }

  /**
   * Saves a policy after checking the whole resulting set; principals newly covered by an active policy lose
   * their sessions (all but the caller's own, given by its token), and start their enrolment window.
   */
  function applyPolicy(next: Omit<Policy, 'Targets' | 'CreatedAt' | 'UpdatedAt'>, targets: PolicyTarget[], keepToken: string | undefined, action: string) {
    const before = store.listPolicies();
    const draft: Policy = { ...next, Targets: targets.map((t) => t.path), CreatedAt: '', UpdatedAt: '' };
    const after = [...before.filter((p) => p.Name !== next.Name), draft];
    checkPolicies(after);
    const was = coveredIds(before);
    const saved = store.savePolicy(next, targets, nowIso());
    const now = coveredIds(store.listPolicies());
    const keep = keepToken ? crypto.digestToken(keepToken) : undefined;
    let revoked = 0;
    for (const id of now) if (!was.has(id)) revoked += store.deleteSessionsExcept(id, keep);
    refreshSubjects(store.listPolicies());
    audit(`policy/${saved.Name}`, action, 'ok', `${saved.Active ? 'active' : 'inactive'}; ${revoked} session${revoked === 1 ? '' : 's'} revoked`);
    return { ...saved, SessionsRevoked: revoked };
  }

  function requirePolicy(name: string): Policy {
    const p = store.getPolicy(validatePolicyName(name, 'policy name (-n)'));
    if (!p) throw new SsrunError('POLICY_NOT_FOUND', `MFA policy ${shown(name)} not found; \`ssrun mfa policy get\` lists them`);
    return p;
  }

  function requireGroup(name: string): Group {
    const g = store.getGroup(validateGroupName(name));
    if (!g) throw new SsrunError('GROUP_NOT_FOUND', `principal/internal/group/${name} not found`);
    return g;
  }

  const groupView = (g: Group, verbose = false) => ({
    Name: g.name,
    Group: `principal/internal/group/${g.name}`,
    ...(verbose ? { Members: g.members, CreatedAt: g.createdAt } : { Members: g.members.length }),
  });

  const DENIED = 'authentication denied: wrong user name, password or passcode';

  /**
   * A TOTP code: valid within ±Skew steps, and its time step later than any accepted before for this principal
   * (S16: the compare-and-set in one write transaction lets exactly one of N parallel uses through). A first
   * valid code confirms a pending enrolment. Wrong codes and replays are the same uniform denial (S17).
   */
  async function checkTotp(
    principal: Principal,
    config: Extract<StoredConfig, { Type: 'totp' }>,
    code: string,
    denied: (reason: string, counted: boolean, error: SsrunError) => never,
    failing: (e: unknown) => never = (e) => {
      throw e;
    },
  ): Promise<void> {
    let state: ReturnType<Store['getTotpState']>;
    try {
      state = store.getTotpState(principal.id);
    } catch (e) {
      failing(e);
    }
    if (!state) denied(`${config.Name}: no TOTP secret`, false, new SsrunError('PROVIDER_MISCONFIGURED', `${principalPath(principal.type, principal.name)} has no TOTP secret; assign ${shown(config.Name)} again to enrol`));
    const r = await providers.totp.verify({ secret: state!.secret, code, options: config.Options, at: clock.now() });
    if (!r.valid) denied(`${config.Name}: invalid code`, true, new SsrunError('AUTH_DENIED', DENIED));
    const committed = store.write(() => {
      if (!store.commitTimeStep(principal.id, (r as { timeStep: number }).timeStep)) return false;
      if (state!.pending) store.confirmAssignment(principal.id);
      return true;
    });
    if (!committed) denied(`${config.Name}: code of an already used time step (replay)`, true, new SsrunError('AUTH_DENIED', DENIED));
  }

  async function login(req: LoginRequest): Promise<LoginResult> {
    const name = validatePrincipalName(req.name, req.type);
    const path = principalPath(req.type, name);
    const isUser = req.type === 'user';
    if (isUser) validatePassword(req.secret);

    // Reserve the attempt (S12): counted before the check, so parallel guesses cannot exceed the limit.
    const reservation = reserveAttempt(() => store.getPrincipal(req.type, name), path, 'login');

    const principal = reservation?.principal;
    const credentialOk = isUser
      ? await crypto.verifyPassword(req.secret, principal?.credential ?? null)
      : crypto.equalDigests(crypto.digestToken(req.secret), principal?.credential ?? crypto.digestToken('\0no-such-application'));
    if (!principal || !reservation || !credentialOk) {
      audit(path, 'login', 'denied', principal ? 'wrong credentials' : 'unknown principal');
      throw new SsrunError('AUTH_DENIED', DENIED);
    }

    const giveBack = () => refundAttempt(reservation);

    let factor = isUser ? 'password' : 'api-key';
    let detail = factor;
    let recoveryCodesLeft: number | undefined;
    const assignment = principal.assignment;
    const denied: (reason: string, counted: boolean, error: SsrunError) => never = (reason, counted, error) => {
      if (!counted) giveBack();
      audit(path, 'login', 'denied', reason);
      throw error;
    };

    // Policies (S-policy): enrolment deadline for principals without a factor, allowed factors for the others.
    let enrollment: EnrollmentNotice | undefined;
    const pol = policyFor(principal);
    if (pol && req.method?.kind !== 'recovery') {
      if (!assignment) {
        const deadline = enrollmentDeadline(principal, pol);
        const policyName = pol.enrollWithinDays.from[0]!;
        if (clock.now().getTime() >= deadline.getTime()) {
          denied(
            `enrolment deadline ${deadline.toISOString()} passed (policy ${policyName})`,
            false,
            new SsrunError('MFA_ENROLLMENT_REQUIRED', `login denied: policy ${policyName} requires MFA for ${path} since ${deadline.toISOString()}; ask an administrator to enrol you (ssrun mfa assign-principal -p ${path} -c CONFIG) or to reset your deadline`),
          );
        }
        enrollment = {
          Policy: policyName,
          DaysLeft: Math.ceil((deadline.getTime() - clock.now().getTime()) / DAY_MS),
          Deadline: deadline.toISOString(),
          How: `ssrun mfa assign-principal -p ${path} -c CONFIG (an administrator), then log in with -m`,
        };
        // The audit trail says why the password alone was enough.
        detail = `${detail}; not enrolled, enrolment deadline ${enrollment.Deadline} (policy ${policyName})`;
      } else if (!allows(pol.factors.value, { name: assignment.configName, type: assignment.configType })) {
        denied(
          `${assignment.configName} not allowed by ${pol.factors.from.join(', ')}`,
          false,
          new SsrunError('MFA_FACTOR_NOT_ALLOWED', `login denied: ${path} uses ${shown(assignment.configName)} (${assignment.configType}), which policy ${pol.factors.from.join(' and ')} does not allow (allowed: ${describeFactors(pol.factors.value)}); ask an administrator to assign an allowed factor`),
        );
      }
    }

    if (req.method?.kind === 'recovery') {
      // A recovery code stands in for any provider's second factor, once (S16 for codes: one UPDATE wins).
      const left = store.recoveryCodesLeft(principal.id);
      if (left === 0) denied('no recovery codes left', false, new SsrunError('RECOVERY_CODES_EXHAUSTED', `${path} has no recovery codes left; an administrator can issue new ones with \`ssrun mfa recovery-codes -p ${path}\``));
      const digest = store.recoveryDigest(principal.id, normalizeRecoveryCode(req.method.code) ?? req.method.code);
      const used = store.write(() => store.useRecoveryCode(principal.id, digest, nowIso()));
      if (!used) denied('recovery code: wrong or already used', true, new SsrunError('AUTH_DENIED', DENIED));
      recoveryCodesLeft = left - 1;
      factor = 'recovery-code';
      detail = `recovery-code (${recoveryCodesLeft} left)`;
    } else if (assignment) {
      // S14: an assigned principal never falls back to "no MFA": every path below either allows or throws.
      if (!req.method && !req.chooseFactor) {
        giveBack();
        audit(path, 'login', 'denied', 'MFA required, no factor given');
        throw assignment.configType === 'totp'
          ? new SsrunError('MFA_REQUIRED', 'MFA required: pass -m with the code from your authenticator app', { totp: true })
          : new SsrunError('MFA_REQUIRED', `MFA required: pass -m with a passcode or one of push, phone, sms, auto`);
      }
      // A configuration that cannot be read (SECRET_UNDECRYPTABLE…) fails closed, audited, not counted.
      const failing: (e: unknown) => never = (e) => {
        giveBack();
        const code = e instanceof SsrunError ? e.code : 'INTERNAL';
        audit(path, 'login', 'error', `${code}${e instanceof Error ? `: ${e.message}` : ''}`);
        throw e;
      };
      let config: StoredConfig | undefined;
      try {
        config = store.getConfig(assignment.configName);
      } catch (e) {
        failing(e);
      }
      if (!config) denied('configuration missing', false, new SsrunError('PROVIDER_MISCONFIGURED', `MFA configuration ${shown(assignment.configName)} assigned to ${path} is missing; login denied`));
      if (config!.Type === 'totp') {
        const method = req.method ?? (await req.chooseFactor!([]));
        if (method.kind !== 'passcode') denied(`${assignment.configName}: ${method.factor} is not a TOTP code`, false, new SsrunError('INVALID_METHOD', `-m: ${path} uses TOTP (${shown(assignment.configName)}); pass the code from the authenticator app`));
        await checkTotp(principal, config as Extract<StoredConfig, { Type: 'totp' }>, (method as { passcode: string }).passcode, denied, failing);
        factor = 'totp';
        detail = assignment.pending ? 'totp (enrolment confirmed)' : 'totp';
      } else {
        const duoConfig = config as Extract<StoredConfig, { Type: 'duo' }>;
        let outcome;
        try {
          outcome = await providers.duo.authenticate({
            options: duoConfig.Options,
            providerUserId: assignment.providerUserId,
            method: req.method as DuoMethod | undefined,
            chooseFactor: req.chooseFactor,
            onProgress: req.onProgress,
            signal: req.signal,
            deadline: clock.now().getTime() + (req.timeoutMs ?? DEFAULT_MFA_TIMEOUT_MS),
          });
        } catch (e) {
          failing(e);
        }
        if (outcome.result === 'deny') {
          // Counted: wrong codes and refusals, and also unanswered pushes and sent SMS, so that a stolen password
          // cannot be used for endless push or SMS bombing (at most 5 per lockout period).
          const guess = outcome.reason !== 'enroll' && outcome.reason !== 'policy';
          const reason = `${assignment.configName}: ${outcome.reason}${outcome.message ? ` (${outcome.message})` : ''}`;
          switch (outcome.reason) {
            case 'invalid_passcode':
              denied(reason, guess, new SsrunError('AUTH_DENIED', DENIED));
            case 'fraud':
              denied(reason, guess, new SsrunError('MFA_FRAUD', `login denied: the request was reported as fraudulent; your administrator has been alerted`));
            case 'enroll':
              denied(reason, guess, new SsrunError('MFA_NOT_ENROLLED', `login denied: ${principal.name} is not enrolled in Duo${outcome.message ? ` (${sanitizeLine(outcome.message)})` : ''}`));
            case 'sms_sent':
              denied(reason, guess, new SsrunError('MFA_SMS_SENT', `SMS passcodes sent; run the login again with -m CODE`));
            case 'timeout':
              denied(reason, guess, new SsrunError('MFA_TIMEOUT', `login denied: no answer from your device in time`));
            default:
              denied(reason, guess, new SsrunError('MFA_DENIED', `login denied${outcome.message ? `: ${sanitizeLine(outcome.message)}` : ''}`));
          }
        }
        factor = outcome.factor;
        detail = outcome.bypass ? `${factor}: Duo bypass (preauth allow)` : factor;
      }
    }

    const token = crypto.randomToken();
    const now = clock.now();
    const expiresAt = new Date(now.getTime() + sessionTtlMs).toISOString();
    const verifiedMfa = factor !== 'password' && factor !== 'api-key';
    store.write(() => {
      const s = afterSuccess();
      store.saveAuthState(principal.id, s.failedCount, s.lockedUntil);
      if (verifiedMfa) store.setLastMfa(principal.id, now.toISOString());
      store.insertSession({ tokenHash: crypto.digestToken(token), principalId: principal.id, epoch: principal.epoch, factor, createdAt: now.toISOString(), expiresAt });
      audit(path, 'login', 'allowed', detail);
    });
    return {
      Principal: path,
      Factor: factor,
      ExpiresAt: expiresAt,
      token,
      ...(recoveryCodesLeft !== undefined ? { RecoveryCodesLeft: recoveryCodesLeft } : {}),
      ...(enrollment ? { Enrollment: enrollment } : {}),
    };
  }

  /** The caller behind a bearer token; unknown, expired and revoked tokens are all refused alike. */
  function authenticate(token: string | undefined): Caller {
    if (!token) throw new SsrunError('UNAUTHENTICATED', 'not logged in: run `ssrun login` (or set SSRUN_TOKEN)');
    const now = clock.now();
    const session = store.getSession(crypto.digestToken(token));
    const principal = session ? store.getPrincipalById(session.principalId) : undefined;
    if (!session || !principal || principal.epoch !== session.epoch || Date.parse(session.expiresAt) <= now.getTime()) {
      if (session) store.write(() => store.deleteSession(session.tokenHash));
      throw new SsrunError('SESSION_EXPIRED', 'the session is not valid (expired, logged out, or revoked by a password or MFA change): run `ssrun login` again');
    }
    const pol = principal.assignment ? policyFor(principal) : undefined;
    if (pol?.reverifyAfterHours) {
      const last = principal.lastMfaAt ? Date.parse(principal.lastMfaAt) : 0;
      if (now.getTime() - last > pol.reverifyAfterHours.value * HOUR_MS) {
        const path = principalPath(principal.type, principal.name);
        const why = `policy ${pol.reverifyAfterHours.from.join(' and ')} asks for the second factor every ${pol.reverifyAfterHours.value} h; last at ${principal.lastMfaAt ?? 'never'}`;
        store.write(() => audit(path, 'reverify', 'denied', why));
        throw new SsrunError(
          'REVERIFY_REQUIRED',
          `re-verification required: policy ${pol.reverifyAfterHours.from.join(' and ')} asks for the second factor every ${pol.reverifyAfterHours.value} h${principal.lastMfaAt ? ` (last at ${principal.lastMfaAt})` : ''}; run \`ssrun login\` again with -m`,
        );
      }
    }
    return {
      principalId: principal.id,
      type: principal.type,
      name: principal.name,
      path: principalPath(principal.type, principal.name),
      isRoot: principal.type === 'user' && principal.name.toLowerCase() === ROOT_USER,
      factor: session.factor,
      expiresAt: session.expiresAt,
    };
  }

  /** Throws FORBIDDEN unless the caller may do the operation on the resource (root may do everything). */
  function authorize(caller: Caller, operation: Operation, resource: string): void {
    if (caller.isRoot) return;
    const d = decide(store.listAuthorizations(caller.principalId), operation, resource);
    if (d.allowed) return;
    store.write(() => audit(resource, `authorize.${operation}`, 'denied', d.rule ? `deny rule on ${d.rule.Resource}` : 'no allow rule'));
    throw new SsrunError(
      'FORBIDDEN',
      `${caller.path} may not ${operation} ${resource}${d.rule ? ` (denied by the rule on ${d.rule.Resource})` : ''}; ask root for \`ssrun authorization create -p ${caller.path} -o ${operation} -a allow ${resource}\``,
    );
  }

  /** Records a request refused before any use case ran (no valid token, rate limit). */
  function noteRefusal(action: string, principal: string, detail: string): void {
    store.write(() => audit(principal, action, 'denied', detail));
  }

  /** A refusal no rule can lift (root's own credentials): audited, FORBIDDEN. */
  function refuse(caller: Caller, why: string): never {
    store.write(() => audit(caller.path, 'authorize', 'denied', why));
    throw new SsrunError('FORBIDDEN', `${caller.path} may not do this: ${why}`);
  }

  function checkFactorNames(factors: Policy['Factors']): void {
    if (!Array.isArray(factors)) return;
    factors.forEach((n, i) => {
      if (!store.findConfig(n)) throw new SsrunError('INVALID_POLICY', `Factors[${i}]: no MFA configuration named ${shown(n)}; \`ssrun mfa get\` lists them`);
    });
  }

  function authzTarget(principal: string, operation: string, resource: string) {
    const ref = parsePrincipalPath(principal);
    return { ref, op: validateOperation(operation), res: validateResource(resource) };
  }

  return {
    // ---- MFA configurations ----------------------------------------------------------------------------
    async listConfigs(opts: { verbose?: boolean; showSecrets?: boolean } = {}): Promise<ConfigView[]> {
      const views = store.listConfigs().sort(byName).map((c) => configView(c, opts));
      if (opts.showSecrets) store.write(() => audit('-', 'mfa.show-secrets', 'ok', 'all configurations'));
      return views;
    },

    async getConfig(name: string, opts: { verbose?: boolean; showSecrets?: boolean } = {}): Promise<ConfigView> {
      const view = configView(requireConfig(name), opts);
      if (opts.showSecrets) store.write(() => audit('-', 'mfa.show-secrets', 'ok', view.Name));
      return view;
    },

    async createConfig(input: unknown): Promise<ConfigView> {
      const config = parseNewConfig(input);
      if (config.Type === 'duo' && config.Options.SecretKey === REDACTED) throw new SsrunError('INVALID_CONFIG', `Options.SecretKey: is the redacted placeholder ${shown(REDACTED)}; give the real secret key`);
      return store.write(() => {
        const existing = store.getConfig(config.Name);
        if (existing) throw new SsrunError('CONFIG_EXISTS', `MFA configuration ${shown(existing.Name)} already exists (names are case-insensitive); use \`ssrun mfa update\``);
        const created = store.insertConfig(config, nowIso());
        audit('-', 'mfa.create', 'ok', created.Name);
        return configView(created);
      });
    },

    async updateConfig(name: string, input: unknown): Promise<ConfigView> {
      const doc = parseConfigDocument(input);
      const target = validateConfigName(name, 'config name (-n)');
      return store.write(() => {
        const existing = requireConfig(target);
        if (doc.Name !== undefined && doc.Name.toLowerCase() !== existing.Name.toLowerCase()) {
          throw new SsrunError('NAME_IMMUTABLE', `Name: the file says ${shown(doc.Name)} but -n says ${shown(existing.Name)}; a configuration's name cannot change`);
        }
        if (doc.Type !== existing.Type) {
          throw new SsrunError('TYPE_IMMUTABLE', `Type: ${shown(existing.Name)} is ${shown(existing.Type)}, the file says ${shown(doc.Type)}; a configuration's type cannot change`);
        }
        const next = { ...doc, Name: existing.Name } as MfaConfig;
        // The redacted placeholder from `mfa get` keeps the stored secret, so get → edit → update works.
        if (next.Type === 'duo' && existing.Type === 'duo' && next.Options.SecretKey === REDACTED) next.Options = { ...next.Options, SecretKey: existing.Options.SecretKey };
        const updated = store.updateConfig(existing.Name, next, nowIso());
        audit('-', 'mfa.update', 'ok', existing.Name);
        return configView(updated);
      });
    },

    async deleteConfig(name: string, opts: { force?: boolean } = {}) {
      return store.write(() => {
        const existing = requireConfigName(name);
        const principals = store.principalsOfConfig(existing.Name);
        if (principals.length > 0 && !opts.force) {
          throw new SsrunError(
            'CONFIG_IN_USE',
            `MFA configuration ${shown(existing.Name)} is assigned to ${principals.length} principal${principals.length === 1 ? '' : 's'}; remove them first or pass --force`,
            { principals: principals.length },
          );
        }
        const at = nowIso();
        for (const p of principals) {
          const ref = parsePrincipalPath(p.path);
          const principal = store.getPrincipal(ref.type, ref.name);
          if (principal) store.unassign(principal.id, at);
        }
        store.deleteConfig(existing.Name);
        // A policy's Factors may name it: no covered principal may be left with no allowed factor, nor root locked out.
        checkPolicies(store.listPolicies());
        audit('-', 'mfa.delete', 'ok', `${existing.Name}${principals.length ? `, ${principals.length} assignments removed` : ''}`);
        return { Deleted: existing.Name, PrincipalsUnassigned: principals.length };
      });
    },

    // ---- assignment ------------------------------------------------------------------------------------
    /**
     * Assigns a configuration. Duo: `providerUserId` is the principal's Duo user. TOTP: it is a base32 secret
     * to import, or absent to generate one; the secret and its otpauth:// URI are returned this once
     * (generated only), and the assignment stays pending until a first valid code.
     */
    async assignPrincipal(path: string, providerUserId: string | undefined, configName: string): Promise<AssignResult> {
      const ref = parsePrincipalPath(path);
      const found = requireConfigName(configName);
      if (found.Type === 'duo') {
        const id = validateProviderUserId(providerUserId);
        return store.write(() => {
          const config = requireConfigName(configName);
          const p = requirePrincipal(ref.type, ref.name);
          const replaced = p.assignment?.configName ?? null;
          store.assign(p.id, config.Name, id, nowIso());
          audit(ref.path, 'mfa.assign', 'ok', `${config.Name}${replaced ? ` (replaces ${replaced})` : ''}`);
          return { Principal: ref.path, Config: config.Name, ProviderUserId: id, Replaced: replaced };
        });
      }
      const imported = providerUserId !== undefined && providerUserId !== '' ? validateTotpSecret(providerUserId) : undefined;
      const secret = imported ?? (await providers.totp.generateSecret());
      const result = store.write(() => {
        const config = requireConfig(configName);
        if (config.Type !== 'totp') throw new SsrunError('CONFIG_NOT_FOUND', `MFA configuration ${shown(configName)} changed type; try again`);
        const p = requirePrincipal(ref.type, ref.name);
        const replaced = p.assignment?.configName ?? null;
        store.assign(p.id, config.Name, p.name, nowIso(), { secret, pending: true });
        audit(ref.path, 'mfa.assign', 'ok', `${config.Name}, TOTP secret ${imported ? 'imported' : 'generated'}, pending${replaced ? ` (replaces ${replaced})` : ''}`);
        return { config, p, replaced };
      });
      const base = { Principal: ref.path, Config: result.config.Name, ProviderUserId: result.p.name, Replaced: result.replaced, Pending: true };
      if (imported) return base;
      const uri = await providers.totp.uri({ secret, issuer: result.config.Options.Issuer, label: result.p.name, options: result.config.Options });
      return { ...base, Secret: secret, OtpauthUri: uri };
    },

    /** `mfa verify`: a first valid code confirms a pending TOTP enrolment (failures count toward the lockout). */
    async verifyEnrollment(name: string, code: string) {
      const n = validatePrincipalName(name, 'user');
      const path = principalPath('user', n);
      const reservation = reserveAttempt(() => requirePrincipal('user', n), path, 'mfa.verify')!;
      const p = reservation.principal;
      const giveBack = () => refundAttempt(reservation);
      const denied: (reason: string, counted: boolean, error: SsrunError) => never = (reason, counted, error) => {
        if (!counted) giveBack();
        audit(path, 'mfa.verify', 'denied', reason);
        throw error;
      };
      const config = p.assignment ? store.getConfig(p.assignment.configName) : undefined;
      if (!p.assignment || config?.Type !== 'totp') denied('no TOTP assignment', false, new SsrunError('ASSIGNMENT_NOT_FOUND', `${path} has no TOTP configuration assigned`));
      const wasPending = p.assignment!.pending;
      await checkTotp(p, config as Extract<StoredConfig, { Type: 'totp' }>, code, denied);
      store.write(() => {
        const s = afterSuccess();
        store.saveAuthState(p.id, s.failedCount, s.lockedUntil);
        audit(path, 'mfa.verify', 'ok', wasPending ? 'enrolment confirmed' : 'code valid');
      });
      return { Principal: path, Config: config!.Name, Verified: true, Pending: false, WasPending: wasPending };
    },

    /** Ten new single-use recovery codes, shown this once; only keyed digests are kept; earlier codes stop working. */
    async recoveryCodes(path: string) {
      const ref = parsePrincipalPath(path);
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => {
        const raw = crypto.randomString(RECOVERY_ALPHABET, 12);
        return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
      });
      return store.write(() => {
        const p = requirePrincipal(ref.type, ref.name);
        store.replaceRecoveryCodes(p.id, codes.map((c) => store.recoveryDigest(p.id, c)), nowIso());
        audit(ref.path, 'mfa.recovery-codes', 'ok', `${codes.length} codes issued; earlier codes revoked`);
        return { Principal: principalPath(p.type, p.name), RecoveryCodes: codes };
      });
    },

    async removePrincipal(path: string) {
      const ref = parsePrincipalPath(path);
      return store.write(() => {
        const p = requirePrincipal(ref.type, ref.name);
        if (!p.assignment) throw new SsrunError('ASSIGNMENT_NOT_FOUND', `${ref.path} has no MFA configuration assigned`);
        store.unassign(p.id, nowIso());
        audit(ref.path, 'mfa.unassign', 'ok', p.assignment.configName);
        return { Principal: ref.path, Removed: p.assignment.configName };
      });
    },

    // ---- users and applications ------------------------------------------------------------------------
    async init(password: string) {
      validatePassword(password, 'root password', MIN_ROOT_PASSWORD_CHARS);
      if (store.getPrincipal('user', ROOT_USER)?.credential) throw new SsrunError('ALREADY_INITIALIZED', 'this store is already initialized (root has a password)');
      const hash = await crypto.hashPassword(password);
      return store.write(() => {
        const root = store.getPrincipal('user', ROOT_USER);
        if (root?.credential) throw new SsrunError('ALREADY_INITIALIZED', 'this store is already initialized (root has a password)');
        if (root) store.setCredential(root.id, hash, nowIso());
        else store.insertPrincipal('user', ROOT_USER, hash, nowIso());
        audit(principalPath('user', ROOT_USER), 'init', 'ok');
        return { Initialized: true, Principal: principalPath('user', ROOT_USER) };
      });
    },

    async createUser(name: string, password: string): Promise<PrincipalView> {
      const n = validatePrincipalName(name, 'user');
      if (n.toLowerCase() === ROOT_USER) throw new SsrunError('PRINCIPAL_EXISTS', `${shown(n)} is reserved; \`ssrun init\` sets the root password`);
      validatePassword(password);
      if (store.getPrincipal('user', n)) throw new SsrunError('PRINCIPAL_EXISTS', `${principalPath('user', n)} already exists`);
      const hash = await crypto.hashPassword(password);
      return principalView(await createPrincipal('user', n, hash));
    },

    async listUsers(opts: { verbose?: boolean } = {}): Promise<PrincipalView[]> {
      return store.listPrincipals('user').map((p) => principalView(p, opts.verbose)).sort(byName);
    },

    async getUser(name: string, opts: { verbose?: boolean } = {}): Promise<PrincipalView> {
      return principalView(requirePrincipal('user', name), opts.verbose);
    },

    async deleteUser(name: string) {
      if (validatePrincipalName(name, 'user').toLowerCase() === ROOT_USER) throw new SsrunError('ROOT_PROTECTED', 'root cannot be deleted');
      return deletePrincipal('user', name);
    },

    /** Sets a user's password; every session of the user is revoked. */
    async setPassword(name: string, password: string) {
      const n = validatePrincipalName(name, 'user');
      validatePassword(password, n.toLowerCase() === ROOT_USER ? 'root password' : 'password', n.toLowerCase() === ROOT_USER ? MIN_ROOT_PASSWORD_CHARS : undefined);
      requirePrincipal('user', n);
      const hash = await crypto.hashPassword(password);
      return store.write(() => {
        const p = requirePrincipal('user', n);
        store.setCredential(p.id, hash, nowIso());
        audit(principalPath('user', p.name), 'user.set-password', 'ok', 'sessions revoked');
        return { Principal: principalPath('user', p.name), PasswordChanged: true, SessionsRevoked: true };
      });
    },

    async createApplication(name: string): Promise<PrincipalView & { ApiKey: string }> {
      const n = validatePrincipalName(name, 'application');
      const apiKey = `ssk_${crypto.randomToken()}`;
      const p = await createPrincipal('application', n, crypto.digestToken(apiKey));
      return { ...principalView(p), ApiKey: apiKey };
    },

    async listApplications(opts: { verbose?: boolean } = {}): Promise<PrincipalView[]> {
      return store.listPrincipals('application').map((p) => principalView(p, opts.verbose)).sort(byName);
    },

    async getApplication(name: string, opts: { verbose?: boolean } = {}): Promise<PrincipalView> {
      return principalView(requirePrincipal('application', name), opts.verbose);
    },

    async deleteApplication(name: string) {
      return deletePrincipal('application', name);
    },

    // ---- sessions --------------------------------------------------------------------------------------
    login,

    async logout(token: string) {
      const removed = store.write(() => store.deleteSession(crypto.digestToken(token)));
      return { LoggedOut: removed };
    },

    async whoami(token: string | undefined): Promise<WhoAmI> {
      const c = authenticate(token);
      return { Principal: c.path, Factor: c.factor, ExpiresAt: c.expiresAt };
    },

    authenticate,
    authorize,
    refuse,
    noteRefusal,

    // ---- authorizations --------------------------------------------------------------------------------
    async createAuthorization(principal: string, operation: string, effect: string, resource: string): Promise<Authorization> {
      const { ref, op, res } = authzTarget(principal, operation, resource);
      const eff = validateEffect(effect);
      return store.write(() => {
        const p = requirePrincipal(ref.type, ref.name);
        const existing = store.findAuthorization(p.id, op, res);
        if (existing) throw new SsrunError('AUTHORIZATION_EXISTS', `${existing.Principal} already has ${existing.Effect} ${op} on ${existing.Resource}; delete it first`);
        const z = store.insertAuthorization(p.id, op, eff, res, nowIso());
        audit(z.Principal, 'authorization.create', 'ok', `${eff} ${op} ${res}`);
        return z;
      });
    },

    async listAuthorizations(principal?: string): Promise<Authorization[]> {
      if (principal === undefined) return store.listAuthorizations();
      const ref = parsePrincipalPath(principal);
      return store.listAuthorizations(requirePrincipal(ref.type, ref.name).id);
    },

    async deleteAuthorization(principal: string, operation: string, resource: string) {
      const { ref, op, res } = authzTarget(principal, operation, resource);
      return store.write(() => {
        const p = requirePrincipal(ref.type, ref.name);
        const existing = store.findAuthorization(p.id, op, res);
        if (!existing) throw new SsrunError('AUTHORIZATION_NOT_FOUND', `${principalPath(p.type, p.name)} has no rule for ${op} on ${res}; \`ssrun authorization get\` lists them`);
        store.deleteAuthorization(p.id, op, res);
        audit(existing.Principal, 'authorization.delete', 'ok', `${existing.Effect} ${op} ${existing.Resource}`);
        return { Deleted: existing };
      });
    },

    // ---- groups ------------------------------------------------------------------------------------------
    async createGroup(name: string) {
      const n = validateGroupName(name);
      return store.write(() => {
        if (store.getGroup(n)) throw new SsrunError('GROUP_EXISTS', `principal/internal/group/${n} already exists (names are case-insensitive)`);
        const g = store.insertGroup(n, nowIso());
        audit(`principal/internal/group/${n}`, 'group.create', 'ok');
        return groupView(g);
      });
    },

    async listGroups(opts: { verbose?: boolean } = {}) {
      return store.listGroups().map((g) => groupView(g, opts.verbose)).sort(byName);
    },

    async getGroup(name: string, opts: { verbose?: boolean } = {}) {
      return groupView(requireGroup(name), opts.verbose);
    },

    async deleteGroup(name: string) {
      return store.write(() => {
        const g = requireGroup(name);
        const targeting = store.listPolicies().filter((p) => p.Targets.some((t) => t.toLowerCase() === `principal/internal/group/${g.name}`.toLowerCase())).map((p) => p.Name);
        store.deleteGroup(g.id);
        audit(`principal/internal/group/${g.name}`, 'group.delete', 'ok', targeting.length ? `removed from policies ${targeting.join(', ')}` : '');
        return { Deleted: `principal/internal/group/${g.name}`, RemovedFromPolicies: targeting };
      });
    },

    async addMember(group: string, principal: string) {
      const ref = parsePrincipalPath(principal);
      return store.write(() => {
        const g = requireGroup(group);
        const p = requirePrincipal(ref.type, ref.name);
        const before = coveredIds(store.listPolicies()).has(p.id);
        if (!store.addMember(g.id, p.id, nowIso())) throw new SsrunError('MEMBER_EXISTS', `${pathOf(p)} is already a member of principal/internal/group/${g.name}`);
        checkPolicies(store.listPolicies());
        refreshSubjects(store.listPolicies());
        const nowCovered = !before && coveredIds(store.listPolicies()).has(p.id);
        audit(pathOf(p), 'group.add-member', 'ok', `principal/internal/group/${g.name}`);
        return { Group: `principal/internal/group/${g.name}`, Member: pathOf(p), NewlyCoveredByPolicy: nowCovered };
      });
    },

    async removeMember(group: string, principal: string) {
      const ref = parsePrincipalPath(principal);
      return store.write(() => {
        const g = requireGroup(group);
        const p = requirePrincipal(ref.type, ref.name);
        if (!store.removeMember(g.id, p.id)) throw new SsrunError('MEMBER_NOT_FOUND', `${pathOf(p)} is not a member of principal/internal/group/${g.name}`);
        audit(pathOf(p), 'group.remove-member', 'ok', `principal/internal/group/${g.name}`);
        return { Group: `principal/internal/group/${g.name}`, Removed: pathOf(p) };
      });
    },

    // ---- MFA policies ------------------------------------------------------------------------------------
    async createPolicy(input: unknown, opts: { keepToken?: string } = {}) {
      const doc = parsePolicyDocument(input);
      if (doc.Name === undefined) throw new SsrunError('INVALID_POLICY', 'Name: required, but missing');
      return store.write(() => {
        if (store.getPolicy(doc.Name!)) throw new SsrunError('POLICY_EXISTS', `MFA policy ${shown(doc.Name)} already exists; use \`ssrun mfa policy update\``);
        checkFactorNames(doc.Factors);
        const { Targets, Name, ...rest } = doc;
        return applyPolicy({ ...rest, Name: Name!, Active: doc.Active ?? true }, resolveTargets(Targets), opts.keepToken, 'policy.create');
      });
    },

    async listPolicies(): Promise<Policy[]> {
      return store.listPolicies();
    },

    async getPolicy(name: string): Promise<Policy> {
      return requirePolicy(name);
    },

    async updatePolicy(name: string, input: unknown, opts: { keepToken?: string } = {}) {
      const doc = parsePolicyDocument(input);
      return store.write(() => {
        const existing = requirePolicy(name);
        if (doc.Name !== undefined && doc.Name !== existing.Name) {
          throw new SsrunError('NAME_IMMUTABLE', `Name: the file says ${shown(doc.Name)} but -n says ${shown(existing.Name)}; a policy's name cannot change`);
        }
        checkFactorNames(doc.Factors);
        const { Targets, Name: _n, ...rest } = doc;
        return applyPolicy({ ...rest, Name: existing.Name, Active: doc.Active ?? existing.Active }, resolveTargets(Targets), opts.keepToken, 'policy.update');
      });
    },

    async deletePolicy(name: string) {
      return store.write(() => {
        const p = requirePolicy(name);
        store.deletePolicy(p.Name);
        audit(`policy/${p.Name}`, 'policy.delete', 'ok');
        return { Deleted: p.Name };
      });
    },

    async setPolicyActive(name: string, active: boolean, opts: { keepToken?: string } = {}) {
      return store.write(() => {
        const p = requirePolicy(name);
        const targets = resolveTargets(p.Targets.map((t) => parseTargetPath(t)));
        return applyPolicy({ Name: p.Name, Factors: p.Factors, EnrollWithinDays: p.EnrollWithinDays, ReverifyAfterHours: p.ReverifyAfterHours, Active: active }, targets, opts.keepToken, active ? 'policy.activate' : 'policy.deactivate');
      });
    },

    /** Which rule applies to the principal, and why: each requirement with the policies that set it. */
    async explainPolicy(principal: string) {
      const ref = parsePrincipalPath(principal);
      const p = requirePrincipal(ref.type, ref.name);
      const groups = store.groupsOf(p.id);
      const all = covering(store.listPolicies(), pathOf(p), groups);
      const eff = effective(all);
      const base = { Principal: pathOf(p), Groups: groups, Policies: all.map((x) => ({ Name: x.Name, Active: x.Active })) };
      if (!eff) return { ...base, Enforced: false, Requirements: null };
      const deadline = p.assignment ? null : enrollmentDeadline(p, eff);
      const factorOk = p.assignment ? allows(eff.factors.value, { name: p.assignment.configName, type: p.assignment.configType }) : null;
      return {
        ...base,
        Enforced: true,
        Requirements: {
          Factors: { Value: describeFactors(eff.factors.value), From: eff.factors.from },
          EnrollWithinDays: { Value: eff.enrollWithinDays.value, From: eff.enrollWithinDays.from },
          ReverifyAfterHours: eff.reverifyAfterHours ? { Value: eff.reverifyAfterHours.value, From: eff.reverifyAfterHours.from } : null,
        },
        Status: p.assignment
          ? { Factor: p.assignment.configName, Allowed: factorOk, LastVerifiedAt: p.lastMfaAt }
          : { Factor: null, EnrollBy: deadline!.toISOString(), DeadlinePassed: clock.now().getTime() >= deadline!.getTime() },
      };
    },

    async resetDeadline(principal: string) {
      const ref = parsePrincipalPath(principal);
      return store.write(() => {
        const p = requirePrincipal(ref.type, ref.name);
        const at = nowIso();
        store.setFirstApplied(p.id, at, true);
        audit(pathOf(p), 'policy.reset-deadline', 'ok');
        return { Principal: pathOf(p), EnrolmentWindowStarts: at };
      });
    },

    // ---- audit trail -----------------------------------------------------------------------------------
    async listAudit(filter: { since?: string; principal?: string; limit?: number } = {}): Promise<AuditRecord[]> {
      const since = filter.since === undefined ? undefined : parseSince(filter.since, clock.now());
      const principal = filter.principal === undefined ? undefined : filter.principal === 'local' ? 'local' : parsePrincipalPath(filter.principal).path;
      return store.listAudit({ since, principal, limit: filter.limit ?? AUDIT_DEFAULT_LIMIT });
    },
  };
}

export type Ssrun = ReturnType<typeof createSsrun>;

/** What a command line needs: the embedded service, or the remote client over a server's HTTP API. */
export type SsrunApi = Omit<Ssrun, 'authenticate' | 'authorize' | 'refuse' | 'noteRefusal'>;
