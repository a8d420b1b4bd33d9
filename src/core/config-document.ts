// An MFA configuration document ({"Type","Name","Options"}): the top level is checked here, the Options by
// the provider of its Type, so every type's errors read alike (field named, received and expected said).

import type { FactorRegistry } from './factor.js';
import type { MfaConfig } from './model.js';
import { fail, pickKeys, requireString, shown, typeName, validateConfigName } from './validate.js';

const TOP_KEYS = ['Type', 'Name', 'Options'] as const;

/** Parses an MFA configuration document (already JSON-decoded). Name may be absent for updates. */
export function parseConfigDocument(raw: unknown, factors: FactorRegistry): Omit<MfaConfig, 'Name'> & { Name: string | undefined } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail('INVALID_CONFIG', `expected a JSON object such as {"Type":${JSON.stringify(factors.types()[0] ?? '…')},"Name":…,"Options":{…}}, received ${typeName(raw)}`);
  }
  const keys = pickKeys(raw as Record<string, unknown>, TOP_KEYS, '');
  const typeRaw = requireString(keys.get('Type'), 'Type', { max: 40 });
  const provider = factors.get(typeRaw);
  if (!provider) fail('INVALID_CONFIG', `Type: unknown type ${shown(typeRaw)}; expected one of: ${factors.types().join(', ')}`);
  const name = keys.has('Name') ? validateConfigName(keys.get('Name')) : undefined;
  return { Type: provider.type, Name: name, Options: provider.parseOptions(keys.get('Options')) };
}

export function parseNewConfig(raw: unknown, factors: FactorRegistry): MfaConfig {
  const doc = parseConfigDocument(raw, factors);
  if (doc.Name === undefined) fail('INVALID_CONFIG', 'Name: required, but missing');
  return { ...doc, Name: doc.Name };
}
