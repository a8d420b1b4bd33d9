// Security keys (`ssrun mfa key …`): registering one through the principal's key factor (a browser
// ceremony), listing, renaming and deleting them. The first key assigns the configuration; deleting the last
// one removes the assignment. Over a server a user registers their own keys only, and under a policy that
// requires MFA a user may not delete their own last key (an administrator may, audited).

import type { Attempts } from './attempts.js';
import { SsrunError } from './errors.js';
import { DENIED_MESSAGE, type FactorProvider } from './factor.js';
import { DEFAULT_MFA_TIMEOUT_MS, pathOf, type Kit } from './kit.js';
import { principalPath, type Principal, type SecurityKey } from './model.js';
import type { PolicyChecks } from './policy-checks.js';
import type { ProgressEvent, StoreOps } from './ports.js';
import { shown, validatePassword, validatePrincipalName } from './validate.js';

export interface KeyView {
  User: string;
  KeyId: string;
  Name: string;
  CreatedAt: string;
  LastUsedAt: string | null;
  Transports: string[];
  BackedUp: boolean;
}

export interface AddKeyRequest {
  user: string;
  /** The key's name (default "Security key N"). */
  name?: string;
  /** The key configuration (default the key factor's built-in one). */
  config?: string;
  /** Switch a user on another factor to keys. */
  replace?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Over a server: the password again, for a change of one's own keys with an older session (the server checks it). */
  password?: string;
}

const KEY_ID_RE = /^[A-Za-z0-9_-]{1,1400}$/;

export const keyView = (k: SecurityKey & { principal: string }): KeyView => ({
  User: k.principal.slice(k.principal.lastIndexOf('/') + 1),
  KeyId: k.id,
  Name: k.name,
  CreatedAt: k.createdAt,
  LastUsedAt: k.lastUsedAt,
  Transports: k.transports,
  BackedUp: k.backedUp,
});

export function validateKeyName(value: unknown, field = '-n'): string {
  if (typeof value !== 'string' || value.trim() === '') throw new SsrunError('INVALID_NAME', `${field}: expected a key name of 1 to 64 characters, received ${shown(value)}`);
  const v = value.trim();
  // eslint-disable-next-line no-control-regex
  if (v.length > 64 || /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/.test(v)) throw new SsrunError('INVALID_NAME', `${field}: expected a key name of 1 to 64 printable characters, received ${shown(v)}`);
  return v;
}

function validateKeyId(value: unknown): string {
  if (typeof value !== 'string' || !KEY_ID_RE.test(value)) throw new SsrunError('USAGE', `--id: expected a key id (base64url, as \`ssrun mfa key get\` shows it), received ${shown(value)}`);
  return value;
}

