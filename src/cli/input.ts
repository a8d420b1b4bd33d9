// Input from files, stdin and prompts, with the limits and messages the README documents.

import { readFileSync, statSync } from 'node:fs';
import { SsrunError } from '../core/errors.js';
import { MAX_INPUT_BYTES, MAX_PASSWORD_BYTES, parseJsonText } from '../core/validate.js';
import { canPrompt, io } from './context.js';

async function readStdin(limit: number, what: string, allowed = limit): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new SsrunError('INPUT_TOO_LARGE', `${what}: more than ${allowed} bytes on stdin, at most ${allowed} allowed`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads and decodes a JSON document from FILE or - (stdin), at most 64 KiB. */
export async function readJsonInput(file: string): Promise<unknown> {
  if (file === '-') return parseJsonText(await readStdin(MAX_INPUT_BYTES, 'stdin'), 'stdin');
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new SsrunError('FILE_UNREADABLE', `-f ${file}: not a regular file`);
    if (st.size > MAX_INPUT_BYTES) throw new SsrunError('INPUT_TOO_LARGE', `-f ${file}: ${st.size} bytes, at most ${MAX_INPUT_BYTES} allowed`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof SsrunError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code ?? 'cannot read';
    throw new SsrunError('FILE_UNREADABLE', `-f ${file}: ${why}`);
  }
  return parseJsonText(text, file);
}

/** Reads a secret (password, API key) from stdin: the whole input less one trailing newline. */
export async function readSecretFromStdin(what: string): Promise<string> {
  // Room for the trailing newline (CR LF) that is not part of the secret.
  const text = await readStdin(MAX_PASSWORD_BYTES + 2, what, MAX_PASSWORD_BYTES);
  return text.replace(/\r?\n$/, '');
}

export interface SecretSource {
  value?: string;
  fromStdin?: boolean;
  flag: string;
  stdinFlag: string;
  what: string;
  /** Ask twice when creating. */
  confirm?: boolean;
  /** When creating: the fewest characters accepted, said before asking (a shorter one is asked for again). */
  minChars?: number;
}

/** How many times a new secret is asked for (too short, or the two differ) before giving up. */
export const PROMPT_TRIES = 3;

const plural = (n: number, what: string) => `${n} ${n === 1 ? what : what === 'try' ? 'tries' : `${what}s`}`;

/**
 * A new secret on a terminal: the rule said first, typed twice (nothing is echoed, not even a `*` per
 * character), asked again up to PROMPT_TRIES times when too short or when the two differ.
 */
async function promptNew(src: SecretSource, ask: (message: string) => Promise<string>): Promise<string> {
  const Label = `${src.what[0]!.toUpperCase()}${src.what.slice(1)}`;
  io.notice(`${src.minChars ? `the ${src.what} needs at least ${plural(src.minChars, 'character')}; ` : ''}what you type is not shown`);
  let failure = '';
  for (let attempt = 1; attempt <= PROMPT_TRIES; attempt++) {
    const left = PROMPT_TRIES - attempt;
    const again = left > 0 ? `; try again (${plural(left, 'try')} left)` : '';
    const first = await ask(`${Label}:`);
    const chars = [...first].length;
    if (src.minChars !== undefined && chars < src.minChars) {
      failure = `${src.what}: too short; at least ${src.minChars} characters required`;
      if (left > 0) io.notice(`too short: ${plural(chars, 'character')}, at least ${src.minChars} needed${again}`);
      continue;
    }
    if (!src.confirm || (await ask(`Repeat the ${src.what}:`)) === first) return first;
    failure = `the two ${src.what}s differ`;
    if (left > 0) io.notice(`the two ${src.what}s differ${again}`);
  }
  throw new SsrunError('INVALID_PASSWORD', `${failure}; ${PROMPT_TRIES} tries, nothing was changed`);
}

export async function obtainSecret(src: SecretSource): Promise<string> {
  if (src.value !== undefined && src.fromStdin) throw new SsrunError('USAGE', `${src.flag} and ${src.stdinFlag} cannot be used together`);
  if (src.value !== undefined) return src.value;
  if (src.fromStdin) return readSecretFromStdin(src.stdinFlag);
  if (!canPrompt()) {
    throw new SsrunError('USAGE', `${src.what} required: pass ${src.stdinFlag}${src.flag !== src.stdinFlag ? ` (or ${src.flag})` : ''} when not on a terminal`);
  }
  const { password } = await import('@inquirer/prompts');
  // No mask: a `*` per character would tell anyone looking how long the secret is.
  const ask = (message: string) => password({ message });
  if (src.confirm || src.minChars !== undefined) return promptNew(src, ask);
  return ask(`${src.what[0]!.toUpperCase()}${src.what.slice(1)}:`);
}
