// ssrun login / logout: password or API key first, then the second factor; exit 0 only when allowed.

import { SsrunError } from '../../core/errors.js';
import { DEFAULT_MFA_TIMEOUT_MS } from '../../core/kit.js';
import { checkMethodShape, codeShape, type CodePrompt, type FactorPrompt } from '../../core/factor.js';
import { normalizeRecoveryCode } from '../../core/validate.js';
import { canPrompt, io, resolveTarget, service, tokenFromEnvironment, type GlobalOptions } from '../context.js';
import { obtainSecret } from '../input.js';
import { printResult } from '../render.js';
import { progress, setBrowser } from '../progress.js';
import { saveSession, savedSession, takeSession } from '../session.js';

export interface LoginOptions extends GlobalOptions {
  user?: string;
  application?: string;
  password?: string;
  passwordStdin?: boolean;
  apiKey?: string;
  apiKeyStdin?: boolean;
  mfa?: string;
  timeout?: string;
  /** --no-browser: a login in a browser (security key, Duo Universal Prompt) prints its URL, does not open it. */
  browser?: boolean;
}

/**
 * On a terminal with no -m, the provider's question: a menu of factors (like pam_duo) or a code. The answer
 * is read like -m, so a recovery code works here too.
 */
function chooser(signal: AbortSignal, timeoutMs: number) {
  // Bounded by the login's own timeout: a prompt left open does not hold the attempt for ever.
  const bounded = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  return async (prompt: FactorPrompt): Promise<string> => {
    const { select, input } = await import('@inquirer/prompts');
    const askCode = (c: CodePrompt) => input({ message: c.message, validate: (v) => codeShape(c).test(v) || normalizeRecoveryCode(v) !== undefined || c.hint }, { signal: bounded });
    try {
      if (prompt.kind === 'code') return await askCode(prompt.code);
      // A browser ceremony asks nothing here: the answer is the method that starts it.
      if (prompt.kind === 'ceremony') return prompt.method;
      const choices = prompt.choices.map((c) => ({ name: c.name, value: c.value, disabled: c.disabled ?? false }));
      const choice = await select<string>({ message: prompt.message, choices }, { signal: bounded });
      return choice === prompt.codeChoice ? await askCode(prompt.code) : choice;
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortPromptError') {
        throw signal.aborted ? new SsrunError('CANCELLED', 'cancelled') : new SsrunError('MFA_TIMEOUT', `login denied: no answer at the prompt within ${Math.round(timeoutMs / 1000)} s`);
      }
      throw e;
    }
  };
}

/** --timeout, or none: then the factor's own default (60 s; 120 s for a login in a browser). */
function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 3600) throw new SsrunError('USAGE', `--timeout: expected whole seconds between 1 and 3600, received ${JSON.stringify(value)}`);
  return Number(value) * 1000;
}

export async function login(opts: LoginOptions): Promise<void> {
  if ((opts.user === undefined) === (opts.application === undefined)) throw new SsrunError('USAGE', 'login: pass either -u USER or -a APPLICATION');
  if (opts.mfa !== undefined) {
    // The shape any provider could read, before the password is asked for (the service checks it again).
    const { defaultFactors } = await import('../../providers/registry.js');
    checkMethodShape(defaultFactors(), opts.mfa);
  }
  const timeoutMs = parseTimeout(opts.timeout);
  const isUser = opts.user !== undefined;
  // The context first: a --context that names none is said before the password is asked for.
  const target = await resolveTarget(opts);
  const secret = isUser
    ? await obtainSecret({ value: opts.password, fromStdin: opts.passwordStdin, flag: '-p', stdinFlag: '--password-stdin', what: 'password' })
    : await obtainSecret({ value: opts.apiKey, fromStdin: opts.apiKeyStdin, flag: '-k', stdinFlag: '--api-key-stdin', what: 'API key' });
  const ssrun = await service(opts, target);

  // Ctrl-C, a closed terminal or a cancelled CI job end the attempt as cancelled (settled, not left in flight).
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.once(sig, onSignal);
  setBrowser(opts.browser !== false);
  const shown = progress();
  try {
    const result = await ssrun.login({
      type: isUser ? 'user' : 'application',
      name: (isUser ? opts.user : opts.application)!,
      secret,
      mfa: opts.mfa,
      chooseFactor: opts.mfa === undefined && canPrompt() ? chooser(abort.signal, timeoutMs ?? DEFAULT_MFA_TIMEOUT_MS) : undefined,
      onProgress: shown.onProgress,
      signal: abort.signal,
      timeoutMs,
    });
    await shown.stop();
    await saveSession(opts, target.key, { token: result.token, principal: result.Principal, expiresAt: result.ExpiresAt });
    await printResult({ Principal: result.Principal, Factor: result.Factor, ExpiresAt: result.ExpiresAt, ...(result.Enrollment ? { Enrollment: result.Enrollment } : {}), ...(result.KeyEnrollment ? { KeyEnrollment: result.KeyEnrollment } : {}) });
    if (result.KeyEnrollment) io.notice(`your security-key assignment (${result.KeyEnrollment.Config}) is pending: this session may only register a key: ${result.KeyEnrollment.How}`);
    if (result.Enrollment) {
      const e = result.Enrollment;
      io.notice(`policy ${e.Policy} requires MFA: ${e.DaysLeft} day${e.DaysLeft === 1 ? '' : 's'} left to enrol (until ${e.Deadline}); ${e.How}`);
    }
    if (result.RecoveryCodesLeft !== undefined) {
      io.notice(
        result.RecoveryCodesLeft === 0
          ? 'that was your last recovery code: ask an administrator for new ones (ssrun mfa recovery-codes)'
          : `${result.RecoveryCodesLeft} recovery code${result.RecoveryCodesLeft === 1 ? '' : 's'} left`,
      );
    }
  } finally {
    await shown.stop();
    for (const sig of signals) process.off(sig, onSignal);
  }
}

export async function logout(opts: GlobalOptions): Promise<void> {
  const target = await resolveTarget(opts);
  const saved = await savedSession(opts, target.key);
  if (!saved) throw new SsrunError('NOT_LOGGED_IN', 'not logged in');
  const ssrun = await service(opts, target);
  let LoggedOut: boolean;
  try {
    ({ LoggedOut } = await ssrun.logout(saved.token));
  } catch (e) {
    // The token was already dead on the server: forget it. Any other failure (a server that cannot be
    // reached) keeps it, so that logout can be run again: a live token is never just dropped.
    if (!(e instanceof SsrunError && (e.code === 'SESSION_EXPIRED' || e.code === 'UNAUTHENTICATED'))) throw e;
    LoggedOut = false;
  }
  await takeSession(opts, target.key);
  await printResult({ Principal: saved.principal, LoggedOut });
}

/** No session for this context: the same code and exit code (3) on the embedded store and on a server. */
export const notLoggedIn = (context: string) =>
  new SsrunError('NOT_LOGGED_IN', `not logged in on context ${JSON.stringify(context)}: run \`ssrun login\`${context === 'local' ? '' : ' (or set SSRUN_TOKEN)'}`);

export async function whoami(opts: GlobalOptions): Promise<void> {
  const target = await resolveTarget(opts);
  const saved = await savedSession(opts, target.key);
  if (!saved && (target.kind === 'local' || tokenFromEnvironment() === undefined)) throw notLoggedIn(target.name);
  const ssrun = await service(opts, target);
  await printResult({ ...(await ssrun.whoami(target.kind === 'local' ? saved!.token : undefined)), Context: target.name });
}
