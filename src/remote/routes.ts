// The API as a table of routes over the service: method, path, who may call it (the guard: a token, an
// authorization rule on a resource, oneself, root only), the body's schema, and the use case it calls.
// src/remote/server.ts serves it; the README's API table is this one.

import { RESOURCE_AUDIT, RESOURCE_AUTHORIZATION, RESOURCE_MFA } from '../core/authz.js';
import { SsrunError } from '../core/errors.js';
import { principalPath, type Caller, type Operation, type PrincipalType } from '../core/model.js';
import type { Ssrun } from '../core/service.js';
import type { ProgressEvent } from '../core/ports.js';
import type { FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { validateConfigName, validateGroupName, validatePolicyName, validatePrincipalName } from '../core/validate.js';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
export const isLoopbackAddress = (address: string) => LOOPBACK.test(address) || address.toLowerCase() === 'localhost';

export type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string>; Body: Record<string, unknown> }>;
export type Guard =
  | 'none'
  | 'token'
  | {
      op: Operation;
      resource: (req: Req, caller: Caller) => string;
      /** The caller acting on itself needs no rule. */
      self?: (req: Req, caller: Caller) => boolean;
      /** A second permission some requests need (secrets in clear: update). */
      also?: (req: Req) => { op: Operation; resource: string } | undefined;
      /** Whether the request changes root's own credentials or MFA: only root may (no rule can allow it). */
      touchesRoot?: (req: Req, ssrun: Ssrun) => boolean | Promise<boolean>;
    };

const ROOT_PATH = 'principal/internal/user/root';
const isRootName = (name: unknown) => typeof name === 'string' && name.toLowerCase() === 'root';
const isRootPath = (path: unknown) => typeof path === 'string' && path.toLowerCase() === ROOT_PATH;

/** One row of the API: also the README's table. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  guard: Guard;
  body?: Record<string, unknown>;
  /** A login route: which kind of principal it logs in. */
  login?: 'user' | 'application';
  status?: number;
  handle: (ssrun: Ssrun, req: Req, caller: Caller | undefined) => Promise<unknown>;
  /** A list: leaves out what the caller may not see (`visible` of each child's resource path). */
  filter?: (result: never, visible: (resource: string) => boolean) => unknown;
  /** A long request (a key ceremony): streamed as progress lines when the client asks (see streaming.ts). */
  stream?: (ssrun: Ssrun, req: Req, ctx: StreamCtx) => Promise<unknown>;
  /** Open to a key-enrolment session (a pending key assignment), which may do nothing else. */
  enrolment?: true;
  /** A change of one's own keys: needs a login less than 5 minutes old, or the password again (S13). */
  sudo?: (req: Req, caller: Caller) => boolean;
}

export type StreamCtx = { onProgress?: (e: ProgressEvent) => void; signal: AbortSignal; caller: Caller | undefined };

type Visible = (resource: string) => boolean;
/** Lists whose children are principals (users, applications) or groups: by their paths. */
const byPath = (key: 'Principal' | 'Group') => (items: Record<string, string>[], visible: Visible) => items.filter((x) => visible(String(x[key])));
/** One group or configuration (a single read, or an item of a list): the members or principals the caller may see. */
type GroupItem = { Group: string; Members: unknown };
type ConfigItem = { Name: string; Principals?: { Principal: string }[] };
const oneGroup = (g: GroupItem, visible: Visible) => (Array.isArray(g.Members) ? { ...g, Members: (g.Members as string[]).filter((m) => visible(m)) } : g);
const oneConfig = (c: ConfigItem, visible: Visible) => (c.Principals ? { ...c, Principals: c.Principals.filter((p) => visible(p.Principal)) } : c);
/** Groups, and in each (verbose) the members the caller may see. */
const groups = (items: GroupItem[], visible: Visible) => items.filter((g) => visible(g.Group)).map((g) => oneGroup(g, visible));
/** Configurations (system/multi_factor/NAME), and in each the assigned principals the caller may see. */
const configs = (items: ConfigItem[], visible: Visible) => items.filter((c) => visible(`${RESOURCE_MFA}/${c.Name}`)).map((c) => oneConfig(c, visible));
const shows = (visible: Visible, path: unknown) => typeof path !== 'string' || !path.startsWith('principal/') || visible(path);
/** Rules and audit records, by the principal they are about (a record of what a hidden principal did stays). */
const aboutPrincipal = (items: { Principal: string }[], visible: Visible) => items.filter((x) => shows(visible, x.Principal));


