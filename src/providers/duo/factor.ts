// The `duo` factor: Duo's Auth API behind the factor port. A passcode is opaque to us (bypass codes, hardware
// tokens, YubiKey OTPs): any 1–64 letters and digits that are not a factor name go to Duo as typed, and Duo
// says whether they are right. A passcode is never turned into a push. A configuration with
// "Prompt": "universal" logs in through Duo's Universal Prompt in a browser instead (universal-flow.ts).

import { SsrunError } from '../../core/errors.js';
import { DENIED_MESSAGE, type FactorOutcome, type FactorPrompt, type FactorProvider } from '../../core/factor.js';
import { REDACTED } from '../../core/model.js';
import { sanitizeLine, shown, validateProviderUserId } from '../../core/validate.js';
import { isUniversal, loadDuoOptions, parseDuoOptions } from './options.js';
import { FACTORS, type DuoAuthApi, type DuoMethod, type Factor, type ProviderOutcome } from './types.js';
import type { DuoUniversalApi } from './universal.js';
import { BROWSER_METHOD, UNIVERSAL_TIMEOUT_MS, universalMethodError, verifyUniversal } from './universal-flow.js';

const PASSCODE_RE = /^[A-Za-z0-9]{1,64}$/;
const isFactor = (v: string): v is Factor => (FACTORS as readonly string[]).includes(v.toLowerCase());
const METHOD_HELP = `a Duo passcode (1–64 letters and digits) or one of ${FACTORS.join(', ')}; ${BROWSER_METHOD} for Duo's Universal Prompt`;
const isBrowser = (v: string) => v.toLowerCase() === BROWSER_METHOD;
const DUO_USER_ID = /^DU[A-Z0-9]{18}$/;

/** The menu pam_duo offers: the factors the user's devices support (all of them when unknown). */
function menu(available: readonly Factor[] | undefined): FactorPrompt {
  const off = (f: Factor) => (available ? !available.includes(f) : false);
  return {
    kind: 'menu',
    message: 'Second factor',
    choices: [
      { name: 'Duo Push to your device', value: 'push', disabled: off('push') },
      { name: 'Passcode', value: 'passcode', disabled: false },
      { name: 'Phone call', value: 'phone', disabled: off('phone') },
      { name: 'SMS passcodes', value: 'sms', disabled: off('sms') },
    ],
    codeChoice: 'passcode',
    code: { message: 'Passcode:', chars: 'alphanumeric', min: 1, max: 64, hint: 'a passcode is 1–64 letters and digits; a recovery code is xxxx-xxxx-xxxx' },
  };
}

/** The user typed a recovery code at the menu: preauth is abandoned, the core takes over. */
class RecoveryChosen extends Error {
  constructor(readonly code: string) {
    super('recovery code chosen');
  }
}

function denial(configName: string, principalName: string, outcome: Extract<ProviderOutcome, { result: 'deny' }>): FactorOutcome {
  // Counted: wrong codes and refusals, and also unanswered pushes and sent SMS, so that a stolen password cannot
  // be used for endless push or SMS bombing (at most 5 per lockout period). Enrolment and policy are not guesses.
  const counted = outcome.reason !== 'enroll' && outcome.reason !== 'policy';
  const reason = `${configName}: ${outcome.reason}${outcome.message ? ` (${outcome.message})` : ''}`;
  const deny = (code: SsrunError['code'], message: string): FactorOutcome => ({ result: 'deny', code, message, reason, counted });
  switch (outcome.reason) {
    case 'invalid_passcode':
      return deny('AUTH_DENIED', DENIED_MESSAGE);
    case 'fraud':
      return deny('MFA_FRAUD', 'login denied: the request was reported as fraudulent; your administrator has been alerted');
    case 'enroll':
      return deny('MFA_NOT_ENROLLED', `login denied: ${principalName} is not enrolled in Duo${outcome.message ? ` (${sanitizeLine(outcome.message)})` : ''}`);
    case 'sms_sent':
      return deny('MFA_SMS_SENT', 'SMS passcodes sent; run the login again with -m CODE');
    case 'timeout':
      return deny('MFA_TIMEOUT', 'login denied: no answer from your device in time');
    default:
      return deny('MFA_DENIED', `login denied${outcome.message ? `: ${sanitizeLine(outcome.message)}` : ''}`);
  }
}

