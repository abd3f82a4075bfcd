// Picks the record store's backend for a location: the one place a new backend is added
// (`postgres://` URLs: store/postgres/, anything else is a SQLite file). Every composition
// root opens the store here.
import type { ReaderPurpose, RecordReader, RecordWriter, StoreBackend, WriterOptions } from './record-store.js';
import { isPostgresUrl } from './postgres/pool.js';
import { postgresStore } from './postgres/store.js';
import { sqliteStore } from './sqlite/store.js';

function backendFor(location: string): StoreBackend {
  return isPostgresUrl(location) ? postgresStore : sqliteStore;
}

/** Opens the record at `location` for reading (`store.path`, `--db`). */
export function openRecordReader(location: string, purpose: ReaderPurpose = 'read'): Promise<RecordReader> {
  return backendFor(location).openReader(location, purpose);
}

/** Opens (creating or upgrading) the record at `location` and starts its writer. */
export function startRecordWriter(location: string, options: WriterOptions): Promise<RecordWriter> {
  return backendFor(location).startWriter(location, options);
}
