// The entry point: commander wiring with lazily imported commands (start-up stays fast), and the one place
// where errors become one line on stderr and an exit code.

import { Command, CommanderError, Option } from 'commander';
import { EXIT, SsrunError } from '../core/errors.js';
import { sanitizeLine } from '../core/validate.js';
import { environmentHelp } from './environment.js';
import { keyCommands } from './tree-keys.js';

// Files we create (store, key, conf) are ours alone; argv may hold -p, so hide it from ps at once.
process.umask(0o077);
process.title = 'ssrun';

type Opts = Record<string, unknown>;
type Action = (opts: never, ...positional: never[]) => Promise<void>;

/** Wraps a lazily loaded command: options of the command merged with the global ones (--home), then any positional arguments. */
function run(load: () => Promise<Action>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const action = await load();
    await action(cmd.optsWithGlobals() as never, ...(args.slice(0, -2) as never[]));
  };
}

const mfa = () => import('./commands/mfa.js');
const principals = () => import('./commands/principals.js');
const loginCmd = () => import('./commands/login.js');
const admin = () => import('./commands/admin.js');
const contexts = () => import('./commands/contexts.js');
const serveCmd = () => import('./commands/serve.js');
const policies = () => import('./commands/policy.js');

const outputOption = () => new Option('--output <format>', 'json (default) or table').choices(['json', 'table']);

/** The command groups, by the first word of the command line: only the group being run is built (start-up time). */
const GROUPS: Record<string, (program: Command) => void> = {
  mfa: mfaCommands,
  group: groupCommands,
  user: principalCommands,
  application: principalCommands,
  ...Object.fromEntries(['login', 'logout', 'whoami', 'context', 'authorization', 'audit', 'serve', 'migrate', 'init'].map((c) => [c, sessionCommands])),
};

