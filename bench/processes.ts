// Child processes of the latency bench: the mock upstream (forked) and tapwire itself,
// started the way a user runs it (`node dist/sidecar/cli.js run --config <yaml>`). Every
// child is registered so the bench can stop it on success, on failure and on Ctrl-C.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import type { UpstreamReady } from './upstream.js';

const running = new Set<ChildProcess>();

/** SIGKILLs every child still running; safe to call from a process 'exit' handler. */
export function killAllChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs. Resolves to the exit code. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface UpstreamProcess {
  child: ChildProcess;
  origin: string;
}

export async function startUpstream(chunkDelayMs: number): Promise<UpstreamProcess> {
  const child = track(fork(fileURLToPath(new URL('./upstream.js', import.meta.url)), [String(chunkDelayMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('mock upstream did not start within 10 s')), 10_000);
    child.once('message', (message: UpstreamReady) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mock upstream exited with code ${String(code)} before listening`));
    });
  });
  return { child, origin: `http://127.0.0.1:${port}` };
}

export interface SidecarProcess {
  child: ChildProcess;
  origin: string;
  dbPath: string;
  logPath: string;
}

export interface SidecarOptions {
  dir: string;
  upstreamOrigin: string;
  /** tapwire's log level; undefined keeps the config default (info: one line per exchange). */
  logLevel: string | undefined;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags: string[];
  /** Extra environment variables for tapwire. */
  env: Record<string, string>;
  /** An OTLP/HTTP base URL: tapwire exports spans and metrics (every second) to it. */
  otlpEndpoint?: string;
}

/** A loopback port nothing listens on right now (the OS's pick for an ephemeral listener). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Writes a tapwire.yaml with one OpenAI route to the upstream (store in `dir`, default flush
 * interval, telemetry when `otlpEndpoint` is given), starts `tapwire run` on a free loopback port with stdout and stderr going to a
 * log file, and waits until /_tapwire/health answers.
 */
export async function startSidecarProcess(options: SidecarOptions): Promise<SidecarProcess> {
  const port = await freePort();
  const configPath = join(options.dir, 'tapwire.yaml');
  const dbPath = join(options.dir, 'tapwire.db');
  const logPath = join(options.dir, 'tapwire.log');
  writeFileSync(
    configPath,
    [
      `listen: 127.0.0.1:${port}`,
      'agent:',
      '  name: bench-agent',
      'store:',
      `  path: ${JSON.stringify(dbPath)}`,
      ...(options.logLevel ? ['log:', `  level: ${options.logLevel}`] : []),
      'routes:',
      '  openai:',
      '    protocol: llm',
      '    provider: openai',
      `    upstream: ${options.upstreamOrigin}`,
      ...(options.otlpEndpoint ? ['telemetry:', `  endpoint: ${options.otlpEndpoint}`, '  metrics_interval_ms: 1000'] : []),
      '',
    ].join('\n'),
  );
  const logFd = openSync(logPath, 'w');
  const cli = fileURLToPath(new URL('../sidecar/cli.js', import.meta.url));
  const child = track(spawn(process.execPath, [...options.nodeFlags, cli, 'run', '--config', configPath], {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, ...options.env },
    }));
  closeSync(logFd);
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`tapwire exited (${String(child.exitCode ?? child.signalCode)}) before listening:\n${readFileSync(logPath, 'utf8')}`);
    }
    const probe = new Client(origin);
    try {
      const health = await probe.request({ method: 'GET', path: '/_tapwire/health' });
      await health.body.dump();
      if (health.statusCode === 200) return { child, origin, dbPath, logPath };
    } catch {
      // not listening yet
    } finally {
      await probe.destroy();
    }
    if (Date.now() > deadline) throw new Error(`tapwire did not answer /_tapwire/health within 15 s:\n${readFileSync(logPath, 'utf8')}`);
    await sleep(50);
  }
}
