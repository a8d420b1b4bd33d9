// The service interface over a server's HTTP API (a context), so every command runs unchanged against
// `ssrun serve`. Secrets a login needs (Duo keys) stay on the server: the client sends the password and the
// passcode or factor, never fetches a configuration to check a code itself.
// Transport failures fail closed with a clear reason: unreachable, untrusted certificate, odd answers.

import type { IncomingMessage, RequestOptions } from 'node:http';
import { SsrunError } from '../core/errors.js';
import type { SsrunApi } from '../core/service.js';
import { REQUEST_TIMEOUT_MS, progressFrom, remoteLogin, type CallOptions, type RemoteDeps } from './client-login.js';
import { API_BASE, NDJSON, errorFromBody } from './protocol.js';

export { progressFrom, promptFrom, providerUrlFrom, type RemoteDeps } from './client-login.js';

export interface RemoteTarget {
  /** The context's name, for messages. */
  name: string;
  /** https://host:port (or http:// on a loopback host only). */
  url: string;
  /** Verify the server's certificate (default true). */
  verify: boolean;
  /** PEM of the CA to trust instead of the system's. */
  ca?: string;
  token?: string;
}

const MAX_ANSWER_BYTES = 16 * 1024 * 1024;


const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|HOSTNAME|ALTNAME/;

function transportError(e: NodeJS.ErrnoException, target: RemoteTarget): SsrunError {
  const code = e.code ?? 'ERROR';
  if (TLS_CODES.test(code)) {
    return new SsrunError('SERVER_UNTRUSTED', `the server at ${target.url} presented a certificate that is not trusted (${code}); pass its CA with --ca FILE (context create) or SECRETSSAFE_VERIFY_CA=FILE`);
  }
  if (code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(e.message)) {
    return new SsrunError('SERVER_PROTOCOL', `the server at ${target.url} does not speak ${target.url.startsWith('https:') ? 'HTTPS' : 'HTTP'} (${code}); check the context's address and scheme`);
  }
  return new SsrunError('SERVER_UNAVAILABLE', `cannot reach the ssrun server at ${target.url} (${code}); nothing was changed`);
}

type Requester = (url: URL, options: RequestOptions, cb: (res: IncomingMessage) => void) => import('node:http').ClientRequest;