const str = (max: number) => ({ type: 'string', maxLength: max });
// Each key route names its user in one place only (the body of POST and PUT, the query of GET and DELETE): the
// guard, the 5-minute check and the handler read the same field.
const keyUserIn = (where: 'body' | 'query') => (r: Req) => String((where === 'body' ? r.body?.user : r.query.user) ?? '');
const keyUser = (where: 'body' | 'query') => (r: Req) => principalPath('user', keyUserIn(where)(r));
/** The caller's own keys (a user session of that user). */
const ownKeys = (where: 'body' | 'query') => (r: Req, c: Caller) => c.type === 'user' && c.name.toLowerCase() === keyUserIn(where)(r).toLowerCase();
const keysOf = (items: { User: string }[], visible: Visible) => items.filter((k) => visible(principalPath('user', k.User)));
const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
const flag = (v: string | undefined) => v === 'true' || v === '1';

const principalResource = (type: PrincipalType) => (req: Req) => principalPath(type, req.params.name ?? '');
const collection = (type: PrincipalType) => () => `principal/internal/${type}`;
const isSelf = (type: PrincipalType) => (req: Req, c: Caller) => c.type === type && c.name.toLowerCase() === String(req.params.name).toLowerCase();
const bodyPrincipalResource = (type: PrincipalType) => (req: Req) => principalPath(type, String(req.body?.name ?? ''));

const mfa = (op: Operation) => ({ op, resource: () => RESOURCE_MFA });
/** The configuration named in the URL is root's (changing or force-deleting it changes root's MFA). */
const configOfRoot = async (r: Req, s: Ssrun) => {
  try {
    return (await s.getConfig(r.params.name ?? '', { verbose: true })).Principals?.some((p) => isRootPath(p.Principal)) ?? false;
  } catch {
    return false; // not found or invalid: the handler says so
  }
};
const policy = (op: Operation) => ({ op, resource: () => `${RESOURCE_MFA}/policy` });
// Secrets in clear are for those who may set them.
const mfaRead = { ...mfa('read'), also: (req: Req) => (flag(req.query.show_secrets) ? { op: 'update' as const, resource: RESOURCE_MFA } : undefined) };

function principalRoutes(type: PrincipalType, base: string): Route[] {
  const cap = type === 'user' ? 'User' : 'Application';
  const routes: Route[] = [
    { method: 'GET', path: base, guard: { op: 'read', resource: collection(type) }, filter: byPath('Principal'), handle: (s, r) => (type === 'user' ? s.listUsers({ verbose: flag(r.query.verbose) }) : s.listApplications({ verbose: flag(r.query.verbose) })) },
    { method: 'GET', path: `${base}/:name`, guard: { op: 'read', resource: principalResource(type), self: isSelf(type) }, handle: (s, r) => s[`get${cap}`](r.params.name!, { verbose: flag(r.query.verbose) }) },
    { method: 'DELETE', path: `${base}/:name`, guard: { op: 'delete', resource: principalResource(type) }, handle: (s, r) => s[`delete${cap}`](r.params.name!) },
  ];
  if (type === 'user') {
    routes.push(
      { method: 'POST', path: base, status: 201, guard: { op: 'create', resource: bodyPrincipalResource('user') }, body: obj({ name: str(200), password: str(4096) }, ['name', 'password']), handle: (s, r) => s.createUser(String(r.body.name), String(r.body.password)) },
      { method: 'PUT', path: `${base}/:name/password`, guard: { op: 'update', resource: principalResource('user'), touchesRoot: (r) => isRootName(r.params.name) }, body: obj({ password: str(4096) }, ['password']), handle: (s, r) => s.setPassword(r.params.name!, String(r.body.password)) },
      { method: 'POST', path: `${base}/:name/unlock`, guard: { op: 'update', resource: principalResource('user'), touchesRoot: (r) => isRootName(r.params.name) }, handle: (s, r) => s.unlockUser(r.params.name!) },
    );
  } else {
    routes.push({ method: 'POST', path: base, status: 201, guard: { op: 'create', resource: bodyPrincipalResource('application') }, body: obj({ name: str(200) }, ['name']), handle: (s, r) => s.createApplication(String(r.body.name)) });
  }
  return routes;
}

// A configuration is checked by the same validator as on the embedded store (named fields, suggestions), so
// both answer a bad file with the same message.
const ANY_JSON = {};

