// Duo's Universal Prompt through @duosecurity/duo_universal (the Web SDK v4 client): the health check, the
// signed authorize URL, and the code exchange, whose id_token the SDK checks (HS512 signature, issuer,
// audience, expiry, preferred_username). The SDK pins its own CA bundle and sets no time bound; this adapter
// gives its HTTP client (axios, kept at `client.axios`) ours: Options.CaFile or the pinned bundle, TLS 1.2 or
// later, each request bounded by 15 s and the login's deadline, answers capped at 1 MiB, no redirects, no
// proxy. An SDK that no longer keeps its client there is refused here, loudly (never used with its defaults).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Agent } from 'node:https';
import { SsrunError } from '../../core/errors.js';
import { sanitizeLine } from '../../core/validate.js';
import { duoPinnedCa, readCaFile, transportError } from './transport.js';
import type { DuoOptions } from './types.js';

const REQUEST_TIMEOUT_MS = 15_000;
const MAX_ANSWER_BYTES = 1024 * 1024;

/** The bounds of one exchange with Duo. */
export interface UniversalCtx {
  deadline: number;
  signal?: AbortSignal;
  now?: () => number;
}

/** What Duo's id_token says of the login (the SDK verified the token; the result is ours to check). */
export interface UniversalToken {
  result: string;
  status: string;
  statusMsg: string;
  preferredUsername: string;
  factor: string;
}

export interface UniversalFlow {
  /** The Universal Prompt's URL for this user, carrying `state`, coming back to the flow's redirect URI. */
  authUrl(duoUsername: string, state: string): Promise<string>;
  /** The code exchanged for Duo's verdict; `{ refused }` when Duo or the token says no (a denial, not an outage). */
  exchange(code: string, duoUsername: string): Promise<{ token: UniversalToken } | { refused: string }>;
}

export interface DuoUniversalApi {
  /** Throws PROVIDER_UNAVAILABLE with Duo's words when Duo is not healthy or cannot be reached. */
  healthCheck(o: DuoOptions, ctx: UniversalCtx): Promise<void>;
  flow(o: DuoOptions, redirectUri: string, ctx: UniversalCtx): Promise<UniversalFlow>;
  /** A fresh state: 36 characters, 216 random bits. */
  newState(): string;
  /** Constant-time comparison of a returned state with ours. */
  sameState(returned: string, ours: string): boolean;
}

/** The SDK's client as this adapter relies on it. */
interface SdkClient {
  axios?: { defaults?: Record<string, unknown> };
  healthCheck(): Promise<unknown>;
  createAuthUrl(username: string, state: string): Promise<string>;
  exchangeAuthorizationCodeFor2FAResult(code: string, username: string): Promise<Record<string, unknown>>;
}
interface Sdk {
  Client: new (o: { clientId: string; clientSecret: string; apiHost: string; redirectUrl: string }) => SdkClient;
}

let sdk: Promise<Sdk> | undefined;
const loadSdk = () => (sdk ??= import('@duosecurity/duo_universal') as unknown as Promise<Sdk>);

/**
 * The SDK's HTTP client, with our agent and bounds in place of its own; throws INTERNAL when the SDK moved it
 * (a test pins what this relies on: `client.axios.defaults` with `baseURL` and `httpsAgent`).
 */
export function takeOver(client: SdkClient, host: string, agent: Agent): Record<string, unknown> {
  const defaults = client.axios?.defaults;
  if (!defaults || typeof defaults !== 'object' || defaults.baseURL !== `https://${host}` || !(defaults.httpsAgent instanceof Agent)) {
    throw new SsrunError('INTERNAL', '@duosecurity/duo_universal no longer keeps its HTTP client where ssrun sets its CA and time bounds (client.axios.defaults); refusing to talk to Duo with the SDK\'s own settings');
  }
  Object.assign(defaults, { httpsAgent: agent, maxContentLength: MAX_ANSWER_BYTES, maxBodyLength: MAX_ANSWER_BYTES, maxRedirects: 0, proxy: false });
  return defaults;
}

interface AxiosLike {
  isAxiosError?: boolean;
  code?: string;
  message?: string;
  response?: { status?: number };
}

const tooSlow = (host: string) => new SsrunError('PROVIDER_UNAVAILABLE', `login denied: Duo did not answer in time (Duo at ${host})`);

