// The Duo Auth API client's own vocabulary (factors, options, outcomes), apart from the factor port.

import type { ProgressEvent } from '../../core/ports.js';

export interface DuoOptions {
  /** Auth API: the integration key; Universal Prompt: the Client ID (20 characters). */
  IntegrationKey: string;
  /** Auth API: the secret key; Universal Prompt: the Client secret (40 characters). */
  SecretKey: string;
  Host: string;
  CaFile?: string;
  /** How a login asks Duo: `auth-api` (the default: push, phone, sms, passcodes) or `universal` (Duo's browser prompt). */
  Prompt?: DuoPrompt;
}

export const PROMPTS = ['auth-api', 'universal'] as const;
export type DuoPrompt = (typeof PROMPTS)[number];
/** A Web SDK (Universal Prompt) application's Client ID and Client secret lengths, as Duo issues them. */
export const CLIENT_ID_LENGTH = 20;
export const CLIENT_SECRET_LENGTH = 40;

/** Duo's factors by name: what `-m` may say besides a passcode. */
export const FACTORS = ['push', 'phone', 'sms', 'auto'] as const;
export type Factor = (typeof FACTORS)[number];

/** What Duo is asked for: a passcode (opaque to us: Duo says whether it is right) or a factor. */
export type DuoMethod = { kind: 'passcode'; passcode: string } | { kind: 'factor'; factor: Factor };

export interface DuoRequestContext {
  options: DuoOptions;
  providerUserId: string;
  /** Absolute deadline (ms since epoch, by the clock) for the whole exchange. */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Called when the preauth step asks for a factor and none was given. */
  chooseFactor?: (available: Factor[]) => Promise<DuoMethod>;
  method: DuoMethod | undefined;
  /** Context shown to the user on the device (Duo's pushinfo). */
  pushInfo?: Record<string, string>;
}

export type ProviderOutcome =
  | { result: 'allow'; factor: string; bypass: boolean; message: string }
  | { result: 'deny'; reason: 'denied' | 'policy' | 'fraud' | 'enroll' | 'sms_sent' | 'timeout' | 'invalid_passcode'; message: string };

/** The Auth API exchange. Transport and protocol failures throw PROVIDER_* errors (fail closed). */
export interface DuoAuthApi {
  authenticate(ctx: DuoRequestContext): Promise<ProviderOutcome>;
  /** A signed call that needs no user (/auth/v2/check): throws PROVIDER_* when the credentials do not work. */
  check?(options: DuoOptions, ctx: { deadline: number; signal?: AbortSignal }): Promise<void>;
}
