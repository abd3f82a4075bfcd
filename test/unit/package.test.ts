// What `npm pack` gives a sidecar: the bundled CLI (build/bundle.ts) and the example policies,
// nothing of the tests, the bench or the sources; the bundle loads from node_modules only the
// production dependencies (what it leaves outside: native, on-demand or file-reading packages)
// and the demo's optional peers, which the demo names when missing. Everything else is inlined,
// so it is a dev dependency. Installing the packed tarball for real is the bench's
// (bench/install-size.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { missingPackages } from '../../cli/demo-peers.js';
import { REPO } from '../support/grafana.js';

interface PackageJson {
  bin: { tapwire: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
}

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as PackageJson;
const DIST = join(REPO, 'dist');
/** The bundled build (build/bundle.ts): what the package ships. */
const BUNDLE = join(DIST, 'bundle');

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => join(e.parentPath, e.name));
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or null for a relative or node: one. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!)) return null;
  return specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
}

/** Every package a built file loads at run time (static and dynamic imports; the build has no type-only ones left). */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = new Set<string>();
  const patterns = [
    /^(?:import|export)\b[^'";]*?\bfrom\s*(['"])([^'"\n]+)\1/gm, // tsc writes each import and re-export on lines of its own
    /^import\s*(['"])([^'"\n]+)\1/gm,
    /\b(?:import|require)\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  ];
  for (const m of patterns.flatMap((p) => [...text.matchAll(p)])) {
    const name = packageOf(m[2]!);
    if (name) found.add(name);
  }
  return [...found];
}

/**
 * The packages a bundle file loads at run time. esbuild writes every import minified with
 * double quotes (`import{x}from"pkg"`, `import("pkg")`) and the bundled CommonJS's require()
 * of what it left outside as `__require("pkg")`; code generated as text (ajv's
 * `'require("ajv/dist/runtime/equal")'`) sits in quotes or backticks and is not a call.
 */
function bundleImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/(?:(?<=[}\w*]\s?)from|\bimport\(|(?<![\w.$'"`])(?:__)?require\()"([@\w][^"\n]*)"/g)) {
    const name = packageOf(m[1]!);
    if (name) found.add(name);
  }
  return [...found];
}

describe('the package', () => {
  test('npm pack ships the bundled CLI (its chunks and worker threads) and the example policies; nothing else of dist/, no tests, bench, sources or maps', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    for (const required of ['package.json', 'dist/bundle/cli.js', 'dist/bundle/writer-worker.js', 'dist/bundle/ship-worker.js']) {
      assert.ok(files.has(required), `the package holds ${required}`);
    }
    assert.equal(pkg.bin.tapwire, 'dist/bundle/cli.js', 'the command users run is the bundle');
    assert.ok([...files].some((f) => /^policies\/examples\/.+\.yaml$/.test(f)), 'the demo finds the example policies in the package');
    const bundle = jsFiles(BUNDLE).map((f) => relative(REPO, f));
    assert.deepEqual(bundle.filter((f) => !files.has(f)), [], 'every file of the bundle is packed');
    const unwanted = [...files].filter((f) => (f.startsWith('dist/') && !f.startsWith('dist/bundle/')) || /\.(ts|map)$/.test(f) || f.startsWith('node_modules/'));
    assert.deepEqual(unwanted, []);
  });

  test('the bundle loads from node_modules only production dependencies and the demo\'s optional peers', () => {
    const loaded = new Set(jsFiles(BUNDLE).flatMap(bundleImports));
    const strays = [...loaded].filter((name) => !(name in pkg.dependencies) && !(name in pkg.peerDependencies));
    assert.deepEqual(strays, []);
    // The rest is inlined, so it is a build-time (dev) dependency and a sidecar's install skips it.
    assert.deepEqual(Object.keys(pkg.dependencies).filter((name) => !loaded.has(name)), [], 'every production dependency is one the bundle loads');
    assert.ok(loaded.has('better-sqlite3'), 'the native addon stays outside the bundle');
  });

  test("the demo's peers are optional, installed in a clone (dev dependencies), and none is a production dependency", () => {
    const demoImports = new Set(jsFiles(join(DIST, 'demo')).flatMap(runtimeImports));
    const peers = Object.keys(pkg.peerDependencies);
    assert.deepEqual(peers.filter((p) => !demoImports.has(p)), [], 'every peer is one the demo loads');
    for (const peer of peers) {
      assert.equal(pkg.peerDependenciesMeta[peer]?.optional, true, `${peer} is an optional peer`);
      assert.equal(pkg.devDependencies[peer], pkg.peerDependencies[peer], `${peer}: a clone installs the version the demo asks for`);
      assert.ok(!(peer in pkg.dependencies), `${peer} is not a production dependency`);
    }
  });

  test('the demo names each missing peer as npm install takes it', () => {
    const from = pathToFileURL(join(REPO, 'package.json'));
    assert.deepEqual(missingPackages({ openai: '6.30.1', 'tapwire-no-such-package': '1.2.3', '@tapwire/no-such-scope': '^4.0.0' }, from), [
      'tapwire-no-such-package@1.2.3',
      '@tapwire/no-such-scope@^4.0.0',
    ]);
  });
});
