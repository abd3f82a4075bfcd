// The comparative bench's production install: `npm pack` of this checkout, installed with
// production dependencies only into an empty directory (from the registry, npm's cache first),
// as a sidecar image or host would hold it. Measured: the bytes and packages under
// node_modules. Checked: `tapwire run` from that directory answers its health check, and
// `tapwire demo` names the demo's packages it lacks (exit 2) rather than failing on an import.
// better-sqlite3 is installed without its build script and given this checkout's compiled
// module (same version, same Node), as a prebuilt binary would be: compiling SQLite takes
// minutes on a busy machine and adds its intermediate files, which no image keeps.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { freePort, healthAnswers, stopChild, tapwireCli, THIS_CHECKOUT, track } from './processes.js';

export interface InstallResult {
  /** The packed tarball's size. */
  tarballBytes: number;
  /** Bytes of every file under node_modules (apparent size). */
  nodeModulesBytes: number;
  /** Packages installed (each node_modules/<name> or node_modules/@scope/<name>, nested ones included). */
  packages: number;
  /** `tapwire run` from the install answered /_tapwire/health. */
  runAnswered: boolean;
  /** `tapwire demo` from the install: its exit code and the first line it printed. */
  demoExitCode: number | null;
  demoMessage: string;
}

function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

function packageCount(nodeModules: string): number {
  let count = 0;
  for (const entry of readdirSync(nodeModules, { withFileTypes: true, recursive: true })) {
    if (entry.name !== 'package.json' || !entry.isFile()) continue;
    // A package's own manifest sits right under node_modules/<name> or node_modules/@scope/<name>.
    const parts = entry.parentPath.slice(nodeModules.length + 1).split('/');
    const nested = parts.lastIndexOf('node_modules');
    const tail = parts.slice(nested + 1);
    if (tail.length === 1 || (tail.length === 2 && tail[0]!.startsWith('@'))) count++;
  }
  return count;
}

/** Starts `tapwire run` (no config) from the install and waits up to 15 s for /_tapwire/health. */
async function runAnswers(cli: string, dir: string): Promise<boolean> {
  const port = await freePort();
  const child = track(spawn(process.execPath, [cli, 'run', '--no-config', '--listen', `127.0.0.1:${port}`, '--db', join(dir, 'tapwire.db'), '--log-level', 'warn'], { cwd: dir, stdio: 'ignore' }));
  const deadline = Date.now() + 15_000;
  try {
    while (Date.now() < deadline && child.exitCode === null) {
      if (await healthAnswers(`http://127.0.0.1:${port}`)) return true;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  } finally {
    await stopChild(child, 'SIGTERM', 5_000);
  }
}

export async function measureInstall(workDir: string, log: (line: string) => void): Promise<InstallResult> {
  const packDir = join(workDir, 'pack');
  const installDir = join(workDir, 'install');
  mkdirSync(packDir, { recursive: true });
  mkdirSync(installDir, { recursive: true });
  // The bench runs on a fresh build (npm run bench builds first), so pack skips prepare's rebuild.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], { cwd: THIS_CHECKOUT, encoding: 'utf8' })) as { filename: string }[];
  const tarball = join(packDir, packed[0]!.filename);
  writeFileSync(join(installDir, 'package.json'), JSON.stringify({ name: 'tapwire-install-size', private: true }));
  const install = spawnSync('npm', ['install', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', tarball], { cwd: installDir, encoding: 'utf8', timeout: 600_000 });
  if (install.status !== 0) throw new Error(`npm install of ${tarball} failed:\n${install.stdout}${install.stderr}`);
  const nodeModules = join(installDir, 'node_modules');
  const compiled = join(dirname(createRequire(join(THIS_CHECKOUT, 'package.json')).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
  const target = join(nodeModules, 'better-sqlite3', 'build', 'Release');
  mkdirSync(target, { recursive: true });
  copyFileSync(compiled, join(target, 'better_sqlite3.node'));
  const result: InstallResult = {
    tarballBytes: statSync(tarball).size,
    nodeModulesBytes: treeBytes(nodeModules),
    packages: packageCount(nodeModules),
    runAnswered: false,
    demoExitCode: null,
    demoMessage: '',
  };
  const cli = tapwireCli(join(nodeModules, 'tapwire'));
  result.runAnswered = await runAnswers(cli, installDir);
  const demo = spawnSync(process.execPath, [cli, 'demo', '--db', join(installDir, 'demo.db')], { cwd: installDir, encoding: 'utf8', timeout: 30_000 });
  result.demoExitCode = demo.status;
  result.demoMessage = `${demo.stderr}${demo.stdout}`.split('\n')[0] ?? '';
  log(`  production install: ${(result.nodeModulesBytes / 1e6).toFixed(1)} MB in ${result.packages} packages (tarball ${(result.tarballBytes / 1e3).toFixed(0)} kB); tapwire run ${result.runAnswered ? 'answers' : 'DID NOT ANSWER'}; tapwire demo exits ${String(result.demoExitCode)}`);
  return result;
}
