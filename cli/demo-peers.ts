// The demo's own peers: the SDKs and servers `tapwire demo` runs (package.json
// peerDependencies, all optional), installed with a clone's dev dependencies but not with
// tapwire itself, so a sidecar's install does not carry them. The demo names the missing ones.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_JSON, PACKAGE_ROOT } from '../core/package.js';

/** `name@version` of each package in `peers` that does not resolve from `from` (a file URL). */
export function missingPackages(peers: Readonly<Record<string, string>>, from: URL): string[] {
  const require = createRequire(from);
  const installed = (name: string): boolean => (require.resolve.paths(name) ?? []).some((base) => existsSync(join(base, name, 'package.json')));
  return Object.entries(peers)
    .filter(([name]) => !installed(name))
    .map(([name, version]) => `${name}@${version}`);
}

/** The demo's peers that are not installed, as `npm install` takes them; empty when the demo can run. */
export function missingDemoPeers(): string[] {
  return missingPackages(PACKAGE_JSON.peerDependencies ?? {}, pathToFileURL(join(PACKAGE_ROOT, 'package.json')));
}
