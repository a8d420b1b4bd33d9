// The Universal Prompt's SDK adapter (src/providers/duo/universal.ts) against the local OIDC stand-in: the SDK
// still keeps its HTTP client where the adapter sets our CA, bounds and cap (this test fails loudly when a new
// @duosecurity/duo_universal moves it); Options.CaFile is what is trusted (the SDK's pinned bundle refuses
// the stand-in); a FAIL, a hang and an oversized answer are PROVIDER_UNAVAILABLE, never an allow.

import { Client, constants as universalConstants } from '@duosecurity/duo_universal';
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duoPinnedCa } from '../../src/providers/duo/transport.js';
import type { DuoOptions } from '../../src/providers/duo/types.js';
import { createUniversalApi, takeOver } from '../../src/providers/duo/universal.js';
import { startFakeUniversal, type ClientKind, type FakeUniversal } from '../fakes/duo-universal.js';
import { errorOf } from '../helpers/refusal.js';

let fake: FakeUniversal;
beforeAll(async () => {
  fake = await startFakeUniversal();
});
afterAll(async () => {
  await fake?.close();
});

const api = createUniversalApi();
const options = (kind: ClientKind = 'healthy', more: Partial<DuoOptions> = {}): DuoOptions => ({ ...(fake.options(fake.client(kind)) as unknown as DuoOptions), ...more });
const within = (ms: number) => ({ deadline: Date.now() + ms });

describe('the SDK as the adapter relies on it', () => {
  it('a Client keeps its axios at client.axios, with defaults.baseURL and an https Agent we replace', () => {
    const c = new Client({ clientId: 'D'.repeat(20), clientSecret: 's'.repeat(40), apiHost: 'api-x.example', redirectUrl: 'http://127.0.0.1/' });
    const raw = c as unknown as { axios: { defaults: Record<string, unknown> } };
    expect(raw.axios.defaults.baseURL).toBe('https://api-x.example');
    expect(raw.axios.defaults.httpsAgent).toBeInstanceOf(Agent);
    const ours = new Agent();
    const d = takeOver(raw as never, 'api-x.example', ours);
    expect(d).toBe(raw.axios.defaults);
    expect(raw.axios.defaults).toMatchObject({ httpsAgent: ours, maxContentLength: 1024 * 1024, maxRedirects: 0, proxy: false });
    // The SDK pins the same CA bundle as duo_api (what the Auth API client trusts by default).
    expect(universalConstants.DUO_PINNED_CERT).toBe(duoPinnedCa());
  });

  it('refuses an SDK client that keeps its HTTP client elsewhere', async () => {
    for (const moved of [{}, { axios: {} }, { axios: { defaults: { baseURL: 'https://h', httpsAgent: {} } } }]) {
      const e = await errorOf(() => takeOver(moved as never, 'h', new Agent()));
      expect(e.code).toBe('INTERNAL');
      expect(e.message).toContain('client.axios.defaults');
    }
  });
});

describe('createUniversalApi against the stand-in', () => {
  it('health check: OK with Options.CaFile; the pinned bundle alone refuses the stand-in (TLS)', async () => {
    await api.healthCheck(options(), within(5_000));
    const e = await errorOf(api.healthCheck(options('healthy', { CaFile: undefined }), within(5_000)));
    expect(e.code).toBe('PROVIDER_UNAVAILABLE');
    expect(e.message).toMatch(/TLS certificate .* could not be verified/);
  });

  it("health check FAIL, a hang and an oversized answer: PROVIDER_UNAVAILABLE with the reason", async () => {
    expect((await errorOf(api.healthCheck(options('sick'), within(5_000)))).message).toBe(`login denied: Duo's health check failed: Service temporarily unavailable: maintenance (Duo at ${fake.host})`);
    const started = Date.now();
    const hang = await errorOf(api.healthCheck(options('hang'), within(1_000)));
    expect(hang.message).toBe(`login denied: Duo did not answer in time (Duo at ${fake.host})`);
    expect(Date.now() - started).toBeLessThan(3_000);
    const huge = await errorOf(api.healthCheck(options('huge'), within(5_000)));
    expect(huge.code).toBe('PROVIDER_UNAVAILABLE');
    expect(huge.message).toContain('too large');
  });

  it('a flow: the authorize URL carries the redirect URI; an unknown code is a refusal, not an outage', async () => {
    const o = options();
    const flow = await api.flow(o, 'http://127.0.0.1:1234/abc', within(5_000));
    const url = new URL(await flow.authUrl('allow#flow', api.newState()));
    expect(url.origin + url.pathname).toBe(`https://${fake.host}/oauth/v1/authorize`);
    expect(url.searchParams.get('redirect_uri')).toBe('http://127.0.0.1:1234/abc');
    expect(await flow.exchange('no-such-code', 'allow#flow')).toEqual({ refused: 'invalid_grant: The provided authorization grant is invalid' });
  });

  it('states are fresh and compared whole', () => {
    const a = api.newState();
    expect(a).toMatch(/^[A-Za-z0-9_-]{36}$/);
    expect(api.newState()).not.toBe(a);
    expect(api.sameState(a, a)).toBe(true);
    expect(api.sameState(`${a}x`, a)).toBe(false);
    expect(api.sameState('', a)).toBe(false);
  });
});
