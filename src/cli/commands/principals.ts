// ssrun user … and ssrun application …

import { MIN_PASSWORD_CHARS, MIN_ROOT_PASSWORD_CHARS } from '../../core/validate.js';
import { service, type GlobalOptions } from '../context.js';
import { obtainSecret } from '../input.js';
import { parseOutput, printJson, render } from '../render.js';

interface GetOptions extends GlobalOptions {
  name?: string;
  verbose?: boolean;
  output?: string;
}

export async function userCreate(opts: GlobalOptions & { name: string; password?: string; passwordStdin?: boolean }): Promise<void> {
  const password = await obtainSecret({ value: opts.password, fromStdin: opts.passwordStdin, flag: '-p', stdinFlag: '--password-stdin', what: 'password', confirm: true, minChars: MIN_PASSWORD_CHARS });
  const ssrun = await service(opts);
  printJson(await ssrun.createUser(opts.name, password));
}

export async function userGet(opts: GetOptions): Promise<void> {
  const format = parseOutput(opts.output);
  const ssrun = await service(opts);
  await render(opts.name !== undefined ? await ssrun.getUser(opts.name, opts) : await ssrun.listUsers(opts), format);
}

export async function userDelete(opts: GlobalOptions & { name: string }): Promise<void> {
  printJson(await (await service(opts)).deleteUser(opts.name));
}

export async function applicationCreate(opts: GlobalOptions & { name: string }): Promise<void> {
  printJson(await (await service(opts)).createApplication(opts.name));
}

export async function applicationGet(opts: GetOptions): Promise<void> {
  const format = parseOutput(opts.output);
  const ssrun = await service(opts);
  await render(opts.name !== undefined ? await ssrun.getApplication(opts.name, opts) : await ssrun.listApplications(opts), format);
}

export async function applicationDelete(opts: GlobalOptions & { name: string }): Promise<void> {
  printJson(await (await service(opts)).deleteApplication(opts.name));
}

export async function init(opts: GlobalOptions & { passwordStdin?: boolean }): Promise<void> {
  const password = await obtainSecret({ fromStdin: opts.passwordStdin, flag: '--password-stdin', stdinFlag: '--password-stdin', what: 'root password', confirm: true, minChars: MIN_ROOT_PASSWORD_CHARS });
  printJson(await (await service(opts)).init(password));
}

export async function userSetPassword(opts: GlobalOptions & { name: string; password?: string; passwordStdin?: boolean }): Promise<void> {
  const password = await obtainSecret({ value: opts.password, fromStdin: opts.passwordStdin, flag: '-p', stdinFlag: '--password-stdin', what: 'new password', confirm: true, minChars: opts.name.toLowerCase() === 'root' ? MIN_ROOT_PASSWORD_CHARS : MIN_PASSWORD_CHARS });
  printJson(await (await service(opts)).setPassword(opts.name, password));
}

export async function userUnlock(opts: GlobalOptions & { name: string }): Promise<void> {
  printJson(await (await service(opts)).unlockUser(opts.name));
}
