// The WebAuthn checks, with @simplewebauthn/server (loaded only when a key is registered or used). The
// expected relying-party id and origin are always passed (the library treats an omitted RP id as "any"), and
// the signature counter is checked here, not by the library, so that a counter that did not grow is refused
// with its own reason (a possibly cloned key) and committed with a compare-and-set by the core.

import type { CeremonySite } from '../../core/ceremony.js';
import { SsrunError } from '../../core/errors.js';
import type { NewKey } from '../../core/factor.js';
import type { SecurityKey } from '../../core/model.js';
import { sanitizeLine } from '../../core/validate.js';
import type { WebauthnOptions } from './options.js';

const lib = () => import('@simplewebauthn/server');
const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/**
 * What the library said, for a person: origin and relying-party mismatches say what was received and what was
 * expected; anything naming the challenge (a secret of the ceremony) is said without it.
 */
export function why(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  if (/challenge/i.test(m)) return 'the answer is not for this ceremony (its challenge does not match)';
  return sanitizeLine(m, 200);
}

export async function registrationOptions(site: CeremonySite, o: WebauthnOptions, user: { name: string; handle: string }, existing: SecurityKey[], timeoutMs: number) {
  const { generateRegistrationOptions } = await lib();
  return generateRegistrationOptions({
    rpName: o.RpName,
    rpID: site.rpId,
    userName: user.name,
    userID: new TextEncoder().encode(user.handle),
    attestationType: 'none',
    excludeCredentials: existing.filter((k) => k.rpId === site.rpId).map((k) => ({ id: k.id, transports: k.transports as never })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: o.UserVerification },
    timeout: timeoutMs,
  });
}

export async function verifyRegistration(site: CeremonySite, o: WebauthnOptions, challenge: string, response: unknown): Promise<NewKey> {
  const { verifyRegistrationResponse } = await lib();
  let r;
  try {
    r = await verifyRegistrationResponse({ response: response as never, expectedChallenge: challenge, expectedOrigin: site.origin, expectedRPID: site.rpId, requireUserVerification: o.UserVerification === 'required' });
  } catch (e) {
    throw new SsrunError('KEY_REJECTED', `security key not registered: ${why(e)}`);
  }
  if (!r.verified) throw new SsrunError('KEY_REJECTED', 'security key not registered: the answer did not verify');
  const info = r.registrationInfo;
  const sent = (response as { response?: { transports?: unknown } }).response?.transports;
  const transports = info.credential.transports ?? (Array.isArray(sent) ? sent.filter((t): t is string => typeof t === 'string') : []);
  return {
    id: info.credential.id,
    publicKey: b64url(info.credential.publicKey),
    counter: info.credential.counter,
    transports: transports.slice(0, 8).map((t) => sanitizeLine(t, 20)),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    aaguid: info.aaguid,
    rpId: site.rpId,
  };
}

export async function authenticationOptions(site: CeremonySite, o: WebauthnOptions, keys: SecurityKey[], timeoutMs: number) {
  const { generateAuthenticationOptions } = await lib();
  return generateAuthenticationOptions({
    rpID: site.rpId,
    allowCredentials: keys.map((k) => ({ id: k.id, transports: k.transports as never })),
    userVerification: o.UserVerification,
    timeout: timeoutMs,
  });
}

/** The assertion's signature, origin, relying party and user verification; the new counter (checked by the caller). */
export async function verifyAssertion(site: CeremonySite, o: WebauthnOptions, challenge: string, key: SecurityKey, response: unknown): Promise<{ ok: true; counter: number } | { ok: false; why: string }> {
  const { verifyAuthenticationResponse } = await lib();
  try {
    const r = await verifyAuthenticationResponse({
      response: response as never,
      expectedChallenge: challenge,
      expectedOrigin: site.origin,
      expectedRPID: site.rpId,
      // The stored counter is compared by the caller (and committed with a compare-and-set).
      credential: { id: key.id, publicKey: Buffer.from(key.publicKey, 'base64url'), counter: 0, transports: key.transports as never },
      requireUserVerification: o.UserVerification === 'required',
    });
    return r.verified ? { ok: true, counter: r.authenticationInfo.newCounter } : { ok: false, why: 'the signature did not verify' };
  } catch (e) {
    return { ok: false, why: why(e) };
  }
}
