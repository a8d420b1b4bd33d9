// Input from files, stdin and prompts, with the limits and messages the README documents.

import { readFileSync, statSync } from 'node:fs';
import { SsrunError } from '../core/errors.js';
import { MAX_INPUT_BYTES, MAX_PASSWORD_BYTES, parseJsonText } from '../core/validate.js';
import { canPrompt } from './context.js';

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
}

export async function obtainSecret(src: SecretSource): Promise<string> {
  if (src.value !== undefined && src.fromStdin) throw new SsrunError('USAGE', `${src.flag} and ${src.stdinFlag} cannot be used together`);
  if (src.value !== undefined) return src.value;
  if (src.fromStdin) return readSecretFromStdin(src.stdinFlag);
  if (!canPrompt()) {
    throw new SsrunError('USAGE', `${src.what} required: pass ${src.stdinFlag}${src.flag !== src.stdinFlag ? ` (or ${src.flag})` : ''} when not on a terminal`);
  }
  const { password } = await import('@inquirer/prompts');
  const first = await password({ message: `${src.what[0]!.toUpperCase()}${src.what.slice(1)}:`, mask: '*' });
  if (src.confirm) {
    const again = await password({ message: `Repeat the ${src.what}:`, mask: '*' });
    if (again !== first) throw new SsrunError('INVALID_PASSWORD', `the two ${src.what}s differ; nothing was changed`);
  }
  return first;
}
