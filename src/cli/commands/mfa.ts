// ssrun mfa …: parse flags, call the service, render.

import { accessSync, constants } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { SsrunError } from '../../core/errors.js';
import type { SsrunApi } from '../../core/service.js';
import { parsePrincipalPath } from '../../core/validate.js';
import { confirmOrCancel, quoted, willAsk, type YesOption } from '../confirm.js';
import { service, io, type GlobalOptions } from '../context.js';
import { readJsonInput } from '../input.js';
import { printResult } from '../render.js';

export interface GetOptions extends GlobalOptions {
  name?: string;
  verbose?: boolean;
  showSecrets?: boolean;
  output?: string;
}

export async function get(opts: GetOptions): Promise<void> {
  const ssrun = await service(opts);
  const view = { verbose: opts.verbose, showSecrets: opts.showSecrets };
  await printResult(opts.name !== undefined ? await ssrun.getConfig(opts.name, view) : await ssrun.listConfigs(view), 'no configurations');
}

/** A relative Options.CaFile is relative to the config file; it is stored absolute and must be readable. */
function resolveCaFile(doc: unknown, file: string): unknown {
  if (typeof doc !== 'object' || doc === null) return doc;
  const optionsKey = Object.keys(doc).find((k) => k.toLowerCase() === 'options');
  const options = optionsKey ? (doc as Record<string, unknown>)[optionsKey] : undefined;
  if (typeof options !== 'object' || options === null) return doc;
  const caKey = Object.keys(options).find((k) => k.toLowerCase() === 'cafile');
  const ca = caKey ? (options as Record<string, unknown>)[caKey] : undefined;
  if (typeof ca !== 'string' || ca.trim() === '') return doc;
  const abs = isAbsolute(ca) ? ca : resolve(file === '-' ? process.cwd() : dirname(file), ca);
  try {
    accessSync(abs, constants.R_OK);
  } catch {
    throw new SsrunError('INVALID_CONFIG', `Options.CaFile: ${abs} cannot be read`);
  }
  (options as Record<string, unknown>)[caKey!] = abs;
  return doc;
}

export async function create(opts: GlobalOptions & { file: string }): Promise<void> {
  const doc = resolveCaFile(await readJsonInput(opts.file), opts.file);
  const ssrun = await service(opts);
  await printResult(await ssrun.createConfig(doc));
}

export async function update(opts: GlobalOptions & { file: string; name: string }): Promise<void> {
  const doc = resolveCaFile(await readJsonInput(opts.file), opts.file);
  const ssrun = await service(opts);
  await printResult(await ssrun.updateConfig(opts.name, doc));
}

export async function remove(opts: GlobalOptions & YesOption & { name: string; force?: boolean }): Promise<void> {
  const ssrun = await service(opts);
  if (willAsk(opts)) {
    const assigned = (await ssrun.getConfig(opts.name, { verbose: true })).Principals?.length ?? 0;
    // In use and no --force: refused below whatever the answer, so nothing to ask.
    if (assigned === 0) await confirmOrCancel(opts, `Delete MFA configuration ${quoted(opts.name)}? This cannot be undone.`);
    else if (opts.force) await confirmOrCancel(opts, `Delete MFA configuration ${quoted(opts.name)} and remove its ${assigned} assignment${assigned === 1 ? '' : 's'} (--force)? Those principals lose their second factor.`);
  }
  await printResult(await ssrun.deleteConfig(opts.name, { force: opts.force }));
}

/** The principal's current view, to say what a change replaces; undefined when it cannot be read (the use case then says why). */
async function principalNow(ssrun: SsrunApi, path: string) {
  try {
    const ref = parsePrincipalPath(path);
    return await (ref.type === 'user' ? ssrun.getUser(ref.name, { verbose: true }) : ssrun.getApplication(ref.name, { verbose: true }));
  } catch {
    return undefined;
  }
}

export async function assignPrincipal(opts: GlobalOptions & YesOption & { principal: string; mfaIdentity?: string; config: string; qrFile?: string }): Promise<void> {
  const ssrun = await service(opts);
  const mfa = willAsk(opts) ? (await principalNow(ssrun, opts.principal))?.Mfa : undefined;
  if (mfa) await confirmOrCancel(opts, `${opts.principal} already has a ${mfa.Type} factor (configuration ${quoted(mfa.Config)}); replace it? Its secret or keys stop working.`);
  const result = await ssrun.assignPrincipal(opts.principal, opts.mfaIdentity, opts.config);
  if (result.Replaced) io.notice(`${result.Principal} was assigned to ${JSON.stringify(result.Replaced)}; that assignment is replaced`);
  await printResult(result);
  if (opts.qrFile !== undefined && !result.OtpauthUri) io.notice('--qr-file: no QR code written (there is a new secret only when ssrun generates it, without -m)');
  if (!result.OtpauthUri) return;
  const { default: QRCode } = await import('qrcode');
  if (opts.qrFile !== undefined) {
    await QRCode.toFile(resolve(opts.qrFile), result.OtpauthUri, { type: 'png', errorCorrectionLevel: 'M' });
    io.notice(`QR code written to ${resolve(opts.qrFile)}; it holds the secret: delete it once scanned`);
  }
  // A decoration: on stderr, and only when it is a terminal (`> out.json` keeps stdout pure, the code in view).
  if (io.stderrIsTTY) {
    const qr = await QRCode.toString(result.OtpauthUri, { type: 'utf8', errorCorrectionLevel: 'M' });
    process.stderr.write(`\nScan with an authenticator app (shown once; the assignment is pending until a first valid code):\n${qr}${qr.endsWith('\n') ? '' : '\n'}`);
  }
}

export async function verify(opts: GlobalOptions & { user: string; mfa: string }): Promise<void> {
  await printResult(await (await service(opts)).verifyEnrollment(opts.user, opts.mfa));
}

export async function recoveryCodes(opts: GlobalOptions & YesOption & { principal: string }): Promise<void> {
  const ssrun = await service(opts);
  const left = willAsk(opts) ? ((await principalNow(ssrun, opts.principal))?.RecoveryCodesLeft ?? 0) : 0;
  if (left > 0) await confirmOrCancel(opts, `${opts.principal} has ${left} unused recovery code${left === 1 ? '' : 's'}; issue new ones? The old ones stop working.`);
  const result = await ssrun.recoveryCodes(opts.principal);
  await printResult(result);
  io.notice(`${result.RecoveryCodes.length} recovery codes for ${result.Principal}: each works once, they are shown only now, and any earlier codes no longer work`);
}

export async function removePrincipal(opts: GlobalOptions & { principal: string }): Promise<void> {
  const ssrun = await service(opts);
  await printResult(await ssrun.removePrincipal(opts.principal));
}

/** `mfa check -n NAME`: the provider says whether the configuration's credentials work (checked by the service). */
export async function check(opts: GlobalOptions & { name: string }): Promise<void> {
  await printResult(await (await service(opts)).checkConfig(opts.name));
}
