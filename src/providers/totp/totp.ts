// RFC 6238 TOTP with otplib 13 (async verify returning {valid, timeStep}). Replay protection is the core's:
// it commits the matched time step in the store, once.

import { generateSecret, generateURI, verify } from 'otplib';
import type { TotpOptions } from './options.js';

export { TOTP_DEFAULTS, type TotpOptions } from './options.js';

/** RFC 6238 time-based one-time passwords. */
export interface TotpApi {
  /** A fresh secret of 160 bits, base32. */
  generateSecret(): Promise<string>;
  /** The otpauth:// URI an authenticator app scans. */
  uri(args: { secret: string; issuer: string; label: string; options: TotpOptions }): Promise<string>;
  /** Whether the code matches within ±Skew steps of `at`; the matched time step when it does. */
  verify(args: { secret: string; code: string; options: TotpOptions; at: Date }): Promise<{ valid: true; timeStep: number } | { valid: false }>;
}

const algorithm = (a: TotpOptions['Algorithm']) => a.toLowerCase() as 'sha1' | 'sha256' | 'sha512';

export const totpProvider: TotpApi = {
  generateSecret: async () => generateSecret({ length: 20 }),

  uri: async ({ secret, issuer, label, options }) =>
    generateURI({ issuer, label, secret, algorithm: algorithm(options.Algorithm), digits: options.Digits, period: options.Period }),

  async verify({ secret, code, options, at }) {
    if (!new RegExp(`^[0-9]{${options.Digits}}$`).test(code)) return { valid: false };
    const tolerance = options.Skew * options.Period;
    try {
      const r = await verify({
        secret,
        token: code,
        algorithm: algorithm(options.Algorithm),
        digits: options.Digits,
        period: options.Period,
        epoch: Math.floor(at.getTime() / 1000),
        epochTolerance: [tolerance, tolerance],
      });
      return r.valid && 'timeStep' in r ? { valid: true, timeStep: r.timeStep } : { valid: false };
    } catch {
      // otplib refuses malformed input with typed errors; to a user that is just a wrong code.
      return { valid: false };
    }
  },
};
