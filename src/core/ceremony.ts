// The browser-ceremony port: a factor that needs a browser (security keys) builds its options for the site
// the ceremony runs at, and gets the browser's answer back. The embedded store runs it on a one-shot loopback
// page (src/cli/ceremony.ts); `ssrun serve --public-url` runs it on the server's own origin
// (src/remote/ceremony.ts). Both serve the same page (src/ceremony/).

import type { ProgressEvent } from './ports.js';

/** Where a ceremony runs: the WebAuthn relying-party id and the exact origin the browser must report. */
export interface CeremonySite {
  rpId: string;
  origin: string;
}

export interface CeremonyRequest {
  kind: 'register' | 'authenticate';
  /** A line the page shows ("Register a security key for bob"): plain text, escaped by the page. */
  title: string;
  /** The principal it is for (a server keeps one ceremony open per principal). */
  subject: string;
  /** Where the request came from (the client address on a server), for the page to show. */
  from?: string;
  /** The options for the browser library (PublicKeyCredentialCreationOptionsJSON or …RequestOptionsJSON). */
  build: (site: CeremonySite) => Promise<unknown>;
  /** Absolute deadline (ms since epoch): the page closes then, and the ceremony fails with MFA_TIMEOUT. */
  deadline: number;
  signal?: AbortSignal;
  /** The URL to open, and what to do while waiting, as `{ kind: 'ceremony' }` and `info` events. */
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * What the browser answered: the credential (RegistrationResponseJSON or AuthenticationResponseJSON, not yet
 * verified: the provider verifies it against the site) or the browser's refusal (the user cancelled, no key).
 */
export type CeremonyAnswer = { site: CeremonySite } & ({ response: unknown } | { refused: string });

export interface Ceremony {
  /** Runs one ceremony; throws MFA_TIMEOUT at the deadline, CANCELLED on the signal. */
  run(req: CeremonyRequest): Promise<CeremonyAnswer>;
}
