// Runs the built binary on a pseudo-terminal (util-linux `script`), answering prompts as they appear: the
// TTY cases of the e2e suites.

import { spawn } from 'node:child_process';
import { BIN, ROOT } from './paths.js';

export interface Step {
  /** Wait until the terminal shows this (after the previous step's match)… */
  waitFor: string;
  /** …then type this. */
  send: string;
}

export interface TtyResult {
  /** Everything the terminal showed (stdout and stderr together, with CR LF line ends). */
  output: string;
  exitCode: number;
}

export interface TtyOptions {
  home: string;
  env?: Record<string, string>;
  steps?: Step[];
  timeout?: number;
  /** Redirect stdout to this file (stderr stays on the terminal). */
  stdoutTo?: string;
  /** The terminal's width (stty cols). */
  columns?: number;
}

export const ESC = '\u001b';

export const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
export const crlf = (s: string) => s.replace(/\n/g, '\r\n');
/** The terminal's output less its escape sequences (colours, cursor moves). */
export const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');

/** The environment is minimal and fixed (no CI, FORCE_COLOR or NO_COLOR from outside). */
export function onTty(args: string[], opts: TtyOptions): Promise<TtyResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', SSRUN_HOME: opts.home, TERM: 'xterm-256color', LANG: 'C.UTF-8', ...opts.env };
  const stty = opts.columns ? `stty cols ${opts.columns} rows 50; ` : '';
  const command = stty + [BIN, ...args].map(quote).join(' ') + (opts.stdoutTo ? ` > ${quote(opts.stdoutTo)}` : '');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const steps = [...(opts.steps ?? [])];
  let output = '';
  let from = 0;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out on the terminal; it showed:\n${JSON.stringify(output)}`));
    }, opts.timeout ?? 30_000);
    const answer = () => {
      while (steps.length > 0) {
        const at = output.indexOf(steps[0]!.waitFor, from);
        if (at < 0) return;
        from = at + steps[0]!.waitFor.length;
        child.stdin.write(steps.shift()!.send);
      }
    };
    child.stdout.on('data', (d: string) => {
      output += d;
      answer();
    });
    child.stderr.on('data', (d: string) => {
      output += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      if (steps.length > 0) reject(new Error(`prompt never shown: ${JSON.stringify(steps[0]!.waitFor)}; the terminal showed:\n${JSON.stringify(output)}`));
      else resolve({ output, exitCode: code ?? -1 });
    });
  });
}