/** `client`: the Auth API exchange, `universal`: the Universal Prompt's (each loaded only when a login needs it). */
export function duoFactor(client?: DuoAuthApi, universal?: DuoUniversalApi): FactorProvider {
  const api = async (): Promise<DuoAuthApi> => client ?? (await import('./client.js')).createDuoProvider();
  const universalApi = async (): Promise<DuoUniversalApi> => universal ?? (await import('./universal.js')).createUniversalApi();
  return {
    type: 'duo',
    phishingResistant: false,
    ceremony: false,
    secretOptions: ['SecretKey'],
    confirmsWithCode: false,
    methodHelp: METHOD_HELP,

    parseOptions: (raw) => ({ ...parseDuoOptions(raw) }),
    loadOptions: (stored) => ({ ...loadDuoOptions(stored) }),
    view(options, showSecrets) {
      const o = loadDuoOptions(options);
      return { IntegrationKey: o.IntegrationKey, SecretKey: showSecrets ? o.SecretKey : REDACTED, Host: o.Host, ...(o.CaFile !== undefined ? { CaFile: o.CaFile } : {}), ...(o.Prompt !== undefined ? { Prompt: o.Prompt } : {}) };
    },
    // The redacted placeholder from `mfa get` keeps the stored secret, so get → edit → update works.
    merge: (next, existing) => (next.SecretKey === REDACTED ? { ...next, SecretKey: existing.SecretKey } : next),

    accepts: (raw) => isFactor(raw) || PASSCODE_RE.test(raw),
    parseMethod(raw, { path, configName, options }) {
      if (isUniversal(loadDuoOptions(options))) {
        if (isBrowser(raw)) return { kind: 'factor', factor: BROWSER_METHOD };
        throw universalMethodError(path, configName);
      }
      if (isBrowser(raw)) throw new SsrunError('INVALID_METHOD', `-m ${BROWSER_METHOD}: ${path} uses Duo's Auth API (${shown(configName)}), not the Universal Prompt; pass a passcode or one of ${FACTORS.join(', ')}`);
      if (isFactor(raw)) return { kind: 'factor', factor: raw.toLowerCase() };
      if (PASSCODE_RE.test(raw)) return { kind: 'passcode', passcode: raw };
      throw new SsrunError('INVALID_METHOD', `-m: expected ${METHOD_HELP}, or a recovery code (xxxx-xxxx-xxxx)`);
    },
    required: ({ options }) =>
      isUniversal(loadDuoOptions(options))
        ? { message: `MFA required: pass -m ${BROWSER_METHOD} to use Duo's Universal Prompt (a browser window opens)`, prompt: { kind: 'ceremony', message: "Duo's Universal Prompt", method: BROWSER_METHOD } }
        : { message: `MFA required: pass -m with a passcode or one of ${FACTORS.join(', ')}`, prompt: menu(undefined) },
    timeoutMs: (options) => (isUniversal(loadDuoOptions(options)) ? UNIVERSAL_TIMEOUT_MS : undefined),

    async enrol({ identity, options, configName }) {
      const id = validateProviderUserId(identity);
      // The Universal Prompt is asked for a user by name (duo_uname): a user id would match nobody.
      if (DUO_USER_ID.test(id) && isUniversal(loadDuoOptions(options))) {
        throw new SsrunError('USAGE', `-m: ${shown(configName)} uses Duo's Universal Prompt, which identifies users by their Duo username; ${id} is a Duo user id (DU…): pass the username instead`);
      }
      return { providerUserId: id, secret: null, pending: false, detail: '' };
    },

    async verify(req) {
      const options = loadDuoOptions(req.options);
      if (isUniversal(options)) return verifyUniversal(req, options, await universalApi());
      let outcome: ProviderOutcome;
      try {
        outcome = await (await api()).authenticate({
          options,
          providerUserId: req.assignment.providerUserId,
          method: req.method as DuoMethod | undefined,
          chooseFactor: req.choose
            ? async (available) => {
                const m = await req.choose!(menu(available));
                if (m.kind === 'recovery') throw new RecoveryChosen(m.code);
                return m as DuoMethod;
              }
            : undefined,
          onProgress: req.onProgress,
          signal: req.signal,
          deadline: req.deadline,
        });
      } catch (e) {
        if (e instanceof RecoveryChosen) return { result: 'recovery', code: e.code };
        throw e;
      }
      if (outcome.result === 'deny') return denial(req.configName, req.principal.name, outcome);
      return { result: 'allow', factor: outcome.factor, detail: outcome.bypass ? `${outcome.factor}: Duo bypass (preauth allow)` : outcome.factor };
    },

    /** `mfa check`: Duo's /auth/v2/check, signed with the configuration's keys. */
    async check(options, ctx) {
      const o = loadDuoOptions(options);
      const client = await api();
      if (!client.check) throw new SsrunError('INTERNAL', 'this Duo client cannot check credentials');
      await client.check(o, ctx);
      return { Host: o.Host, Checked: 'IntegrationKey, SecretKey and Host accepted by /auth/v2/check' };
    },
  };
}
