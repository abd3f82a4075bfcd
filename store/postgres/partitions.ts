// Day partitions of exchanges, payloads and events: created the first time a record of a
// day arrives (under the schema lock, so sidecars creating the same day do not collide), and
// dropped whole once older than store.retention_days. A day is a UTC day of started_at.
import type { PoolClient } from 'pg';
import { SCHEMA_LOCK } from './migrations.js';

export const DAY_MS = 86_400_000;
export const PARTITIONED_TABLES = ['exchanges', 'payloads', 'events'] as const;

/** The partition suffix of a day (days since the Unix epoch): `d20261206`. */
function suffix(day: number): string {
  return `d${new Date(day * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

/** The day of a partition's name, or null for a table that is not one of tapwire's day partitions. */
function dayOf(name: string): number | null {
  const match = /_d(\d{4})(\d{2})(\d{2})$/.exec(name);
  return match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) / DAY_MS : null;
}

/** The days whose partitions exist, as far as this process knows (a dropped day is forgotten). */
export class DayPartitions {
  private readonly known = new Set<number>();

  /** Creates the partitions of the records' days that this process has not seen yet. */
  async ensure(client: PoolClient, startedAts: Iterable<number>): Promise<void> {
    const missing = new Set<number>();
    for (const at of startedAts) {
      const day = Math.floor(at / DAY_MS);
      if (!this.known.has(day)) missing.add(day);
    }
    if (missing.size === 0) return;
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const day of missing) {
        for (const table of PARTITIONED_TABLES) {
          await client.query(
            `CREATE TABLE IF NOT EXISTS ${table}_${suffix(day)} PARTITION OF ${table} FOR VALUES FROM (${day * DAY_MS}) TO (${(day + 1) * DAY_MS})`,
          );
        }
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    for (const day of missing) this.known.add(day);
  }

  /**
   * Drops the partitions of days that ended more than `retentionDays` before `now`; returns
   * the days dropped. A record of such a day arriving later makes its partition again.
   */
  async dropOlderThan(client: PoolClient, retentionDays: number, now = Date.now()): Promise<number[]> {
    const firstKept = Math.floor((now - retentionDays * DAY_MS) / DAY_MS);
    const dropped: number[] = [];
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const table of PARTITIONED_TABLES) {
        const children = await client.query<{ name: string }>(
          'SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass',
          [table],
        );
        for (const { name } of children.rows) {
          const day = dayOf(name);
          if (day === null || day >= firstKept) continue;
          await client.query(`DROP TABLE ${name}`);
          if (table === 'exchanges') dropped.push(day);
        }
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    for (const day of dropped) this.known.delete(day);
    return dropped.sort((a, b) => a - b);
  }
}
