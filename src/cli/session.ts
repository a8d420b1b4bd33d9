// The CLI's copy of its session token, in its conf file (0600) under the ssrun home.

import { homeOf, type GlobalOptions } from './context.js';

export interface SavedSession {
  token: string;
  principal: string;
  expiresAt: string;
}

async function confFile(opts: GlobalOptions) {
  const { default: Conf } = await import('conf');
  return new Conf<{ session?: SavedSession }>({ projectName: 'ssrun', cwd: await homeOf(opts), configName: 'cli', configFileMode: 0o600 });
}

export async function saveSession(opts: GlobalOptions, session: SavedSession): Promise<void> {
  (await confFile(opts)).set('session', session);
}

export async function takeSession(opts: GlobalOptions): Promise<SavedSession | undefined> {
  const conf = await confFile(opts);
  const s = conf.get('session');
  conf.delete('session');
  return s;
}
