// Test helper: a SQLite database's files as text, to prove a secret was stored nowhere in them.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Every file of the database at `dbPath` (the database, its -wal and -shm: a write may sit in
 * the WAL until a checkpoint), as latin1 text. A credential stored anywhere shows up in it.
 */
export function databaseText(dbPath: string): string {
  const dir = dirname(dbPath);
  const name = basename(dbPath);
  return readdirSync(dir)
    .filter((file) => file.startsWith(name))
    .map((file) => readFileSync(join(dir, file)).toString('latin1'))
    .join('\n');
}
