// Every factor type ssrun knows, in one place: a new type is a folder under providers/ and one line here.
// Each provider loads its heavy parts (node:https, otplib) only when used; tests may hand in their own.

import { createRegistry, type FactorRegistry } from '../core/factor.js';
import { duoFactor } from './duo/factor.js';
import type { DuoAuthApi } from './duo/types.js';
import type { DuoUniversalApi } from './duo/universal.js';
import { totpFactor } from './totp/factor.js';
import type { TotpApi } from './totp/totp.js';
import { webauthnFactor } from './webauthn/factor.js';

export interface FactorClients {
  duo?: DuoAuthApi;
  duoUniversal?: DuoUniversalApi;
  totp?: TotpApi;
}

export function defaultFactors(clients: FactorClients = {}): FactorRegistry {
  return createRegistry([
    duoFactor(clients.duo, clients.duoUniversal),
    totpFactor(clients.totp),
    webauthnFactor(),
  ]);
}
