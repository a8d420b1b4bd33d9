// Options of a `webauthn` configuration (security keys and passkeys): the relying party's display name, and
// whether the key must verify its user (a PIN or a fingerprint).

import { fail, pickKeys, requireString, shown, typeName } from '../../core/validate.js';

export const USER_VERIFICATION = ['required', 'preferred', 'discouraged'] as const;
export type UserVerification = (typeof USER_VERIFICATION)[number];

export interface WebauthnOptions {
  RpName: string;
  UserVerification: UserVerification;
}

export const WEBAUTHN_DEFAULTS: WebauthnOptions = { RpName: 'ssrun', UserVerification: 'required' };
/** The configuration every store starts with (it may be deleted). */
export const BUILTIN_WEBAUTHN_CONFIG = 'webauthn';

export function parseWebauthnOptions(raw: unknown): WebauthnOptions {
  if (raw === undefined) return { ...WEBAUTHN_DEFAULTS };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('INVALID_CONFIG', `Options: expected an object, received ${typeName(raw)}`);
  const keys = pickKeys(raw as Record<string, unknown>, ['RpName', 'UserVerification'], 'Options');
  const o: WebauthnOptions = { ...WEBAUTHN_DEFAULTS };
  if (keys.has('RpName')) o.RpName = requireString(keys.get('RpName'), 'Options.RpName', { max: 64 });
  if (keys.has('UserVerification')) {
    const v = keys.get('UserVerification');
    const lower = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
    if (!lower || !(USER_VERIFICATION as readonly string[]).includes(lower)) {
      fail('INVALID_CONFIG', `Options.UserVerification: expected one of ${USER_VERIFICATION.join(', ')}, received ${typeof v === 'string' ? shown(v) : typeName(v)}`);
    }
    o.UserVerification = lower as UserVerification;
  }
  return o;
}

export function loadWebauthnOptions(stored: Record<string, unknown>): WebauthnOptions {
  const o = stored as Partial<WebauthnOptions>;
  return { RpName: o.RpName ?? WEBAUTHN_DEFAULTS.RpName, UserVerification: o.UserVerification ?? WEBAUTHN_DEFAULTS.UserVerification };
}
