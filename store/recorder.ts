// The recorder: takes finished exchange records off the request path, batches them, and
// hands each batch to the writer thread. `record()` only pushes onto an array; the flush
// timer does the rest. close() drains everything queued before resolving.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ExchangeRecord } from '../sidecar/exchange.js';
import { openDatabase } from './db.js';
import type { WriterReply, WriterRequest } from './writer-protocol.js';

export interface RecorderOptions {
  path: string;
  flushIntervalMs: number;
  /** A batch is sent early when this many records are waiting. */
  maxBatch?: number;
  onError?: (message: string, lost: number) => void;
}

export interface RecorderStats {
  queued: number;
  committed: number;
  failed: number;
}

export class Recorder {
  private queue: ExchangeRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private readonly pending = new Map<number, () => void>();
  private readonly stats: RecorderStats = { queued: 0, committed: 0, failed: 0 };
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly options: RecorderOptions,
  ) {
    worker.on('message', (reply: WriterReply) => this.onReply(reply));
  }

  /** Opens (creating or upgrading) the database, then starts the writer thread. */
  static async start(options: RecorderOptions): Promise<Recorder> {
    // Open once here so a bad or too-new database fails `tapwire run` at once, with its message.
    openDatabase(options.path).close();
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: { path: options.path } });
    const [first] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([err]) => Promise.reject(err as Error))])) as [WriterReply];
    if (first.type !== 'ready') throw new Error(`writer thread did not start: ${first.type}`);
    return new Recorder(worker, options);
  }

  record(record: ExchangeRecord): void {
    if (this.closed) throw new Error('recorder is closed');
    this.queue.push(record);
    this.stats.queued++;
    if (this.queue.length >= (this.options.maxBatch ?? 1000)) this.send();
    else this.timer ??= setTimeout(() => this.send(), this.options.flushIntervalMs);
  }

  getStats(): Readonly<RecorderStats> {
    return this.stats;
  }

  /** Sends what is queued and resolves once every batch sent so far is committed (or failed). */
  async flush(): Promise<void> {
    this.send();
    await Promise.all([...this.pending.keys()].map((seq) => new Promise<void>((done) => this.whenSettled(seq, done))));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    const closedReply = once(this.worker, 'message');
    this.worker.postMessage({ type: 'close' } satisfies WriterRequest);
    await closedReply;
    await this.worker.terminate();
  }

  private send(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.queue.length === 0) return;
    const seq = ++this.seq;
    const records = this.queue;
    this.queue = [];
    this.pending.set(seq, () => undefined);
    this.worker.postMessage({ type: 'batch', seq, records } satisfies WriterRequest);
  }

  private whenSettled(seq: number, done: () => void): void {
    const previous = this.pending.get(seq);
    if (!previous) return done();
    this.pending.set(seq, () => {
      previous();
      done();
    });
  }

  private onReply(reply: WriterReply): void {
    if (reply.type !== 'committed' && reply.type !== 'failed') return;
    if (reply.type === 'committed') this.stats.committed += reply.count;
    else {
      this.stats.failed += reply.count;
      this.options.onError?.(reply.message, reply.count);
    }
    const settle = this.pending.get(reply.seq);
    this.pending.delete(reply.seq);
    settle?.();
  }
}