/** One API call: JSON (or, for a login, NDJSON progress lines then the result) within a timeout and a size cap. */
function caller(target: RemoteTarget) {
  const base = new URL(target.url);
  const isHttps = base.protocol === 'https:';
  let transport: { request: Requester } | undefined;

  async function call<T>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
    transport ??= (isHttps ? await import('node:https') : await import('node:http')) as { request: Requester };
    const url = new URL(`${API_BASE}${path}`, base);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== false) url.searchParams.set(k, String(v));
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8');
    const token = opts.token === null ? undefined : (opts.token ?? target.token);
    const headers: Record<string, string> = { accept: opts.stream ? NDJSON : 'application/json', 'user-agent': 'ssrun' };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
    if (token) headers.authorization = `Bearer ${token}`;
    const options: RequestOptions & { ca?: string; rejectUnauthorized?: boolean } = { method, headers, signal: opts.signal };
    if (isHttps) {
      options.rejectUnauthorized = target.verify;
      if (target.ca) options.ca = target.ca;
    }
    const timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;

    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const done = (fn: () => void) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          fn();
        }
      };
      const req = transport!.request(url, options, (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        let pending = '';
        let streamed: { result?: unknown; error?: unknown } | undefined;
        // Decode across chunk boundaries (a multi-byte character may be split between two chunks).
        const decoder = new TextDecoder('utf-8');
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy();
            return done(() => reject(new SsrunError('SERVER_PROTOCOL', `the server at ${target.url} sent an answer over ${MAX_ANSWER_BYTES} bytes`)));
          }
          if (opts.stream && status === 200 && String(res.headers['content-type']).startsWith(NDJSON)) {
            pending += decoder.decode(c, { stream: true });
            let nl: number;
            while ((nl = pending.indexOf('\n')) >= 0) {
              const text = pending.slice(0, nl);
              pending = pending.slice(nl + 1);
              if (text.trim() === '') continue;
              let line: { progress?: unknown; result?: unknown; error?: unknown };
              try {
                line = JSON.parse(text) as typeof line;
              } catch {
                return done(() => reject(new SsrunError('SERVER_PROTOCOL', `the server at ${target.url} sent a malformed progress line`)));
              }
              if (typeof line.progress === 'string') opts.stream(line);
              else streamed = line;
            }
          } else chunks.push(c);
        });
        res.on('error', (e) => done(() => reject(transportError(e as NodeJS.ErrnoException, target))));
        res.on('end', () =>
          done(() => {
            if (streamed) {
              if ('error' in streamed) return reject(errorFromBody(streamed, status));
              return resolve(streamed.result as T);
            }
            if (opts.stream && status === 200 && String(res.headers['content-type']).startsWith(NDJSON)) {
              return reject(new SsrunError('SERVER_PROTOCOL', `the server at ${target.url} ended the login without an answer; login denied`));
            }
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text === '' ? undefined : JSON.parse(text);
            } catch {
              return reject(new SsrunError('SERVER_PROTOCOL', `the server at ${target.url} answered HTTP ${status} with something that is not JSON; is it an ssrun server?`));
            }
            if (status >= 200 && status < 300) return resolve(body as T);
            reject(errorFromBody(body, status));
          }),
        );
      });
      const timer = setTimeout(() => {
        req.destroy();
        done(() => reject(new SsrunError('SERVER_UNAVAILABLE', `the ssrun server at ${target.url} did not answer within ${Math.round(timeoutMs / 1000)} s; nothing was changed`)));
      }, timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) =>
        done(() => reject(e.name === 'AbortError' || opts.signal?.aborted ? new SsrunError('CANCELLED', 'cancelled') : transportError(e, target))),
      );
      req.end(payload);
    });
  }
  return call;
}

