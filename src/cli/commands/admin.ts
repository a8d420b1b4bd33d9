// ssrun authorization … and ssrun audit get: parse flags, call the service, render.

import { service, type GlobalOptions } from '../context.js';
import { printResult } from '../render.js';

interface RuleOptions extends GlobalOptions {
  principal: string;
  operation: string;
  access?: string;
}

export async function authorizationCreate(opts: RuleOptions, resource: string): Promise<void> {
  await printResult(await (await service(opts)).createAuthorization(opts.principal, opts.operation, opts.access ?? 'allow', resource));
}

export async function authorizationGet(opts: GlobalOptions & { principal?: string; output?: string }): Promise<void> {
  await printResult(await (await service(opts)).listAuthorizations(opts.principal), 'no authorization rules');
}

export async function authorizationDelete(opts: RuleOptions, resource: string): Promise<void> {
  await printResult(await (await service(opts)).deleteAuthorization(opts.principal, opts.operation, resource));
}

export async function auditGet(opts: GlobalOptions & { since?: string; principal?: string; limit?: string; output?: string }): Promise<void> {
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 100_000)) {
    const { SsrunError } = await import('../../core/errors.js');
    throw new SsrunError('USAGE', `--limit: expected a whole number from 1 to 100000, received ${JSON.stringify(opts.limit)}`);
  }
  await printResult(await (await service(opts)).listAudit({ since: opts.since, principal: opts.principal, limit }), 'no audit records');
}
