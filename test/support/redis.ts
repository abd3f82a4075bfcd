// Test harness: a real redis-server (Debian's redis-server package, which .ci/run installs) on
// 127.0.0.1 and a port the OS picked, with a fresh temp directory and no persistence; it can
// be stopped and started again on the same port, or frozen (SIGSTOP) and let go, and is
// stopped and removed when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPortUrl } from './upstream.js';

export interface TestRedis {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and nothing is answered. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
}

/** Starts redis-server for the test `t`: stopped and its directory removed when the test ends. */
export async function startRedisFor(t: { after(fn: () => Promise<void>): void }): Promise<TestRedis> {
  const port = Number(new URL(await closedPortUrl()).port);
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-redis-'));
  let child: ChildProcess | null = null;

  async function start(): Promise<void> {
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = server;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 5 s:\n${output}`)), 5000);
      server.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run redis-server (apt-get install redis-server): ${err.message}`));
      });
      server.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
      server.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    });
  }

  const signal = (name: NodeJS.Signals): void => {
    if (!child?.kill(name)) throw new Error(`redis-server is not running: cannot send ${name}`);
  };

  async function stop(): Promise<void> {
    const server = child;
    child = null;
    if (!server || server.exitCode !== null) return;
    server.kill('SIGCONT'); // a paused server would not act on SIGTERM
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    server.kill('SIGTERM');
    await exited;
  }

  await start();
  t.after(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { url: `redis://127.0.0.1:${port}`, port, stop, start, pause: () => signal('SIGSTOP'), resume: () => signal('SIGCONT') };
}
