// A login through Duo's Universal Prompt (a `duo` configuration with "Prompt": "universal"), behind the factor
// port: Duo's health check first (never fail open), then a redirect ceremony: the browser goes to Duo's prompt
// with a fresh state and comes back to a one-shot loopback address; the state must be ours before the code is
// exchanged, and Duo's verdict (which the SDK does not check) must be `allow` for this very Duo user (S30).
// Failed, refused, abandoned and cancelled flows are counted like an unanswered push, once Duo's URL is out.

import { SsrunError, type ErrorCode } from '../../core/errors.js';
import type { RedirectOutcome, RedirectReturn } from '../../core/ceremony.js';
import type { FactorOutcome, VerifyRequest } from '../../core/factor.js';
import { sanitizeLine, shown } from '../../core/validate.js';
import type { DuoOptions } from './types.js';
import type { DuoUniversalApi, UniversalFlow } from './universal.js';

/** `-m` for a Universal Prompt configuration. */
export const BROWSER_METHOD = 'browser';
/** A login through a browser waits this long when no --timeout is given. */
export const UNIVERSAL_TIMEOUT_MS = 120_000;
export const FACTOR_NAME = 'universal-prompt';

type Denial = Extract<FactorOutcome, { result: 'deny' }>;

export function universalMethodError(path: string, configName: string): SsrunError {
  return new SsrunError('INVALID_METHOD', `-m: ${path} uses Duo's Universal Prompt (${shown(configName)}); pass -m ${BROWSER_METHOD} (a browser window opens), or a recovery code`);
}

export async function verifyUniversal(req: VerifyRequest, o: DuoOptions, api: DuoUniversalApi): Promise<FactorOutcome> {
  const deny = (code: ErrorCode, message: string, reason: string, counted = true): Denial => ({ result: 'deny', code, message, reason: `${req.configName}: ${reason}`, counted });
  if (req.method && !(req.method.kind === 'factor' && req.method.factor === BROWSER_METHOD)) {
    const e = universalMethodError(req.principal.path, req.configName);
    return deny(e.code, e.message, `-m is not ${BROWSER_METHOD}`, false);
  }
  const ceremony = req.ceremony;
  if (!ceremony?.redirect) throw new SsrunError('CEREMONY_UNAVAILABLE', "Duo's Universal Prompt needs a browser, and none can be opened here");
  const ctx = { deadline: req.deadline, ...(req.signal ? { signal: req.signal } : {}) };
  await api.healthCheck(o, ctx);

  const username = req.assignment.providerUserId;
  const state = api.newState();
  let flow: UniversalFlow | undefined;
  /** Duo's URL is out: from then on a login that ends without Duo's allow counts, as a push sent does. */
  let urlOut = false;
  const timedOut = () => deny('MFA_TIMEOUT', "login denied: nothing came back from Duo's Universal Prompt in time", 'no answer from the browser in time');

  /** What came back to the loopback address, judged: the state first, then Duo's code, token and verdict. */
  const judge = async (back: RedirectReturn): Promise<FactorOutcome> => {
    const p = back.params;
    // The state first, whatever else came back: an answer that is not this login's says nothing of Duo.
    if (p.state === undefined || !api.sameState(p.state, state)) {
      return deny('MFA_DENIED', "login denied: the browser came back with a state that is not this login's (a stale or forged redirect); nothing was exchanged", 'state mismatch: refused before the exchange');
    }
    if (p.error !== undefined) {
      const said = sanitizeLine(p.error_description || p.error, 200);
      return deny('MFA_DENIED', `login denied: Duo said: ${said}`, `Duo returned an error (${said})`);
    }
    const code = p.duo_code ?? p.code;
    if (!code) return deny('MFA_DENIED', "login denied: the browser came back without Duo's code", 'no code in the redirect');
    if (!flow) throw new SsrunError('INTERNAL', 'the redirect came back before its URL was made');
    let answer;
    try {
      answer = await flow.exchange(code, username);
    } catch (e) {
      // The login's own deadline ran out during the exchange (a browser that came back at the last second): a
      // timeout of the user's, counted; Duo failing with time left is an outage (not counted).
      if (e instanceof SsrunError && e.code === 'PROVIDER_UNAVAILABLE' && req.now().getTime() >= req.deadline - 100) return timedOut();
      throw e;
    }
    if ('refused' in answer) return deny('MFA_DENIED', `login denied: Duo's answer was refused: ${answer.refused}`, `exchange refused (${answer.refused})`);
    const t = answer.token;
    if (t.preferredUsername !== username) return deny('MFA_DENIED', `login denied: Duo's answer is for another user (${shown(t.preferredUsername)}), not ${shown(username)}`, `token for ${sanitizeLine(t.preferredUsername, 80)}`);
    if (t.result !== 'allow') {
      const why = t.statusMsg ? `: ${t.statusMsg}` : '';
      if (t.status === 'fraud') return deny('MFA_FRAUD', 'login denied: the request was reported as fraudulent; your administrator has been alerted', `fraud${why}`);
      return deny('MFA_DENIED', `login denied${why}`, `Duo: ${sanitizeLine(t.result || 'no result', 40)}${why}`);
    }
    return { result: 'allow', factor: FACTOR_NAME, detail: `Universal Prompt${t.factor ? ` (${t.factor})` : ''}` };
  };

  try {
    return await ceremony.redirect(
      {
        subject: req.principal.path,
        message: "Complete Duo's prompt in the browser window",
        build: async (redirectUri) => {
          flow = await api.flow(o, redirectUri, ctx);
          const url = await flow.authUrl(username, state);
          urlOut = true;
          return url;
        },
        deadline: req.deadline,
        ...(req.signal ? { signal: req.signal } : {}),
        ...(req.onProgress ? { onProgress: req.onProgress } : {}),
      },
      async (back): Promise<RedirectOutcome<FactorOutcome>> => {
        const outcome = await judge(back);
        return { result: outcome, page: outcome.result === 'allow' ? { ok: true, message: 'Duo approved the login. You may close this window.' } : { ok: false, message: outcome.result === 'deny' ? outcome.message : 'login denied' } };
      },
    );
  } catch (e) {
    if (e instanceof SsrunError && e.code === 'MFA_TIMEOUT') return timedOut();
    // Ctrl-C, or a client gone, once Duo's URL was out (it stays valid at Duo for minutes): counted all the same,
    // so that starting and dropping logins cannot prompt the user's phone for free.
    if (e instanceof SsrunError && e.code === 'CANCELLED' && urlOut) return deny('CANCELLED', 'login cancelled', "cancelled after Duo's prompt was opened");
    throw e;
  }
}
