// login, logout, whoami, contexts, authorizations, audit, init, serve: the commander tree (actions load lazily).

import type { Command } from 'commander';
import { outputOption, run, yesOption } from './tree.js';

const principals = () => import('./commands/principals.js');
const loginCmd = () => import('./commands/login.js');
const admin = () => import('./commands/admin.js');
const contexts = () => import('./commands/contexts.js');
const serveCmd = () => import('./commands/serve.js');
const auth = () => import('./commands/auth.js');

/** login, logout, whoami, contexts, authorizations, audit, init, serve. */
export function sessionCommands(program: Command): void {
  program
    .command('login')
    .description('log in with a password (or API key) and, when assigned, a second factor; exit 0 only when allowed')
    .option('-u, --user <name>', 'log in as this user')
    .option('-a, --application <name>', 'log in as this application')
    .option('-p, --password <password>', 'the password (visible to other processes: prefer the prompt or --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('-k, --api-key <key>', "the application's API key (visible to other processes: prefer --api-key-stdin)")
    .option('--api-key-stdin', 'read the API key from stdin')
    .option('-m, --mfa <method>', "read by the user's provider, exactly as typed: duo: a passcode (1–64 letters and digits, e.g. 77552) or push, phone, sms, auto; duo with \"Prompt\": \"universal\": browser; totp: the app's code; security keys: key; any: a recovery code (xxxx-xxxx-xxxx)")
    .option('--timeout <seconds>', 'how long to wait for the second factor (default: 60; 120 for a login in a browser)')
    .option('--no-browser', 'logins in a browser (security keys, Duo Universal Prompt): print the URL, do not open a browser')
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
    .description('list the contexts (Current: true for the one in use)')
    .addOption(outputOption())
    .action(run(async () => (await contexts()).get));
  ctx.command('set-current')
    .description('use this context from now on')
    .requiredOption('-n, --name <name>', 'the context name (local: the embedded store)')
    .action(run(async () => (await contexts()).setCurrent));
  ctx.command('delete')
    .description('remove a context and its session')
    .requiredOption('-n, --name <name>', 'the context name')
    .addOption(yesOption())
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

  program
    .command('auth')
    .description("the session of a server context")
    .command('token')
    .description("print the current session's token on stdout (SSRUN_TOKEN if set, else the one `ssrun login` saved), for CI: SSRUN_TOKEN=$(ssrun auth token)")
    .action(run(async () => (await auth()).token));
}
