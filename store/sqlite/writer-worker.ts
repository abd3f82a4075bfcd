// The writer thread: owns the write connection to tapwire.db and commits each batch the
// sidecar posts in one transaction, so SQLite never runs on the request-serving thread.
// After a failed write the connection is dropped and the next batch opens a fresh one, so
// a store that recovers (space freed, lock released, file writable again) is used again.
// Before each batch it checks that the path still names the file it has open: a database
// deleted or replaced while tapwire runs is recreated instead of written into the void.
import { statSync, type Stats } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase, type Db } from './db.js';
import { prepareInsert, type InsertBatch } from './insert.js';
import type { WriterReply, WriterRequest } from './writer-protocol.js';

/** How long a write waits for another process's lock before the batch fails and is retried. */
const WRITE_BUSY_TIMEOUT_MS = 1000;
/** store.retention_days is applied at start, then this often. */
const RETENTION_EVERY_MS = 3_600_000;
/** Exchanges deleted per transaction, so batches of new records are not held up long. */
const RETENTION_CHUNK = 5000;
const DAY_MS = 86_400_000;

const port = parentPort;
if (!port) throw new Error('writer-worker runs as a worker thread');
const { path, retentionDays } = workerData as { path: string; retentionDays?: number };

interface Connection {
  db: Db;
  insert: InsertBatch;
  file: Stats;
}

// Opened by the first batch (or retention pass), inside its try: a store that cannot be opened fails that
// write, as any other store failure, instead of stopping the thread.
let connection: Connection | null = null;

function open(): Connection {
  const db = openDatabase(path);
  db.pragma(`busy_timeout = ${WRITE_BUSY_TIMEOUT_MS}`);
  return { db, insert: prepareInsert(db), file: statSync(path) };
}

function drop(): void {
  try {
    connection?.db.close();
  } catch {
    // a connection that failed may fail to close too; it is gone either way
  }
  connection = null;
}

/** Null when the path still names the open file; else why it does not. */
function fileProblem(open: Connection): string | null {
  let now: Stats;
  try {
    now = statSync(path);
  } catch (err) {
    return `database file ${path} disappeared while tapwire was running (${(err as NodeJS.ErrnoException).code ?? String(err)}); recreated it`;
  }
  if (now.ino !== open.file.ino || now.dev !== open.file.dev) return `database file ${path} was replaced while tapwire was running; writing to the new file`;
  return null;
}

port.on('message', (message: WriterRequest) => {
  if (message.type === 'close') {
    drop();
    port.postMessage({ type: 'closed' } satisfies WriterReply);
    port.close();
    return;
  }
  let warning: string | undefined;
  try {
    if (connection) {
      warning = fileProblem(connection) ?? undefined;
      // Closing the old connection removes its -wal and -shm files, so the new file starts clean.
      if (warning) drop();
    }
    connection ??= open();
    connection.insert(message.records);
    port.postMessage({ type: 'committed', seq: message.seq, count: message.records.length, warning } satisfies WriterReply);
  } catch (err) {
    drop();
    port.postMessage({ type: 'failed', seq: message.seq, count: message.records.length, message: (err as Error).message, warning } satisfies WriterReply);
  }
});
/**
 * Deletes the exchanges (their payloads and events by cascade) that started more than
 * retentionDays ago, in chunks. The newest row is always kept, so SQLite never hands out its
 * rowid again (rowids are the shipper's arrival order: store/sqlite/ship-source.ts).
 */
function applyRetention(days: number): void {
  let deleted = 0;
  try {
    connection ??= open();
    const remove = connection.db.prepare(
      `DELETE FROM exchanges WHERE rowid IN (SELECT rowid FROM exchanges WHERE started_at < ? ORDER BY started_at LIMIT ${RETENTION_CHUNK})
       AND rowid < (SELECT max(rowid) FROM exchanges)`,
    );
    const before = Date.now() - days * DAY_MS;
    for (let changes = RETENTION_CHUNK; changes === RETENTION_CHUNK; ) {
      changes = remove.run(before).changes;
      deleted += changes;
    }
  } catch (err) {
    // The next pass tries again; a store that fails shows in the batches' own errors.
    drop();
    port!.postMessage({ type: 'retention', deleted, error: (err as Error).message } satisfies WriterReply);
    return;
  }
  if (deleted > 0) port!.postMessage({ type: 'retention', deleted } satisfies WriterReply);
}

if (retentionDays !== undefined) {
  applyRetention(retentionDays);
  setInterval(() => applyRetention(retentionDays), RETENTION_EVERY_MS).unref();
}
