// The writer thread: owns the write connection to tapwire.db and commits each batch the
// sidecar posts in one transaction, so SQLite never runs on the request-serving thread.
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './db.js';
import { prepareInsert } from './insert.js';
import type { WriterReply, WriterRequest } from './writer-protocol.js';

const port = parentPort;
if (!port) throw new Error('writer-worker runs as a worker thread');
const { path } = workerData as { path: string };
const db = openDatabase(path);
const insertBatch = prepareInsert(db);

port.on('message', (message: WriterRequest) => {
  if (message.type === 'close') {
    db.close();
    port.postMessage({ type: 'closed' } satisfies WriterReply);
    port.close();
    return;
  }
  try {
    insertBatch(message.records);
    port.postMessage({ type: 'committed', seq: message.seq, count: message.records.length } satisfies WriterReply);
  } catch (err) {
    port.postMessage({ type: 'failed', seq: message.seq, count: message.records.length, message: (err as Error).message } satisfies WriterReply);
  }
});
port.postMessage({ type: 'ready' } satisfies WriterReply);
