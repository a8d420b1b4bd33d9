// The entry point: commander wiring with lazily imported commands (start-up stays fast), and the one place
// where errors become one line on stderr and an exit code.

import { createRequire } from 'node:module';
import type * as CommanderModule from 'commander';
import { EXIT, SsrunError } from '../core/errors.js';
import { sanitizeLine } from '../core/validate.js';

// commander is CommonJS: require() skips the ESM loader's export scan of it (start-up time, see bench/).
const { Command, CommanderError, Option } = createRequire(import.meta.url)('commander') as typeof CommanderModule;
type Command = CommanderModule.Command;

// Files we create (store, key, conf) are ours alone; argv may hold -p, so hide it from ps at once.
process.umask(0o077);
process.title = 'ssrun';

type Opts = Record<string, unknown>;
type Action = (opts: never) => Promise<void>;

/** Wraps a lazily loaded command: options of the command merged with the global ones (--home). */
function run(load: () => Promise<Action>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const action = await load();
    await action(cmd.optsWithGlobals() as never);
  };
}

const mfa = () => import('./commands/mfa.js');
const principals = () => import('./commands/principals.js');
const loginCmd = () => import('./commands/login.js');

const outputOption = () => new Option('--output <format>', 'json (default) or table').choices(['json', 'table']);

function buildProgram(): Command {
  const program = new Command('ssrun')
    .description('MFA configurations, principals and login for a secrets platform')
    .version('0.1.0', '--version')
    .option('--home <dir>', 'where the store, key and session live (default: $SSRUN_HOME or the user data directory)')
    .showSuggestionAfterError(true)
    // One line, like every other error: commander puts its "(Did you mean …?)" hint on a line of its own.
    .configureOutput({ outputError: (text, write) => write(`ssrun: ${text.trimEnd().replace(/\s*\n\s*/g, ' ')}\n`) })
    .exitOverride();

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
    .action(run(async () => (await mfa()).remove));
  m.command('assign-principal')
    .description('assign an MFA configuration to a user or application principal (replaces any earlier one)')
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
    .requiredOption('-m, --mfa-identity <id>', "the principal's user id at the provider (the Duo user)")
    .requiredOption('-c, --config <name>', 'the MFA configuration')
    .action(run(async () => (await mfa()).assignPrincipal));
  m.command('remove-principal')
    .description("remove a principal's MFA assignment")
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
    .action(run(async () => (await mfa()).removePrincipal));

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
  u.command('delete')
    .description('delete a user and its MFA assignment')
    .requiredOption('-n, --name <name>', 'the user name')
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
    .action(run(async () => (await principals()).applicationDelete));

  program
    .command('login')
    .description('log in with a password (or API key) and, when assigned, a second factor; exit 0 only when allowed')
    .option('-u, --user <name>', 'log in as this user')
    .option('-a, --application <name>', 'log in as this application')
    .option('-p, --password <password>', 'the password (visible to other processes: prefer the prompt or --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('-k, --api-key <key>', "the application's API key (visible to other processes: prefer --api-key-stdin)")
    .option('--api-key-stdin', 'read the API key from stdin')
    .option('-m, --mfa <method>', 'a passcode (6–10 digits) or push, phone, sms, auto')
    .option('--timeout <seconds>', 'how long to wait for the second factor', '60')
    .action(run(async () => (await loginCmd()).login));
  program
    .command('logout')
    .description('end the session of the last login')
    .action(run(async () => (await loginCmd()).logout));
  program
    .command('init')
    .description('set the root password (the store itself is made on first use)')
    .option('--password-stdin', 'read the root password from stdin')
    .action(run(async () => (await principals()).init));
  return program;
}

function report(e: unknown): number {
  const debug = process.env.SSRUN_DEBUG === '1';
  if (e instanceof CommanderError) {
    // commander printed its own one-line message; help and version are not errors, but help shown because a
    // subcommand is missing (`ssrun mfa`) is a usage error (commander gives it exit code 1).
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || (e.code === 'commander.help' && e.exitCode === 0) ? EXIT.OK : EXIT.INVALID_INPUT;
  }
  if (e instanceof Error && e.name === 'ExitPromptError') e = new SsrunError('CANCELLED', 'cancelled');
  if (e instanceof SsrunError) {
    process.stderr.write(`ssrun: error: ${sanitizeLine(e.message, 1000)} (${e.code})\n`);
    if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`ssrun: internal error: ${sanitizeLine(message, 500)} (INTERNAL)${debug ? '' : '; set SSRUN_DEBUG=1 for details'}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT.INTERNAL;
}

async function main(): Promise<void> {
  const { captureMasterKeyFromEnv, closeLocal } = await import('./context.js');
  captureMasterKeyFromEnv();
  let code: number = EXIT.OK;
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (e) {
    let err = e;
    if (!(e instanceof SsrunError) && !(e instanceof CommanderError)) err = (await import('../store/errors.js')).translateStoreError(e, 'the store');
    code = report(err);
  } finally {
    try {
      closeLocal();
    } catch {
      // closing a store that failed to open
    }
  }
  process.exitCode = code;
  // Leave once stdout has drained (prompts may hold stdin open).
  process.stdout.write('', () => process.exit(code));
}

void main();
