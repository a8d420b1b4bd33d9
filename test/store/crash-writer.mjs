// S2 crash test, the child: writes through the Store port in a loop and reports each committed transaction
// on stdout (a pipe: Node writes to pipes synchronously, so a reported line is never lost when the parent
// SIGKILLs us). Each "add" transaction writes a config, a principal and its assignment together; each
// "update" re-seals an earlier config's secret with a new version.
//
//   node crash-writer.mjs HOME ROUND aggressive|normal [split]
//
// split: `ssrun serve`'s store (src/store/split-store.ts): reads and writers on two connections.
// Output lines: "ready", "add ROUND I", "update ROUND I V".

import { join } from 'node:path';

const [home, round, mode, where] = process.argv.slice(2);
const root = new URL('../../', import.meta.url).pathname;
const { openSqliteStore } = await import(join(root, 'dist', 'store', 'sqlite.js'));
const writer = where === 'split' ? (await import(join(root, 'dist', 'store', 'split-store.js'))).splitStore : undefined;

// The master key comes from the key file beside the database (created by whichever round comes first).
const opened = openSqliteStore({ home, masterKey: {}, writer });
// Aggressive rounds checkpoint after every few pages, so kills also land inside checkpoints (split: on the
// reading connection, the writers' keeps SQLite's default).
if (mode === 'aggressive') opened.db.pragma('wal_autocheckpoint = 4');
const { store } = opened;
process.stdout.write('ready\n');

const secretOf = (i, v) => `sk-${round}-${i}-v${v}-${'s'.repeat(24)}`;
const config = (i, v) => ({
  Type: 'duo',
  Name: `c-${round}-${i}`,
  Options: { IntegrationKey: 'DIXXXXXXXXXXXXXXXXXX', SecretKey: secretOf(i, v), Host: 'api-12345678.duosecurity.com' },
  secretKeys: ['SecretKey'],
});
const versions = [];

for (let i = 0; ; i++) {
  const at = new Date().toISOString();
  await store.write(async (tx) => {
    await tx.insertConfig(config(i, 0), at);
    const p = await tx.insertPrincipal('user', `u-${round}-${i}`, `cred-${round}-${i}`, at);
    await tx.assign(p.id, `c-${round}-${i}`, `duo-${round}-${i}`, at);
    await tx.audit({ at, principal: `principal/internal/user/u-${round}-${i}`, action: 'crash.add', outcome: 'ok', detail: '' });
  });
  versions.push(0);
  process.stdout.write(`add ${round} ${i}\n`);
  if (i % 3 === 2) {
    const j = Math.floor(Math.random() * (i + 1));
    const v = versions[j] + 1;
    await store.write(async (tx) => {
      const existing = await tx.getConfig(`c-${round}-${j}`);
      await tx.updateConfig(existing.Name, config(j, v), new Date().toISOString());
    });
    versions[j] = v;
    process.stdout.write(`update ${round} ${j} ${v}\n`);
  }
}
