// What a long step shows while it runs, for every command that has one (login, key registration), on the
// embedded store and over a server alike: info lines on stderr, and a browser ceremony's URL (printed, the
// browser opened, a countdown) through the one ceremony module.

import type { ProgressEvent } from '../core/ports.js';
import { io } from './context.js';

export interface Progress {
  onProgress(event: ProgressEvent): void;
  /** Ends a countdown still on the terminal. */
  stop(): Promise<void>;
}

/** `--no-browser` of this command (ceremonies the embedded store runs for assign-principal read it too). */
let browserWanted = true;
export const setBrowser = (on: boolean) => void (browserWanted = on);

export function progress(): Progress {
  let waiting: Promise<{ stop(): void }> | undefined;
  const stop = async () => (await waiting)?.stop();
  return {
    onProgress(e) {
      if (e.kind === 'info') return io.notice(e.message);
      // A server's hand-over of a redirect ceremony is the client's business (src/remote/client.ts), not shown.
      if (e.kind === 'redirect') return;
      void stop();
      // Loaded only when a ceremony starts (no cost for any other command).
      waiting = import('./ceremony.js').then(({ showCeremony }) => showCeremony(e, io, { noBrowser: !browserWanted }));
    },
    stop,
  };
}
