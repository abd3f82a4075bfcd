// The demo's own peers: the SDKs and servers `tapwire demo` runs (package.json
// peerDependencies, all optional), installed with a clone's dev dependencies but not with
// tapwire itself, so a sidecar's install does not carry them. The demo names the missing ones.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** tapwire's package.json (this file is dist/cli/demo-peers.js). */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

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
  const pkg = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { peerDependencies?: Record<string, string> };
  return missingPackages(pkg.peerDependencies ?? {}, PACKAGE_JSON);
}
