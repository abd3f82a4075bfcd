// The SQLite backend's entry: a reader over a read-only connection, a writer on its own
// thread (recorder.ts), both on one tapwire.db file.
import type { StoreBackend } from '../record-store.js';
import { openDatabase, openForBrowsing } from './db.js';
import { SqliteReader } from './reader.js';
import { Recorder } from './recorder.js';

export const sqliteStore: StoreBackend = {
  openReader: (path, purpose) => Promise.resolve(new SqliteReader(purpose === 'browse' ? openForBrowsing(path) : openDatabase(path, { readonly: true }))),
  startWriter: (path, options) => Recorder.start({ ...options, path }),
};
