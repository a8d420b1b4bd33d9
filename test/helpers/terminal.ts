// A one-prompt run of bin/ssrun on a pseudo-terminal (through the one runner, test/helpers/tty.ts), and the
// JSON a terminal showed: for the e2e suites whose commands behave differently on a terminal (a login with no
// -m goes to its factor's prompt).

import { onTty as onTerminal } from './tty.js';

/** Runs ssrun on a pseudo-terminal, typing `send` once `waitFor` shows; resolves with all it showed. */
export function onTty(args: string[], opts: { home: string; env: Record<string, string>; waitFor: string; send: string }): Promise<{ output: string; exitCode: number }> {
  return onTerminal(args, { home: opts.home, env: { NO_COLOR: '1', ...opts.env }, steps: [{ waitFor: opts.waitFor, send: opts.send }], timeout: 45_000 });
}

/** The JSON object a terminal showed (CR LF line ends, maybe after prompts and progress lines). */
export function shownJson(output: string): any {
  const text = output.replace(/\r/g, '');
  const start = text.indexOf('{\n');
  const end = text.indexOf('\n}', start);
  if (start < 0 || end < 0) throw new Error(`no JSON on the terminal:\n${JSON.stringify(output)}`);
  return JSON.parse(text.slice(start, end + 2));
}
