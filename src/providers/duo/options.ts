// Options of a `duo` configuration: an Auth API application's integration key, secret key and API host, or
// (`"Prompt": "universal"`) a Web SDK application's Client ID, Client secret and API host for Duo's Universal Prompt.

import { fail, pickKeys, requireString, shown, typeName } from '../../core/validate.js';
import { CLIENT_ID_LENGTH, CLIENT_SECRET_LENGTH, PROMPTS, type DuoOptions, type DuoPrompt } from './types.js';

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

const DUO_KEYS = ['IntegrationKey', 'SecretKey', 'Host', 'CaFile', 'Prompt'] as const;

function parsePrompt(value: unknown): DuoPrompt {
  if (typeof value !== 'string' || !(PROMPTS as readonly string[]).includes(value)) {
    fail('INVALID_CONFIG', `Options.Prompt: expected one of ${PROMPTS.map((p) => JSON.stringify(p)).join(', ')}, received ${typeof value === 'string' ? shown(value) : typeName(value)}`);
  }
  return value as DuoPrompt;
}

/** A Universal Prompt application's keys have Duo's fixed lengths (the SDK refuses others): said here, by field. */
function checkUniversalKeys(o: DuoOptions): void {
  const id = o.IntegrationKey.length;
  if (id !== CLIENT_ID_LENGTH) fail('INVALID_CONFIG', `Options.IntegrationKey: with "Prompt": "universal" it is the Web SDK application's Client ID, ${CLIENT_ID_LENGTH} characters; received ${id}`);
  // The length only: the secret itself is never shown.
  const secret = o.SecretKey.length;
  if (secret !== CLIENT_SECRET_LENGTH) fail('INVALID_CONFIG', `Options.SecretKey: with "Prompt": "universal" it is the Web SDK application's Client secret, ${CLIENT_SECRET_LENGTH} characters; received ${secret}`);
}

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
  if (keys.has('Prompt')) options.Prompt = parsePrompt(keys.get('Prompt'));
  if (options.Prompt === 'universal') checkUniversalKeys(options);
  return options;
}

/** Stored options read back, in their documented order (Prompt only where it was given: older configurations are Auth API ones). */
export function loadDuoOptions(o: Record<string, unknown>): DuoOptions {
  const d = o as Record<string, string>;
  return {
    IntegrationKey: d.IntegrationKey!,
    SecretKey: d.SecretKey!,
    Host: d.Host!,
    ...(d.CaFile !== undefined ? { CaFile: d.CaFile } : {}),
    ...(d.Prompt !== undefined ? { Prompt: d.Prompt as DuoPrompt } : {}),
  };
}

export const isUniversal = (o: DuoOptions) => o.Prompt === 'universal';