/** An SDK failure as ours: Duo answered (its words, a refusal) or could not be reached (an outage, fail closed). */
function classify(e: unknown, host: string, signal: AbortSignal | undefined): { refused: string } {
  if (signal?.aborted) throw new SsrunError('CANCELLED', 'login cancelled');
  if (e instanceof SsrunError) throw e;
  const err = e as Error & { inner?: AxiosLike };
  const inner = err.inner;
  // Not HTTP (the SDK's own checks: the token, the username): Duo's answer is refused.
  if (!inner?.isAxiosError) return { refused: sanitizeLine(err.message ?? String(e), 200) };
  // Our own bound (the login's signal was not aborted: checked above).
  if (inner.code === 'ERR_CANCELED' || inner.code === 'ECONNABORTED' || inner.code === 'ETIMEDOUT') throw tooSlow(host);
  if (/maxContentLength|maxBodyLength/i.test(inner.message ?? '')) throw new SsrunError('PROVIDER_UNAVAILABLE', `login denied: Duo's answer is too large (Duo at ${host})`);
  const status = inner.response?.status;
  if (status === undefined) throw transportError(host, inner as Error);
  if (status === 429) throw new SsrunError('PROVIDER_RATE_LIMITED', `login denied: Duo is rate-limiting requests (HTTP 429) (Duo at ${host})`);
  if (status >= 500) throw new SsrunError('PROVIDER_UNAVAILABLE', `login denied: Duo answered HTTP ${status} (Duo at ${host})`);
  return { refused: sanitizeLine(err.message ?? String(e), 200) };
}

export function createUniversalApi(): DuoUniversalApi {
  async function open(o: DuoOptions, redirectUri: string, ctx: UniversalCtx) {
    const [{ Client }, ca] = await Promise.all([loadSdk(), o.CaFile ? readCaFile(o.CaFile, o.Host) : Promise.resolve(duoPinnedCa())]);
    let client: SdkClient;
    try {
      client = new Client({ clientId: o.IntegrationKey, clientSecret: o.SecretKey, apiHost: o.Host, redirectUrl: redirectUri });
    } catch (e) {
      // The lengths are checked when the configuration is made: this is an older one, or a changed SDK.
      throw new SsrunError('PROVIDER_MISCONFIGURED', `login denied: Duo's Universal Prompt client refused the configuration: ${sanitizeLine((e as Error).message, 120)}`);
    }
    const agent = new Agent({ keepAlive: false, ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    const defaults = takeOver(client, o.Host, agent);
    const now = ctx.now ?? Date.now;
    /** Sets this request's bound (the login's deadline, 15 s at most) before each SDK call. */
    const limit = () => {
      const ms = Math.min(REQUEST_TIMEOUT_MS, ctx.deadline - now());
      if (ms <= 0) throw tooSlow(o.Host);
      // axios's own timeout only bounds an idle socket: the signal bounds the whole exchange (a trickling answer too).
      const bound = AbortSignal.timeout(ms);
      Object.assign(defaults, { timeout: ms, signal: ctx.signal ? AbortSignal.any([ctx.signal, bound]) : bound });
    };
    return { client, limit, close: () => agent.destroy() };
  }

  return {
    async healthCheck(o, ctx) {
      // The SDK wants a redirect URL even here: an address nobody listens on (nothing is redirected).
      const { client, limit, close } = await open(o, 'http://127.0.0.1/', ctx);
      try {
        limit();
        await client.healthCheck();
      } catch (e) {
        const { refused } = classify(e, o.Host, ctx.signal);
        // Duo refusing the client itself (400/401: a wrong Client ID or secret) is the configuration's fault.
        const status = (e as { inner?: AxiosLike }).inner?.response?.status;
        const code = status === 400 || status === 401 ? 'PROVIDER_MISCONFIGURED' : 'PROVIDER_UNAVAILABLE';
        throw new SsrunError(code, `login denied: Duo's health check failed: ${refused} (Duo at ${o.Host})`);
      } finally {
        close();
      }
    },

    async flow(o, redirectUri, ctx) {
      const { client, limit, close } = await open(o, redirectUri, ctx);
      return {
        authUrl: (username, state) => client.createAuthUrl(username, state),
        async exchange(code, username) {
          try {
            limit();
            const t = await client.exchangeAuthorizationCodeFor2FAResult(code, username);
            const r = (t.auth_result ?? {}) as Record<string, unknown>;
            const c = (t.auth_context ?? {}) as Record<string, unknown>;
            const text = (v: unknown) => (typeof v === 'string' ? v : '');
            return { token: { result: text(r.result), status: text(r.status), statusMsg: sanitizeLine(text(r.status_msg), 200), preferredUsername: text(t.preferred_username), factor: sanitizeLine(text(c.factor), 60) } };
          } catch (e) {
            return classify(e, o.Host, ctx.signal);
          } finally {
            close();
          }
        },
      };
    },

    newState: () => randomBytes(27).toString('base64url'),
    sameState(returned, ours) {
      const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
      return timingSafeEqual(digest(returned), digest(ours));
    },
  };
}
