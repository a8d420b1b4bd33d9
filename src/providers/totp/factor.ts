// The `totp` factor: RFC 6238 codes from any authenticator app, checked here with the principal's sealed
// secret. A code is accepted within ±Skew steps, and each time step at most once per principal (S16: the core
// commits the step with a compare-and-set). Wrong codes, wrong lengths and replays are one uniform denial (S17).

import { SsrunError } from '../../core/errors.js';
import { DENIED_MESSAGE, type FactorProvider } from '../../core/factor.js';
import { shown } from '../../core/validate.js';
import { BUILTIN_TOTP_CONFIG, TOTP_DEFAULTS, loadTotpOptions, parseTotpOptions, validateTotpSecret } from './options.js';
import type { TotpApi } from './totp.js';

const CODE_RE = /^[0-9]{1,64}$/;

/** `otp`: otplib behind TotpApi (loaded only when a TOTP configuration is used). */
export function totpFactor(otp?: TotpApi): FactorProvider {
  const api = async (): Promise<TotpApi> => otp ?? (await import('./totp.js')).totpProvider;
  return {
    type: 'totp',
    phishingResistant: false,
    ceremony: false,
    // A code is an HMAC of the sealed secret and the time, checked here: an application's login commits once.
    instant: true,
    secretOptions: [],
    builtin: { Name: BUILTIN_TOTP_CONFIG, Options: { ...TOTP_DEFAULTS } },
    confirmsWithCode: true,
    methodHelp: "an authenticator app's code (digits)",

    parseOptions: (raw) => ({ ...parseTotpOptions(raw) }),
    loadOptions: (stored) => ({ ...loadTotpOptions(stored) }),
    view: (options) => ({ ...loadTotpOptions(options) }),
    merge: (next) => next,

    accepts: (raw) => CODE_RE.test(raw),
    parseMethod(raw, { path, configName }) {
      // Any digits are a code (a wrong length is the uniform denial, S17); a factor name or letters are not.
      if (CODE_RE.test(raw)) return { kind: 'passcode', passcode: raw };
      throw new SsrunError('INVALID_METHOD', `-m: ${path} uses TOTP (${shown(configName)}); pass the code from the authenticator app`);
    },
    required: ({ options }) => {
      const digits = loadTotpOptions(options).Digits;
      return {
        message: 'MFA required: pass -m with the code from your authenticator app',
        prompt: { kind: 'code', code: { message: 'Authenticator code:', chars: 'digits', min: digits, max: digits, hint: `a code has ${digits} digits; a recovery code is xxxx-xxxx-xxxx` } },
      };
    },

    /** `-m` imports a base32 secret (never shown back); without it a 160-bit secret is made and shown once. */
    async enrol({ identity, options, principal }) {
      const imported = identity !== undefined && identity !== '' ? validateTotpSecret(identity) : undefined;
      const secret = imported ?? (await (await api()).generateSecret());
      const o = loadTotpOptions(options);
      const shownOnce = imported ? undefined : { Secret: secret, OtpauthUri: await (await api()).uri({ secret, issuer: o.Issuer, label: principal.name, options: o }) };
      return { providerUserId: principal.name, secret, pending: true, ...(shownOnce ? { shown: shownOnce } : {}), detail: `TOTP secret ${imported ? 'imported' : 'generated'}, pending` };
    },

    async verify(req) {
      let method = req.method;
      if (!method) {
        const m = await req.choose!(this.required({ path: req.principal.path, configName: req.configName, options: req.options }).prompt);
        if (m.kind === 'recovery') return { result: 'recovery', code: m.code };
        method = m;
      }
      if (method.kind !== 'passcode') return { result: 'deny', code: 'INVALID_METHOD', message: `-m: ${req.principal.path} uses TOTP (${shown(req.configName)}); pass the code from the authenticator app`, reason: `${req.configName}: ${method.factor} is not a TOTP code`, counted: false };
      if (!req.state?.secret) {
        return { result: 'deny', code: 'PROVIDER_MISCONFIGURED', message: `${req.principal.path} has no TOTP secret; assign ${shown(req.configName)} again to enrol`, reason: `${req.configName}: no TOTP secret`, counted: false };
      }
      const r = await (await api()).verify({ secret: req.state.secret, code: method.passcode, options: loadTotpOptions(req.options), at: req.now() });
      if (!r.valid) return { result: 'deny', code: 'AUTH_DENIED', message: DENIED_MESSAGE, reason: `${req.configName}: invalid code`, counted: true };
      return {
        result: 'allow',
        factor: 'totp',
        detail: req.assignment.pending ? 'totp (enrolment confirmed)' : 'totp',
        counter: { value: r.timeStep, replay: { code: 'AUTH_DENIED', message: DENIED_MESSAGE, reason: `${req.configName}: code of an already used time step (replay)`, counted: true } },
      };
    },
  };
}
