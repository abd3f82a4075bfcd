// Where tapwire's own package is, and its version: found by walking up from this module to the
// package.json named "tapwire", so the same code works from tsc's dist/ tree and from the
// bundled build (dist/bundle/), whose modules sit at another depth.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface PackageJson {
  name?: string;
  version: string;
  peerDependencies?: Record<string, string>;
}

function findPackage(): { root: string; manifest: PackageJson } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
      if (manifest.name === 'tapwire') return { root: dir, manifest };
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`tapwire's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

const found = findPackage();

/** The folder holding tapwire's package.json (a clone, or node_modules/tapwire). */
export const PACKAGE_ROOT = found.root;
/** tapwire's package.json as read at start. */
export const PACKAGE_JSON: Readonly<PackageJson> = found.manifest;
/** tapwire's version, from its package.json. */
export const VERSION = found.manifest.version;
