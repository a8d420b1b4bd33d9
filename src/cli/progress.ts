// What a long step shows while it runs, for every command that has one (login, key registration), on the
// embedded store and over a server alike: info lines on stderr, and a browser ceremony's URL (printed, the
// browser opened, a countdown) through the one ceremony module.

import type { ProgressEvent } from '../core/ports.js';
import { io } from './context.js';
import { countdown, type Countdown } from './countdown.js';

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
  // A wait on a device (push, call), counted down.
  let counting: Countdown | undefined;
  const stop = async () => {
    counting?.stop();
    counting = undefined;
    (await waiting)?.stop();
  };
  return {
    onProgress(e) {
      if (e.kind === 'info') return counting ? counting.notice(e.message) : io.notice(e.message);
      // A server's hand-over of a redirect ceremony is the client's business (src/remote/client-login.ts), not shown.
      if (e.kind === 'redirect') return;
      void stop();
      if (e.kind === 'waiting') {
        counting = countdown(e, io, (text) => void process.stderr.write(text));
        return;
      }
      // Loaded only when a ceremony starts (no cost for any other command).
      waiting = import('./ceremony.js').then(({ showCeremony }) => showCeremony(e, io, { noBrowser: !browserWanted }));
    },
    stop,
  };
}
