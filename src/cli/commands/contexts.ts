// ssrun context …: the servers this CLI talks to; `local` (built in) is the embedded store.

import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { SsrunError } from '../../core/errors.js';
import { parseAddress, urlOf } from '../address.js';
import { confirmOrCancel, quoted, type YesOption } from '../confirm.js';
import { homeOf, io, type GlobalOptions } from '../context.js';
import { printResult } from '../render.js';
import { LOCAL_CONTEXT, readState, updateState, type SavedContext } from '../session.js';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

function validName(name: string): string {
  if (!NAME_RE.test(name)) throw new SsrunError('USAGE', `-n: ${JSON.stringify(name).slice(0, 80)} is not a context name; expected 1–64 letters, digits, . _ -`);
  return name;
}

function view(name: string, c: SavedContext | undefined, current: string) {
  return {
    Current: name === current,
    Name: name,
    Address: c ? urlOf(c) : '(embedded store)',
    VerifyTls: c ? c.scheme === 'https' && c.verify : null,
    Ca: c?.ca ?? null,
  };
}

export async function create(opts: GlobalOptions & { name: string; address: string; port: string; secure?: string; apiVersion?: string; ca?: string }): Promise<void> {
  const name = validName(opts.name);
  if (name === LOCAL_CONTEXT) throw new SsrunError('CONTEXT_EXISTS', '"local" is the built-in context of the embedded store');
  const address = parseAddress(opts.address, opts.port);
  const secure = (opts.secure ?? 'true').toLowerCase();
  if (secure !== 'true' && secure !== 'false') throw new SsrunError('USAGE', `-s: expected true or false, received ${JSON.stringify(opts.secure)}`);
  if ((opts.apiVersion ?? 'v1') !== 'v1') throw new SsrunError('USAGE', `-v: this ssrun speaks API v1, received ${JSON.stringify(opts.apiVersion)}`);
  let ca: string | undefined;
  if (opts.ca !== undefined) {
    if (secure === 'false') throw new SsrunError('USAGE', '--ca: has no effect with -s false (the certificate is not verified)');
    ca = resolve(opts.ca);
    try {
      accessSync(ca, constants.R_OK);
    } catch {
      throw new SsrunError('FILE_UNREADABLE', `--ca: ${ca} cannot be read`);
    }
  }
  const context: SavedContext = { ...address, verify: secure === 'true', ...(ca ? { ca } : {}), version: 'v1' };
  const state = await readState(opts);
  if (state.contexts?.[name]) throw new SsrunError('CONTEXT_EXISTS', `context ${JSON.stringify(name)} already exists; delete it first`);
  await updateState(opts, (s) => {
    s.contexts = { ...s.contexts, [name]: context };
  });
  await printResult(view(name, context, state.current ?? LOCAL_CONTEXT));
}

export async function get(opts: GlobalOptions & { output?: string }): Promise<void> {
  const state = await readState(opts);
  const current = state.current ?? LOCAL_CONTEXT;
  const rows = [view(LOCAL_CONTEXT, undefined, current), ...Object.entries(state.contexts ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([n, c]) => view(n, c, current))];
  await printResult(rows);
}

export async function setCurrent(opts: GlobalOptions & { name: string }): Promise<void> {
  const name = validName(opts.name);
  const state = await readState(opts);
  if (name !== LOCAL_CONTEXT && !state.contexts?.[name]) throw new SsrunError('CONTEXT_NOT_FOUND', `context ${JSON.stringify(name)} not found; \`ssrun context get\` lists them`);
  await updateState(opts, (s) => {
    s.current = name;
    delete s.deletedCurrent;
  });
  await printResult({ Current: name });
}

export async function remove(opts: GlobalOptions & YesOption & { name: string }): Promise<void> {
  const name = validName(opts.name);
  if (name === LOCAL_CONTEXT) throw new SsrunError('USAGE', '"local" is built in and cannot be deleted');
  const state = await readState(opts);
  if (!state.contexts?.[name]) throw new SsrunError('CONTEXT_NOT_FOUND', `context ${JSON.stringify(name)} not found; \`ssrun context get\` lists them`);
  const wasCurrent = state.current === name;
  await confirmOrCancel(opts, `Delete context ${quoted(name)} and its session${wasCurrent ? ' (the current context: commands then run on local)' : ''}?`);
  await updateState(opts, (s) => {
    delete s.contexts![name];
    if (s.sessions) delete s.sessions[name];
    if (s.current === name) {
      s.current = LOCAL_CONTEXT;
      s.deletedCurrent = name;
    }
  });
  await printResult({ Deleted: name, Current: wasCurrent ? LOCAL_CONTEXT : (state.current ?? LOCAL_CONTEXT) });
  if (wasCurrent) io.notice(`${JSON.stringify(name)} was the current context: commands now run on local (the embedded store at ${await homeOf(opts)}) and say so, until \`ssrun context set-current -n NAME\``);
}
