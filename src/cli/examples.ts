// The Examples section of every command's --help, taken from the README (test/cli/help.test.ts fails when an
// example is not in the README, or a command has none).

import type { Command } from 'commander';

export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  '': ['ssrun mfa create -f fixtures/mfa/duo.json && ssrun mfa get', 'ssrun login -u bob -m push', 'ssrun help mfa get'],
  mfa: ['ssrun mfa get', 'ssrun mfa create -f fixtures/mfa/duo.json'],
  'mfa get': ['ssrun mfa get', 'ssrun mfa get -n MyDuoConfig -v -o table'],
  'mfa create': ['ssrun mfa create -f my-duo.json', 'ssrun mfa create -f -'],
  'mfa update': ['ssrun mfa get -n MyDuoConfig > my-duo.json && ssrun mfa update -f my-duo.json -n MyDuoConfig'],
  'mfa delete': ['ssrun mfa delete -n MyDuoConfig', 'ssrun mfa delete -n MyDuoConfig --force -y'],
  'mfa assign-principal': ['ssrun mfa assign-principal -p principal/internal/user/bob -m bob@example.com -c MyDuoConfig', 'ssrun mfa assign-principal -p principal/internal/user/bob -c TotpDemoConfig --qr-file bob.png'],
  'mfa verify': ['ssrun mfa verify -u bob -m 123456'],
  'mfa check': ['ssrun mfa check -n MyDuoConfig'],
  'mfa recovery-codes': ['ssrun mfa recovery-codes -p principal/internal/user/root > root-recovery.json'],
  'mfa remove-principal': ['ssrun mfa remove-principal -p principal/internal/user/bob'],
  'mfa key': ['ssrun mfa key add -u bob -n "YubiKey 5C"', 'ssrun mfa key get -u bob --output table'],
  'mfa key add': ['ssrun mfa key add -u bob -n "YubiKey 5C"'],
  'mfa key get': ['ssrun mfa key get -u bob --output table'],
  'mfa key rename': ['ssrun mfa key rename -u bob --id KEYID -n "Backup key"'],
  'mfa key delete': ['ssrun mfa key delete -u bob --id KEYID'],
  'mfa policy': ['ssrun mfa policy create -f engineers.json', 'ssrun mfa policy explain -u bob'],
  'mfa policy create': ['ssrun mfa policy create -f engineers.json'],
  'mfa policy get': ['ssrun mfa policy get -n engineers -o table'],
  'mfa policy update': ['ssrun mfa policy update -f engineers.json -n engineers'],
  'mfa policy delete': ['ssrun mfa policy delete -n engineers'],
  'mfa policy activate': ['ssrun mfa policy activate -n engineers'],
  'mfa policy deactivate': ['ssrun mfa policy deactivate -n engineers'],
  'mfa policy explain': ['ssrun mfa policy explain -u bob'],
  'mfa policy reset-deadline': ['ssrun mfa policy reset-deadline -p principal/internal/user/bob'],
  group: ['ssrun group create -n eng', 'ssrun group add-member -n eng -p principal/internal/user/bob'],
  'group create': ['ssrun group create -n eng'],
  'group get': ['ssrun group get -n eng -v'],
  'group delete': ['ssrun group delete -n eng'],
  'group add-member': ['ssrun group add-member -n eng -p principal/internal/user/bob'],
  'group remove-member': ['ssrun group remove-member -n eng -p principal/internal/user/bob'],
  user: ["echo 'correct horse battery' | ssrun user create -n bob --password-stdin", 'ssrun user get -n bob -v'],
  'user create': ["echo 'correct horse battery' | ssrun user create -n bob --password-stdin"],
  'user get': ['ssrun user get -n bob -v'],
  'user set-password': ['ssrun user set-password -n bob'],
  'user unlock': ['ssrun user unlock -n bob'],
  'user delete': ['ssrun user delete -n bob'],
  application: ['ssrun application create -n ci-bot', 'ssrun login -a ci-bot --api-key-stdin'],
  'application create': ['ssrun application create -n ci-bot'],
  'application get': ['ssrun application get -n ci-bot -v'],
  'application delete': ['ssrun application delete -n ci-bot'],
  auth: ['ssrun auth token'],
  'auth token': ['ssrun auth token'],
  login: ['ssrun login -u bob -m push', 'ssrun login -u bob --password-stdin -m browser', "echo 'correct horse battery' | ssrun login -u bob --password-stdin -m 123456", 'ssrun login -a ci-bot --api-key-stdin'],
  logout: ['ssrun logout'],
  whoami: ['ssrun whoami'],
  context: ['ssrun context create -n prod -a ssrun.example.com -p 8443 --ca company-ca.pem', 'ssrun context set-current -n prod'],
  'context create': ['ssrun context create -n prod -a ssrun.example.com -p 8443 --ca company-ca.pem', 'ssrun context create -n dev -a http://127.0.0.1 -p 8443'],
  'context get': ['ssrun context get -o table'],
  'context set-current': ['ssrun context set-current -n prod'],
  'context delete': ['ssrun context delete -n dev'],
  authorization: ['ssrun authorization create -p principal/internal/user/alice -o read -a allow system/audit'],
  'authorization create': ['ssrun authorization create -p principal/internal/user/alice -o read -a allow system/audit'],
  'authorization get': ['ssrun authorization get -p principal/internal/user/alice'],
  'authorization delete': ['ssrun authorization delete -p principal/internal/user/alice -o read system/audit'],
  audit: ['ssrun audit get --since 12h -o table'],
  'audit get': ['ssrun audit get --since 12h -o table', 'ssrun audit get --principal principal/internal/user/bob --limit 50'],
  serve: ['ssrun serve --home /srv/ssrun --listen 0.0.0.0:8443 --tls-cert server.pem --tls-key server.key', 'ssrun serve --home /tmp/srv --listen 127.0.0.1:8443'],
  migrate: ['ssrun migrate --home /srv/ssrun'],
  init: ["echo 'a root password, 10+ chars' | ssrun init --password-stdin"],
  completion: ['eval "$(ssrun completion bash)"', 'ssrun completion fish > ~/.config/fish/completions/ssrun.fish'],
};

/** The Examples section of one command's help ('' is the top level). */
export function examplesHelp(path: string): string {
  const lines = EXAMPLES[path];
  return lines ? `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}` : '';
}

/** Adds its Examples section to the help of every command of the tree that has one. */
export function addExamples(cmd: Command, path = ''): void {
  const text = examplesHelp(path);
  if (text) cmd.addHelpText('after', text);
  for (const sub of cmd.commands) addExamples(sub, path ? `${path} ${sub.name()}` : sub.name());
}
