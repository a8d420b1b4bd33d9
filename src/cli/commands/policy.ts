// ssrun group … and ssrun mfa policy …: parse flags, call the service, render.

import { SsrunError } from '../../core/errors.js';
import { confirmOrCancel, quoted, willAsk, type YesOption } from '../confirm.js';
import { io, resolveTarget, service, type GlobalOptions } from '../context.js';
import { readJsonInput } from '../input.js';
import { printResult } from '../render.js';
import { savedSession } from '../session.js';

interface GetOptions extends GlobalOptions {
  name?: string;
  verbose?: boolean;
  output?: string;
}

export async function groupCreate(opts: GlobalOptions & { name: string }): Promise<void> {
  await printResult(await (await service(opts)).createGroup(opts.name));
}

export async function groupGet(opts: GetOptions): Promise<void> {
  const ssrun = await service(opts);
  await printResult(opts.name !== undefined ? await ssrun.getGroup(opts.name, opts) : await ssrun.listGroups(opts), 'no groups');
}

export async function groupDelete(opts: GlobalOptions & YesOption & { name: string }): Promise<void> {
  const ssrun = await service(opts);
  if (willAsk(opts)) {
    await ssrun.getGroup(opts.name);
    await confirmOrCancel(opts, `Delete group ${quoted(opts.name)} (and remove it from policy targets)? This cannot be undone.`);
  }
  await printResult(await ssrun.deleteGroup(opts.name));
}

export async function groupAddMember(opts: GlobalOptions & { name: string; principal: string }): Promise<void> {
  await printResult(await (await service(opts)).addMember(opts.name, opts.principal));
}

export async function groupRemoveMember(opts: GlobalOptions & { name: string; principal: string }): Promise<void> {
  await printResult(await (await service(opts)).removeMember(opts.name, opts.principal));
}

/**
 * The service, and the caller's own session token, which survives a policy that revokes sessions (a server
 * knows it from the bearer token; the embedded store from this home's saved session).
 */
async function serviceAndOwnToken(opts: GlobalOptions) {
  const target = await resolveTarget(opts);
  const keepToken = target.kind === 'local' ? (await savedSession(opts, target.key))?.token : undefined;
  return { ssrun: await service(opts, target), keepToken };
}

function revokedNotice(result: { Name: string; SessionsRevoked: number; Active: boolean }): void {
  if (result.Active) io.notice(`policy ${result.Name} is active; ${result.SessionsRevoked} session${result.SessionsRevoked === 1 ? '' : 's'} of newly covered principals revoked`);
}

export async function policyCreate(opts: GlobalOptions & { file: string }): Promise<void> {
  const doc = await readJsonInput(opts.file);
  const { ssrun, keepToken } = await serviceAndOwnToken(opts);
  const result = await ssrun.createPolicy(doc, { keepToken });
  await printResult(result);
  revokedNotice(result);
}

export async function policyGet(opts: GetOptions): Promise<void> {
  const ssrun = await service(opts);
  await printResult(opts.name !== undefined ? await ssrun.getPolicy(opts.name) : await ssrun.listPolicies(), 'no policies');
}

export async function policyUpdate(opts: GlobalOptions & { file: string; name: string }): Promise<void> {
  const doc = await readJsonInput(opts.file);
  const { ssrun, keepToken } = await serviceAndOwnToken(opts);
  const result = await ssrun.updatePolicy(opts.name, doc, { keepToken });
  await printResult(result);
  revokedNotice(result);
}

export async function policyDelete(opts: GlobalOptions & YesOption & { name: string }): Promise<void> {
  const ssrun = await service(opts);
  if (willAsk(opts)) {
    await ssrun.getPolicy(opts.name);
    await confirmOrCancel(opts, `Delete policy ${quoted(opts.name)}? This cannot be undone.`);
  }
  await printResult(await ssrun.deletePolicy(opts.name));
}

export async function policyActivate(opts: GlobalOptions & { name: string }): Promise<void> {
  const { ssrun, keepToken } = await serviceAndOwnToken(opts);
  const result = await ssrun.setPolicyActive(opts.name, true, { keepToken });
  await printResult(result);
  revokedNotice(result);
}

export async function policyDeactivate(opts: GlobalOptions & { name: string }): Promise<void> {
  await printResult(await (await service(opts)).setPolicyActive(opts.name, false));
}

export async function policyExplain(opts: GlobalOptions & { user?: string; principal?: string }): Promise<void> {
  if ((opts.user === undefined) === (opts.principal === undefined)) throw new SsrunError('USAGE', 'mfa policy explain: pass either -u USER or -p PRINCIPAL');
  const path = opts.principal ?? `principal/internal/user/${opts.user}`;
  await printResult(await (await service(opts)).explainPolicy(path));
}

export async function policyResetDeadline(opts: GlobalOptions & { principal: string }): Promise<void> {
  await printResult(await (await service(opts)).resetDeadline(opts.principal));
}
