// ssrun user … and ssrun application …

import { MIN_PASSWORD_CHARS, MIN_ROOT_PASSWORD_CHARS } from '../../core/validate.js';
import { confirmOrCancel, quoted, willAsk, type YesOption } from '../confirm.js';
import { service, type GlobalOptions } from '../context.js';
import { obtainSecret } from '../input.js';
import { printResult } from '../render.js';

interface GetOptions extends GlobalOptions {
  name?: string;
  verbose?: boolean;
  output?: string;
}

export async function userCreate(opts: GlobalOptions & { name: string; password?: string; passwordStdin?: boolean }): Promise<void> {
  const password = await obtainSecret({ value: opts.password, fromStdin: opts.passwordStdin, flag: '-p', stdinFlag: '--password-stdin', what: 'password', confirm: true, minChars: MIN_PASSWORD_CHARS });
  const ssrun = await service(opts);
  await printResult(await ssrun.createUser(opts.name, password));
}

export async function userGet(opts: GetOptions): Promise<void> {
  const ssrun = await service(opts);
  await printResult(opts.name !== undefined ? await ssrun.getUser(opts.name, opts) : await ssrun.listUsers(opts), 'no users');
}

/** What deleting a principal takes with it, as the question says it. */
const withFactor = (mfa: { Type: string } | null) => (mfa ? ` and its ${mfa.Type} assignment` : '');

export async function userDelete(opts: GlobalOptions & YesOption & { name: string }): Promise<void> {
  const ssrun = await service(opts);
  if (willAsk(opts)) await confirmOrCancel(opts, `Delete user ${quoted(opts.name)}${withFactor((await ssrun.getUser(opts.name)).Mfa)}? This cannot be undone.`);
  await printResult(await ssrun.deleteUser(opts.name));
}

export async function applicationCreate(opts: GlobalOptions & { name: string }): Promise<void> {
  await printResult(await (await service(opts)).createApplication(opts.name));
}

export async function applicationGet(opts: GetOptions): Promise<void> {
  const ssrun = await service(opts);
  await printResult(opts.name !== undefined ? await ssrun.getApplication(opts.name, opts) : await ssrun.listApplications(opts), 'no applications');
}

export async function applicationDelete(opts: GlobalOptions & YesOption & { name: string }): Promise<void> {
  const ssrun = await service(opts);
  if (willAsk(opts)) await confirmOrCancel(opts, `Delete application ${quoted(opts.name)}${withFactor((await ssrun.getApplication(opts.name)).Mfa)} and its API key? This cannot be undone.`);
  await printResult(await ssrun.deleteApplication(opts.name));
}

export async function init(opts: GlobalOptions & { passwordStdin?: boolean }): Promise<void> {
  const password = await obtainSecret({ fromStdin: opts.passwordStdin, flag: '--password-stdin', stdinFlag: '--password-stdin', what: 'root password', confirm: true, minChars: MIN_ROOT_PASSWORD_CHARS });
  await printResult(await (await service(opts)).init(password));
}

export async function userSetPassword(opts: GlobalOptions & { name: string; password?: string; passwordStdin?: boolean }): Promise<void> {
  const password = await obtainSecret({ value: opts.password, fromStdin: opts.passwordStdin, flag: '-p', stdinFlag: '--password-stdin', what: 'new password', confirm: true, minChars: opts.name.toLowerCase() === 'root' ? MIN_ROOT_PASSWORD_CHARS : MIN_PASSWORD_CHARS });
  await printResult(await (await service(opts)).setPassword(opts.name, password));
}

export async function userUnlock(opts: GlobalOptions & { name: string }): Promise<void> {
  await printResult(await (await service(opts)).unlockUser(opts.name));
}
