// Options of a `totp` configuration (RFC 6238 parameters; each principal's secret belongs to its assignment),
// and secrets imported with `-m`.

import { fail, integerIn, pickKeys, requireString, shown, typeName } from '../../core/validate.js';

export const TOTP_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export type TotpAlgorithm = (typeof TOTP_ALGORITHMS)[number];

export interface TotpOptions {
  Issuer: string;
  Digits: 6 | 8;
  Period: number;
  Algorithm: TotpAlgorithm;
  Skew: number;
}

export const TOTP_DEFAULTS: TotpOptions = { Issuer: 'ssrun', Digits: 6, Period: 30, Algorithm: 'SHA1', Skew: 1 };
/** The configuration every store starts with (it may be deleted). */
export const BUILTIN_TOTP_CONFIG = 'totp';

const TOTP_KEYS = ['Issuer', 'Digits', 'Period', 'Algorithm', 'Skew'] as const;

/** Every option is optional, with the defaults of authenticator apps. */
export function parseTotpOptions(raw: unknown): TotpOptions {
  if (raw === undefined) return { ...TOTP_DEFAULTS };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('INVALID_CONFIG', `Options: expected an object, received ${typeName(raw)}`);
  const keys = pickKeys(raw as Record<string, unknown>, TOTP_KEYS, 'Options');
  const o: TotpOptions = { ...TOTP_DEFAULTS };
  if (keys.has('Issuer')) {
    o.Issuer = requireString(keys.get('Issuer'), 'Options.Issuer', { max: 64 });
    if (o.Issuer.includes(':')) fail('INVALID_CONFIG', `Options.Issuer: ${shown(o.Issuer)} contains ":", which authenticator apps read as the label separator`);
  }
  if (keys.has('Digits')) o.Digits = integerIn(keys.get('Digits'), 'Options.Digits', (n) => n === 6 || n === 8, '6 or 8') as 6 | 8;
  if (keys.has('Period')) o.Period = integerIn(keys.get('Period'), 'Options.Period', (n) => n >= 15 && n <= 300, 'seconds from 15 to 300');
  if (keys.has('Skew')) o.Skew = integerIn(keys.get('Skew'), 'Options.Skew', (n) => n >= 0 && n <= 2, 'time steps from 0 to 2');
  if (keys.has('Algorithm')) {
    const a = keys.get('Algorithm');
    const upper = typeof a === 'string' ? a.trim().toUpperCase().replace('-', '') : undefined;
    if (!upper || !(TOTP_ALGORITHMS as readonly string[]).includes(upper)) fail('INVALID_CONFIG', `Options.Algorithm: expected one of ${TOTP_ALGORITHMS.join(', ')}, received ${typeof a === 'string' ? shown(a) : typeName(a)}`);
    o.Algorithm = upper as TotpAlgorithm;
  }
  return o;
}

/** Stored options read back, with the defaults for any missing key. */
export function loadTotpOptions(stored: Record<string, unknown>): TotpOptions {
  const o = stored as Partial<TotpOptions>;
  return { Issuer: o.Issuer ?? TOTP_DEFAULTS.Issuer, Digits: o.Digits ?? TOTP_DEFAULTS.Digits, Period: o.Period ?? TOTP_DEFAULTS.Period, Algorithm: o.Algorithm ?? TOTP_DEFAULTS.Algorithm, Skew: o.Skew ?? TOTP_DEFAULTS.Skew };
}

export const MIN_TOTP_SECRET_BYTES = 16;

/** A TOTP secret to import (`-m`): RFC 4648 base32 (no padding needed), at least 128 bits. Never echoed. */
export function validateTotpSecret(value: string): string {
  const v = value.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  if (v === '' || !/^[A-Z2-7]+$/.test(v)) fail('INVALID_TOTP_SECRET', '-m: the secret is not base32 (letters A–Z and digits 2–7); expected the secret an authenticator app shows');
  const bytes = Math.floor((v.length * 5) / 8);
  if (bytes < MIN_TOTP_SECRET_BYTES) fail('INVALID_TOTP_SECRET', `-m: the secret has ${bytes * 8} bits; at least ${MIN_TOTP_SECRET_BYTES * 8} are required`);
  if (bytes > 128) fail('INVALID_TOTP_SECRET', `-m: the secret has ${bytes * 8} bits; at most 1024 are accepted`);
  return v;
}
