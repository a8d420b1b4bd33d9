// ssrun mfa …: the commander tree of configurations, assignment, recovery codes and policies (actions load lazily).

import type { Command } from 'commander';
import { outputOption, run, yesOption } from './tree.js';
import { keyCommands } from './tree-keys.js';

const mfa = () => import('./commands/mfa.js');
const policies = () => import('./commands/policy.js');

/** ssrun mfa … (configurations, assignment, recovery codes, policies). */
export function mfaCommands(program: Command): void {
  const m = program.command('mfa').description('MFA provider configurations and their principals');
  m.command('get')
    .description('print MFA configurations (a JSON array sorted by Name; secrets redacted)')
    .option('-n, --name <name>', 'print only this configuration')
    .option('-v, --verbose', 'add CreatedAt, UpdatedAt and assigned principals')
    .option('--show-secrets', 'print SecretKey in clear')
    .addOption(outputOption())
    .action(run(async () => (await mfa()).get));
  m.command('create')
    .description('create an MFA configuration from a JSON file')
    .requiredOption('-f, --file <file>', 'the configuration JSON (- for stdin)')
    .action(run(async () => (await mfa()).create));
  m.command('update')
    .description('replace the options of an MFA configuration (its Name and Type cannot change)')
    .requiredOption('-f, --file <file>', 'the configuration JSON (- for stdin)')
    .requiredOption('-n, --name <name>', 'the configuration to update')
    .action(run(async () => (await mfa()).update));
  m.command('delete')
    .description('delete an MFA configuration')
    .requiredOption('-n, --name <name>', 'the configuration to delete')
    .option('--force', 'also remove its assignments to principals')
    .addOption(yesOption())
    .action(run(async () => (await mfa()).remove));
  m.command('assign-principal')
    .description('assign an MFA configuration to a user or application principal (replaces any earlier one)')
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
    .option('-m, --mfa-identity <id>', "duo: the principal's Duo user (required); totp: a base32 secret to import (else one is generated)")
    .requiredOption('-c, --config <name>', 'the MFA configuration')
    .option('--qr-file <file>', 'totp: also write the enrolment QR code as a PNG')
    .addOption(yesOption())
    .action(run(async () => (await mfa()).assignPrincipal));
  m.command('verify')
    .description('confirm a pending TOTP enrolment with a code from the authenticator app')
    .requiredOption('-u, --user <name>', 'the user')
    .requiredOption('-m, --mfa <code>', 'the current code')
    .action(run(async () => (await mfa()).verify));
  m.command('recovery-codes')
    .description('issue 10 single-use recovery codes for a principal (replaces earlier ones; shown once)')
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
    .addOption(yesOption())
    .action(run(async () => (await mfa()).recoveryCodes));
  keyCommands(m, run, outputOption);
  m.command('remove-principal')
    .description("remove a principal's MFA assignment")
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
    .action(run(async () => (await mfa()).removePrincipal));

  const pol = m.command('policy').description('MFA policies: who must use MFA, of which factors, enrolled by when');
  pol.command('create')
    .description('create a policy from a JSON file')
    .requiredOption('-f, --file <file>', 'the policy JSON (- for stdin)')
    .action(run(async () => (await policies()).policyCreate));
  pol.command('get')
    .description('print policies (a JSON array sorted by Name)')
    .option('-n, --name <name>', 'print only this policy')
    .addOption(outputOption())
    .action(run(async () => (await policies()).policyGet));
  pol.command('update')
    .description('replace a policy (its Name cannot change)')
    .requiredOption('-f, --file <file>', 'the policy JSON (- for stdin)')
    .requiredOption('-n, --name <name>', 'the policy to update')
    .action(run(async () => (await policies()).policyUpdate));
  pol.command('delete')
    .description('delete a policy')
    .requiredOption('-n, --name <name>', 'the policy')
    .addOption(yesOption())
    .action(run(async () => (await policies()).policyDelete));
  pol.command('activate')
    .description('enforce a policy (revokes the sessions of the principals it newly covers, except yours)')
    .requiredOption('-n, --name <name>', 'the policy')
    .action(run(async () => (await policies()).policyActivate));
  pol.command('deactivate')
    .description('stop enforcing a policy')
    .requiredOption('-n, --name <name>', 'the policy')
    .action(run(async () => (await policies()).policyDeactivate));
  pol.command('explain')
    .description('which policies apply to a principal, and which one set each requirement')
    .option('-u, --user <name>', 'the user')
    .option('-p, --principal <path>', 'or any principal path')
    .action(run(async () => (await policies()).policyExplain));
  pol.command('reset-deadline')
    .description("restart a principal's enrolment window")
    .requiredOption('-p, --principal <path>', 'the principal')
    .action(run(async () => (await policies()).policyResetDeadline));

  m.command('check')
    .description("check a configuration's credentials with its provider (duo: IntegrationKey, SecretKey and Host against Duo's /auth/v2/check); exit 0 only when they work")
    .requiredOption('-n, --name <name>', 'the configuration')
    .action(run(async () => (await mfa()).check));
}
