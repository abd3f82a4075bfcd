// Test and soak harness: `tapwire run` as a user starts it, a separate process (so a test
// can SIGKILL or SIGTERM it, and read its memory), with the config the test writes, on a
// free loopback port, its log in a file. Every process started here is killed when the
// test process exits. With `inspect`, the test can make it collect garbage (over the
// inspector protocol), so a memory sample counts what is retained, not what V8 has yet to free.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'undici';
import { freePort } from '../../bench/processes.js';
import { CLI } from './cli.js';


const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface TapwireProcess {
  child: ChildProcess;
  url: string;
  dbPath: string;
  logPath: string;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The process's resident memory now, in bytes (from /proc). */
  rss(): number;
  /** Runs a full garbage collection in the process (started with `inspect` only). */
  collectGarbage(): Promise<void>;
  log(): string;
}

export interface TapwireProcessOptions {
  /** `store:` keys besides `path` (filled in). */
  store?: Record<string, string | number>;
  /** Open the inspector on a loopback port, for collectGarbage(). */
  inspect?: boolean;
  /** Node flags before the CLI (e.g. `--import` a loader hook). */
  node?: string[];
  /** The CLI script to run: the bundled one users run unless a test needs tsc's unbundled tree. */
  cli?: string;
  /** The process's environment (default: this one's). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts `tapwire run --config <dir>/tapwire.yaml`; `yaml` is the config without `listen`
 * and `store.path`, which this fills in (a `store:` block of the test's own goes last).
 */
export async function startTapwireProcess(dir: string, yaml: string, options: TapwireProcessOptions = {}): Promise<TapwireProcess> {
  const port = await freePort();
  const configPath = join(dir, 'tapwire.yaml');
  const dbPath = join(dir, 'tapwire.db');
  const logPath = join(dir, 'tapwire.log');
  const storeYaml = Object.entries({ path: JSON.stringify(dbPath), ...options.store }).map(([k, v]) => `  ${k}: ${v}`);
  writeFileSync(configPath, [`listen: 127.0.0.1:${port}`, yaml, 'store:', ...storeYaml, ''].join('\n'));
  const logFd = openSync(logPath, 'a');
  const flags = [...(options.inspect ? ['--inspect=127.0.0.1:0'] : []), ...(options.node ?? [])];
  const child = spawn(process.execPath, [...flags, options.cli ?? CLI, 'run', '--config', configPath], { stdio: ['ignore', logFd, logFd], env: options.env ?? process.env });
  closeSync(logFd);
  running.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const log = (): string => readFileSync(logPath, 'utf8');
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tapwire exited (${child.exitCode}) before listening:\n${log()}`);
    const health = await fetch(`${url}/_tapwire/health`).catch(() => null);
    if (health?.ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tapwire did not answer /_tapwire/health within 20 s:\n${log()}`);
    }
    await sleep(50);
  }
  return {
    child,
    url,
    dbPath,
    logPath,
    exited,
    rss: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
      if (!kb) throw new Error(`no VmRSS for process ${child.pid}`);
      return Number(kb[1]) * 1024;
    },
    collectGarbage: () => inspectorCall(log(), 'HeapProfiler.collectGarbage'),
    log,
  };
}

/** Sends one inspector command to the process whose log announced its debugger URL, and waits for the answer. */
async function inspectorCall(log: string, method: string): Promise<void> {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(log)?.[1];
  if (!url) throw new Error('tapwire was not started with inspect');
  const socket = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => socket.send(JSON.stringify({ id: 1, method })));
      socket.addEventListener('message', (event) => {
        if ((JSON.parse(String(event.data)) as { id?: number }).id === 1) resolve();
      });
      socket.addEventListener('error', () => reject(new Error(`inspector ${url} failed`)));
    });
  } finally {
    socket.close();
  }
}