// -m is checked by the service (its shape, then the principal's provider): the schema only bounds its size.
const LOGIN_BODY = { mfa: str(1024), timeout: { type: 'integer', minimum: 1, maximum: 3600 } };

export const ROUTES: Route[] = [
  { method: 'POST', path: '/init', guard: 'none', body: obj({ password: str(4096) }, ['password']), handle: (s, r) => {
    const proxied = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'via'].some((h) => r.headers[h] !== undefined);
    // The socket's own address, not a forwarded one (a loopback proxy must not make a remote client local).
    if (!isLoopbackAddress(r.socket.remoteAddress ?? '') || proxied || r.ip !== r.socket.remoteAddress) throw new SsrunError('FORBIDDEN', 'init over the network is refused; run `ssrun init --home DIR` on the server, or call it from the server itself');
    return s.init(String(r.body.password));
  } },
  { method: 'POST', path: '/connect/token/internal', guard: 'none', login: 'user', body: obj({ username: str(200), password: str(4096), ...LOGIN_BODY }, ['username', 'password']), handle: () => Promise.resolve() },
  { method: 'POST', path: '/connect/api_key_token', guard: 'none', login: 'application', body: obj({ name: str(200), api_key: str(4096), ...LOGIN_BODY }, ['name', 'api_key']), handle: () => Promise.resolve() },
  { method: 'POST', path: '/connect/logout', guard: 'token', handle: (s, r) => s.logout(bearer(r)!) },
  { method: 'GET', path: '/whoami', guard: 'token', handle: (s, r) => s.whoami(bearer(r)) },

  { method: 'GET', path: '/multi_factor', guard: mfaRead, filter: configs, handle: (s, r) => s.listConfigs({ verbose: flag(r.query.verbose), showSecrets: flag(r.query.show_secrets) }) },
  { method: 'GET', path: '/multi_factor/:name', guard: mfaRead, filter: oneConfig, handle: (s, r) => s.getConfig(r.params.name!, { verbose: flag(r.query.verbose), showSecrets: flag(r.query.show_secrets) }) },
  { method: 'POST', path: '/multi_factor/:name/check', guard: mfa('read'), handle: (s, r) => s.checkConfig(r.params.name!) },
  { method: 'POST', path: '/multi_factor', status: 201, guard: mfa('create'), body: ANY_JSON, handle: (s, r) => s.createConfig(r.body) },
  { method: 'PUT', path: '/multi_factor/:name', guard: { ...mfa('update'), touchesRoot: configOfRoot }, body: ANY_JSON, handle: (s, r) => s.updateConfig(r.params.name!, r.body) },
  { method: 'DELETE', path: '/multi_factor/:name', guard: { ...mfa('delete'), touchesRoot: async (r, s) => flag(r.query.force) && (await configOfRoot(r, s)) }, handle: (s, r) => s.deleteConfig(r.params.name!, { force: flag(r.query.force) }) },
  { method: 'POST', path: '/multi_factor_assignments', guard: { ...mfa('update'), touchesRoot: (r) => isRootPath(r.body?.principal) }, body: obj({ principal: str(300), mfa_identity: str(300), config: str(200) }, ['principal', 'config']),
    handle: (s, r) => s.assignPrincipal(String(r.body.principal), r.body.mfa_identity === undefined ? undefined : String(r.body.mfa_identity), String(r.body.config)) },
  { method: 'POST', path: '/multi_factor_verify', guard: { ...mfa('update'), self: (r, c) => c.type === 'user' && c.name.toLowerCase() === String(r.body?.username).toLowerCase() },
    body: obj({ username: str(200), code: str(64) }, ['username', 'code']), handle: (s, r) => s.verifyEnrollment(String(r.body.username), String(r.body.code)) },
  { method: 'POST', path: '/multi_factor_recovery_codes', status: 201, // Not for oneself with a token alone: new codes are a new factor, and changing a factor needs more than a session (S13).
    guard: { ...mfa('update'), touchesRoot: (r) => isRootPath(r.body?.principal) },
    body: obj({ principal: str(300) }, ['principal']), handle: (s, r) => s.recoveryCodes(String(r.body.principal)) },
  // Security keys: users register their own (the use case refuses anyone else); an administrator with update
  // on the user may rename and delete them, and reads them with read.
  { method: 'POST', path: '/multi_factor_keys', status: 201, guard: 'token', enrolment: true, sudo: ownKeys('body'),
    body: obj({ user: str(200), name: str(200), config: str(200), replace: { type: 'boolean' }, timeout: { type: 'integer', minimum: 5, maximum: 600 }, password: str(4096) }, ['user']),
    handle: () => Promise.resolve(),
    stream: async (s, r, { onProgress, signal, caller }) => {
      // Switching one's own factor to keys is an administrator's decision, as assign-principal is.
      if (r.body.replace === true) await s.authorize(caller!, 'update', RESOURCE_MFA);
      return s.addKey({ user: String(r.body.user), name: r.body.name as string | undefined, config: r.body.config as string | undefined, replace: r.body.replace === true, timeoutMs: typeof r.body.timeout === 'number' ? r.body.timeout * 1000 : undefined, onProgress, signal });
    } },
  { method: 'GET', path: '/multi_factor_keys', guard: { op: 'read', resource: (r) => (r.query.user !== undefined ? keyUser('query')(r) : 'principal/internal/user'), self: (r, c) => r.query.user !== undefined && ownKeys('query')(r, c) }, filter: keysOf,
    handle: (s, r) => s.listKeys(r.query.user) },
  { method: 'PUT', path: '/multi_factor_keys/:id', guard: { op: 'update', resource: keyUser('body'), self: ownKeys('body'), touchesRoot: (r) => isRootName(r.body?.user) }, sudo: ownKeys('body'),
    body: obj({ user: str(200), name: str(200), password: str(4096) }, ['user', 'name']), handle: (s, r) => s.renameKey(String(r.body.user), r.params.id!, String(r.body.name)) },
  { method: 'DELETE', path: '/multi_factor_keys/:id', guard: { op: 'update', resource: keyUser('query'), self: ownKeys('query'), touchesRoot: (r) => isRootName(r.query.user) }, sudo: ownKeys('query'),
    handle: (s, r) => {
      // A body is optional here (the password, for an older session), and holds nothing else.
      const b = r.body as unknown;
      if (b !== undefined && b !== null && (typeof b !== 'object' || Array.isArray(b) || Object.keys(b).some((k) => k !== 'password'))) throw new SsrunError('USAGE', 'body: DELETE /multi_factor_keys/KEYID takes at most {"password"}; the user goes in ?user=');
      return s.deleteKey(r.query.user ?? '', r.params.id!);
    } },
  { method: 'DELETE', path: '/multi_factor_assignments', guard: { ...mfa('update'), touchesRoot: (r) => isRootPath(r.query.principal) }, handle: (s, r) => s.removePrincipal(r.query.principal ?? '') },

  ...principalRoutes('user', '/users'),
  ...principalRoutes('application', '/applications'),

  { method: 'GET', path: '/groups', guard: { op: 'read', resource: () => 'principal/internal/group' }, filter: groups, handle: (s, r) => s.listGroups({ verbose: flag(r.query.verbose) }) },
  { method: 'GET', path: '/groups/:name', guard: { op: 'read', resource: (r) => `principal/internal/group/${r.params.name}` }, filter: oneGroup, handle: (s, r) => s.getGroup(r.params.name!, { verbose: flag(r.query.verbose) }) },
  { method: 'POST', path: '/groups', status: 201, guard: { op: 'create', resource: (r) => `principal/internal/group/${String(r.body?.name ?? '')}` }, body: obj({ name: str(200) }, ['name']), handle: (s, r) => s.createGroup(String(r.body.name)) },
  { method: 'DELETE', path: '/groups/:name', guard: { op: 'delete', resource: (r) => `principal/internal/group/${r.params.name}` }, handle: (s, r) => s.deleteGroup(r.params.name!) },
  { method: 'POST', path: '/groups/:name/members', guard: { op: 'update', resource: (r) => `principal/internal/group/${r.params.name}` }, body: obj({ principal: str(300) }, ['principal']),
    handle: (s, r) => s.addMember(r.params.name!, String(r.body.principal)) },
  { method: 'DELETE', path: '/groups/:name/members', guard: { op: 'update', resource: (r) => `principal/internal/group/${r.params.name}` }, handle: (s, r) => s.removeMember(r.params.name!, r.query.principal ?? '') },

  { method: 'GET', path: '/mfa_policies', guard: policy('read'), handle: (s) => s.listPolicies() },
  { method: 'GET', path: '/mfa_policies/:name', guard: policy('read'), handle: (s, r) => s.getPolicy(r.params.name!) },
  { method: 'POST', path: '/mfa_policies', status: 201, guard: policy('create'), body: ANY_JSON, handle: (s, r) => s.createPolicy(r.body, { keepToken: bearer(r) }) },
  { method: 'PUT', path: '/mfa_policies/:name', guard: policy('update'), body: ANY_JSON, handle: (s, r) => s.updatePolicy(r.params.name!, r.body, { keepToken: bearer(r) }) },
  { method: 'DELETE', path: '/mfa_policies/:name', guard: policy('delete'), handle: (s, r) => s.deletePolicy(r.params.name!) },
  { method: 'POST', path: '/mfa_policies/:name/activate', guard: policy('update'), handle: (s, r) => s.setPolicyActive(r.params.name!, true, { keepToken: bearer(r) }) },
  { method: 'POST', path: '/mfa_policies/:name/deactivate', guard: policy('update'), handle: (s, r) => s.setPolicyActive(r.params.name!, false, { keepToken: bearer(r) }) },
  { method: 'GET', path: '/mfa_policy_explain', guard: { ...policy('read'), self: (r, c) => c.path.toLowerCase() === String(r.query.principal).toLowerCase() }, handle: (s, r) => s.explainPolicy(r.query.principal ?? '') },
  { method: 'POST', path: '/mfa_policy_reset_deadline', guard: { ...policy('update'), touchesRoot: (r) => isRootPath(r.body?.principal) }, body: obj({ principal: str(300) }, ['principal']), handle: (s, r) => s.resetDeadline(String(r.body.principal)) },

  { method: 'GET', path: '/authorizations', guard: { op: 'read', resource: () => RESOURCE_AUTHORIZATION }, filter: aboutPrincipal, handle: (s, r) => s.listAuthorizations(r.query.principal) },
  { method: 'POST', path: '/authorizations', status: 201, guard: { op: 'create', resource: () => RESOURCE_AUTHORIZATION },
    body: obj({ principal: str(300), operation: str(20), effect: str(20), resource: str(400) }, ['principal', 'operation', 'effect', 'resource']),
    handle: (s, r) => s.createAuthorization(String(r.body.principal), String(r.body.operation), String(r.body.effect), String(r.body.resource)) },
  { method: 'DELETE', path: '/authorizations', guard: { op: 'delete', resource: () => RESOURCE_AUTHORIZATION },
    handle: (s, r) => s.deleteAuthorization(r.query.principal ?? '', r.query.operation ?? '', r.query.resource ?? '') },
  { method: 'GET', path: '/audit', guard: { op: 'read', resource: () => RESOURCE_AUDIT }, filter: aboutPrincipal, handle: (s, r) => s.listAudit({ since: r.query.since, principal: r.query.principal, limit: r.query.limit ? clampLimit(r.query.limit) : undefined }) },
];

