// Runs bin/ssrun on a pseudo-terminal (util-linux `script -qec`), typing an answer once a prompt shows: for the
// e2e suites whose commands behave differently on a terminal (a login with no -m goes to its factor's prompt).

import { spawn } from 'node:child_process';
import { BIN, ROOT } from './paths.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs ssrun on a pseudo-terminal, typing `send` once `waitFor` shows; resolves with all it showed. */
export function onTty(args: string[], opts: { home: string; env: Record<string, string>; waitFor: string; send: string }): Promise<{ output: string; exitCode: number }> {
  const fullEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', SSRUN_HOME: opts.home, TERM: 'xterm-256color', LANG: 'C.UTF-8', NO_COLOR: '1', ...opts.env };
  const child = spawn('script', ['-qec', [BIN, ...args].map(quote).join(' '), '/dev/null'], { cwd: ROOT, env: fullEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let sent = false;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out on the terminal; it showed:\n${JSON.stringify(output)}`));
    }, 45_000);
    child.stdout.on('data', (d: string) => {
      output += d;
      if (!sent && output.includes(opts.waitFor)) {
        sent = true;
        child.stdin.write(opts.send);
      }
    });
    child.stderr.on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      if (!sent) reject(new Error(`prompt never shown: ${JSON.stringify(opts.waitFor)}; the terminal showed:\n${JSON.stringify(output)}`));
      else resolve({ output, exitCode: code ?? -1 });
    });
  });
}

/** The JSON object a terminal showed (CR LF line ends, maybe after prompts and progress lines). */
export function shownJson(output: string): any {
  const text = output.replace(/\r/g, '');
  const start = text.indexOf('{\n');
  const end = text.indexOf('\n}', start);
  if (start < 0 || end < 0) throw new Error(`no JSON on the terminal:\n${JSON.stringify(output)}`);
  return JSON.parse(text.slice(start, end + 2));
}
