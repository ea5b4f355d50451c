// Completes the npm package wasm-pack wrote: adds the page client and the worker entry (js/)
// with their types, points package.json's exports at them, and, with `--shell DIR`, writes
// shell.js: the app shell's files (DIR's, as URL paths) and a version that changes whenever
// they or the package change, which names the worker's shell cache.
//
//   node scripts/package.mjs pkg --shell www
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const JS = ['client.js', 'client.d.ts', 'worker.js', 'worker.d.ts'];
const SHELL_MODULE = 'shell.js';

const [out, flag, shellDir] = process.argv.slice(2);
if (!out || (flag && (flag !== '--shell' || !shellDir))) {
  console.error('usage: node scripts/package.mjs OUT_DIR [--shell APP_DIR]');
  process.exit(2);
}

for (const file of JS) copyFileSync(join('js', file), join(out, file));

const manifestPath = join(out, 'package.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const entry = (name) => ({ types: `./${name}.d.ts`, default: `./${name}.js` });
Object.assign(manifest, {
  main: 'client.js',
  module: 'client.js',
  types: 'client.d.ts',
  files: [...new Set([...(manifest.files ?? []), ...JS])],
  exports: {
    '.': entry('client'),
    './client': entry('client'),
    './worker': entry('worker'),
    './core': entry('offgrid'),
    './offgrid_bg.wasm': './offgrid_bg.wasm',
    './package.json': './package.json',
  },
});
writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');

function walk(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

if (shellDir) {
  const hash = createHash('sha256');
  const app = walk(shellDir);
  const pkg = walk(out).filter((p) => relative(out, p) !== SHELL_MODULE);
  for (const path of [...app, ...pkg]) hash.update(path).update('\0').update(readFileSync(path)).update('\0');
  const files = app.map((p) => '/' + relative(shellDir, p).split(sep).join('/'));
  // The app opens at '/', which the server answers with index.html.
  if (files.includes('/index.html')) files.unshift('/');
  const version = hash.digest('hex').slice(0, 16);
  writeFileSync(join(out, SHELL_MODULE),
    `// Written by scripts/package.mjs: the app shell of ${shellDir}/ and the build's version.\n` +
    `export const SHELL = ${JSON.stringify({ version, files }, null, 2)};\n`);
  console.log(`${out}/${SHELL_MODULE}: shell version ${version}, ${files.length} files`);
}
