// ssrun mfa key …: the commander tree of the security-key commands (their actions load lazily).

import type * as CommanderModule from 'commander';

type Command = CommanderModule.Command;
type Run = (load: () => Promise<(opts: never) => Promise<void>>) => (...args: unknown[]) => Promise<void>;

const keys = () => import('./commands/keys.js');

export function keyCommands(m: Command, run: Run, outputOption: () => CommanderModule.Option): void {
  const k = m.command('key').description('security keys and passkeys (WebAuthn): register them in a browser, list, rename, delete');
  k.command('add')
    .description('register a security key (a browser ceremony); the first key assigns the configuration')
    .requiredOption('-u, --user <name>', 'the user')
    .option('-n, --name <name>', 'a name for the key (default "Security key N")')
    .option('-c, --config <name>', "the security-key configuration (default: the user's own, else the built-in webauthn)")
    .option('--replace', 'switch a user on another factor to security keys')
    .option('--no-browser', 'print the URL, do not open a browser')
    .option('--timeout <seconds>', 'how long the ceremony waits', '120')
    .action(run(async () => (await keys()).keyAdd));
  k.command('get')
    .description("print security keys: a user's, or every user's")
    .option('-u, --user <name>', 'only this user')
    .addOption(outputOption())
    .action(run(async () => (await keys()).keyGet));
  k.command('rename')
    .description('rename a security key')
    .requiredOption('-u, --user <name>', 'the user')
    .requiredOption('--id <keyId>', 'the key (KeyId of `ssrun mfa key get`)')
    .requiredOption('-n, --name <name>', 'the new name')
    .action(run(async () => (await keys()).keyRename));
  k.command('delete')
    .description("delete a security key (the last one removes the user's assignment)")
    .requiredOption('-u, --user <name>', 'the user')
    .requiredOption('--id <keyId>', 'the key (KeyId of `ssrun mfa key get`)')
    .action(run(async () => (await keys()).keyDelete));
}
