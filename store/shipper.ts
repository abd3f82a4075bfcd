// Ships the local record (the SQLite file the writer commits to) to the central record
// (store.central.url, PostgreSQL), on a thread of its own (store/ship-worker.ts), so the
// request path never waits on the central database. The local file is the durable buffer:
// a central outage loses nothing, and shipping catches up in arrival order once it is back.
import { Worker } from 'node:worker_threads';
import type { ShipReply, ShipRequest, ShipSettings, ShipStats } from './ship-protocol.js';

export type { ShipStats } from './ship-protocol.js';

export interface ShipperEvents {
  /** A batch failed; it is retried after the retry interval. */
  onError?: (message: string, backlog: number) => void;
  /** The central record took a batch again after failing. */
  onRecover?: (shipped: number) => void;
  /** Day partitions older than store.retention_days were dropped centrally. */
  onRetention?: (days: number[]) => void;
}

export class Shipper {
  private latest: ShipStats = { shipped: 0, backlog: 0, lagMs: 0, failures: 0, failure: null };
  private readonly closed: Promise<unknown>;

  private constructor(
    private readonly worker: Worker,
    events: ShipperEvents,
  ) {
    this.closed = new Promise((resolve) => {
      worker.once('exit', resolve);
      worker.on('message', (m: ShipReply) => m.type === 'closed' && resolve(m));
    });
    worker.on('message', (reply: ShipReply) => {
      if (reply.type === 'stats') this.latest = reply.stats;
      else if (reply.type === 'failed') events.onError?.(reply.message, reply.backlog);
      else if (reply.type === 'recovered') events.onRecover?.(reply.shipped);
      else if (reply.type === 'retention') events.onRetention?.(reply.days);
    });
    worker.on('error', (err) => events.onError?.(`shipper stopped: ${err.message}`, this.latest.backlog));
  }

  /** Starts shipping `settings.path` to `settings.url` (the local file must exist, at the current schema). */
  static start(settings: ShipSettings, events: ShipperEvents = {}): Shipper {
    return new Shipper(new Worker(new URL('./ship-worker.js', import.meta.url), { workerData: settings }), events);
  }

  /**
   * Ships everything committed in `settings.path` and stops: resolves with the last progress
   * once nothing waits (or rejects with the central record's error at `deadlineMs`).
   */
  static async shipAll(settings: ShipSettings, deadlineMs: number): Promise<ShipStats> {
    const shipper = Shipper.start(settings);
    try {
      const caughtUp = new Promise<void>((resolve) => shipper.worker.on('message', (m: ShipReply) => m.type === 'stats' && m.stats.backlog === 0 && resolve()));
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
    this.worker.postMessage({ type: 'close' } satisfies ShipRequest);
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([this.closed, deadline]);
    await this.worker.terminate();
  }
}
