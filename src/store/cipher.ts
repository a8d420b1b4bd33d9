// Secrets at rest (S5, S6): AES-256-GCM with a fresh 96-bit IV per encryption; each ciphertext carries a
// format version and the key id; the associated data binds table, row and field, so a ciphertext moved to
// another row or field fails to open. A random data key encrypts secrets; the master key only wraps it.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { SsrunError } from '../core/errors.js';

const VERSION = 'v1';

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** `id`: keyId(key), when the caller keeps it (it is a SHA-256 per call otherwise: most of a small secret's cost). */
export function seal(key: Buffer, plaintext: Buffer, aad: string, id = keyId(key)): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(`ssrun:${VERSION}:${aad}`, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [VERSION, id, iv.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** A sealed value's decipher, its ciphertext still to feed (checks the format and the key id first). */
function decipherOf(key: Buffer, sealed: string, aad: string, id: string) {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION) throw undecryptable(aad, 'unknown format');
  const [, kid, ivText, ctText, tagText] = parts as [string, string, string, string, string];
  if (kid !== id) throw undecryptable(aad, `it was sealed with key ${kid}, not ${id}`);
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  if (iv.length !== 12 || tag.length !== 16) throw undecryptable(aad, 'malformed IV or tag');
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  decipher.setAAD(Buffer.from(`ssrun:${VERSION}:${aad}`, 'utf8'));
  decipher.setAuthTag(tag);
  return { decipher, ctText };
}

const undecryptable = (aad: string, why: string) => new SsrunError('SECRET_UNDECRYPTABLE', `a stored secret (${aad}) cannot be decrypted: ${why}`);
const AUTH_FAILED = 'authentication failed (tampered, moved or wrong key)';

/** Opens a sealed value; any tampering, a wrong key or a wrong binding throws SECRET_UNDECRYPTABLE. */
export function open(key: Buffer, sealed: string, aad: string, id = keyId(key)): Buffer {
  const { decipher, ctText } = decipherOf(key, sealed, aad, id);
  try {
    return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]);
  } catch {
    throw undecryptable(aad, AUTH_FAILED);
  }
}

/** open() of a UTF-8 text, decoded by the decipher itself (fewer buffers: a listing opens one per row). */
export function openText(key: Buffer, sealed: string, aad: string, id = keyId(key)): string {
  const { decipher, ctText } = decipherOf(key, sealed, aad, id);
  try {
    // Returned only once final() has checked the tag.
    const text = decipher.update(ctText, 'base64url', 'utf8');
    return text + decipher.final('utf8');
  } catch {
    throw undecryptable(aad, AUTH_FAILED);
  }
}

export const DATA_KEY_AAD = 'meta:data_key';

export function newDataKey(): Buffer {
  return randomBytes(32);
}
