// The commander tree's shared pieces: how a lazily loaded command is run, and the options every command of a
// kind shares (-o/--output on every command that prints a result, -y on those that ask first).

import { Option, type Command } from 'commander';
import { parseOutput, setOutput } from './render.js';

type Action = (opts: never, ...positional: never[]) => Promise<void>;

/** Commands that only read: on a store that does not exist yet they show an empty one and create none. */
const READS = new Set(['get', 'explain', 'whoami', 'check']);

/** Wraps a lazily loaded command: options of the command merged with the global ones (--home), then any positional arguments. */
export function run(load: () => Promise<Action>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals();
    setOutput(parseOutput(opts.output as string | undefined));
    const [action, { setReadOnly }] = await Promise.all([load(), import('./context.js')]);
    setReadOnly(READS.has(cmd.name()));
    await action(opts as never, ...(args.slice(0, -2) as never[]));
  };
}

/** -o, --output; only --output where -o is taken (authorization create and delete: -o is --operation). */
export const outputOption = (short = true) => new Option(`${short ? '-o, ' : ''}--output <format>`, 'json (default) or table').choices(['json', 'table']);

/** -y of the commands that ask before what cannot be undone (src/cli/confirm.ts). */
export const yesOption = () => new Option('-y, --yes', 'do not ask for confirmation (asked only on a terminal)');

/** Commands that print no result of their own: `serve` runs until stopped (its one JSON line says it is ready). */
const NO_RESULT = new Set(['serve', 'completion', '__complete']);

/** Every command that prints a result takes -o/--output (the tree files add it where they list it first). */
export function addOutputOptions(cmd: Command): void {
  for (const sub of cmd.commands) {
    if (sub.commands.length > 0) addOutputOptions(sub);
    else if (!NO_RESULT.has(sub.name()) && !sub.options.some((o) => o.long === '--output')) sub.addOption(outputOption(!sub.options.some((o) => o.short === '-o')));
  }
}
