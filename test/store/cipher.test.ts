// S5, S8 on the cipher itself (the built dist/store/cipher.js): a fresh IV per seal, and any change to the
// IV, ciphertext, tag, key id, key or associated data makes opening fail with SECRET_UNDECRYPTABLE.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cipher } from './util.js';

const key = randomBytes(32);
const aad = 'mfa_configs:00000000-0000-0000-0000-000000000001:secrets';
const plaintext = Buffer.from(JSON.stringify({ SecretKey: 'the-one-secret-sealed-many-times-0000000' }));

function parts(sealed: string) {
  const [version, kid, iv, ct, tag] = sealed.split('.');
  return { version: version!, kid: kid!, iv: iv!, ct: ct!, tag: tag! };
}

function expectUndecryptable(f: () => unknown) {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect((error as { code?: string } | undefined)?.code).toBe('SECRET_UNDECRYPTABLE');
}

describe('S8: IVs', () => {
  it('10,000 seals of one secret under one key have 10,000 distinct 96-bit IVs (and distinct ciphertexts)', () => {
    const ivs = new Set<string>();
    const cts = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const p = parts(cipher.seal(key, plaintext, aad));
      expect(Buffer.from(p.iv, 'base64url')).toHaveLength(12);
      ivs.add(p.iv);
      cts.add(p.ct);
    }
    expect(ivs.size).toBe(10_000);
    expect(cts.size).toBe(10_000);
  });

  it('a sealed value carries its format version and key id, and opens back', () => {
    const sealed = cipher.seal(key, plaintext, aad);
    expect(parts(sealed).version).toBe('v1');
    expect(parts(sealed).kid).toBe(cipher.keyId(key));
    expect(cipher.open(key, sealed, aad).equals(plaintext)).toBe(true);
    expect(sealed).not.toContain('the-one-secret');
  });
});

describe('S8: tampering', () => {
  const sealed = cipher.seal(key, plaintext, aad);
  const p = parts(sealed);
  const join = (q: typeof p) => [q.version, q.kid, q.iv, q.ct, q.tag].join('.');
  /** Flips one bit of byte I of a base64url field. */
  const flip = (field: string, i: number) => {
    const b = Buffer.from(field, 'base64url');
    b[i] = b[i]! ^ 0x01;
    return b.toString('base64url');
  };

  it('every single-bit change of the IV fails', () => {
    for (let i = 0; i < 12; i++) expectUndecryptable(() => cipher.open(key, join({ ...p, iv: flip(p.iv, i) }), aad));
  });

  it('every single-bit change of the ciphertext fails', () => {
    const n = Buffer.from(p.ct, 'base64url').length;
    for (let i = 0; i < n; i++) expectUndecryptable(() => cipher.open(key, join({ ...p, ct: flip(p.ct, i) }), aad));
  });

  it('every single-bit change of the tag fails, and a truncated tag fails', () => {
    for (let i = 0; i < 16; i++) expectUndecryptable(() => cipher.open(key, join({ ...p, tag: flip(p.tag, i) }), aad));
    expectUndecryptable(() => cipher.open(key, join({ ...p, tag: Buffer.from(p.tag, 'base64url').subarray(0, 12).toString('base64url') }), aad));
  });

  it('a ciphertext cut short or lengthened fails', () => {
    const ct = Buffer.from(p.ct, 'base64url');
    expectUndecryptable(() => cipher.open(key, join({ ...p, ct: ct.subarray(0, ct.length - 1).toString('base64url') }), aad));
    expectUndecryptable(() => cipher.open(key, join({ ...p, ct: Buffer.concat([ct, Buffer.from([0])]).toString('base64url') }), aad));
  });

  it('another row, table or field in the associated data fails (a ciphertext cannot be moved)', () => {
    for (const other of ['mfa_configs:00000000-0000-0000-0000-000000000002:secrets', 'mfa_configs:00000000-0000-0000-0000-000000000001:options', 'meta:data_key'])
      expectUndecryptable(() => cipher.open(key, sealed, other));
  });

  it('another key fails, whether or not the key id is rewritten to match it', () => {
    const other = randomBytes(32);
    expectUndecryptable(() => cipher.open(other, sealed, aad));
    expectUndecryptable(() => cipher.open(other, join({ ...p, kid: cipher.keyId(other) }), aad));
  });

  it('an unknown format version or a malformed value fails', () => {
    expectUndecryptable(() => cipher.open(key, join({ ...p, version: 'v2' }), aad));
    expectUndecryptable(() => cipher.open(key, 'not a sealed value', aad));
    expectUndecryptable(() => cipher.open(key, `${sealed}.extra`, aad));
  });
});
