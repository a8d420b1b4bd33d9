// ssrun group …, user … and application …: the commander tree of principals (actions load lazily).

import type { Command } from 'commander';
import { outputOption, run, yesOption } from './tree.js';

const principals = () => import('./commands/principals.js');
const policies = () => import('./commands/policy.js');

/** ssrun group … */
export function groupCommands(program: Command): void {
  const g = program.command('group').description('groups of principals (principal/internal/group/NAME), for policies');
  g.command('create').description('create a group').requiredOption('-n, --name <name>', 'the group name').action(run(async () => (await policies()).groupCreate));
  g.command('get')
    .description('print groups')
    .option('-n, --name <name>', 'print only this group')
    .option('-v, --verbose', 'list members and add CreatedAt')
    .addOption(outputOption())
    .action(run(async () => (await policies()).groupGet));
  g.command('delete').description('delete a group (and remove it from policy targets)').requiredOption('-n, --name <name>', 'the group name').addOption(yesOption()).action(run(async () => (await policies()).groupDelete));
  g.command('add-member')
    .description('add a user or application to a group')
    .requiredOption('-n, --name <name>', 'the group name')
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
    .action(run(async () => (await policies()).groupAddMember));
  g.command('remove-member')
    .description('remove a member from a group')
    .requiredOption('-n, --name <name>', 'the group name')
    .requiredOption('-p, --principal <path>', 'the member')
    .action(run(async () => (await policies()).groupRemoveMember));
}

/** ssrun user … and ssrun application … */
export function principalCommands(program: Command): void {
  const u = program.command('user').description('users (principal/internal/user/NAME)');
  u.command('create')
    .description('create a user; prompts for the password on a terminal')
    .requiredOption('-n, --name <name>', 'the user name')
    .option('-p, --password <password>', 'the password (visible to other processes: prefer the prompt or --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(run(async () => (await principals()).userCreate));
  u.command('get')
    .description('print users')
    .option('-n, --name <name>', 'print only this user')
    .option('-v, --verbose', 'add timestamps and lockout state')
    .addOption(outputOption())
    .action(run(async () => (await principals()).userGet));
  u.command('set-password')
    .description("set a user's password (revokes the user's sessions); prompts on a terminal")
    .requiredOption('-n, --name <name>', 'the user name')
    .option('-p, --password <password>', 'the new password (visible to other processes: prefer the prompt or --password-stdin)')
    .option('--password-stdin', 'read the new password from stdin')
    .action(run(async () => (await principals()).userSetPassword));
  u.command('unlock')
    .description("clear a user's failed-login counters and locks, from every address (audited)")
    .requiredOption('-n, --name <name>', 'the user name')
    .action(run(async () => (await principals()).userUnlock));
  u.command('delete')
    .description('delete a user and its MFA assignment')
    .requiredOption('-n, --name <name>', 'the user name')
    .addOption(yesOption())
    .action(run(async () => (await principals()).userDelete));

  const a = program.command('application').description('applications (principal/internal/application/NAME)');
  a.command('create')
    .description('create an application; prints its API key once')
    .requiredOption('-n, --name <name>', 'the application name')
    .action(run(async () => (await principals()).applicationCreate));
  a.command('get')
    .description('print applications')
    .option('-n, --name <name>', 'print only this application')
    .option('-v, --verbose', 'add timestamps and lockout state')
    .addOption(outputOption())
    .action(run(async () => (await principals()).applicationGet));
  a.command('delete')
    .description('delete an application and its MFA assignment')
    .requiredOption('-n, --name <name>', 'the application name')
    .addOption(yesOption())
    .action(run(async () => (await principals()).applicationDelete));
}
