// The ENVIRONMENT section of `ssrun --help`: every variable the code reads (test/cli/environment.test.ts
// fails when one is read and not listed here).

export const ENVIRONMENT: readonly [string, string][] = [
  ['SSRUN_HOME', 'where the store, its key and the CLI state live (as --home)'],
  ['XDG_DATA_HOME', 'on Linux, the default home is $XDG_DATA_HOME/ssrun (else ~/.local/share/ssrun)'],
  ['SSRUN_MASTER_KEY', "the store's master key (base64 of 32 bytes) instead of the master.key file; removed from the environment at start"],
  ['SSRUN_CONTEXT', 'the context of every command (as --context; before SECRETSSAFE_HOST and the current context)'],
  ['SSRUN_TOKEN', "a server session's token (as `ssrun auth token` prints it), instead of the one saved by `ssrun login` (CI); removed at start"],
  ['SECRETSSAFE_HOST', 'a server to use instead of the current context (with SECRETSSAFE_PORT, default 443)'],
  ['SECRETSSAFE_PORT', "that server's port"],
  ['SECRETSSAFE_VERIFY_CA', "true (default), false, or a CA file to trust for that server's certificate"],
  ['SSRUN_DATABASE_URL', 'serve and migrate: the PostgreSQL database (postgres://USER@HOST:PORT/DB); removed at start'],
  ['PGPASSWORD', "the PostgreSQL password when the URL has none; removed at start"],
  ['SSRUN_DEBUG', '1: errors print their stack trace'],
  ['NO_COLOR', 'set and not empty: no colour'],
  ['BROWSER', "the program that opens a browser login's URL: security keys, Duo's Universal Prompt (none: only print it)"],
  ['PATH', 'where the platform opener (xdg-open) is looked for'],
];

export function environmentHelp(): string {
  const width = Math.max(...ENVIRONMENT.map(([name]) => name.length)) + 2;
  return `\nEnvironment:\n${ENVIRONMENT.map(([name, what]) => `  ${name.padEnd(width)}${what}`).join('\n')}\n`;
}
