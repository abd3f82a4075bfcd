// Connections to the central PostgreSQL record: a pool per location, bigint columns read as
// numbers (Unix ms and byte counts stay far below 2^53), and the location as it may be
// printed (the password masked). A server that cannot be reached is a StoreError.
import pg from 'pg';
import { StoreError } from '../record-store.js';
import { printableUrl } from './location.js';

/** PostgreSQL's bigint type (int8). */
const INT8_OID = 20;
const parseInt8 = (value: string): number => Number(value);

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? parseInt8 : (pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 });
  // An idle client whose server went away must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** A client of the pool, or StoreError naming the server when it cannot be reached. */
export async function connect(pool: pg.Pool, url: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw new StoreError(`cannot connect to PostgreSQL ${printableUrl(url)}: ${(err as Error).message}`);
  }
}
