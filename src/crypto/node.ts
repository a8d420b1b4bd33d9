// node:crypto behind the core's Crypto port: scrypt password hashes (S9), random tokens, digests and
// constant-time comparisons on fixed-length digests (S10).

import { availableParallelism } from 'node:os';
import { randomInt, createHash, randomBytes, randomUUID, scrypt, timingSafeEqual } from 'node:crypto';
import type { Crypto } from '../core/ports.js';

/** OWASP/S9: N=2^17, r=8, p=1; 16-byte salt; 32-byte key. Parameters are stored with each hash. */
export const SCRYPT = { logN: 17, r: 8, p: 1, keyLength: 32, saltLength: 16 };

// At most (cores - 1) hashes at once, at least one: on a server, a burst of logins (each ~128 MiB and a core
// for a few hundred ms) must not take every core from the request loop, nor every libuv thread from DNS and
// file work. Waiting hashes queue in order.
const MAX_HASHES = Math.max(1, availableParallelism() - 1);
let running = 0;
const waiting: (() => void)[] = [];

async function withHashSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function scryptAsync(password: string, salt: Buffer, logN: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  const N = 2 ** logN;
  return withHashSlot(
    () =>
      new Promise((resolve, reject) => {
        // maxmem must exceed 128 * N * r bytes; give it headroom.
        scrypt(password.normalize('NFC'), salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err ? reject(err) : resolve(key)));
      }),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLength);
  const key = await scryptAsync(password, salt, SCRYPT.logN, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return `$scrypt$ln=${SCRYPT.logN},r=${SCRYPT.r},p=${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const HASH_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
// Verifying against this keeps "unknown user" as slow as "wrong password" (S11).
const DUMMY_HASH = `$scrypt$ln=${SCRYPT.logN},r=${SCRYPT.r},p=${SCRYPT.p}$${Buffer.alloc(16, 7).toString('base64')}$${Buffer.alloc(32, 9).toString('base64')}`;

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const m = HASH_RE.exec(stored ?? DUMMY_HASH) ?? HASH_RE.exec(DUMMY_HASH)!;
  const expected = Buffer.from(m[5]!, 'base64');
  const actual = await scryptAsync(password, Buffer.from(m[4]!, 'base64'), Number(m[1]), Number(m[2]), Number(m[3]), expected.length);
  return timingSafeEqual(actual, expected) && stored !== null;
}

export function digestToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function equalDigests(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

export const nodeCrypto: Crypto = {
  hashPassword,
  verifyPassword,
  randomToken: () => randomBytes(32).toString('base64url'),
  randomString: (alphabet, length) => Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join(''),
  digestToken,
  equalDigests,
  randomId: () => randomUUID(),
};
