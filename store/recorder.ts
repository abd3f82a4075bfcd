// The recorder: takes finished exchange records off the request path, batches them, and
// hands each batch to the writer thread. `record()` only pushes onto an array; the flush
// timer does the rest. A batch the store cannot take (disk full, locked, read-only, ...)
// goes back to the front of the queue and is retried; past `bufferLimit` records the
// oldest are dropped and counted. close() drains everything queued before resolving.
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
  /** Records held in memory while the store cannot be written; beyond this the oldest are dropped. */
  bufferLimit?: number;
  /** How long a failed store rests before the next attempt. */
  retryIntervalMs?: number;
  /** A write failed; its `buffered` records wait for the next attempt. */
  onError?: (message: string, buffered: number) => void;
  /** The store took a batch again after failing. */
  onRecover?: (written: number) => void;
  /** The buffer was full: `count` of the oldest records were dropped (`total` so far). */
  onDrop?: (count: number, total: number) => void;
  /** Something the writer fixed on its own, e.g. a deleted database file it recreated. */
  onWarning?: (message: string) => void;
}

export interface RecorderStats {
  /** Records handed to record(). */
  queued: number;
  committed: number;
  /** Write attempts that failed (each is retried), and problems the writer repaired. */
  writeFailures: number;
  /** Records dropped because the buffer was full while the store failed. */
  dropped: number;
  /** Records never written: dropped, or still unwritten when the recorder closed. */
  failed: number;
  /** Records waiting for the store right now (queued or in a batch being written). */
  buffered: number;
}

interface Batch {
  records: ExchangeRecord[];
  /** Resolves true when committed, false when the write failed (the records are queued again). */
  settled: Promise<boolean>;
  settle: (committed: boolean) => void;
}

const DEFAULT_BUFFER_LIMIT = 10_000;
const DEFAULT_RETRY_INTERVAL_MS = 1000;

export class Recorder {
  private queue: ExchangeRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private soon: Promise<void> | null = null;
  private seq = 0;
  private readonly inFlight = new Map<number, Batch>();
  private readonly stats: RecorderStats = { queued: 0, committed: 0, writeFailures: 0, dropped: 0, failed: 0, buffered: 0 };
  private closed = false;
  /** The last write failed: batches wait for the retry interval, not the flush interval. */
  private failingSince: string | null = null;

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
    this.dropOverflow();
    if (this.failingSince !== null) this.timer ??= setTimeout(() => this.send(), this.retryIntervalMs);
    else if (this.queue.length >= (this.options.maxBatch ?? 1000)) this.send();
    else this.timer ??= setTimeout(() => this.send(), this.options.flushIntervalMs);
  }

  getStats(): Readonly<RecorderStats> {
    this.stats.buffered = this.waiting();
    return this.stats;
  }

  /** Why the store is not taking records right now (the last write's error), or null when it is. */
  get failure(): string | null {
    return this.failingSince;
  }

  /**
   * Resolves true once every record handed over so far is committed, false when the batch
   * holding one of them failed (its records stay queued for the next attempt). Callers in
   * the same tick share one batch.
   */
  async committed(): Promise<boolean> {
    if (this.queue.length > 0) {
      this.soon ??= new Promise<void>((resolve) =>
        setImmediate(() => {
          this.soon = null;
          this.send();
          resolve();
        }),
      );
      await this.soon;
    }
    const results = await Promise.all([...this.inFlight.values()].map((batch) => batch.settled));
    return results.every(Boolean);
  }

  /** Sends what is queued and resolves once every batch sent so far is committed (or failed). */
  async flush(): Promise<void> {
    this.send();
    await Promise.all([...this.inFlight.values()].map((batch) => batch.settled));
  }

  /** Writes what is queued (one more attempt if the store is failing), then stops the writer. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.stats.failed += this.queue.length;
    this.queue = [];
    const closedReply = once(this.worker, 'message');
    this.worker.postMessage({ type: 'close' } satisfies WriterRequest);
    await closedReply;
    await this.worker.terminate();
  }

  private get retryIntervalMs(): number {
    return this.options.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
  }

  private waiting(): number {
    let n = this.queue.length;
    for (const batch of this.inFlight.values()) n += batch.records.length;
    return n;
  }

  /** Keeps at most bufferLimit records waiting, dropping the oldest queued ones. */
  private dropOverflow(): void {
    const excess = this.waiting() - (this.options.bufferLimit ?? DEFAULT_BUFFER_LIMIT);
    if (excess <= 0) return;
    const count = Math.min(excess, this.queue.length);
    this.queue.splice(0, count);
    this.stats.dropped += count;
    this.stats.failed += count;
    this.options.onDrop?.(count, this.stats.dropped);
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
    let settle: (committed: boolean) => void = () => undefined;
    const settled = new Promise<boolean>((resolve) => (settle = resolve));
    this.inFlight.set(seq, { records, settled, settle });
    this.worker.postMessage({ type: 'batch', seq, records } satisfies WriterRequest);
  }

  private onReply(reply: WriterReply): void {
    if (reply.type !== 'committed' && reply.type !== 'failed') return;
    const batch = this.inFlight.get(reply.seq);
    if (!batch) return;
    this.inFlight.delete(reply.seq);
    if (reply.warning) {
      this.stats.writeFailures++;
      this.options.onWarning?.(reply.warning);
    }
    if (reply.type === 'committed') {
      this.stats.committed += batch.records.length;
      if (this.failingSince !== null) {
        this.failingSince = null;
        this.options.onRecover?.(batch.records.length);
        // What waited through the failure goes now, not after another interval.
        if (this.queue.length > 0) this.send();
      }
      batch.settle(true);
      return;
    }
    // The batch goes back in front of what arrived since, and waits for the next attempt.
    this.stats.writeFailures++;
    this.failingSince = reply.message;
    this.queue = batch.records.concat(this.queue);
    this.dropOverflow();
    this.options.onError?.(reply.message, this.waiting());
    if (!this.closed) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.send(), this.retryIntervalMs);
    }
    batch.settle(false);
  }
}
