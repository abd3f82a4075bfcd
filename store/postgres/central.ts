// The central record as the shipper sees it: one connection to PostgreSQL, the schema
// brought up to date on first use (a newer one refused), batches inserted idempotently in
// their day partitions, old days dropped for store.retention_days. A failed query drops the
// connection; the next call connects again, so a server that comes back is used again.
import type pg from 'pg';
import type { ShipRows } from '../sql/ship-rows.js';
import { insertRows } from './insert.js';
import { migrate } from './migrations.js';
import { DayPartitions } from './partitions.js';
import { printableUrl } from './location.js';
import { connect, createPool } from './pool.js';

export class CentralRecord {
  private readonly pool: pg.Pool;
  private client: pg.PoolClient | null = null;
  private readonly partitions = new DayPartitions();

  constructor(private readonly url: string) {
    this.pool = createPool(url, 1);
  }

  /** The URL without its password (the shipper's cursor is kept under this name). */
  get name(): string {
    return printableUrl(this.url);
  }

  /** Stores a batch of rows read from a local file (each exchange once, however often it is sent). */
  insertRows(rows: ShipRows): Promise<void> {
    return this.using((client) => insertRows(client, this.partitions, rows));
  }

  /** Drops the day partitions older than `days` days; returns the days dropped (days since the epoch). */
  dropOlderThan(days: number, now = Date.now()): Promise<number[]> {
    return this.using((client) => this.partitions.dropOlderThan(client, days, now));
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    client?.release();
    await this.pool.end();
  }

  private async using<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (!this.client) {
      const client = await connect(this.pool, this.url);
      // The server may end the connection between batches (a restart): the next batch reconnects.
      client.on('error', () => this.drop(client));
      this.client = client;
      try {
        await migrate(client, this.name);
      } catch (err) {
        this.drop(client);
        throw err;
      }
    }
    const client = this.client;
    try {
      return await work(client);
    } catch (err) {
      this.drop(client);
      throw err;
    }
  }

  /** Gives up a connection that failed, once, so the next call connects again. */
  private drop(client: pg.PoolClient): void {
    if (this.client !== client) return;
    this.client = null;
    client.release(true);
  }
}
