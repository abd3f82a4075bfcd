// Child processes of the benches: the mock upstream and the bare pass-through (forked, they
// report their port over IPC) and tapwire itself, started the way a user runs it
// (`node <the CLI named by package.json bin.tapwire> run --config <yaml>`), from this checkout's
// build or another's. Every child is registered so the bench can stop it on success, on
// failure and on Ctrl-C.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
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

/** A work directory removed if the bench is interrupted (SIGINT/SIGTERM); null keeps it. */
let removeOnSignal: string | null = null;

export function removeOnInterrupt(dir: string | null): void {
  removeOnSignal = dir;
}

/**
 * For a bench's entry point: children are killed when the process exits, and on SIGINT or
 * SIGTERM also the work directory named by removeOnInterrupt() is removed, exit code 130.
 */
export function stopChildrenOnExit(): void {
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAllChildren();
      if (removeOnSignal) rmSync(removeOnSignal, { recursive: true, force: true });
      process.exit(130);
    });
  }
}

/** Registers a child the bench started, so killAllChildren() stops it. */
export function track(child: ChildProcess): ChildProcess {
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

/** Forks a bench module that listens on 127.0.0.1 and sends its parent `{ port }` once it does. */
export async function forkListening(module: string, args: string[], what: string): Promise<UpstreamProcess> {
  const child = track(fork(fileURLToPath(new URL(module, import.meta.url)), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 10 s`)), 10_000);
    child.once('message', (message: UpstreamReady) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with code ${String(code)} before listening`));
    });
  });
  return { child, origin: `http://127.0.0.1:${port}` };
}

/** The mock upstream: streams `streamPieces` content chunks, `chunkDelayMs` apart. */
export function startUpstream(chunkDelayMs: number, streamPieces?: number): Promise<UpstreamProcess> {
  return forkListening('./upstream.js', [String(chunkDelayMs), ...(streamPieces === undefined ? [] : [String(streamPieces)])], 'mock upstream');
}

/** The checkout this bench was built from (dist/bench/ is two levels below it). */
export const THIS_CHECKOUT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/**
 * The built CLI entry of the tapwire checkout in `checkout`, from its package.json
 * `bin.tapwire`: found there rather than assumed, because the entry's path moves between
 * versions (dist/sidecar/cli.js, dist/cli/cli.js).
 */
export function tapwireCli(checkout: string): string {
  const manifest = join(checkout, 'package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
  const entry = typeof bin === 'string' ? bin : bin?.tapwire;
  if (!entry) throw new Error(`${manifest} names no bin.tapwire`);
  const cli = resolve(checkout, entry);
  if (!existsSync(cli)) throw new Error(`${cli} (bin.tapwire of ${manifest}) does not exist: run \`npm run build\` in ${checkout}`);
  return cli;
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
  /** An MCP server's endpoint URL: served as route `mcp`. */
  mcpUpstream?: string;
  /** A policy file's text: written next to the config and loaded. */
  policyYaml?: string;
  /** The CLI entry to run (see tapwireCli); default this checkout's. */
  cli?: string;
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
 * Writes a tapwire.yaml with an OpenAI route to the upstream (store in `dir`, default flush
 * interval; an MCP route, policies and telemetry when given) and spawns `tapwire run` on a
 * free loopback port with stdout and stderr going to a log file. Does not wait for it.
 */
export async function launchSidecarProcess(options: SidecarOptions): Promise<SidecarProcess> {
  const port = await freePort();
  const configPath = join(options.dir, 'tapwire.yaml');
  const dbPath = join(options.dir, 'tapwire.db');
  const logPath = join(options.dir, 'tapwire.log');
  if (options.policyYaml !== undefined) writeFileSync(join(options.dir, 'policies.yaml'), options.policyYaml);
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
      ...(options.mcpUpstream ? ['  mcp:', '    protocol: mcp', `    upstream: ${options.mcpUpstream}`] : []),
      ...(options.policyYaml !== undefined ? ['policies: [policies.yaml]'] : []),
      ...(options.otlpEndpoint ? ['telemetry:', `  endpoint: ${options.otlpEndpoint}`, '  metrics_interval_ms: 1000'] : []),
      '',
    ].join('\n'),
  );
  const logFd = openSync(logPath, 'w');
  // BENCH_TAPWIRE_CLI: another entry of this checkout, e.g. tsc's unbundled dist/cli/cli.js, whose profiles name tapwire's files.
  const cli = options.cli ?? (process.env.BENCH_TAPWIRE_CLI ? resolve(process.env.BENCH_TAPWIRE_CLI) : tapwireCli(THIS_CHECKOUT));
  const child = track(
    spawn(process.execPath, [...options.nodeFlags, cli, 'run', '--config', configPath], {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, ...options.env },
    }),
  );
  closeSync(logFd);
  return { child, origin: `http://127.0.0.1:${port}`, dbPath, logPath };
}

/** True when the tapwire at `origin` answers GET /_tapwire/health with 200; false while it does not listen yet. */
export async function healthAnswers(origin: string): Promise<boolean> {
  const probe = new Client(origin);
  try {
    const health = await probe.request({ method: 'GET', path: '/_tapwire/health' });
    await health.body.dump();
    return health.statusCode === 200;
  } catch {
    return false;
  } finally {
    await probe.destroy();
  }
}

/** launchSidecarProcess(), then waits until /_tapwire/health answers. */
export async function startSidecarProcess(options: SidecarOptions): Promise<SidecarProcess> {
  const sidecar = await launchSidecarProcess(options);
  const { child, origin, logPath } = sidecar;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`tapwire exited (${String(child.exitCode ?? child.signalCode)}) before listening:\n${readFileSync(logPath, 'utf8')}`);
    }
    if (await healthAnswers(origin)) return sidecar;
    if (Date.now() > deadline) throw new Error(`tapwire did not answer /_tapwire/health within 15 s:\n${readFileSync(logPath, 'utf8')}`);
    await sleep(50);
  }
}
