// Opens tapwire.db: creates it readable by its owner only, sets WAL, and brings the schema
// up to date, refusing a database written by a newer tapwire.
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';

export type Db = Database.Database;

export class StoreError extends Error {
  override readonly name = 'StoreError';
}

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
