// Opens tapwire.db: creates it readable by its owner only, sets WAL, and brings the schema
// up to date, refusing a database written by a newer tapwire. For browsing (the TUI), every
// way a path can be wrong (missing, not SQLite, SQLite but not tapwire's, a newer schema) is
// one StoreError sentence.
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StoreError } from '../record-store.js';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  /** Migrate only up to this version (tests use it to build databases of older schemas). */
  targetVersion?: number;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  if (!options.readonly && path !== ':memory:') createPrivately(path);
  let db: Db;
  try {
    db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (err) {
    throw new StoreError(`cannot open database ${path}: ${(err as Error).message}`);
  }
  try {
    db.pragma('busy_timeout = 5000');
    // Check the version before changing anything, so a refused database is left as it was.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (!options.readonly && version <= SCHEMA_VERSION) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        `database ${path} has schema version ${version}, but this tapwire knows versions up to ${SCHEMA_VERSION}: ` +
          'it was written by a newer tapwire; upgrade tapwire or point --db at another file',
      );
    }
    if (!options.readonly) migrate(db, version, options.targetVersion ?? SCHEMA_VERSION);
    else if (version < SCHEMA_VERSION) {
      throw new StoreError(`database ${path} has schema version ${version}; open it once with \`tapwire run\` to upgrade it to ${SCHEMA_VERSION}`);
    }
    return db;
  } catch (err) {
    db.close();
    // SQLite reads the file only now: a text file, a truncated or encrypted one fails here.
    if (err instanceof Database.SqliteError) {
      throw new StoreError(err.code === 'SQLITE_NOTADB' ? `${path} is not a SQLite database` : `cannot read database ${path}: ${err.message}`);
    }
    throw err;
  }
}

/** Opens `path` read-only for browsing; throws StoreError with a message for a person. */
export function openForBrowsing(path: string): Db {
  if (!existsSync(path)) throw new StoreError(`database ${path} does not exist (record some traffic with \`tapwire run --db ${path}\` first)`);
  if (statSync(path).isDirectory()) throw new StoreError(`${path} is a directory, not a tapwire database`);
  assertTapwireFile(path);
  // The version checks (newer schema refused, older one named) are openDatabase's own.
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

/** Creates the file with mode 0600 before SQLite does, so it is never readable by others. */
function createPrivately(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new StoreError(`cannot create database ${path}: ${(err as Error).message}`);
    }
  }
}

function migrate(db: Db, from: number, to: number): void {
  const pending = MIGRATIONS.filter((m: Migration) => m.version > from && m.version <= to);
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}
