// npm run build's second step: the CLI as one CommonJS file, dist/bin/main.cjs (esbuild), and its V8 code
// cache, main.cjs.cache (see bin/ssrun). Measured for the cold start (bench/, figure 1): one file compiled from
// a code cache costs less than ESM chunks (the ESM loader resolves, compiles and links each), and the
// dependencies every command needs (commander, better-sqlite3's JavaScript) are bundled too: their dozens of
// small files would cost a resolution each (a realpath of every path component). Every other dependency stays
// in node_modules, loaded only where it is used; the CLI's own modules are evaluated lazily (esbuild wraps each
// one imported with import()).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist', 'bin', 'main.cjs');
const BUNDLED = new Set(['commander', 'better-sqlite3']);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) => !BUNDLED.has(d)).flatMap((d) => [d, `${d}/*`]);

// commander requires node:child_process (and with it net and the stream modules) for executable subcommands,
// which ssrun has none of: its spawn is looked up when called instead.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const eager = "const childProcess = require('node:child_process');";
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(eager)) throw new Error(`${args.path}: no \`${eager}\` to make lazy (a new commander?): update scripts/bundle.mjs`);
      return { contents: text.replace(eager, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };"), loader: 'js' };
    });
  },
};

rmSync(join(ROOT, 'dist', 'bin'), { recursive: true, force: true });
const result = await build({
  entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
  outfile: OUT,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: [...external, 'bindings'],
  // import.meta.url (createRequire) in CommonJS: the bundle's own URL.
  define: { 'import.meta.url': '__ssrun_url' },
  banner: { js: `const __ssrun_url = require('node:url').pathToFileURL(__filename).href;` },
  plugins: [lazyChildProcess],
  write: false,
  logLevel: 'warning',
});
// The dependencies left to import() (ESM-only ones, and a few built-ins) go through bin/ssrun's import():
// a vm script has none of its own.
const code = result.outputFiles[0].text.replace(/\bimport\((?="[^"]+"\))/g, '__ssrun_import(');
if (/\bimport\(/.test(code)) throw new Error(`${OUT}: an import() that bin/ssrun cannot serve is left: ${/.*\bimport\(.*/.exec(code)[0].trim()}`);
mkdirSync(join(ROOT, 'dist', 'bin'), { recursive: true });
// The bundle's first line names its content: bin/ssrun reads the code cache made for that content only (V8
// itself compares a cache with its source by length alone).
const buildId = createHash('sha256').update(code).digest('hex').slice(0, 16);
writeFileSync(OUT, `// ssrun build ${buildId}\n${code}`);

// The code cache: made by running a command that opens a store (a new one, then `mfa get`), so that the
// functions of a cold start are in it compiled.
const home = mkdtempSync(join(tmpdir(), 'ssrun-build-'));
try {
  const env = { ...process.env, SSRUN_HOME: home, SSRUN_MASTER_KEY: '', SSRUN_WRITE_CODE_CACHE: '1' };
  delete env.SECRETSSAFE_HOST;
  execFileSync(process.execPath, [join(ROOT, 'bin', 'ssrun'), 'mfa', 'get'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
} finally {
  rmSync(home, { recursive: true, force: true });
}
// Written under the CLI's umask (0077); readable like the bundle itself.
chmodSync(`${OUT}.${buildId}.cache`, 0o644);
