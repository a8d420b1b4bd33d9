// Options of a `duo` configuration: an Auth API application's integration key, secret key and API host.

import { fail, pickKeys, requireString, shown, typeName } from '../../core/validate.js';
import type { DuoOptions } from './types.js';

const HOST_RE = /^(?=.{1,253}(?::|$))[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::(\d{1,5}))?$/;

export function validateHost(value: string, field: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) fail('INVALID_CONFIG', `${field}: ${shown(value)} has a scheme; expected a bare hostname such as api-XXXXXXXX.duosecurity.com`);
  if (value.includes('/')) fail('INVALID_CONFIG', `${field}: ${shown(value)} has a path; expected hostname[:port] only`);
  const m = HOST_RE.exec(value);
  if (!m) fail('INVALID_CONFIG', `${field}: ${shown(value)} is not a hostname; expected hostname[:port], such as api-XXXXXXXX.duosecurity.com`);
  if (m[1] !== undefined) {
    const port = Number(m[1]);
    if (port < 1 || port > 65535) fail('INVALID_CONFIG', `${field}: port ${port} is out of range 1–65535`);
  }
  return value;
}

const DUO_KEYS = ['IntegrationKey', 'SecretKey', 'Host', 'CaFile'] as const;

export function parseDuoOptions(raw: unknown): DuoOptions {
  if (raw === undefined) fail('INVALID_CONFIG', 'Options: required, but missing');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('INVALID_CONFIG', `Options: expected an object, received ${typeName(raw)}`);
  const keys = pickKeys(raw as Record<string, unknown>, DUO_KEYS, 'Options');
  const options: DuoOptions = {
    IntegrationKey: requireString(keys.get('IntegrationKey'), 'Options.IntegrationKey', { max: 128 }),
    SecretKey: requireString(keys.get('SecretKey'), 'Options.SecretKey', { secret: true }),
    Host: validateHost(requireString(keys.get('Host'), 'Options.Host', { max: 260 }), 'Options.Host'),
  };
  if (keys.has('CaFile')) options.CaFile = requireString(keys.get('CaFile'), 'Options.CaFile');
  return options;
}

/** Stored options read back, in their documented order. */
export function loadDuoOptions(o: Record<string, unknown>): DuoOptions {
  const d = o as Record<string, string>;
  return { IntegrationKey: d.IntegrationKey!, SecretKey: d.SecretKey!, Host: d.Host!, ...(d.CaFile !== undefined ? { CaFile: d.CaFile } : {}) };
}
