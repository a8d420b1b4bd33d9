// Users and applications: `init`, `user …`, `application …`. Passwords are hashed before any transaction
// opens (a hash is slow), then the write re-checks what it read.

import { subjectOf, type Attempts } from './attempts.js';
import { SsrunError } from './errors.js';
import { ROOT_USER, byName, isRoot, pathOf, principalView, type Kit, type PrincipalView } from './kit.js';
import { principalPath, type Principal, type PrincipalType } from './model.js';
import { MIN_ROOT_PASSWORD_CHARS, shown, validatePassword, validatePrincipalName } from './validate.js';

const ALREADY = 'this store is already initialized (root has a password)';

export function principalUseCases(kit: Kit, attempts: Attempts) {
  const { store, crypto } = kit;

  function createPrincipal(type: PrincipalType, name: string, credential: string | null): Promise<Principal> {
    return store.write(async (tx) => {
      if (await tx.getPrincipal(type, name)) throw new SsrunError('PRINCIPAL_EXISTS', `${principalPath(type, name)} already exists`);
      const p = await tx.insertPrincipal(type, name, credential, kit.nowIso());
      await kit.audit(tx, principalPath(type, name), `${type}.create`, 'ok');
      return p;
    });
  }

  function deletePrincipal(type: PrincipalType, name: string) {
    return store.write(async (tx) => {
      const p = await kit.requirePrincipal(tx, type, name);
      await tx.deletePrincipal(p.id);
      await kit.audit(tx, pathOf(p), `${type}.delete`, 'ok', p.assignment ? `assignment to ${p.assignment.configName} removed` : '');
      return { Deleted: pathOf(p), MfaAssignmentRemoved: p.assignment !== null };
    });
  }

  /**
   * One principal; verbose adds its unused recovery codes (what `mfa recovery-codes` would replace) and its
   * lockout counters by client address (`*`: all addresses together).
   */
  async function getOne(type: PrincipalType, name: string, verbose?: boolean): Promise<PrincipalView> {
    const p = await kit.requirePrincipal(store, type, name);
    const view = principalView(p, verbose);
    if (!verbose) return view;
    const rows = await store.listThrottle(subjectOf(pathOf(p)));
    const RecoveryCodesLeft = await store.recoveryCodesLeft(p.id);
    return { ...view, RecoveryCodesLeft, Lockout: rows.map((r) => ({ Address: r.address === '*' ? 'all addresses' : r.address, FailedAttempts: r.failedCount, LockedUntil: r.lockedUntil })) };
  }

  const list = async (type: PrincipalType, verbose?: boolean) => (await store.listPrincipals(type)).map((p) => principalView(p, verbose)).sort(byName);

  return {
    async init(password: string) {
      validatePassword(password, 'root password', MIN_ROOT_PASSWORD_CHARS);
      if ((await store.getPrincipal('user', ROOT_USER))?.credential) throw new SsrunError('ALREADY_INITIALIZED', ALREADY);
      const hash = await crypto.hashPassword(password);
      return store.write(async (tx) => {
        const root = await tx.getPrincipal('user', ROOT_USER);
        if (root?.credential) throw new SsrunError('ALREADY_INITIALIZED', ALREADY);
        if (root) await tx.setCredential(root.id, hash, kit.nowIso());
        else await tx.insertPrincipal('user', ROOT_USER, hash, kit.nowIso());
        await kit.audit(tx, principalPath('user', ROOT_USER), 'init', 'ok');
        return { Initialized: true, Principal: principalPath('user', ROOT_USER) };
      });
    },

    async createUser(name: string, password: string): Promise<PrincipalView> {
      const n = validatePrincipalName(name, 'user');
      if (n.toLowerCase() === ROOT_USER) throw new SsrunError('PRINCIPAL_EXISTS', `${shown(n)} is reserved; \`ssrun init\` sets the root password`);
      validatePassword(password);
      if (await store.getPrincipal('user', n)) throw new SsrunError('PRINCIPAL_EXISTS', `${principalPath('user', n)} already exists`);
      const hash = await crypto.hashPassword(password);
      return principalView(await createPrincipal('user', n, hash));
    },

    listUsers: async (opts: { verbose?: boolean } = {}): Promise<PrincipalView[]> => list('user', opts.verbose),

    getUser: (name: string, opts: { verbose?: boolean } = {}): Promise<PrincipalView> => getOne('user', name, opts.verbose),

    /** `user unlock`: forgets the user's failures and locks, from every address (audited). */
    async unlockUser(name: string) {
      const p = await kit.requirePrincipal(store, 'user', name);
      const cleared = await attempts.unlock(pathOf(p));
      await store.write((tx) => kit.audit(tx, pathOf(p), 'user.unlock', 'ok', `${cleared} lockout counter${cleared === 1 ? '' : 's'} cleared`));
      return { Principal: pathOf(p), Unlocked: true, CountersCleared: cleared };
    },

    async deleteUser(name: string) {
      if (validatePrincipalName(name, 'user').toLowerCase() === ROOT_USER) throw new SsrunError('ROOT_PROTECTED', 'root cannot be deleted');
      return deletePrincipal('user', name);
    },

    /** Sets a user's password; every session of the user is revoked. */
    async setPassword(name: string, password: string) {
      const n = validatePrincipalName(name, 'user');
      const root = n.toLowerCase() === ROOT_USER;
      validatePassword(password, root ? 'root password' : 'password', root ? MIN_ROOT_PASSWORD_CHARS : undefined);
      await kit.requirePrincipal(store, 'user', n);
      const hash = await crypto.hashPassword(password);
      return store.write(async (tx) => {
        const p = await kit.requirePrincipal(tx, 'user', n);
        await tx.setCredential(p.id, hash, kit.nowIso());
        await kit.audit(tx, pathOf(p), 'user.set-password', 'ok', 'sessions revoked');
        return { Principal: pathOf(p), PasswordChanged: true, SessionsRevoked: true };
      });
    },

    async createApplication(name: string): Promise<PrincipalView & { ApiKey: string }> {
      const n = validatePrincipalName(name, 'application');
      const apiKey = `ssk_${crypto.randomToken()}`;
      const p = await createPrincipal('application', n, crypto.digestToken(apiKey));
      return { ...principalView(p), ApiKey: apiKey };
    },

    listApplications: async (opts: { verbose?: boolean } = {}): Promise<PrincipalView[]> => list('application', opts.verbose),

    getApplication: (name: string, opts: { verbose?: boolean } = {}): Promise<PrincipalView> => getOne('application', name, opts.verbose),

    deleteApplication: async (name: string) => deletePrincipal('application', name),
  };
}

