// The bundled build users run (package.json `bin`): tsc's dist/ tree bundled by esbuild into
// dist/bundle/, so a sidecar starts by reading a handful of files instead of some 600 modules
// (start-up and memory: bench/README.md, issue 23). Code loaded only on demand (the TUI, the
// PostgreSQL and Redis backends, the OpenAPI parser, export, replay) stays in chunks of its own.
// The worker threads are entries of their own, next to the chunks that start them, as their
// `new URL('./…-worker.js', import.meta.url)` expects. Outside the bundle: native addons, the
// packages that read their own files at run time, and the demo's optional peers.
// Usage (after tsc): node dist/build/bundle.js
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { peerDependencies?: Record<string, string> };

/** Packages loaded from node_modules at run time rather than bundled, and why. */
const EXTERNAL = [
  'better-sqlite3', // a native addon
  'pg', // loaded only for postgres:// locations; pg-native is its optional native half
  'ioredis', // loaded only with limits.redis
  'blessed', // reads its terminfo files from its own folder
  'gpt-tokenizer', // its BPE ranks are large and loaded only when a call needs an estimate
  ...Object.keys(manifest.peerDependencies ?? {}), // the demo's peers: optional, absent from a sidecar's install
];

const outdir = `${root}dist/bundle`;
// Written over the last build, never removed first: a CLI running from dist/bundle/ meanwhile
// (a test, a sidecar) keeps finding its files. What the last build left and this one did not
// write is removed after.
const result = await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/cli.js', 'dist/store/sqlite/writer-worker.js', 'dist/store/ship-worker.js'],
  outdir,
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __tapwireCreateRequire } from 'node:module'; const require = __tapwireCreateRequire(import.meta.url);" },
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});
const written = new Set(Object.keys(result.metafile.outputs).map((file) => join(root, file)));
for (const entry of readdirSync(outdir, { withFileTypes: true, recursive: true })) {
  const file = join(entry.parentPath, entry.name);
  if (entry.isFile() && !written.has(file)) rmSync(file);
}
