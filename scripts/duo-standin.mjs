// A local stand-in of Duo's Universal Prompt endpoints, for the README's walk-through: the one the tests use
// (test/fakes/duo-universal.ts, compiled here with esbuild), on https://127.0.0.1:PORT with a CA made now. It
// writes a `duo` configuration ("Prompt": "universal") for one Web SDK client of its own to the file named on
// the command line (0600), prints where its CA is, and stops on Ctrl-C or after 15 minutes. Its "prompt"
// approves at once: Duo usernames deny#…, fraud#…, expired#… and so on choose other outcomes (see that file).
// A development tool: it needs the devDependencies (npm ci), and never talks to the real Duo.
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const target = process.argv[2];
if (!target) {
  process.stderr.write('usage: npm run duo-standin -- CONFIG.json   (writes a Universal Prompt configuration for the stand-in there)\n');
  process.exit(2);
}
const cache = join(ROOT, 'node_modules', '.cache', 'ssrun');
mkdirSync(cache, { recursive: true });
const compiled = join(cache, `duo-standin-${process.pid}.mjs`);
const out = await build({ entryPoints: [join(ROOT, 'test', 'fakes', 'duo-universal.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', write: false, logLevel: 'warning' });
writeFileSync(compiled, out.outputFiles[0].text);
const { startFakeUniversal } = await import(pathToFileURL(compiled).href);
rmSync(compiled, { force: true });

const fake = await startFakeUniversal();
const client = fake.client();
writeFileSync(resolve(target), `${JSON.stringify({ Type: 'duo', Name: 'DuoUniversal', Options: fake.options(client) }, null, 2)}\n`, { mode: 0o600 });
process.stdout.write(`Duo stand-in at https://${fake.host}; configuration "DuoUniversal" written to ${target}; its CA: ${fake.caFile}\n(Ctrl-C to stop; it stops by itself in 15 minutes)\n`);
const stop = async () => {
  await fake.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setTimeout(stop, 15 * 60_000).unref?.();
setInterval(() => undefined, 60_000);
