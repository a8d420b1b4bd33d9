// The `webauthn` factor: security keys and passkeys, phishing-resistant (the browser binds each answer to the
// origin). A user has 1..N keys under one assignment; a login is an assertion ceremony in a browser (`-m key`),
// through the Ceremony port (a loopback page locally, the server's public URL over a server).

import type { Ceremony, CeremonyRequest, CeremonySite, KeyCeremonies } from '../../core/ceremony.js';
import { SsrunError } from '../../core/errors.js';
import type { FactorDenial, FactorProvider, NewKey, RegisterRequest, VerifyRequest } from '../../core/factor.js';
import { shown } from '../../core/validate.js';
import { BUILTIN_WEBAUTHN_CONFIG, WEBAUTHN_DEFAULTS, loadWebauthnOptions, parseWebauthnOptions } from './options.js';
import { authenticationOptions, registrationOptions, verifyAssertion, verifyRegistration } from './webauthn.js';

export const KEY_METHOD = 'key';
/** A challenge lives 2 minutes at most, whatever the ceremony's own timeout. */
const CHALLENGE_MS = 120_000;

function needCeremony(c: Ceremony | undefined): KeyCeremonies {
  const run = c?.run?.bind(c);
  if (!run) throw new SsrunError('CEREMONY_UNAVAILABLE', 'security keys need a browser ceremony, and none can run here (a server needs `ssrun serve --public-url`)');
  return { run };
}

/** Runs one ceremony; the site it ran at and the challenge it was given come back with the answer. */
async function ceremony(c: KeyCeremonies, req: Omit<CeremonyRequest, 'build'> & { build: (site: CeremonySite, timeoutMs: number) => Promise<{ challenge: string }> }) {
  let challenge: string | undefined;
  const deadline = Math.min(req.deadline, Date.now() + CHALLENGE_MS);
  const answer = await c.run({
    ...req,
    deadline,
    build: async (site) => {
      const opts = await req.build(site, Math.max(1000, deadline - Date.now()));
      challenge = opts.challenge;
      return opts;
    },
  });
  if (challenge === undefined) throw new SsrunError('INTERNAL', 'the ceremony ended before its options were made');
  return { answer, challenge };
}

const deny = (code: FactorDenial['code'], message: string, reason: string, counted: boolean) => ({ result: 'deny' as const, code, message, reason, counted });

async function register(req: RegisterRequest): Promise<NewKey> {
  const o = loadWebauthnOptions(req.options);
  const { answer, challenge } = await ceremony(needCeremony(req.ceremony), {
    kind: 'register',
    title: `Register a security key for ${req.principal.name}`,
    subject: req.principal.path,
    deadline: req.deadline,
    signal: req.signal,
    onProgress: req.onProgress,
    build: (site, ms) => registrationOptions(site, o, { name: req.principal.name, handle: req.userHandle }, req.existing, ms),
  });
  if ('refused' in answer) throw new SsrunError('KEY_REJECTED', `security key not registered: the browser said ${shown(answer.refused, 120)}`);
  return verifyRegistration(answer.site, o, challenge, answer.response);
}

async function verify(req: VerifyRequest) {
  const o = loadWebauthnOptions(req.options);
  const c = needCeremony(req.ceremony);
  if (req.method && !(req.method.kind === 'factor' && req.method.factor === KEY_METHOD)) {
    return deny('INVALID_METHOD', `-m: ${req.principal.path} uses security keys (${shown(req.configName)}); pass -m ${KEY_METHOD}`, `${req.configName}: -m is not ${KEY_METHOD}`, false);
  }
  const keys = req.keys ?? [];
  let usable = keys;
  const { answer, challenge } = await ceremony(c, {
    kind: 'authenticate',
    title: `Log in as ${req.principal.name}`,
    subject: req.principal.path,
    deadline: req.deadline,
    signal: req.signal,
    onProgress: req.onProgress,
    build: async (site, ms) => {
      usable = keys.filter((k) => k.rpId === site.rpId);
      if (usable.length === 0) {
        const at = [...new Set(keys.map((k) => k.rpId))].join(', ') || 'none';
        throw new SsrunError('KEY_REJECTED', `${req.principal.path} has no security key registered for ${site.rpId} (registered for: ${at}); add one with \`ssrun mfa key add\``);
      }
      return authenticationOptions(site, o, usable, ms);
    },
  });
  if ('refused' in answer) return deny('KEY_REJECTED', `login denied: the browser said ${shown(answer.refused, 120)}`, `${req.configName}: the browser refused (${answer.refused.slice(0, 80)})`, true);
  const id = (answer.response as { id?: unknown } | null)?.id;
  const key = usable.find((k) => k.id === id);
  if (!key) return deny('KEY_REJECTED', 'login denied: the browser answered with a security key that is not registered for this user', `${req.configName}: unknown key`, true);
  const checked = await verifyAssertion(answer.site, o, challenge, key, answer.response);
  if (!checked.ok) return deny('KEY_REJECTED', `login denied: security key ${shown(key.name)} refused: ${checked.why}`, `${req.configName}: key ${key.id.slice(0, 16)} refused: ${checked.why}`, true);
  const cloned = deny('MFA_DENIED', `login denied: the signature counter of security key ${shown(key.name)} did not increase (${checked.counter} after ${key.counter}): it may be a cloned key; ask an administrator`, `${req.configName}: key ${key.id.slice(0, 16)} counter ${checked.counter} after ${key.counter}: possibly cloned`, true);
  if ((checked.counter > 0 || key.counter > 0) && checked.counter <= key.counter) return cloned;
  return {
    result: 'allow' as const,
    factor: 'webauthn',
    detail: `security key ${key.name} (${key.id.slice(0, 16)})`,
    key: { id: key.id, counter: checked.counter, cloned },
  };
}

export function webauthnFactor(): FactorProvider {
  return {
    type: 'webauthn',
    phishingResistant: true,
    ceremony: true,
    secretOptions: [],
    builtin: { Name: BUILTIN_WEBAUTHN_CONFIG, Options: { ...WEBAUTHN_DEFAULTS } },
    confirmsWithCode: false,
    methodHelp: `${KEY_METHOD}, for a security key (in a browser)`,

    parseOptions: (raw) => ({ ...parseWebauthnOptions(raw) }),
    loadOptions: (stored) => ({ ...loadWebauthnOptions(stored) }),
    view: (options) => ({ ...loadWebauthnOptions(options) }),
    merge: (next) => next,

    accepts: (raw) => raw === KEY_METHOD,
    parseMethod(raw, { path, configName }) {
      if (raw === KEY_METHOD) return { kind: 'factor', factor: KEY_METHOD };
      throw new SsrunError('INVALID_METHOD', `-m: ${path} uses security keys (${shown(configName)}); pass -m ${KEY_METHOD}`);
    },
    required: () => ({
      message: `MFA required: pass -m ${KEY_METHOD} to use your security key (a browser window opens)`,
      prompt: { kind: 'ceremony', message: 'Security key', method: KEY_METHOD },
    }),

    /** Keys are registered by the user, in a browser: an assignment starts pending, with no key. */
    async enrol({ principal }) {
      if (principal.type !== 'user') throw new SsrunError('UNSUPPORTED_PRINCIPAL_TYPE', `${principal.path}: security keys are for users; an application logs in with its API key (assign it a TOTP or Duo configuration)`);
      return { providerUserId: principal.name, secret: null, pending: true, detail: 'security keys, pending until the user adds one (ssrun mfa key add)' };
    },
    verify,
    register,
  };
}
