// A wait for the user's answer on a device (a push, a call), said on stderr with the time left: on a terminal
// one line rewritten every second (`Waiting for approval on iOS (…0100): 55 s left, Ctrl-C to cancel`), else a
// plain line at the start and at every tenth second. The provider says what and until when; this renders it.

import type { ProgressEvent } from '../core/ports.js';
import type { Io } from './context.js';

export type WaitingEvent = Extract<ProgressEvent, { kind: 'waiting' }>;

export interface Countdown {
  /** A line to print while the countdown shows: printed above it, and the countdown redrawn. */
  notice(text: string): void;
  /** Ends the countdown (its line is cleared from a terminal). */
  stop(): void;
}

const CLEAR = '\r\u001b[2K';

export function countdown(e: WaitingEvent, io: Io, write: (text: string) => void, now: () => number = Date.now): Countdown {
  const left = () => Math.max(0, Math.ceil((e.deadline - now()) / 1000));
  if (!io.stderrIsTTY) {
    let said = left();
    io.notice(`${e.message}: ${said} s left`);
    const timer = setInterval(() => {
      const s = left();
      if (s > 0 && s % 10 === 0 && s < said) {
        said = s;
        io.notice(`${e.message}: ${s} s left`);
      }
    }, 250);
    return { notice: (text) => io.notice(text), stop: () => clearInterval(timer) };
  }
  let shown = false;
  const draw = () => {
    write(`${CLEAR}ssrun: ${e.message}: ${left()} s left, Ctrl-C to cancel`);
    shown = true;
  };
  draw();
  const timer = setInterval(draw, 1000);
  return {
    notice(text) {
      write(CLEAR);
      io.notice(text);
      draw();
    },
    stop() {
      clearInterval(timer);
      if (shown) write(CLEAR);
      shown = false;
    },
  };
}
