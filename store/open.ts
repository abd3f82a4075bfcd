// Picks the record store's backend for a location: the one place a new backend is added (a
// `postgres://` URL would go to store/postgres/). Every composition root opens the store here.
import type { ReaderPurpose, RecordReader, RecordWriter, StoreBackend, WriterOptions } from './record-store.js';
import { sqliteStore } from './sqlite/store.js';

function backendFor(_location: string): StoreBackend {
  return sqliteStore;
}

/** Opens the record at `location` for reading (`store.path`, `--db`). */
export function openRecordReader(location: string, purpose: ReaderPurpose = 'read'): Promise<RecordReader> {
  return backendFor(location).openReader(location, purpose);
}

/** Opens (creating or upgrading) the record at `location` and starts its writer. */
export function startRecordWriter(location: string, options: WriterOptions): Promise<RecordWriter> {
  return backendFor(location).startWriter(location, options);
}