function clampLimit(v: string): number {
  if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw new SsrunError('USAGE', `limit: expected a whole number from 1 to 100000, received ${JSON.stringify(v).slice(0, 40)}`);
  return Math.min(Number(v), 100_000);
}

export function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  // The scheme is case-insensitive (RFC 9110); one space, then the token.
  const m = /^bearer ([A-Za-z0-9_-]{16,200})$/i.exec(h);
  if (!m) throw new SsrunError('UNAUTHENTICATED', 'Authorization: expected "Bearer TOKEN"');
  return m[1];
}

/**
 * A name in the URL is checked with the rules of the same name in a body, before any authorization: an invalid
 * one is a 400 that echoes it only escaped, and never becomes a resource in a refusal or the audit (S25).
 */
export function checkUrlName(method: string, routePath: string, name: string): void {
  const base = routePath.split('/')[1];
  // The labels are the use cases' own, so both refuse a bad name with the same words.
  if (base === 'users') validatePrincipalName(name, 'user');
  else if (base === 'applications') validatePrincipalName(name, 'application');
  else if (base === 'groups') validateGroupName(name);
  else if (base === 'multi_factor') validateConfigName(name, method === 'PUT' ? 'config name (-n)' : 'config name');
  else if (base === 'mfa_policies') validatePolicyName(name, 'policy name (-n)');
  else throw new SsrunError('USAGE', `request: ${routePath} takes no name`);
}

/**
 * The client's address for rate limits, the lockout and the audit: fastify's (the forwarded one from a trusted
 * proxy), if it is an address at all (else the socket's), IPv4-mapped IPv6 written as IPv4, at most 64 characters.
 */
export function clientAddress(req: FastifyRequest): string {
  const raw = isIP(req.ip) ? req.ip : (req.socket.remoteAddress ?? 'unknown');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(raw);
  return (mapped ? mapped[1]! : raw).slice(0, 64);
}
