// The shipper's thread: reads committed records from the local SQLite file in arrival order
// after the cursor kept there, inserts them centrally in batches, and moves the cursor only
// once a batch is committed centrally. A crash between the two sends the batch again, which
// the central insert ignores: at-least-once delivery of an idempotent insert stores every
// exchange exactly once. While the central record fails, the batch waits and is retried;
// the local file keeps everything meanwhile, so nothing is lost and the agent never waits.
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { CentralRecord } from './postgres/central.js';
import { DAY_MS } from './postgres/partitions.js';
import { ShipSource } from './sqlite/ship-source.js';
import type { ShipReply, ShipRequest, ShipSettings, ShipStats } from './ship-protocol.js';

/** How often old day partitions are looked for, when store.retention_days is set. */
const RETENTION_EVERY_MS = 3_600_000;

const port = parentPort;
if (!port) throw new Error('ship-worker runs as a worker thread');
const settings = workerData as ShipSettings;

const central = new CentralRecord(settings.url);
const source = new ShipSource(settings.path, central.name);
const stats: ShipStats = { shipped: 0, backlog: 0, lagMs: 0, failures: 0, failure: null };
let closing = false;
let wake: (() => void) | null = null;

port.on('message', (message: ShipRequest) => {
  if (message.type !== 'close') return;
  closing = true;
  wake?.();
});

function post(reply: ShipReply): void {
  port!.postMessage(reply);
}

function report(): void {
  const backlog = source.backlog();
  stats.backlog = backlog.records;
  stats.lagMs = backlog.oldestStartedAt === null ? 0 : Math.max(0, Date.now() - backlog.oldestStartedAt);
  post({ type: 'stats', stats: { ...stats } });
}

/** Waits `ms`, or less when the shipper is told to close. */
async function rest(ms: number): Promise<void> {
  const woken = new Promise<void>((resolve) => (wake = resolve));
  await Promise.race([sleep(ms), woken]);
  wake = null;
}

/** Ships one batch; true when it was full (more may be waiting). */
async function shipBatch(): Promise<boolean> {
  // Records whose day is already past retention centrally are not shipped (their partition would only be dropped again).
  const firstKept = settings.retentionDays === undefined ? 0 : (Math.floor(Date.now() / DAY_MS) - settings.retentionDays) * DAY_MS;
  const { rows, count, last } = source.next(settings.batchRecords, firstKept);
  if (!last) return false;
  await central.insertRows(rows);
  source.advance(last);
  stats.shipped += count;
  if (stats.failure !== null) {
    stats.failure = null;
    post({ type: 'recovered', shipped: count });
  }
  return count === settings.batchRecords;
}

async function applyRetention(): Promise<void> {
  if (settings.retentionDays === undefined) return;
  const days = await central.dropOlderThan(settings.retentionDays);
  if (days.length > 0) post({ type: 'retention', days });
}

async function run(): Promise<void> {
  let retentionDue = 0;
  for (;;) {
    let more = false;
    try {
      if (Date.now() >= retentionDue) {
        await applyRetention();
        retentionDue = Date.now() + RETENTION_EVERY_MS;
      }
      more = await shipBatch();
    } catch (err) {
      stats.failures++;
      stats.failure = (err as Error).message;
      report();
      post({ type: 'failed', message: stats.failure, backlog: stats.backlog });
      if (closing) break;
      await rest(settings.retryIntervalMs);
      continue;
    }
    report();
    // Closing: what was committed locally before close() is shipped first, while the central record takes it.
    if (closing && !more) break;
    if (!more) await rest(settings.intervalMs);
  }
  source.close();
  await central.close();
  post({ type: 'closed' });
}

void run();
