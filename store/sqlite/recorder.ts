// The SQLite writer (RecordWriter): takes finished exchange records off the request path, batches them, and
// hands each batch to the writer thread. `record()` only pushes onto an array; the flush
// timer does the rest. A batch the store cannot take (disk full, locked, read-only, ...)
// goes back to the front of the queue and is retried; while the store fails, past `bufferLimit`
// records the oldest are dropped and counted. close() drains everything queued before resolving.
// The writer thread boots while the sidecar goes on starting (batches posted meanwhile wait in
// its port); a thread that stops is the store failing: its batch is queued again and a new
// thread is started at the next attempt.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ExchangeRecord } from '../../core/exchange.js';
import type { RecordWriter, WriterOptions, WriterStats } from '../record-store.js';
import { openDatabase } from './db.js';
import type { WriterReply, WriterRequest } from './writer-protocol.js';

export interface RecorderOptions extends WriterOptions {
  path: string;
}

interface Queued {
  /** The record's place in arrival order (1, 2, ...). */
  n: number;
  record: ExchangeRecord;
}

interface Batch {
  items: Queued[];
  /** Resolves true when committed, false when the write failed (the records are queued again). */
  settled: Promise<boolean>;
  settle: (committed: boolean) => void;
}

interface Waiter {
  n: number;
  resolve: (committed: boolean) => void;
}

const DEFAULT_BUFFER_LIMIT = 10_000;
const DEFAULT_RETRY_INTERVAL_MS = 1000;

export class Recorder implements RecordWriter {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private arrived = 0;
  /** Every record up to this place in arrival order is committed (or was dropped). */
  private committedThrough = 0;
  /** The one batch the writer is working on: batches go one at a time, so they commit in arrival order. */
  private inFlight: (Batch & { seq: number }) | null = null;
  private waiters: Waiter[] = [];
  private readonly stats: WriterStats = { queued: 0, committed: 0, writeFailures: 0, dropped: 0, failed: 0, buffered: 0 };
  private closed = false;
  /** The last write's error while the store fails: batches then wait for the retry interval. */
  private failingSince: string | null = null;

  /** The writer thread; null after it stopped, until the next attempt starts another. */
  private worker: Worker | null;

  private constructor(private readonly options: RecorderOptions) {
    this.worker = this.startThread();
  }

  /** Opens (creating or upgrading) the database, then starts the writer thread without waiting for it. */
  static start(options: RecorderOptions): Promise<Recorder> {
    return new Promise((resolve) => {
      // Open once here so a bad or too-new database fails `tapwire run` at once, with its message (a throw here rejects).
      openDatabase(options.path).close();
      resolve(new Recorder(options));
    });
  }

