// The commander tree's shared pieces: how a lazily loaded command is run, and the --output option.

import { Option, type Command } from 'commander';

type Action = (opts: never, ...positional: never[]) => Promise<void>;

/** Wraps a lazily loaded command: options of the command merged with the global ones (--home), then any positional arguments. */
export function run(load: () => Promise<Action>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const action = await load();
    await action(cmd.optsWithGlobals() as never, ...(args.slice(0, -2) as never[]));
  };
}

export const outputOption = () => new Option('--output <format>', 'json (default) or table').choices(['json', 'table']);

/** -y of the commands that ask before what cannot be undone (src/cli/confirm.ts). */
export const yesOption = () => new Option('-y, --yes', 'do not ask for confirmation (asked only on a terminal)');
