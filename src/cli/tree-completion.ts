// ssrun completion SHELL and the hidden ssrun __complete KIND the scripts call (src/cli/completion.ts).

import type { Command } from 'commander';

const completion = () => import('./completion.js');

export function completionCommands(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish): commands, options, and configuration and other names from the store')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => {
      const { completionScript } = await completion();
      process.stdout.write(completionScript(program, shell));
    });
  program
    .command('__complete', { hidden: true })
    .description('list the names of KIND for a completion script (config, user, application, group, policy, context)')
    .argument('<kind>')
    .action(async (kind: string, _opts: unknown, cmd: Command) => (await completion()).completeValues(cmd.optsWithGlobals(), kind));
}