/** The first word that is not a global option (`--home DIR` may come first). */
function commandWord(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--home') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/** The commands named at the start of the command line (`mfa get `), for the help a usage error points to. */
function commandPath(program: Command, argv: string[]): string {
  let cmd = program;
  let path = '';
  for (const word of argv.slice(2)) {
    const next = word.startsWith('-') ? undefined : cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    cmd = next;
    path += `${word} `;
  }
  return path;
}

function buildProgram(argv: string[]): Command {
  const program = new Command('ssrun')
    .description('MFA configurations, principals and login for a secrets platform')
    .version('0.1.0', '-V, --version')
    .option('--home <dir>', 'where the store, key and session live (default: $SSRUN_HOME or the user data directory)')
    .showSuggestionAfterError(true)
    // One line, like every other error (commander puts its "(Did you mean …?)" hint on a line of its own), with
    // the documented code and the help to read.
    .configureOutput({ outputError: (text, write) => write(`ssrun: ${text.trimEnd().replace(/\s*\n\s*/g, ' ').replace(/\.$/, '')}; see \`ssrun ${commandPath(program, argv)}--help\` (USAGE)\n`) })
    .exitOverride();

  // Help, a typo (commander suggests the closest command) or nothing at all: the whole tree; none for --version alone.
  const word = commandWord(argv);
  const only = GROUPS[word ?? ''];
  const versionOnly = word === undefined && (argv.includes('--version') || argv.includes('-V')) && !argv.some((a) => a === '-h' || a === '--help');
  for (const add of only ? [only] : versionOnly ? [] : [mfaCommands, groupCommands, principalCommands, sessionCommands]) add(program);
  if (!only && !versionOnly) program.addHelpText('after', environmentHelp);
  return program;
}

/** ssrun mfa … (configurations, assignment, recovery codes, policies). */
function mfaCommands(program: Command): void {
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
    .option('-m, --mfa-identity <id>', "duo: the principal's Duo user (required); totp: a base32 secret to import (else one is generated)")
    .requiredOption('-c, --config <name>', 'the MFA configuration')
    .option('--qr-file <file>', 'totp: also write the enrolment QR code as a PNG')
    .action(run(async () => (await mfa()).assignPrincipal));
  m.command('verify')
    .description('confirm a pending TOTP enrolment with a code from the authenticator app')
    .requiredOption('-u, --user <name>', 'the user')
    .requiredOption('-m, --mfa <code>', 'the current code')
    .action(run(async () => (await mfa()).verify));
  m.command('recovery-codes')
    .description('issue 10 single-use recovery codes for a principal (replaces earlier ones; shown once)')
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
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
}

/** ssrun group … */
function groupCommands(program: Command): void {
  const g = program.command('group').description('groups of principals (principal/internal/group/NAME), for policies');
  g.command('create').description('create a group').requiredOption('-n, --name <name>', 'the group name').action(run(async () => (await policies()).groupCreate));
  g.command('get')
    .description('print groups')
    .option('-n, --name <name>', 'print only this group')
    .option('-v, --verbose', 'list members and add CreatedAt')
    .addOption(outputOption())
    .action(run(async () => (await policies()).groupGet));
  g.command('delete').description('delete a group (and remove it from policy targets)').requiredOption('-n, --name <name>', 'the group name').action(run(async () => (await policies()).groupDelete));
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
function principalCommands(program: Command): void {
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
}

/** login, logout, whoami, contexts, authorizations, audit, init, serve. */
function sessionCommands(program: Command): void {
  program
    .command('login')
    .description('log in with a password (or API key) and, when assigned, a second factor; exit 0 only when allowed')
    .option('-u, --user <name>', 'log in as this user')
    .option('-a, --application <name>', 'log in as this application')
    .option('-p, --password <password>', 'the password (visible to other processes: prefer the prompt or --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('-k, --api-key <key>', "the application's API key (visible to other processes: prefer --api-key-stdin)")
    .option('--api-key-stdin', 'read the API key from stdin')
    .option('-m, --mfa <method>', "read by the user's provider, exactly as typed: duo: a passcode (1–64 letters and digits, e.g. 77552) or push, phone, sms, auto; totp: the app's code; any: a recovery code (xxxx-xxxx-xxxx)")
    .option('--timeout <seconds>', 'how long to wait for the second factor', '60')
    .option('--no-browser', 'security keys: print the ceremony URL, do not open a browser')
    .action(run(async () => (await loginCmd()).login));
  program
    .command('logout')
    .description('end the session of the last login')
    .action(run(async () => (await loginCmd()).logout));
  program
    .command('whoami')
    .description('print the principal of the current session')
    .action(run(async () => (await loginCmd()).whoami));

  const ctx = program.command('context').description('the servers this CLI talks to (`local` is the embedded store)');
  ctx.command('create')
    .description('add a server context')
    .requiredOption('-n, --name <name>', 'the context name')
    .requiredOption('-a, --address <host>', 'the server host (https; http:// only for a loopback address)')
    .requiredOption('-p, --port <port>', 'the server port')
    .option('-s, --secure <bool>', "verify the server's TLS certificate: true (default) or false", 'true')
    .option('-v, --api-version <version>', 'the API version', 'v1')
    .option('--ca <file>', 'a CA certificate (PEM) to trust for this server')
    .action(run(async () => (await contexts()).create));
  ctx.command('get')
    .description('list the contexts, the current one starred')
    .addOption(outputOption())
    .action(run(async () => (await contexts()).get));
  ctx.command('set-current')
    .description('use this context from now on')
    .requiredOption('-n, --name <name>', 'the context name (local: the embedded store)')
    .action(run(async () => (await contexts()).setCurrent));
  ctx.command('delete')
    .description('remove a context and its session')
    .requiredOption('-n, --name <name>', 'the context name')
    .action(run(async () => (await contexts()).remove));

  const z = program.command('authorization').description('who may do what on a server (root may do everything)');
  z.command('create')
    .description('allow or deny a principal an operation on a resource and everything below it')
    .argument('<resource>', 'system/multi_factor, system/authorization, system/audit, principal/internal/user[/NAME], …')
    .requiredOption('-p, --principal <path>', 'principal/internal/user/NAME or principal/internal/application/NAME')
    .requiredOption('-o, --operation <op>', 'create, read, update or delete')
    .requiredOption('-a, --access <effect>', 'allow or deny (deny wins)')
    .action(run(async () => (await admin()).authorizationCreate));
  z.command('get')
    .description('list authorization rules')
    .option('-p, --principal <path>', 'only this principal')
    .addOption(outputOption())
    .action(run(async () => (await admin()).authorizationGet));
  z.command('delete')
    .description('delete an authorization rule')
    .argument('<resource>', 'the resource of the rule')
    .requiredOption('-p, --principal <path>', 'the principal of the rule')
    .requiredOption('-o, --operation <op>', 'the operation of the rule')
    .action(run(async () => (await admin()).authorizationDelete));

  program
    .command('audit')
    .description('the audit trail')
    .command('get')
    .description('print audit records, oldest first (at most --limit, the newest)')
    .option('--since <when>', 'an ISO 8601 date or date-time, or a duration such as 30m, 12h, 7d')
    .option('--principal <path>', 'records about or by this principal')
    .option('--limit <n>', 'at most this many records (default 1000)')
    .addOption(outputOption())
    .action(run(async () => (await admin()).auditGet));

  program
    .command('serve')
    .description('serve the store in --home over HTTPS (plain HTTP on loopback only)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8443')
    .option('--tls-cert <file>', 'TLS certificate chain (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--token-ttl <seconds>', 'how long a login token lives', '3600')
    .option('--rate-limit <n>', 'requests per minute per client address', '1200')
    .option('--login-rate-limit <n>', 'login requests per minute per client address', '30')
    .option('--lockout-all-addresses <n>', 'failures from all addresses together that lock a principal everywhere (5 lock it from one address)', '50')
    .option('--request-timeout <seconds>', 'a client must send its whole request within this (slow requests are cut: 408)', '30')
    .option('--trust-proxy <cidrs>', 'take the client address from X-Forwarded-For when the request comes from these proxies (CIDR[,CIDR])')
    .option('--database <url>', 'serve a PostgreSQL database (postgres://USER@HOST:PORT/DB; or SSRUN_DATABASE_URL; password in PGPASSWORD) instead of --home\'s SQLite file')
    .option('--public-url <url>', 'https://HOST[:PORT] where browsers reach this server: security-key ceremonies run there (relying party HOST)')
    .action(run(async () => (await serveCmd()).serve));

  program
    .command('migrate')
    .description('create or upgrade the schema of a PostgreSQL database for `ssrun serve --database`')
    .option('--database <url>', 'postgres://USER@HOST:PORT/DB (or SSRUN_DATABASE_URL; password in PGPASSWORD)')
    .action(run(async () => (await serveCmd()).migrate));

  program
    .command('init')
    .description('set the root password (the store itself is made on first use)')
    .option('--password-stdin', 'read the root password from stdin')
    .action(run(async () => (await principals()).init));
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

/** `ssrun help mfa get` is `ssrun mfa get --help` (commander's own help command reads one word only). */
function helpOf(argv: string[]): string[] {
  const words = argv.slice(3);
  if (argv[2] !== 'help' || words.length < 2 || words.some((w) => w.startsWith('-'))) return argv;
  return [...argv.slice(0, 2), ...words, '--help'];
}

async function main(): Promise<void> {
  const { captureMasterKeyFromEnv, closeLocal } = await import('./context.js');
  captureMasterKeyFromEnv();
  let code: number = EXIT.OK;
  try {
    const argv = helpOf(process.argv);
    await buildProgram(argv).parseAsync(argv);
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
