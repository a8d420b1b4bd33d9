// ssrun mfa key …: security keys (WebAuthn). add runs a browser ceremony (a loopback page on the embedded
// store, the server's page over a server); the others parse, call, render.

import { SsrunError } from '../../core/errors.js';
import { canPrompt, service, type GlobalOptions } from '../context.js';
import { printResult } from '../render.js';
import { progress, setBrowser } from '../progress.js';

interface KeyAddOptions extends GlobalOptions {
  user: string;
  name?: string;
  config?: string;
  replace?: boolean;
  browser?: boolean;
  timeout?: string;
}

export function parseCeremonyTimeout(value: string | undefined, fallback = 120): number {
  if (value === undefined) return fallback * 1000;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 5 || Number(value) > 600) throw new SsrunError('USAGE', `--timeout: expected whole seconds between 5 and 600, received ${JSON.stringify(value)}`);
  return Number(value) * 1000;
}

/** Ctrl-C, a closed terminal or a cancelled job: the ceremony ends (its page closes), cancelled. */
async function cancellable<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of signals) process.once(sig, onSignal);
  try {
    return await fn(abort.signal);
  } finally {
    for (const sig of signals) process.off(sig, onSignal);
  }
}

/**
 * Over a server, a change of one's own keys with a session older than 5 minutes needs the password again: on
 * a terminal it is asked for once and the request sent again; otherwise the error says what to do.
 */
async function withSudo<T>(fn: (password?: string) => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof SsrunError && e.code === 'REAUTH_REQUIRED') || !canPrompt()) throw e;
    const { password } = await import('@inquirer/prompts');
    return fn(await password({ message: 'Your password again (this session is older than 5 minutes):', mask: '*' }));
  }
}

export async function keyAdd(opts: KeyAddOptions): Promise<void> {
  const timeoutMs = parseCeremonyTimeout(opts.timeout);
  setBrowser(opts.browser !== false);
  const ssrun = await service(opts);
  const p = progress();
  try {
    const result = await withSudo((password) =>
      cancellable((signal) => ssrun.addKey({ user: opts.user, name: opts.name, config: opts.config, replace: opts.replace, timeoutMs, signal, onProgress: p.onProgress, password })),
    );
    await p.stop();
    await printResult(result);
  } finally {
    await p.stop();
  }
}

export async function keyGet(opts: GlobalOptions & { user?: string; output?: string }): Promise<void> {
  await printResult(await (await service(opts)).listKeys(opts.user), 'no security keys');
}

export async function keyRename(opts: GlobalOptions & { user: string; id: string; name: string }): Promise<void> {
  const ssrun = await service(opts);
  await printResult(await withSudo((password) => ssrun.renameKey(opts.user, opts.id, opts.name, password)));
}

export async function keyDelete(opts: GlobalOptions & { user: string; id: string }): Promise<void> {
  const ssrun = await service(opts);
  await printResult(await withSudo((password) => ssrun.deleteKey(opts.user, opts.id, password)));
}
