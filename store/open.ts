// Picks the record store's backend for a location: the one place a new backend is added
// (`postgres://` URLs: store/postgres/, anything else is a SQLite file). Every composition
// root opens the store here. A backend's code (and its driver) is loaded only when a location
// names it, so a sidecar recording to SQLite never loads the PostgreSQL driver.
import type { ReaderPurpose, RecordReader, RecordWriter, StoreBackend, WriterOptions } from './record-store.js';
import { isPostgresUrl, printableUrl } from './postgres/location.js';

async function backendFor(location: string): Promise<StoreBackend> {
  return isPostgresUrl(location) ? (await import('./postgres/store.js')).postgresStore : (await import('./sqlite/store.js')).sqliteStore;
}

/** True when `location` names a database server (a central record) rather than a local file. */
export function isCentralLocation(location: string): boolean {
  return isPostgresUrl(location);
}

/** The location as it may be printed (a server URL's password masked). */
export function printableLocation(location: string): string {
  return isPostgresUrl(location) ? printableUrl(location) : location;
}

/** Opens the record at `location` for reading (`store.path`, `--db`). */
export async function openRecordReader(location: string, purpose: ReaderPurpose = 'read'): Promise<RecordReader> {
  return (await backendFor(location)).openReader(location, purpose);
}

/** Opens (creating or upgrading) the record at `location` and starts its writer. */
export async function startRecordWriter(location: string, options: WriterOptions): Promise<RecordWriter> {
  return (await backendFor(location)).startWriter(location, options);
}
