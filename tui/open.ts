// Opens a database for the TUI: read-only, so it never writes the traffic tables and reads
// alongside a sidecar writing in WAL mode. Turns every way a path can be wrong (missing, not
// SQLite, SQLite but not tapwire's, a newer schema) into one StoreError sentence.
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openDatabase, StoreError, type Db } from '../store/db.js';

/** Opens `path` read-only for browsing; throws StoreError with a message for a person. */
export function openForBrowsing(path: string): Db {
  if (!existsSync(path)) throw new StoreError(`database ${path} does not exist (record some traffic with \`tapwire run --db ${path}\` first)`);
  if (statSync(path).isDirectory()) throw new StoreError(`${path} is a directory, not a tapwire database`);
  assertTapwireFile(path);
  // The version checks (newer schema refused, older one named) are the store's own.
  return openDatabase(path, { readonly: true });
}

/** A file SQLite cannot read, or one without tapwire's tables, is named as such. */
function assertTapwireFile(path: string): void {
  let probe: Database.Database | null = null;
  try {
    probe = new Database(path, { readonly: true, fileMustExist: true });
    const table = probe.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name = 'exchanges'").get();
    if (!table) throw new StoreError(`${path} is not a tapwire database (it has no exchanges table)`);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(`${path} is not a tapwire database (${(err as Error).message})`);
  } finally {
    probe?.close();
  }
}
