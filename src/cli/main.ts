// The entry point: commander wiring with lazily imported commands (start-up stays fast), and the one place
// where errors become one line on stderr and an exit code.

import { Command, CommanderError, Help, type Option } from 'commander';
import { EXIT, SsrunError } from '../core/errors.js';
import { sanitizeLine } from '../core/validate.js';
import { environmentHelp } from './environment.js';
import { addExamples } from './examples.js';
import { completionCommands } from './tree-completion.js';
import { mfaCommands } from './tree-mfa.js';
import { groupCommands, principalCommands } from './tree-principals.js';
import { sessionCommands } from './tree-session.js';
import { addOutputOptions } from './tree.js';

// Files we create (store, key, conf) are ours alone; argv may hold -p, so hide it from ps at once.
process.umask(0o077);
process.title = 'ssrun';

/** Every group: for help, a typo, and completion scripts (made from the whole tree). */
const ALL = [mfaCommands, groupCommands, principalCommands, sessionCommands, completionCommands];

/** The command groups, by the first word of the command line: only the group being run is built (start-up time). */
const GROUPS: Record<string, (program: Command) => void> = {
  completion: (program) => ALL.forEach((add) => add(program)),
  __complete: completionCommands,
  mfa: mfaCommands,
  group: groupCommands,
  user: principalCommands,
  application: principalCommands,
  ...Object.fromEntries(['login', 'logout', 'whoami', 'context', 'authorization', 'audit', 'serve', 'migrate', 'init', 'auth'].map((c) => [c, sessionCommands])),
};

/** The first word that is not a global option (`--home DIR` may come first). */
function commandWord(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--home' || a === '--context') i++;
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
    .option('--context <name>', 'run this one command on this context (default: $SSRUN_CONTEXT, else SECRETSSAFE_HOST, else the current context)')
    .showSuggestionAfterError(true)
    // Options a command cannot run without say so (commander's requiredOption does not, by itself).
    .configureHelp({ optionDescription: (o: Option) => `${new Help().optionDescription(o)}${o.mandatory ? ' (required)' : ''}` })
    // One line, like every other error (commander puts its "(Did you mean …?)" hint on a line of its own), with
    // the documented code and the help to read.
    .configureOutput({ outputError: (text, write) => write(`ssrun: ${text.trimEnd().replace(/\s*\n\s*/g, ' ').replace(/\.$/, '')}; see \`ssrun ${commandPath(program, argv)}--help\` (USAGE)\n`) })
    .exitOverride();

  // Help, a typo (commander suggests the closest command) or nothing at all: the whole tree; none for --version alone.
  const word = commandWord(argv);
  const only = GROUPS[word ?? ''];
  const versionOnly = word === undefined && (argv.includes('--version') || argv.includes('-V')) && !argv.some((a) => a === '-h' || a === '--help');
  for (const add of only ? [only] : versionOnly ? [] : ALL) add(program);
  addOutputOptions(program);
  addExamples(program);
  if (!only && !versionOnly) program.addHelpText('after', environmentHelp);
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
