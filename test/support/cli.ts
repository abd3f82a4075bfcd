// The tapwire command as a child process, for end-to-end tests: run it to completion, or
// start `tapwire run` and wait until it logs that it listens, keeping its stdout and stderr.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tapwireCli, THIS_CHECKOUT } from '../../bench/processes.js';

/** The CLI users run: package.json's bin, the bundled build (build/bundle.ts). */
export const CLI = tapwireCli(THIS_CHECKOUT);

export function runCli(args: string[], cwd?: string, env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd, env, timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A loopback port the OS just handed out, then closed. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `tapwire run` (in `cwd`, default this process's) and resolves once it logs that it listens. */
export async function startCli(args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<RunningCli> {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const deadline = Date.now() + 15_000;
  while (!out.includes('tapwire listening')) {
    if (child.exitCode !== null) throw new Error(`tapwire exited ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) throw new Error(`tapwire did not start: ${out}${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, stdout: () => out, stderr: () => err };
}
