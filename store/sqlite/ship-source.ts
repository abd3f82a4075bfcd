// The local side of shipping (store/ship-worker.ts): committed exchanges in arrival order
// (SQLite's rowid, which the writer assigns in commit order) after a cursor kept in the
// database itself, so a restarted sidecar resumes where it left off. The cursor holds the
// last shipped rowid and id: if the row at that rowid no longer has that id (a VACUUM
// renumbered the rows), the cursor is found again by id, or, when that row is gone too,
// shipping starts over from the first row (the central insert ignores what it already has).
import type { Statement } from 'better-sqlite3';
import type { ShipRows } from '../sql/ship-rows.js';
import { EXCHANGE_COLUMNS } from './columns.js';
import { openDatabase, type Db } from './db.js';

/**
 * A batch read after the cursor: `count` records, of which `rows` holds those kept; `last` is
 * where the cursor goes once they are stored centrally (null: nothing after the cursor).
 */
export interface ShipBatch {
  rows: ShipRows;
  count: number;
  last: { rowid: number; id: string } | null;
}

/** One record's exchange as a JSON object, written by SQLite (json_object). */
const EXCHANGE_JSON = `json_object(${EXCHANGE_COLUMNS.map((c) => `'${c}', ${c}`).join(', ')})`;
/** hex() of NULL is '': a missing body stays null. */
const BODY_HEX = 'CASE WHEN body IS NULL THEN NULL ELSE hex(body) END';
/** The rows a batch ships: in the cursor's range and started at or after `from` (retention). */
const KEPT = 'e.rowid > @after AND e.rowid <= @last AND e.started_at >= @from';

/** How long a cursor update waits for the writer thread's lock. */
const BUSY_TIMEOUT_MS = 5000;

export class ShipSource {
  private readonly db: Db;
  private readonly statements: Record<'range' | 'idAt' | 'exchanges' | 'payloads' | 'events' | 'days', Statement>;
  private rowid = 0;
  private id: string | null = null;

  /** `target` names the central record (its URL without password): each has its own cursor. */
  constructor(
    path: string,
    private readonly target: string,
  ) {
    this.db = openDatabase(path);
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.statements = {
      range: this.db.prepare('SELECT max(rowid) AS last, count(*) AS count FROM (SELECT rowid FROM exchanges WHERE rowid > ? ORDER BY rowid LIMIT ?)'),
      idAt: this.db.prepare('SELECT id FROM exchanges WHERE rowid = ?').pluck(),
      exchanges: this.db.prepare(`SELECT json_group_array(${EXCHANGE_JSON}) FROM exchanges e WHERE ${KEPT}`).pluck(),
      payloads: this.db
        .prepare(
          `SELECT json_group_array(json_object('exchange_id', exchange_id, 'started_at', e.started_at, 'kind', kind, 'headers', headers, 'body', ${BODY_HEX},
             'body_size', body_size, 'truncated', truncated)) FROM payloads JOIN exchanges e ON e.id = exchange_id WHERE ${KEPT}`,
        )
        .pluck(),
      events: this.db
        .prepare(
          `SELECT json_group_array(json_object('exchange_id', exchange_id, 'started_at', e.started_at, 'seq', seq, 'offset_ms', offset_ms, 'event', event,
             'event_id', event_id, 'data', data)) FROM events JOIN exchanges e ON e.id = exchange_id WHERE ${KEPT}`,
        )
        .pluck(),
      // One started_at a day: the central partitions the batch needs.
      days: this.db.prepare(`SELECT min(started_at) FROM exchanges e WHERE ${KEPT} GROUP BY started_at / 86400000`).pluck(),
    };
    const cursor = this.db.prepare('SELECT last_rowid, last_id FROM ship_cursors WHERE target = ?').get(target) as
      | { last_rowid: number; last_id: string | null }
      | undefined;
    if (cursor) [this.rowid, this.id] = [cursor.last_rowid, cursor.last_id];
  }

  /**
   * Up to `limit` committed records after the cursor, oldest first, as JSON rows, leaving out
   * those that started before `from` (epoch ms): a few queries a batch, not a few a record.
   */
  next(limit: number, from = 0): ShipBatch {
    this.recheckCursor();
    const range = this.statements.range.get(this.rowid, limit) as { last: number | null; count: number };
    if (range.last === null) return { rows: { exchanges: '[]', payloads: '[]', events: '[]', startedAts: [] }, count: 0, last: null };
    const kept = { after: this.rowid, last: range.last, from };
    const rows: ShipRows = {
      exchanges: this.statements.exchanges.get(kept) as string,
      payloads: this.statements.payloads.get(kept) as string,
      events: this.statements.events.get(kept) as string,
      startedAts: this.statements.days.all(kept) as number[],
    };
    return { rows, count: range.count, last: { rowid: range.last, id: this.statements.idAt.get(range.last) as string } };
  }

  /** Moves the cursor past a batch now stored centrally. */
  advance(last: { rowid: number; id: string }): void {
    this.db
      .prepare('INSERT INTO ship_cursors (target, last_rowid, last_id) VALUES (?, ?, ?) ON CONFLICT (target) DO UPDATE SET last_rowid = excluded.last_rowid, last_id = excluded.last_id')
      .run(this.target, last.rowid, last.id);
    [this.rowid, this.id] = [last.rowid, last.id];
  }

  /** Committed records not shipped yet, and when the first of them (in arrival order) started (null: none). */
  backlog(): { records: number; oldestStartedAt: number | null } {
    const records = this.db.prepare('SELECT count(*) FROM exchanges WHERE rowid > ?').pluck().get(this.rowid) as number;
    const oldest = this.db.prepare('SELECT started_at FROM exchanges WHERE rowid > ? ORDER BY rowid LIMIT 1').pluck().get(this.rowid) as number | undefined;
    return { records, oldestStartedAt: oldest ?? null };
  }

  close(): void {
    this.db.close();
  }

  private recheckCursor(): void {
    if (this.id === null) return;
    const at = this.statements.idAt.get(this.rowid) as string | undefined;
    if (at === this.id) return;
    const moved = this.db.prepare('SELECT rowid FROM exchanges WHERE id = ?').pluck().get(this.id) as number | undefined;
    this.rowid = moved ?? 0;
    if (moved === undefined) this.id = null;
  }
}
