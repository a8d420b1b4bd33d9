// The Universal Prompt's verify flow (src/providers/duo/universal-flow.ts) with a scripted Duo and a scripted
// browser: the state is checked before anything else that came back (an error included); Duo's verdict and
// username are ours to check; once Duo's URL is out, a login that ends without an allow counts (a cancel, the
// login's deadline running out during the exchange), while a Duo outage with time left is an error, not a guess.

import { describe, expect, it } from 'vitest';
import type { Ceremony, RedirectOutcome, RedirectReturn } from '../../src/core/ceremony.js';
import { SsrunError } from '../../src/core/errors.js';
import type { VerifyRequest } from '../../src/core/factor.js';
import type { DuoOptions } from '../../src/providers/duo/types.js';
import type { DuoUniversalApi, UniversalToken } from '../../src/providers/duo/universal.js';
import { verifyUniversal } from '../../src/providers/duo/universal-flow.js';

const STATE = 's'.repeat(36);
const OPTIONS: DuoOptions = { IntegrationKey: 'D'.repeat(20), SecretKey: 'x'.repeat(40), Host: 'api-x.example', Prompt: 'universal' };
const allow: UniversalToken = { result: 'allow', status: 'allow', statusMsg: 'ok', preferredUsername: 'bob', factor: 'Duo Push' };

function api(exchange: () => Promise<{ token: UniversalToken } | { refused: string }>, exchanged: string[] = []): DuoUniversalApi {
  return {
    healthCheck: async () => undefined,
    flow: async () => ({ authUrl: async () => 'https://api-x.example/oauth/v1/authorize', exchange: async (code) => (exchanged.push(code), exchange()) }),
    newState: () => STATE,
    sameState: (a, b) => a === b,
  };
}

/** A browser that comes back with `params`, or a ceremony that fails with `fail` (after the URL was made, or before). */
function browser(params: Record<string, string> | undefined, fail?: { code: 'CANCELLED' | 'MFA_TIMEOUT'; beforeUrl?: boolean }): Ceremony {
  return {
    run: async () => {
      throw new Error('not a key ceremony');
    },
    async redirect<T>(req: Parameters<NonNullable<Ceremony['redirect']>>[0], answer: (b: RedirectReturn) => Promise<RedirectOutcome<T>>): Promise<T> {
      if (fail?.beforeUrl) throw new SsrunError(fail.code, 'x');
      await req.build('http://127.0.0.1:1/p');
      if (fail) throw new SsrunError(fail.code, 'x');
      return (await answer({ params: params!, redirectUri: 'http://127.0.0.1:1/p' })).result;
    },
  };
}

function request(ceremony: Ceremony, deadline = Date.now() + 60_000): VerifyRequest {
  return {
    options: OPTIONS as unknown as Record<string, unknown>,
    configName: 'U',
    principal: { type: 'user', name: 'bob', path: 'principal/internal/user/bob' },
    assignment: { providerUserId: 'bob', pending: false },
    state: undefined,
    ceremony,
    method: { kind: 'factor', factor: 'browser' },
    now: () => new Date(),
    deadline,
  };
}

