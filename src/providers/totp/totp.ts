// RFC 6238 TOTP with otplib 13 (async verify returning {valid, timeStep}). Replay protection is the core's:
// it commits the matched time step in the store, once.

import { generateSecret, generateURI, verify } from 'otplib';
import type { TotpOptions } from '../../core/model.js';
import type { TotpApi } from '../../core/ports.js';

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
