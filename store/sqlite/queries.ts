// Reads one exchange with its payloads and events (the reader's get, and a filter that needs
// bodies), and lists exchanges for tests that check what was stored.
import type { Exchange, ExchangeEvent, ExchangeRecord, Payload } from '../../core/exchange.js';
import { EXCHANGE_COLUMNS } from './columns.js';
import type { Db } from './db.js';
import type { Statement } from 'better-sqlite3';

export interface PayloadRow {
  kind: 'request' | 'response';
  headers: string;
  body: Buffer | null;
  body_size: number;
  truncated: number;
}

const COLUMNS = EXCHANGE_COLUMNS.join(', ');

/** A stored payload row as the record's Payload. */
export function payloadOf(row: PayloadRow): Payload {
  return { headers: JSON.parse(row.headers) as Payload['headers'], body: row.body, body_size: row.body_size, truncated: row.truncated === 1 };
}

export function listExchanges(db: Db, options: { limit?: number; route?: string } = {}): Exchange[] {
  const where = options.route ? 'WHERE route = @route' : '';
  return db
    .prepare(`SELECT ${COLUMNS} FROM exchanges ${where} ORDER BY id LIMIT @limit`)
    .all({ limit: options.limit ?? -1, ...(options.route ? { route: options.route } : {}) }) as Exchange[];
}

/** The record statements of each open database, prepared once: callers that read many records (the TUI filter) would otherwise spend most of their time preparing. */
const recordStatements = new WeakMap<Db, { exchange: Statement; payloads: Statement; events: Statement }>();

export function getExchangeRecord(db: Db, id: string): ExchangeRecord | null {
  let statements = recordStatements.get(db);
  if (!statements) {
    statements = {
      exchange: db.prepare(`SELECT ${COLUMNS} FROM exchanges WHERE id = ?`),
      payloads: db.prepare('SELECT kind, headers, body, body_size, truncated FROM payloads WHERE exchange_id = ?'),
      events: db.prepare('SELECT offset_ms, event, event_id, data FROM events WHERE exchange_id = ? ORDER BY seq'),
    };
    recordStatements.set(db, statements);
  }
  const exchange = statements.exchange.get(id) as Exchange | undefined;
  if (!exchange) return null;
  const payloads = statements.payloads.all(id) as PayloadRow[];
  const toPayload = (row: PayloadRow | undefined): Payload | null => (row ? payloadOf(row) : null);
  const events = statements.events.all(id) as ExchangeEvent[];
  return {
    exchange,
    request: toPayload(payloads.find((p) => p.kind === 'request')),
    response: toPayload(payloads.find((p) => p.kind === 'response')),
    events,
  };
}