export function createRemoteSsrun(target: RemoteTarget, deps: RemoteDeps = {}): SsrunApi {
  const call = caller(target);
  const enc = encodeURIComponent;
  const login = remoteLogin(call, target, deps);

  return {
    listConfigs: (o = {}) => call('GET', '/multi_factor', { query: { verbose: o.verbose, show_secrets: o.showSecrets } }),
    getConfig: (name, o = {}) => call('GET', `/multi_factor/${enc(name)}`, { query: { verbose: o.verbose, show_secrets: o.showSecrets } }),
    createConfig: (input) => call('POST', '/multi_factor', { body: input }),
    updateConfig: (name, input) => call('PUT', `/multi_factor/${enc(name)}`, { body: input }),
    checkConfig: (name) => call('POST', `/multi_factor/${enc(name)}/check`),
    deleteConfig: (name, o = {}) => call('DELETE', `/multi_factor/${enc(name)}`, { query: { force: o.force } }),
    assignPrincipal: (principal, id, config) => call('POST', '/multi_factor_assignments', { body: { principal, ...(id !== undefined ? { mfa_identity: id } : {}), config } }),
    verifyEnrollment: (username, code) => call('POST', '/multi_factor_verify', { body: { username, code } }),
    recoveryCodes: (principal) => call('POST', '/multi_factor_recovery_codes', { body: { principal } }),
    removePrincipal: (principal) => call('DELETE', '/multi_factor_assignments', { query: { principal } }),
    // A key ceremony runs on the server's page: its URL comes back as a progress line.
    addKey: (r) =>
      call('POST', '/multi_factor_keys', {
        body: { user: r.user, ...(r.name !== undefined ? { name: r.name } : {}), ...(r.config !== undefined ? { config: r.config } : {}), ...(r.replace ? { replace: true } : {}), ...(r.timeoutMs ? { timeout: Math.ceil(r.timeoutMs / 1000) } : {}), ...(r.password !== undefined ? { password: r.password } : {}) },
        signal: r.signal,
        timeoutMs: (r.timeoutMs ?? 120_000) + REQUEST_TIMEOUT_MS,
        stream: (line) => r.onProgress?.(progressFrom(line)),
      }),
    listKeys: (user) => call('GET', '/multi_factor_keys', { query: { user } }),
    renameKey: (user, id, name, password) => call('PUT', `/multi_factor_keys/${enc(id)}`, { body: { user, name, ...(password !== undefined ? { password } : {}) } }),
    deleteKey: (user, id, password) => call('DELETE', `/multi_factor_keys/${enc(id)}`, { query: { user }, ...(password !== undefined ? { body: { password } } : {}) }),

    init: (password) => call('POST', '/init', { body: { password }, token: null }),
    createUser: (name, password) => call('POST', '/users', { body: { name, password } }),
    listUsers: (o = {}) => call('GET', '/users', { query: { verbose: o.verbose } }),
    getUser: (name, o = {}) => call('GET', `/users/${enc(name)}`, { query: { verbose: o.verbose } }),
    deleteUser: (name) => call('DELETE', `/users/${enc(name)}`),
    setPassword: (name, password) => call('PUT', `/users/${enc(name)}/password`, { body: { password } }),
    unlockUser: (name) => call('POST', `/users/${enc(name)}/unlock`),
    createApplication: (name) => call('POST', '/applications', { body: { name } }),
    listApplications: (o = {}) => call('GET', '/applications', { query: { verbose: o.verbose } }),
    getApplication: (name, o = {}) => call('GET', `/applications/${enc(name)}`, { query: { verbose: o.verbose } }),
    deleteApplication: (name) => call('DELETE', `/applications/${enc(name)}`),

    login,
    logout: (token) => call('POST', '/connect/logout', { token }),
    whoami: (token) => call('GET', '/whoami', { token: token ?? target.token ?? null }),

    createGroup: (name) => call('POST', '/groups', { body: { name } }),
    listGroups: (o = {}) => call('GET', '/groups', { query: { verbose: o.verbose } }),
    getGroup: (name, o = {}) => call('GET', `/groups/${enc(name)}`, { query: { verbose: o.verbose } }),
    deleteGroup: (name) => call('DELETE', `/groups/${enc(name)}`),
    addMember: (group, principal) => call('POST', `/groups/${enc(group)}/members`, { body: { principal } }),
    removeMember: (group, principal) => call('DELETE', `/groups/${enc(group)}/members`, { query: { principal } }),
    // The server keeps the caller's own session (its bearer token) when a policy revokes sessions.
    createPolicy: (input) => call('POST', '/mfa_policies', { body: input }),
    listPolicies: () => call('GET', '/mfa_policies'),
    getPolicy: (name) => call('GET', `/mfa_policies/${enc(name)}`),
    updatePolicy: (name, input) => call('PUT', `/mfa_policies/${enc(name)}`, { body: input }),
    deletePolicy: (name) => call('DELETE', `/mfa_policies/${enc(name)}`),
    setPolicyActive: (name, active) => call('POST', `/mfa_policies/${enc(name)}/${active ? 'activate' : 'deactivate'}`),
    explainPolicy: (principal) => call('GET', '/mfa_policy_explain', { query: { principal } }),
    resetDeadline: (principal) => call('POST', '/mfa_policy_reset_deadline', { body: { principal } }),

    createAuthorization: (principal, operation, effect, resource) => call('POST', '/authorizations', { body: { principal, operation, effect, resource } }),
    listAuthorizations: (principal) => call('GET', '/authorizations', { query: { principal } }),
    deleteAuthorization: (principal, operation, resource) => call('DELETE', '/authorizations', { query: { principal, operation, resource } }),
    listAudit: (f = {}) => call('GET', '/audit', { query: { since: f.since, principal: f.principal, limit: f.limit } }),
  };
}
