// A stdio MCP server as a child process: spawned without a shell, its exit awaited once its
// pipes have closed (so every line it wrote has been read), and stopped the way the MCP SDKs
// stop one: close its stdin, then SIGTERM, then SIGKILL.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants as fs, statSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export interface StdioCommand {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export type ProcessExit =
  | { kind: 'exited'; code: number }
  | { kind: 'signalled'; signal: NodeJS.Signals }
  | { kind: 'not_started'; error: NodeJS.ErrnoException };

/** How long each step of stop() waits for the process to go before the next, harder one. */
export const STOP_GRACE_MS = 2000;

/** The variables a server gets when its route sets no others (what the MCP SDKs pass on). */
const INHERITED_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER', 'LANG', 'TMPDIR', 'SYSTEMROOT'];

/** The environment of a server spawned by the sidecar: a minimal base plus the route's `env`. */
export function serverEnvironment(routeEnv: Record<string, string> | undefined, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED_ENV) if (from[name] !== undefined) env[name] = from[name];
  return { ...env, ...routeEnv };
}

/**
 * Why `command` cannot be spawned (no executable file by that name, looked up on its PATH
 * as spawn does), or null when it can. Checked when the sidecar starts, so a misspelt
 * command stops it there rather than failing every session later.
 */
export function commandProblem({ command, env, cwd }: StdioCommand): string | null {
  if (process.platform === 'win32') return null; // PATHEXT lookups: left to spawn
  const base = resolve(cwd ?? '.');
  const candidates = command.includes('/')
    ? [resolve(base, command)]
    : (env.PATH ?? '').split(delimiter).map((dir) => (isAbsolute(dir) ? join(dir, command) : resolve(base, dir, command)));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fs.X_OK);
      return null;
    } catch {
      // not there, or not executable: the next one
    }
  }
  return command.includes('/') ? `${command} is not an executable file` : `${command} was not found on PATH`;
}

export class StdioServerProcess {
  /** Settles once the process has exited and its stdout and stderr have closed (or it never started). */
  readonly exited: Promise<ProcessExit>;
  private exit: ProcessExit | null = null;

  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, Readable | null>) {
    this.exited = new Promise((resolve) => {
      const settle = (exit: ProcessExit): void => {
        this.exit ??= exit;
        resolve(this.exit);
      };
      child.once('error', (error: NodeJS.ErrnoException) => {
        // Only a failed spawn leaves the process without a pid; later errors are kill() failures.
        if (child.pid === undefined) settle({ kind: 'not_started', error });
      });
      const exited = (code: number | null, signal: NodeJS.Signals | null): ProcessExit =>
        signal ? { kind: 'signalled', signal } : { kind: 'exited', code: code ?? 0 };
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => settle(exited(code, signal)));
      // A process whose own children keep its pipes open still counts as gone, a little later.
      child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        setTimeout(() => settle(exited(code, signal)), STOP_GRACE_MS).unref();
      });
    });
    // The server may exit while a write is under way: the exit is what matters, not the EPIPE.
    child.stdin.on('error', () => undefined);
  }

  /** Spawns `command` (no shell). stderr is passed through to ours, or piped for the caller to read. */
  static start(command: StdioCommand, stderr: 'inherit' | 'pipe'): StdioServerProcess {
    const options = { env: command.env, cwd: command.cwd, shell: false, windowsHide: true };
    return new StdioServerProcess(
      stderr === 'pipe'
        ? spawn(command.command, command.args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn(command.command, command.args, { ...options, stdio: ['pipe', 'pipe', 'inherit'] }),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get stdin(): Writable {
    return this.child.stdin;
  }
  get stdout(): Readable {
    return this.child.stdout;
  }
  /** Null when stderr is passed through. */
  get stderr(): Readable | null {
    return this.child.stderr;
  }
  get running(): boolean {
    return this.exit === null && this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** Sends `signal` to the process, if it still runs. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Closes its stdin (servers exit on EOF), then sends SIGTERM, then SIGKILL, `graceMs` apart. */
  async stop(graceMs: number = STOP_GRACE_MS): Promise<ProcessExit> {
    this.child.stdin.end();
    for (const signal of [null, 'SIGTERM', 'SIGKILL'] as const) {
      if (signal) this.signal(signal);
      let timer: NodeJS.Timeout | undefined;
      const timeUp = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), graceMs)));
      const exit = await Promise.race([this.exited, timeUp]);
      clearTimeout(timer);
      if (exit) return exit;
    }
    return this.exited;
  }
}

/** The exit status a wrapper reports for the process: its code, or 128 + the signal number. */
export function exitStatus(exit: ProcessExit): number {
  if (exit.kind === 'exited') return exit.code;
  if (exit.kind === 'signalled') return 128 + (constants.signals[exit.signal] ?? 0);
  return exit.error.code === 'ENOENT' ? 127 : 126;
}

/** "exited with code 3", "was killed by SIGKILL", "could not be started (ENOENT)". */
export function describeExit(exit: ProcessExit): string {
  if (exit.kind === 'exited') return `exited with code ${exit.code}`;
  if (exit.kind === 'signalled') return `was killed by ${exit.signal}`;
  return `could not be started (${exit.error.code ?? exit.error.message})`;
}