  private startThread(): Worker {
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: { path: this.options.path, retentionDays: this.options.retentionDays } });
    worker.on('message', (reply: WriterReply) => this.onReply(reply));
    let why: string | null = null;
    worker.on('error', (err) => (why = err.message));
    worker.on('exit', (code) => {
      if (this.worker === worker && !this.closed) this.onThreadStopped(why ?? `exit code ${code}`);
    });
    return worker;
  }

  record(record: ExchangeRecord): void {
    if (this.closed) throw new Error('recorder is closed');
    this.queue.push({ n: ++this.arrived, record });
    this.stats.queued++;
    this.dropOverflow();
    if (this.failingSince === null && this.queue.length >= (this.options.maxBatch ?? 1000)) this.send();
    else this.schedule();
  }

  getStats(): Readonly<WriterStats> {
    this.stats.buffered = this.queue.length + (this.inFlight?.items.length ?? 0);
    return this.stats;
  }

  /** Why the store is not taking records right now (the last write's error), or null when it is. */
  get failure(): string | null {
    return this.failingSince;
  }

  /**
   * Resolves true once every record handed over so far is committed; false when a write
   * fails first (the records stay queued for the next attempt). Callers in the same tick
   * share one batch.
   */
  committed(): Promise<boolean> {
    const n = this.arrived;
    if (n <= this.committedThrough) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.waiters.push({ n, resolve });
      if (this.waiters.length === 1) setImmediate(() => this.send());
    });
  }

  /** Writes what is queued and resolves once it is committed, or once a write failed. */
  async flush(): Promise<void> {
    for (;;) {
      if (!this.inFlight) this.send();
      const batch = this.inFlight;
      if (!batch || !(await batch.settled)) return;
    }
  }

  /** Writes what is queued (one more attempt if the store is failing), then stops the writer. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.stats.failed += this.queue.length;
    this.queue = [];
    const worker = this.worker;
    if (!worker) return;
    const closedReply = Promise.race([once(worker, 'message'), once(worker, 'exit')]);
    worker.postMessage({ type: 'close' } satisfies WriterRequest);
    await closedReply;
    await worker.terminate();
  }

  /** Sends the queue after the flush interval, or the retry interval while the store fails. */
  private schedule(): void {
    if (this.closed || this.queue.length === 0) return;
    this.timer ??= setTimeout(() => this.send(), this.failingSince === null ? this.options.flushIntervalMs : this.retryIntervalMs);
  }

  private get retryIntervalMs(): number {
    return this.options.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
  }

  /**
   * While the store fails, keeps at most bufferLimit records queued, dropping the oldest. A
   * healthy store is never dropped from: a burst waits for the writer, which drains it in
   * batches. The batch the writer is working on is not counted: it is either written, or
   * queued again (in front) and judged.
   */
  private dropOverflow(): void {
    if (this.failingSince === null) return;
    const count = this.queue.length - (this.options.bufferLimit ?? DEFAULT_BUFFER_LIMIT);
    if (count <= 0) return;
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
    if (this.inFlight || this.queue.length === 0) return;
    this.worker ??= this.startThread();
    const seq = ++this.seq;
    const items = this.queue;
    this.queue = [];
    let settle: (committed: boolean) => void = () => undefined;
    const settled = new Promise<boolean>((resolve) => (settle = resolve));
    this.inFlight = { seq, items, settled, settle };
    this.worker.postMessage({ type: 'batch', seq, records: items.map((item) => item.record) } satisfies WriterRequest);
  }

  /** The writer thread stopped (crashed, or could not start): the batch it held fails like a write. */
  private onThreadStopped(why: string): void {
    this.worker = null;
    const message = `the SQLite writer thread stopped (${why}); a new one is started at the next attempt`;
    if (this.inFlight) this.onReply({ type: 'failed', seq: this.inFlight.seq, count: this.inFlight.items.length, message });
    else {
      this.stats.writeFailures++;
      this.failingSince = message;
      this.options.onError?.(message, this.queue.length);
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.schedule();
    }
  }

  private onReply(reply: WriterReply): void {
    if (reply.type === 'retention') {
      if (reply.error) this.options.onWarning?.(`store.retention_days: deleting old exchanges failed (tried again within the hour): ${reply.error}`);
      if (reply.deleted > 0) this.options.onRetention?.(reply.deleted);
    }
    if (reply.type !== 'committed' && reply.type !== 'failed') return;
    const batch = this.inFlight;
    if (!batch || batch.seq !== reply.seq) return;
    this.inFlight = null;
    if (reply.warning) {
      this.stats.writeFailures++;
      this.options.onWarning?.(reply.warning);
    }
    if (reply.type === 'committed') {
      this.stats.committed += batch.items.length;
      this.committedThrough = Math.max(this.committedThrough, batch.items[batch.items.length - 1]!.n);
      this.waiters = this.waiters.filter((w) => (w.n <= this.committedThrough ? (w.resolve(true), false) : true));
      if (this.failingSince !== null) {
        this.failingSince = null;
        this.options.onRecover?.(batch.items.length);
      }
      batch.settle(true);
      // Strict callers waiting for later records get them sent now; the rest wait for the timer.
      if (this.waiters.length > 0) this.send();
      else this.schedule();
      return;
    }
    // The batch goes back in front of what arrived since, and waits for the next attempt.
    this.stats.writeFailures++;
    this.failingSince = reply.message;
    this.queue = batch.items.concat(this.queue);
    this.dropOverflow();
    this.options.onError?.(reply.message, this.queue.length);
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.schedule();
    batch.settle(false);
  }
}
