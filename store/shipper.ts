// Ships the local record (the SQLite file the writer commits to) to the central record
// (store.central.url, PostgreSQL), on a thread of its own (store/ship-worker.ts), so the
// request path never waits on the central database. The local file is the durable buffer:
// a central outage loses nothing, and shipping catches up in arrival order once it is back.
// A thread that dies (an out-of-memory, a bug) is started again after the retry interval:
// it resumes from the cursor kept in the local file.
import { Worker } from 'node:worker_threads';
import type { ShipReply, ShipRequest, ShipSettings, ShipStats } from './ship-protocol.js';

export type { ShipStats } from './ship-protocol.js';

export interface ShipperEvents {
  /** A batch failed, or the thread stopped; either is retried after the retry interval. */
  onError?: (message: string, backlog: number) => void;
  /** The central record took a batch again after failing. */
  onRecover?: (shipped: number) => void;
  /** Day partitions older than store.retention_days were dropped centrally. */
  onRetention?: (days: number[]) => void;
}

export class Shipper {
  private latest: ShipStats = { shipped: 0, backlog: 0, lagMs: 0, failures: 0, failure: null };
  /** What threads that have since stopped counted (a restarted thread counts from 0). */
  private before = { shipped: 0, failures: 0 };
  private worker!: Worker;
  private closing = false;
  private restart: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(reply: ShipReply) => void>();

  private constructor(
    private readonly settings: ShipSettings,
    private readonly events: ShipperEvents,
  ) {
    this.spawn();
  }

  /** Starts shipping `settings.path` to `settings.url` (the local file must exist, at the current schema). */
  static start(settings: ShipSettings, events: ShipperEvents = {}): Shipper {
    return new Shipper(settings, events);
  }

  /**
   * Ships everything committed in `settings.path` and stops: resolves with the last progress
   * once nothing waits (or rejects with the central record's error at `deadlineMs`).
   */
  static async shipAll(settings: ShipSettings, deadlineMs: number): Promise<ShipStats> {
    const shipper = Shipper.start(settings);
    try {
      const caughtUp = new Promise<void>((resolve) => shipper.listeners.add((m) => m.type === 'stats' && m.stats.backlog === 0 && resolve()));
      const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), deadlineMs).unref());
      if ((await Promise.race([caughtUp, deadline])) === 'late') {
        throw new Error(`shipping to the central record did not finish within ${deadlineMs} ms: ${shipper.latest.failure ?? `${shipper.latest.backlog} records left`}`);
      }
      return shipper.latest;
    } finally {
      await shipper.close(deadlineMs);
    }
  }

  /** The last progress the worker reported. */
  getStats(): Readonly<ShipStats> {
    return this.latest;
  }

  /** Ships what is committed locally (while the central record takes it), then stops; resolves within `deadlineMs`. */
  async close(deadlineMs: number): Promise<void> {
    this.closing = true;
    if (this.restart) clearTimeout(this.restart);
    const worker = this.worker;
    const closed = new Promise<unknown>((resolve) => {
      worker.once('exit', resolve);
      this.listeners.add((m) => m.type === 'closed' && resolve(m));
    });
    worker.postMessage({ type: 'close' } satisfies ShipRequest);
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([closed, deadline]);
    await worker.terminate();
  }

  private spawn(): void {
    const worker = new Worker(new URL('./ship-worker.js', import.meta.url), { workerData: this.settings });
    this.worker = worker;
    worker.on('message', (reply: ShipReply) => this.receive(reply));
    let failure: string | null = null;
    worker.on('error', (err) => (failure = err.message));
    worker.once('exit', (code) => {
      if (this.closing) return;
      const why = `shipper thread stopped (${failure ?? `exit code ${code}`}); starting it again in ${this.settings.retryIntervalMs} ms`;
      this.latest = { ...this.latest, failures: this.latest.failures + 1, failure: why };
      this.before = { shipped: this.latest.shipped, failures: this.latest.failures };
      this.events.onError?.(why, this.latest.backlog);
      this.restart = setTimeout(() => {
        this.restart = null;
        if (!this.closing) this.spawn();
      }, this.settings.retryIntervalMs);
      this.restart.unref();
    });
  }

  private receive(reply: ShipReply): void {
    if (reply.type === 'stats') {
      const { shipped, failures } = reply.stats;
      this.latest = { ...reply.stats, shipped: this.before.shipped + shipped, failures: this.before.failures + failures };
    } else if (reply.type === 'failed') this.events.onError?.(reply.message, reply.backlog);
    else if (reply.type === 'recovered') this.events.onRecover?.(reply.shipped);
    else if (reply.type === 'retention') this.events.onRetention?.(reply.days);
    for (const listener of this.listeners) listener(reply);
  }
}
