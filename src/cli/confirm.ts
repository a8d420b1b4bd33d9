// The question asked before what cannot be undone (a deletion, a factor or recovery codes replaced, --force):
// only on a terminal (stdin and stdout TTYs), y/N with no as the default; `--yes` skips it. Without a terminal
// nothing is asked and the command runs as it always did (scripts). A "no" changes nothing: CANCELLED, exit 130.

import { SsrunError } from '../core/errors.js';
import { sanitizeLine } from '../core/validate.js';
import { canPrompt } from './context.js';

export interface YesOption {
  yes?: boolean;
}

/** Whether a question will be asked: commands look up what the question names (one read) only then. */
export const willAsk = (opts: YesOption): boolean => opts.yes !== true && canPrompt();

/** Asks `message` (y/N) when `willAsk`; a "no" throws CANCELLED and nothing has been changed. */
export async function confirmOrCancel(opts: YesOption, message: string): Promise<void> {
  if (!willAsk(opts)) return;
  const { confirm } = await import('@inquirer/prompts');
  const yes = await confirm({ message: sanitizeLine(message, 300), default: false });
  if (!yes) throw new SsrunError('CANCELLED', 'not confirmed; nothing was changed');
}

/** A name as the question shows it. */
export const quoted = (name: string): string => JSON.stringify(name);

