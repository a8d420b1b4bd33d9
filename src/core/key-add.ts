// Registering a security key (`ssrun mfa key add`): the browser ceremony through the principal's key factor
// (outside any transaction), then, in one transaction that re-reads the user, the key and, for the first one,
// the assignment. The assignment is (re)written with the first key, which revokes the user's sessions: a
// password-only session of a pending assignment ends there and cannot add a second key.

import { SsrunError } from './errors.js';
import type { FactorProvider } from './factor.js';
import { DEFAULT_MFA_TIMEOUT_MS, pathOf, type Kit } from './kit.js';
import { keyView, validateKeyName, type AddKeyRequest } from './keys.js';
import type { Principal, StoredConfig } from './model.js';
import { shown } from './validate.js';

type KeyProvider = FactorProvider & Required<Pick<FactorProvider, 'register'>>;

const sameConfig = (p: Principal, name: string) => p.assignment !== null && p.assignment.configName.toLowerCase() === name.toLowerCase();

function refuseOther(kit: Kit, p: Principal, config: string): never {
  const a = p.assignment!;
  if (kit.factors.get(a.configType)?.register) {
    throw new SsrunError('OTHER_FACTOR_ASSIGNED', `${pathOf(p)} uses the security keys of ${shown(a.configName)}, not ${shown(config)}: pass -c ${a.configName} (or --replace to switch, and the keys of ${shown(a.configName)} stop working)`);
  }
  throw new SsrunError('OTHER_FACTOR_ASSIGNED', `${pathOf(p)} uses ${shown(a.configName)} (${a.configType}); pass --replace to switch to security keys (${shown(config)}): the current factor stops working`);
}

/** The configuration: -c, else the user's own key configuration, else the key factor's built-in one. */
async function keyConfig(kit: Kit, p: Principal, name: string | undefined): Promise<{ config: StoredConfig; provider: KeyProvider }> {
  const own = p.assignment && kit.factors.get(p.assignment.configType)?.register ? p.assignment.configName : undefined;
  const fallback = own ?? kit.factors.all().find((f) => f.register && f.builtin)?.builtin?.Name;
  if (name === undefined && !fallback) throw new SsrunError('USAGE', '-c: name the security-key configuration (there is no built-in one)');
  const config = await kit.requireConfig(kit.store, name ?? fallback!);
  const provider = kit.factors.require(config.Type);
  if (!provider.register) throw new SsrunError('USAGE', `-c: ${shown(config.Name)} is a ${config.Type} configuration, not one of security keys (\`ssrun mfa get\` lists them)`);
  return { config, provider: provider as KeyProvider };
}

export async function addKey(kit: Kit, req: AddKeyRequest) {
  const { store } = kit;
  const p = await kit.requirePrincipal(store, 'user', req.user);
  const path = pathOf(p);
  if (kit.actor.principal !== 'local' && kit.actor.principal.toLowerCase() !== path.toLowerCase()) {
    throw new SsrunError('FORBIDDEN', `${kit.actor.principal} may not register a security key for ${path}: users register their own keys (an administrator assigns the configuration, which stays pending until then)`);
  }
  const name = req.name === undefined ? undefined : validateKeyName(req.name);
  const { config, provider } = await keyConfig(kit, p, req.config);
  if (p.assignment && !sameConfig(p, config.Name) && !req.replace) refuseOther(kit, p, config.Name);
  let key;
  try {
    key = await provider.register({
      options: provider.loadOptions(config.Options),
      configName: config.Name,
      principal: { type: 'user', name: p.name, path },
      userHandle: p.id,
      existing: sameConfig(p, config.Name) ? await store.listKeys(p.id) : [],
      ceremony: kit.ceremony,
      deadline: kit.clock.now().getTime() + (req.timeoutMs ?? 2 * DEFAULT_MFA_TIMEOUT_MS),
      signal: req.signal,
      onProgress: req.onProgress,
    });
  } catch (e) {
    if (e instanceof SsrunError && e.code === 'KEY_REJECTED') await store.write((tx) => kit.audit(tx, path, 'mfa.key.add', 'denied', `${config.Name}: ${e.message}`));
    throw e;
  }
  return store.write(async (tx) => {
    const now = await kit.requirePrincipal(tx, 'user', p.name);
    // Nothing of the user changed during the ceremony (a password reset, a new assignment, deleted and made again).
    if (now.id !== p.id || now.epoch !== p.epoch) throw new SsrunError('KEY_REJECTED', `${path} changed while the key was being registered (its password, factor or sessions); nothing was saved: start again`);
    const at = kit.nowIso();
    const first = !sameConfig(now, config.Name) || now.assignment!.pending;
    const replaced = sameConfig(now, config.Name) ? null : (now.assignment?.configName ?? null);
    if (first) {
      if (replaced && !req.replace) refuseOther(kit, now, config.Name);
      await tx.assign(now.id, config.Name, now.name, at, { secret: null, pending: false });
      await kit.audit(tx, path, 'mfa.assign', 'ok', `${config.Name}, security keys${replaced ? ` (replaces ${replaced})` : ''}; the user's sessions end`);
    }
    const count = (await tx.listKeys(now.id)).length;
    const stored = { ...key, principalId: now.id, name: name ?? `Security key ${count + 1}`, createdAt: at, lastUsedAt: null };
    await tx.insertKey(stored);
    await kit.audit(tx, path, 'mfa.key.add', 'ok', `${stored.name} (${key.id.slice(0, 16)}), ${config.Name}, ${key.deviceType}${key.backedUp ? ', backed up' : ''}`);
    return { ...keyView({ ...stored, principal: path }), Config: config.Name, ...(replaced ? { Replaced: replaced } : {}) };
  });
}
