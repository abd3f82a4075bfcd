// The local side of shipping (store/ship-worker.ts): committed exchanges in arrival order
// (SQLite's rowid, which the writer assigns in commit order) after a cursor kept in the
// database itself, so a restarted sidecar resumes where it left off. The cursor holds the
// last shipped rowid and id: if the row at that rowid no longer has that id (a VACUUM
// renumbered the rows), the cursor is found again by id, or, when that row is gone too,
// shipping starts over from the first row (the central insert ignores what it already has).
import type { Statement } from 'better-sqlite3';
import type { Exchange, ExchangeEvent, ExchangeRecord } from '../../core/exchange.js';
import { EXCHANGE_COLUMNS } from './columns.js';
import { openDatabase, type Db } from './db.js';
import { payloadOf, type PayloadRow } from './queries.js';

/** A batch read after the cursor: `last` is where the cursor goes once it is stored centrally. */
export interface ShipBatch {
  records: ExchangeRecord[];
  last: { rowid: number; id: string } | null;
}

/** How long a cursor update waits for the writer thread's lock. */
const BUSY_TIMEOUT_MS = 5000;

export class ShipSource {
  private readonly db: Db;
  private readonly statements: { exchanges: Statement; payloads: Statement; events: Statement };
  private rowid = 0;
  private id: string | null = null;

  /** `target` names the central record (its URL without password): each has its own cursor. */
  constructor(
    path: string,
    private readonly target: string,
  ) {
    this.db = openDatabase(path);
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Payloads and events of the exchanges in a rowid range, by their exchange's rowid.
    const inRange = 'exchange_id IN (SELECT id FROM exchanges WHERE rowid > ? AND rowid <= ?)';
    this.statements = {
      exchanges: this.db.prepare(`SELECT rowid, ${EXCHANGE_COLUMNS.join(', ')} FROM exchanges WHERE rowid > ? ORDER BY rowid LIMIT ?`),
      payloads: this.db.prepare(`SELECT exchange_id, kind, headers, body, body_size, truncated FROM payloads WHERE ${inRange}`),
      events: this.db.prepare(`SELECT exchange_id, offset_ms, event, event_id, data FROM events WHERE ${inRange} ORDER BY exchange_id, seq`),
    };
    const cursor = this.db.prepare('SELECT last_rowid, last_id FROM ship_cursors WHERE target = ?').get(target) as
      | { last_rowid: number; last_id: string | null }
      | undefined;
    if (cursor) [this.rowid, this.id] = [cursor.last_rowid, cursor.last_id];
  }

  /** Up to `limit` committed records after the cursor, oldest first: three queries a batch (exchanges, payloads, events), not three a record. */
  next(limit: number): ShipBatch {
    this.recheckCursor();
    const exchanges = this.statements.exchanges.all(this.rowid, limit) as (Exchange & { rowid: number })[];
    const last = exchanges[exchanges.length - 1];
    if (!last) return { records: [], last: null };
    const records = new Map<string, ExchangeRecord>();
    const lastRowid = last.rowid;
    for (const exchange of exchanges) {
      Reflect.deleteProperty(exchange, 'rowid');
      records.set(exchange.id, { exchange, request: null, response: null, events: [] });
    }
    for (const row of this.statements.payloads.all(this.rowid, lastRowid) as (PayloadRow & { exchange_id: string })[]) {
      const record = records.get(row.exchange_id);
      if (record) record[row.kind] = payloadOf(row);
    }
    for (const { exchange_id, ...event } of this.statements.events.all(this.rowid, lastRowid) as (ExchangeEvent & { exchange_id: string })[]) {
      records.get(exchange_id)?.events.push(event);
    }
    return { records: [...records.values()], last: { rowid: lastRowid, id: last.id } };
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
    const at = this.db.prepare('SELECT id FROM exchanges WHERE rowid = ?').pluck().get(this.rowid) as string | undefined;
    if (at === this.id) return;
    const moved = this.db.prepare('SELECT rowid FROM exchanges WHERE id = ?').pluck().get(this.id) as number | undefined;
    this.rowid = moved ?? 0;
    if (moved === undefined) this.id = null;
  }
}
