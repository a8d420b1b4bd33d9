// TOTP through the project's own verification path (src/providers/totp/totp.ts, the TotpApi the service uses):
// RFC 6238 appendix B and RFC 4226 appendix D known answers (S15), window edges, code shapes (S17).

import { describe, expect, it } from 'vitest';
import { TOTP_DEFAULTS, type TotpOptions } from '../../dist/providers/totp/options.js';
import { totpProvider } from '../../dist/providers/totp/totp.js';

/** RFC 4648 base32 of ASCII text: the RFC seeds as an authenticator app would hold them. */
function base32(text: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of Buffer.from(text, 'ascii')) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

const SEEDS = {
  SHA1: base32('12345678901234567890'),
  SHA256: base32('12345678901234567890123456789012'),
  SHA512: base32('1234567890123456789012345678901234567890123456789012345678901234'),
} as const;

const opts = (o: Partial<TotpOptions>): TotpOptions => ({ ...TOTP_DEFAULTS, ...o });
const at = (seconds: number) => new Date(seconds * 1000);

describe('RFC 6238 appendix B (8 digits, 30 s, T0 = 0), exact step only (Skew 0)', () => {
  const table: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'], // a counter past 2038
  ];
  for (const [t, sha1, sha256, sha512] of table) {
    for (const [Algorithm, code] of [['SHA1', sha1], ['SHA256', sha256], ['SHA512', sha512]] as const) {
      it(`T=${t} ${Algorithm}: ${code}`, async () => {
        const o = opts({ Algorithm, Digits: 8, Skew: 0 });
        expect(await totpProvider.verify({ secret: SEEDS[Algorithm], code, options: o, at: at(t) })).toEqual({ valid: true, timeStep: Math.floor(t / 30) });
        // one digit off is refused
        const wrong = `${code.slice(0, 7)}${(Number(code[7]) + 1) % 10}`;
        expect(await totpProvider.verify({ secret: SEEDS[Algorithm], code: wrong, options: o, at: at(t) })).toEqual({ valid: false });
      });
    }
  }
});

describe('RFC 4226 appendix D (HOTP, SHA1, 6 digits): counter c is the time step of T = 30c', () => {
  const hotp = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  hotp.forEach((code, counter) => {
    it(`counter ${counter}: ${code}`, async () => {
      const r = await totpProvider.verify({ secret: SEEDS.SHA1, code, options: opts({ Skew: 0 }), at: at(counter * 30 + 7) });
      expect(r).toEqual({ valid: true, timeStep: counter });
    });
  });
});

describe('the window: ±Skew steps, no more', () => {
  // HOTP value of counter 5 is the TOTP code of step 5 (T in [150, 180)).
  const code = '254676';
  it.each([
    [0, 5, true],
    [0, 4, false],
    [0, 6, false],
    [1, 4, true], // the code is one step old (-Skew): accepted
    [1, 6, true], // one step ahead (+Skew): accepted
    [1, 3, false], // -Skew-1: refused
    [1, 7, false], // +Skew+1: refused
    [2, 3, true],
    [2, 2, false],
    [2, 8, false],
  ])('Skew %i, now in step %i: %s', async (Skew, step, valid) => {
    const r = await totpProvider.verify({ secret: SEEDS.SHA1, code, options: opts({ Skew }), at: at(step * 30 + 1) });
    expect(r.valid).toBe(valid);
    if (r.valid) expect(r.timeStep).toBe(5);
  });

  it('a 60-second period: steps are 60 s long', async () => {
    // step 2 of a 60 s period starts at T=120: the HOTP code of counter 2
    const o = opts({ Period: 60, Skew: 0 });
    expect(await totpProvider.verify({ secret: SEEDS.SHA1, code: '359152', options: o, at: at(179) })).toEqual({ valid: true, timeStep: 2 });
    expect((await totpProvider.verify({ secret: SEEDS.SHA1, code: '359152', options: o, at: at(180) })).valid).toBe(false);
  });
});

describe('codes that are not codes (S17): refused alike, never thrown', () => {
  it.each([
    ['too short', '25467'],
    ['too long', '2546760'],
    ['8 digits on a 6-digit config', '25467600'],
    ['padded', ' 254676'],
    ['trailing newline', '254676\n'],
    ['full-width digits', '２５４６７６'],
    ['letters', '25467a'],
    ['empty', ''],
  ])('%s', async (_, code) => {
    expect(await totpProvider.verify({ secret: SEEDS.SHA1, code, options: opts({ Skew: 0 }), at: at(5 * 30) })).toEqual({ valid: false });
  });
});

describe('secrets and URIs', () => {
  it('generates 160-bit base32 secrets, different each time', async () => {
    const a = await totpProvider.generateSecret();
    const b = await totpProvider.generateSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(a).not.toBe(b);
  });

  it('the otpauth:// URI carries issuer, label, secret and non-default parameters', async () => {
    const uri = new URL(await totpProvider.uri({ secret: SEEDS.SHA1, issuer: 'Acme', label: 'bob', options: opts({ Digits: 8, Period: 60, Algorithm: 'SHA256' }) }));
    expect(uri.protocol).toBe('otpauth:');
    expect(decodeURIComponent(uri.pathname)).toMatch(/Acme:bob$/);
    expect(uri.searchParams.get('secret')).toBe(SEEDS.SHA1);
    expect(uri.searchParams.get('issuer')).toBe('Acme');
    expect(uri.searchParams.get('digits')).toBe('8');
    expect(uri.searchParams.get('period')).toBe('60');
    expect(uri.searchParams.get('algorithm')).toBe('SHA256');
  });
});
