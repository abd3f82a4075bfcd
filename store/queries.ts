// Read side of tapwire.db: exchanges with their payloads and events, for the CLI, the TUI
// and tests. Opens read-only, so it never contends with the writer.
import type { Exchange, ExchangeEvent, ExchangeRecord, Payload } from '../sidecar/exchange.js';
import { EXCHANGE_COLUMNS } from './columns.js';
import type { Db } from './db.js';

interface PayloadRow {
  kind: 'request' | 'response';
  headers: string;
  body: Buffer | null;
  body_size: number;
  truncated: number;
}

const COLUMNS = EXCHANGE_COLUMNS.join(', ');

export function listExchanges(db: Db, options: { limit?: number; route?: string } = {}): Exchange[] {
  const where = options.route ? 'WHERE route = @route' : '';
  return db
    .prepare(`SELECT ${COLUMNS} FROM exchanges ${where} ORDER BY id LIMIT @limit`)
    .all({ limit: options.limit ?? -1, ...(options.route ? { route: options.route } : {}) }) as Exchange[];
}

export function getExchangeRecord(db: Db, id: string): ExchangeRecord | null {
  const exchange = db.prepare(`SELECT ${COLUMNS} FROM exchanges WHERE id = ?`).get(id) as Exchange | undefined;
  if (!exchange) return null;
  const payloads = db.prepare('SELECT kind, headers, body, body_size, truncated FROM payloads WHERE exchange_id = ?').all(id) as PayloadRow[];
  const toPayload = (row: PayloadRow | undefined): Payload | null =>
    row ? { headers: JSON.parse(row.headers) as Payload['headers'], body: row.body, body_size: row.body_size, truncated: row.truncated === 1 } : null;
  const events = db
    .prepare('SELECT offset_ms, event, event_id, data FROM events WHERE exchange_id = ? ORDER BY seq')
    .all(id) as ExchangeEvent[];
  return {
    exchange,
    request: toPayload(payloads.find((p) => p.kind === 'request')),
    response: toPayload(payloads.find((p) => p.kind === 'response')),
    events,
  };
}
