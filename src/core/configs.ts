// MFA configurations: `mfa get|create|update|delete`. Options are checked, shown and merged by the provider
// of the configuration's Type; the store seals the provider's secret options.

import { parseConfigDocument, parseNewConfig } from './config-document.js';
import { SsrunError } from './errors.js';
import { byName, plural, type ConfigView, type Kit } from './kit.js';
import { REDACTED, type MfaConfig } from './model.js';
import type { PolicyChecks } from './policy-checks.js';
import type { ConfigRecord } from './ports.js';
import { parsePrincipalPath, shown, validateConfigName } from './validate.js';

/** How long `mfa check` waits for the provider. */
const CHECK_TIMEOUT_MS = 20_000;

const words = (key: string) => key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();

export function configUseCases(kit: Kit, checks: PolicyChecks) {
  const { store, factors } = kit;
  const record = (c: MfaConfig): ConfigRecord => ({ ...c, secretKeys: factors.require(c.Type).secretOptions });

  return {
    async listConfigs(opts: { verbose?: boolean; showSecrets?: boolean } = {}): Promise<ConfigView[]> {
      const configs = (await store.listConfigs()).sort(byName);
      const views: ConfigView[] = [];
      for (const c of configs) views.push(await kit.configView(c, opts));
      if (opts.showSecrets) await kit.audit(store, '-', 'mfa.show-secrets', 'ok', 'all configurations');
      return views;
    },

    async getConfig(name: string, opts: { verbose?: boolean; showSecrets?: boolean } = {}): Promise<ConfigView> {
      const view = await kit.configView(await kit.requireConfig(store, name), opts);
      if (opts.showSecrets) await kit.audit(store, '-', 'mfa.show-secrets', 'ok', view.Name);
      return view;
    },

    async createConfig(input: unknown): Promise<ConfigView> {
      const config = parseNewConfig(input, factors);
      for (const key of factors.require(config.Type).secretOptions) {
        if (config.Options[key] === REDACTED) throw new SsrunError('INVALID_CONFIG', `Options.${key}: is the redacted placeholder ${shown(REDACTED)}; give the real ${words(key)}`);
      }
      const created = await store.write(async (tx) => {
        const existing = await tx.findConfig(config.Name);
        if (existing) throw new SsrunError('CONFIG_EXISTS', `MFA configuration ${shown(existing.Name)} already exists (names are case-insensitive); use \`ssrun mfa update\``);
        const c = await tx.insertConfig(record(config), kit.nowIso());
        await kit.audit(tx, '-', 'mfa.create', 'ok', c.Name);
        return c;
      });
      return kit.configView(created);
    },

    async updateConfig(name: string, input: unknown): Promise<ConfigView> {
      const doc = parseConfigDocument(input, factors);
      const target = validateConfigName(name, 'config name (-n)');
      const updated = await store.write(async (tx) => {
        const existing = await kit.requireConfig(tx, target);
        if (doc.Name !== undefined && doc.Name.toLowerCase() !== existing.Name.toLowerCase()) {
          throw new SsrunError('NAME_IMMUTABLE', `Name: the file says ${shown(doc.Name)} but -n says ${shown(existing.Name)}; a configuration's name cannot change`);
        }
        if (doc.Type !== existing.Type) {
          throw new SsrunError('TYPE_IMMUTABLE', `Type: ${shown(existing.Name)} is ${shown(existing.Type)}, the file says ${shown(doc.Type)}; a configuration's type cannot change`);
        }
        const Options = factors.require(existing.Type).merge(doc.Options, existing.Options);
        const u = await tx.updateConfig(existing.Name, record({ Type: existing.Type, Name: existing.Name, Options }), kit.nowIso());
        await kit.audit(tx, '-', 'mfa.update', 'ok', existing.Name);
        return u;
      });
      return kit.configView(updated);
    },

    /** `mfa check`: whether the provider accepts the configuration's credentials (the secret never leaves the service). */
    async checkConfig(name: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ Name: string; Type: string; Works: true } & Record<string, string | boolean>> {
      const c = await kit.requireConfig(store, name);
      const provider = factors.require(c.Type);
      if (!provider.check) {
        const can = factors.all().filter((f) => f.check).map((f) => f.type);
        throw new SsrunError('USAGE', `mfa check: ${shown(c.Name)} is a ${c.Type} configuration, which has no provider credentials to check (${can.join(', ')} configurations have)`);
      }
      let detail: Record<string, string>;
      try {
        detail = await provider.check(provider.loadOptions(c.Options), { deadline: kit.clock.now().getTime() + (opts.timeoutMs ?? CHECK_TIMEOUT_MS), signal: opts.signal });
      } catch (e) {
        if (e instanceof SsrunError) throw new SsrunError(e.code, `MFA configuration ${shown(c.Name)}: ${e.message}`, e.detail);
        throw e;
      }
      return { Name: c.Name, Type: c.Type, Works: true, ...detail };
    },

    async deleteConfig(name: string, opts: { force?: boolean } = {}) {
      return store.write(async (tx) => {
        const existing = await kit.requireConfigName(tx, name);
        const principals = await tx.principalsOfConfig(existing.Name);
        if (principals.length > 0 && !opts.force) {
          throw new SsrunError('CONFIG_IN_USE', `MFA configuration ${shown(existing.Name)} is assigned to ${plural(principals.length, 'principal')}; remove them first or pass --force`, {
            principals: principals.length,
          });
        }
        const at = kit.nowIso();
        for (const p of principals) {
          const ref = parsePrincipalPath(p.path);
          const principal = await tx.getPrincipal(ref.type, ref.name);
          if (principal) await tx.unassign(principal.id, at);
        }
        await tx.deleteConfig(existing.Name);
        // A policy's Factors may name it: no covered principal may be left with no allowed factor, nor root locked out.
        await checks.checkPolicies(tx, await tx.listPolicies());
        await kit.audit(tx, '-', 'mfa.delete', 'ok', `${existing.Name}${principals.length ? `, ${principals.length} assignments removed` : ''}`);
        return { Deleted: existing.Name, PrincipalsUnassigned: principals.length };
      });
    },
  };
}
