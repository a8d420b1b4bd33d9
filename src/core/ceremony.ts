// The browser-ceremony port: a factor that needs a browser (security keys) builds its options for the site
// the ceremony runs at, and gets the browser's answer back. A factor whose browser page is someone else's (Duo's
// Universal Prompt) uses `redirect`: the browser is sent to the provider and comes back to a one-shot loopback
// address on the user's own machine, whose query the factor reads. The embedded store runs it on a one-shot loopback
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

/** A redirect ceremony: the provider's page, then back to `http://127.0.0.1:PORT/<secret path>` on the user's machine. */
export interface RedirectRequest {
  /** Who it is for (a server keeps one flow open per principal). */
  subject: string;
  /** The URL to open, made for the address the browser is to come back to (`http://127.0.0.1:PORT/<43 characters>`). */
  build: (redirectUri: string) => Promise<string>;
  /** Absolute deadline (ms since epoch): the listener closes then, and the ceremony fails with MFA_TIMEOUT. */
  deadline: number;
  signal?: AbortSignal;
  /** The URL to open and the line to show while waiting (`{ kind: 'ceremony' }`), as for a key ceremony. */
  onProgress?: (event: ProgressEvent) => void;
  /** What the CLI says while it waits. */
  message: string;
}

/** What a redirect may carry back (Duo: duo_code or code, and state; an OAuth error): nothing else is kept. */
export const REDIRECT_KEYS = ['duo_code', 'code', 'state', 'error', 'error_description'] as const;
/** The longest value of one of them that is kept. */
export const MAX_REDIRECT_VALUE = 4096;

/** The query the browser came back with (string values only, at most a few KiB), and the address it came to. */
export interface RedirectReturn {
  params: Record<string, string>;
  redirectUri: string;
}

/** What the factor made of the return, and the line the browser page shows (never a token). */
export interface RedirectOutcome<T> {
  result: T;
  page: { ok: boolean; message: string };
}

/** A host that runs key ceremonies (the CLI's loopback page, a server's public page). */
export interface KeyCeremonies {
  run(req: CeremonyRequest): Promise<CeremonyAnswer>;
}

export interface Ceremony {
  /** Runs one ceremony; throws MFA_TIMEOUT at the deadline, CANCELLED on the signal; absent where none can run. */
  run?(req: CeremonyRequest): Promise<CeremonyAnswer>;
  /**
   * Runs one redirect ceremony: `answer` reads what came back while the browser waits, and the page then says
   * how it ended. Throws MFA_TIMEOUT at the deadline, CANCELLED on the signal; absent where none can run.
   */
  redirect?<T>(req: RedirectRequest, answer: (back: RedirectReturn) => Promise<RedirectOutcome<T>>): Promise<T>;
}
