// ssrun auth token: the current session's token, for CI (`SSRUN_TOKEN=$(ssrun auth token)`), like `gh auth token`.
// Printing the token is this command's purpose; nothing else ever prints one.

import { SsrunError } from '../../core/errors.js';
import { io, resolveTarget, tokenFromEnvironment, type GlobalOptions } from '../context.js';
import { savedSession } from '../session.js';
import { notLoggedIn } from './login.js';

export async function token(opts: GlobalOptions): Promise<void> {
  const target = await resolveTarget(opts);
  if (target.kind === 'local') {
    throw new SsrunError('USAGE', 'auth token: the context is local (the embedded store), whose sessions are of no use elsewhere; choose a server context with --context NAME or `ssrun context set-current -n NAME`');
  }
  const fromEnv = tokenFromEnvironment();
  if (fromEnv !== undefined) return io.out(`${fromEnv}\n`);
  const saved = await savedSession(opts, target.key);
  if (!saved) throw notLoggedIn(target.name);
  if (Date.parse(saved.expiresAt) <= Date.now()) {
    throw new SsrunError('SESSION_EXPIRED', `the session on context ${JSON.stringify(target.name)} expired at ${saved.expiresAt}: run \`ssrun login\` again`);
  }
  io.out(`${saved.token}\n`);
}
