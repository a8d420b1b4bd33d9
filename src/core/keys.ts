// Security keys (`ssrun mfa key …`): registering one through the principal's key factor (a browser
// ceremony), listing, renaming and deleting them. The first key assigns the configuration; deleting the last
// one removes the assignment. Over a server a user registers their own keys only, and under a policy that
// requires MFA a user may not delete their own last key (an administrator may, audited).

import type { Attempts } from './attempts.js';
import { addKey } from './key-add.js';
import { SsrunError } from './errors.js';
import { DENIED_MESSAGE, type FactorProvider } from './factor.js';
import { DEFAULT_MFA_TIMEOUT_MS, pathOf, type Kit } from './kit.js';
import { principalPath, type Principal, type SecurityKey } from './model.js';
import type { PolicyChecks } from './policy-checks.js';
import type { ProgressEvent, StoreOps } from './ports.js';
import { hasUnsafe, shown, validatePassword, validatePrincipalName } from './validate.js';

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
  if (v.length > 64 || hasUnsafe(v)) throw new SsrunError('INVALID_NAME', `${field}: expected a key name of 1 to 64 printable characters, received ${shown(v)}`);
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
    return kit.requirePrincipal(ops, 'user', name);
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
      await tx.deleteKey(p.id, keyId, kit.nowIso());
      if (last && p.assignment) {
        await tx.unassign(p.id, kit.nowIso());
        await kit.audit(tx, pathOf(p), 'mfa.unassign', 'ok', `${p.assignment.configName} (last security key deleted)`);
      }
      await kit.audit(tx, pathOf(p), 'mfa.key.delete', 'ok', `${key.name} (${keyId.slice(0, 16)})${last ? ', the last key' : ''}`);
      return { User: p.name, KeyId: keyId, Deleted: true, AssignmentRemoved: last && p.assignment !== null };
    });
  }

  return { addKey: (req: AddKeyRequest) => addKey(kit, req), listKeys, renameKey, deleteKey, confirmPassword: (user: string, password: string) => confirmPassword(kit, attempts, user, password) };
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
