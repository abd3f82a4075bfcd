// The bench's handle on its load-generator process (load-process.ts): starts it, hands it one
// job at a time and returns its samples. The process is tracked like every other bench child.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadResult, StreamResult } from './load.js';
import type { LoadJob } from './load-process.js';
import { stopChild, track } from './processes.js';

type Reply = { ready: true } | { ok: true; result: unknown } | { ok: false; error: string };

export class LoadProcess {
  private constructor(readonly child: ChildProcess) {}

  static async start(): Promise<LoadProcess> {
    const child = track(fork(fileURLToPath(new URL('./load-process.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`load generator exited with code ${String(code)} before it was ready`)));
    });
    return new LoadProcess(child);
  }

  openLoop(origin: string, plan: Extract<LoadJob, { type: 'open-loop' }>['plan']): Promise<LoadResult> {
    return this.ask({ type: 'open-loop', origin, plan }) as Promise<LoadResult>;
  }

  streams(origin: string, plan: Extract<LoadJob, { type: 'streams' }>['plan']): Promise<StreamResult> {
    return this.ask({ type: 'streams', origin, plan }) as Promise<StreamResult>;
  }

  async close(): Promise<void> {
    this.child.disconnect();
    await stopChild(this.child, 'SIGTERM', 2_000);
  }

  private ask(job: LoadJob): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`load generator exited with code ${String(code)} during a job`));
      this.child.once('exit', onExit);
      this.child.once('message', (reply: Reply) => {
        this.child.off('exit', onExit);
        if ('ready' in reply) reject(new Error('load generator answered out of turn'));
        else if (reply.ok) resolve(reply.result);
        else reject(new Error(`load generator failed: ${reply.error}`));
      });
      this.child.send(job);
    });
  }
}