describe('verifyUniversal', () => {
  it('allow: Duo said allow for this very user', async () => {
    const exchanged: string[] = [];
    const r = await verifyUniversal(request(browser({ state: STATE, duo_code: 'c1' })), OPTIONS, api(async () => ({ token: allow }), exchanged));
    expect(r).toEqual({ result: 'allow', factor: 'universal-prompt', detail: 'Universal Prompt (Duo Push)' });
    expect(exchanged).toEqual(['c1']);
  });

  it('the state first: a wrong one with an error is a state mismatch, nothing exchanged; the right one with an error is Duo speaking', async () => {
    const exchanged: string[] = [];
    const forged = await verifyUniversal(request(browser({ state: 'other', error: 'access_denied', error_description: 'Phish\u001b[2J' })), OPTIONS, api(async () => ({ token: allow }), exchanged));
    expect(forged).toMatchObject({ result: 'deny', code: 'MFA_DENIED', counted: true, reason: 'U: state mismatch: refused before the exchange' });
    const said = await verifyUniversal(request(browser({ state: STATE, error: 'access_denied', error_description: 'Phish\u001b[2J' })), OPTIONS, api(async () => ({ token: allow }), exchanged));
    expect(said).toMatchObject({ result: 'deny', code: 'MFA_DENIED', counted: true, message: 'login denied: Duo said: Phish\\u001b[2J' });
    expect(exchanged).toEqual([]);
  });

  it("Duo's verdict and username are checked here", async () => {
    const deny = await verifyUniversal(request(browser({ state: STATE, duo_code: 'c' })), OPTIONS, api(async () => ({ token: { ...allow, result: 'deny', statusMsg: 'no' } })));
    expect(deny).toMatchObject({ result: 'deny', code: 'MFA_DENIED', message: 'login denied: no', counted: true });
    const other = await verifyUniversal(request(browser({ state: STATE, duo_code: 'c' })), OPTIONS, api(async () => ({ token: { ...allow, preferredUsername: 'mallory' } })));
    expect(other).toMatchObject({ result: 'deny', code: 'MFA_DENIED', counted: true });
    const fraud = await verifyUniversal(request(browser({ state: STATE, duo_code: 'c' })), OPTIONS, api(async () => ({ token: { ...allow, result: 'deny', status: 'fraud' } })));
    expect(fraud).toMatchObject({ result: 'deny', code: 'MFA_FRAUD', counted: true });
    const noCode = await verifyUniversal(request(browser({ state: STATE })), OPTIONS, api(async () => ({ token: allow })));
    expect(noCode).toMatchObject({ result: 'deny', code: 'MFA_DENIED', counted: true });
  });

  it("a cancel counts once Duo's URL is out, not before", async () => {
    await expect(verifyUniversal(request(browser(undefined, { code: 'CANCELLED', beforeUrl: true })), OPTIONS, api(async () => ({ token: allow })))).rejects.toMatchObject({ code: 'CANCELLED' });
    const after = await verifyUniversal(request(browser(undefined, { code: 'CANCELLED' })), OPTIONS, api(async () => ({ token: allow })));
    expect(after).toMatchObject({ result: 'deny', code: 'CANCELLED', counted: true });
    const abandoned = await verifyUniversal(request(browser(undefined, { code: 'MFA_TIMEOUT' })), OPTIONS, api(async () => ({ token: allow })));
    expect(abandoned).toMatchObject({ result: 'deny', code: 'MFA_TIMEOUT', counted: true });
  });

  it("Duo failing during the exchange: an outage with time left, the user's timeout at the deadline", async () => {
    const outage = async (): Promise<never> => {
      throw new SsrunError('PROVIDER_UNAVAILABLE', 'login denied: Duo did not answer in time');
    };
    await expect(verifyUniversal(request(browser({ state: STATE, duo_code: 'c' })), OPTIONS, api(outage))).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    const late = await verifyUniversal(request(browser({ state: STATE, duo_code: 'c' }), Date.now()), OPTIONS, api(outage));
    expect(late).toMatchObject({ result: 'deny', code: 'MFA_TIMEOUT', counted: true });
  });

  it('a method other than browser is refused, not counted; no ceremony here fails closed', async () => {
    const r = await verifyUniversal({ ...request(browser(undefined)), method: { kind: 'factor', factor: 'push' } }, OPTIONS, api(async () => ({ token: allow })));
    expect(r).toMatchObject({ result: 'deny', code: 'INVALID_METHOD', counted: false });
    await expect(verifyUniversal({ ...request(browser(undefined)), ceremony: undefined }, OPTIONS, api(async () => ({ token: allow })))).rejects.toMatchObject({ code: 'CEREMONY_UNAVAILABLE' });
  });
});
