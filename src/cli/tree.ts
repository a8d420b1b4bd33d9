// The commander tree's shared pieces: how a lazily loaded command is run, and the --output option.

import { Option, type Command } from 'commander';

type Action = (opts: never, ...positional: never[]) => Promise<void>;

/** Commands that only read: on a store that does not exist yet they show an empty one and create none. */
const READS = new Set(['get', 'explain', 'whoami', 'check']);

/** Wraps a lazily loaded command: options of the command merged with the global ones (--home), then any positional arguments. */
export function run(load: () => Promise<Action>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const [action, { setReadOnly }] = await Promise.all([load(), import('./context.js')]);
    setReadOnly(READS.has(cmd.name()));
    await action(cmd.optsWithGlobals() as never, ...(args.slice(0, -2) as never[]));
  };
}

export const outputOption = () => new Option('--output <format>', 'json (default) or table').choices(['json', 'table']);