export function keyUseCases(kit: Kit, checks: PolicyChecks, attempts: Attempts) {
  const { store, factors } = kit;
  /** The acting user is this principal (a server session of its own): not the local operator, not an administrator. */
  const isSelf = (p: Principal) => kit.actor.principal.toLowerCase() === pathOf(p).toLowerCase();

  async function keyUser(ops: StoreOps, name: string): Promise<Principal> {
    return kit.requirePrincipal(ops, 'user', validatePrincipalName(name, 'user'));
  }

  function keyProvider(config: { Name: string; Type: string }): FactorProvider & Required<Pick<FactorProvider, 'register'>> {
    const provider = factors.require(config.Type);
    if (!provider.register) throw new SsrunError('USAGE', `-c: ${shown(config.Name)} is a ${config.Type} configuration, not one of security keys (\`ssrun mfa get\` lists them)`);
    return provider as FactorProvider & Required<Pick<FactorProvider, 'register'>>;
  }

  const sameConfig = (p: Principal, name: string) => p.assignment !== null && p.assignment.configName.toLowerCase() === name.toLowerCase();

  function refuseOther(p: Principal, config: string): never {
    throw new SsrunError('OTHER_FACTOR_ASSIGNED', `${pathOf(p)} uses ${shown(p.assignment!.configName)} (${p.assignment!.configType}); pass --replace to switch to security keys (${shown(config)}): the current factor stops working`);
  }

  /** Registers a key: the ceremony first (outside any transaction), then the key and, for the first, the assignment. */
  async function addKey(req: AddKeyRequest) {
    const p = await keyUser(store, req.user);
    if (kit.actor.principal !== 'local' && !isSelf(p)) throw new SsrunError('FORBIDDEN', `${kit.actor.principal} may not register a security key for ${pathOf(p)}: users register their own keys (an administrator assigns the configuration, which stays pending until then)`);
    const name = req.name === undefined ? undefined : validateKeyName(req.name);
    const fallback = factors.all().find((f) => f.register && f.builtin)?.builtin?.Name;
    if (req.config === undefined && !fallback) throw new SsrunError('USAGE', '-c: name the security-key configuration (there is no built-in one)');
    const config = await kit.requireConfig(store, req.config ?? fallback!);
    const provider = keyProvider(config);
    if (p.assignment && !sameConfig(p, config.Name) && !req.replace) refuseOther(p, config.Name);
    const existing = sameConfig(p, config.Name) ? await store.listKeys(p.id) : [];
    const key = await provider.register({
      options: provider.loadOptions(config.Options),
      configName: config.Name,
      principal: { type: 'user', name: p.name, path: pathOf(p) },
      userHandle: p.id,
      existing,
      ceremony: kit.ceremony,
      deadline: kit.clock.now().getTime() + (req.timeoutMs ?? 2 * DEFAULT_MFA_TIMEOUT_MS),
      signal: req.signal,
      onProgress: req.onProgress,
    });
    return store.write(async (tx) => {
      const now = await keyUser(tx, p.name);
      const at = kit.nowIso();
      let replaced: string | null = null;
      if (!sameConfig(now, config.Name)) {
        if (now.assignment && !req.replace) refuseOther(now, config.Name);
        replaced = now.assignment?.configName ?? null;
        await tx.assign(now.id, config.Name, now.name, at, { secret: null, pending: false });
        await kit.audit(tx, pathOf(now), 'mfa.assign', 'ok', `${config.Name}, security keys${replaced ? ` (replaces ${replaced})` : ''}`);
      } else if (now.assignment!.pending) {
        await tx.confirmAssignment(now.id);
      }
      const count = (await tx.listKeys(now.id)).length;
      const stored = { ...key, principalId: now.id, name: name ?? `Security key ${count + 1}`, createdAt: at, lastUsedAt: null };
      await tx.insertKey(stored);
      await kit.audit(tx, pathOf(now), 'mfa.key.add', 'ok', `${stored.name} (${key.id.slice(0, 16)}), ${config.Name}, ${key.deviceType}${key.backedUp ? ', backed up' : ''}`);
      return { ...keyView({ ...stored, principal: pathOf(now) }), Config: config.Name, ...(replaced ? { Replaced: replaced } : {}) };
    });
  }

  async function listKeys(user?: string): Promise<KeyView[]> {
    if (user === undefined) return (await store.listKeys()).filter((k) => k.principal.startsWith('principal/internal/user/')).map(keyView);
    const p = await keyUser(store, user);
    return (await store.listKeys(p.id)).map(keyView);
  }

  /** `_password`: over a server, the password again (checked by the server before this runs). */
  async function renameKey(user: string, id: string, newName: string, _password?: string): Promise<KeyView> {
    const keyId = validateKeyId(id);
    const name = validateKeyName(newName);
    return store.write(async (tx) => {
      const p = await keyUser(tx, user);
      if (!(await tx.renameKey(p.id, keyId, name))) throw new SsrunError('KEY_NOT_FOUND', `${pathOf(p)} has no security key ${shown(keyId, 40)}; \`ssrun mfa key get -u ${p.name}\` lists them`);
      await kit.audit(tx, pathOf(p), 'mfa.key.rename', 'ok', `${keyId.slice(0, 16)} now ${name}`);
      return keyView({ ...(await tx.listKeys(p.id)).find((k) => k.id === keyId)!, principal: pathOf(p) });
    });
  }

  async function deleteKey(user: string, id: string, _password?: string) {
    const keyId = validateKeyId(id);
    return store.write(async (tx) => {
      const p = await keyUser(tx, user);
      const keys = await tx.listKeys(p.id);
      const key = keys.find((k) => k.id === keyId);
      if (!key) throw new SsrunError('KEY_NOT_FOUND', `${pathOf(p)} has no security key ${shown(keyId, 40)}; \`ssrun mfa key get -u ${p.name}\` lists them`);
      const last = keys.length === 1;
      if (last && isSelf(p)) {
        const pol = await checks.policyFor(tx, p);
        if (pol) throw new SsrunError('LAST_KEY', `${shown(key.name)} is your last security key and policy ${pol.policies.join(', ')} requires MFA of ${pathOf(p)}: add another key first (ssrun mfa key add), or ask an administrator`);
      }
      await tx.deleteKey(p.id, keyId);
      if (last && p.assignment) {
        await tx.unassign(p.id, kit.nowIso());
        await kit.audit(tx, pathOf(p), 'mfa.unassign', 'ok', `${p.assignment.configName} (last security key deleted)`);
      }
      await kit.audit(tx, pathOf(p), 'mfa.key.delete', 'ok', `${key.name} (${keyId.slice(0, 16)})${last ? ', the last key' : ''}`);
      return { User: p.name, KeyId: keyId, Deleted: true, AssignmentRemoved: last && p.assignment !== null };
    });
  }

  return { addKey, listKeys, renameKey, deleteKey, confirmPassword: (user: string, password: string) => confirmPassword(kit, attempts, user, password) };
}

/**
 * The password again, for a change of one's own keys with an older session ("sudo mode"): counted toward
 * the lockout like a login's password.
 */
async function confirmPassword(kit: Kit, attempts: Attempts, user: string, password: string): Promise<void> {
  const n = validatePrincipalName(user, 'user');
  validatePassword(password);
  const path = principalPath('user', n);
  const attempt = await attempts.begin(path, 'reauth', 30_000);
  try {
    const p = await kit.store.getPrincipal('user', n);
    const ok = await kit.crypto.verifyPassword(password, p?.credential ?? null);
    if (!ok || !p) {
      await attempt.settle('failure', (tx) => kit.audit(tx, path, 'reauth', 'denied', 'wrong password'));
      throw new SsrunError('AUTH_DENIED', DENIED_MESSAGE);
    }
    await attempt.settle('success');
  } finally {
    await attempt.settleLeftover();
  }
}
