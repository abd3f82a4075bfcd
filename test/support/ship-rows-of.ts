// Whole records as the rows the central insert takes (store/sql/ship-rows.ts), for tests that
// put records straight into PostgreSQL; tapwire itself ships rows its SQLite file wrote as JSON.
import type { Exchange, ExchangeRecord } from '../../core/exchange.js';
import type { ShippedEvent, ShippedPayload, ShipRows } from '../../store/sql/ship-rows.js';

/** The rows of whole records. */
export function shipRowsOf(records: readonly ExchangeRecord[]): ShipRows {
  const exchanges: Exchange[] = [];
  const payloads: ShippedPayload[] = [];
  const events: ShippedEvent[] = [];
  for (const record of records) {
    const { id: exchange_id, started_at } = record.exchange;
    exchanges.push(record.exchange);
    for (const kind of ['request', 'response'] as const) {
      const payload = record[kind];
      if (!payload) continue;
      const body = payload.body === null ? null : payload.body.toString('hex');
      payloads.push({ exchange_id, started_at, kind, headers: JSON.stringify(payload.headers), body, body_size: payload.body_size, truncated: payload.truncated ? 1 : 0 });
    }
    record.events.forEach((e, seq) => events.push({ exchange_id, started_at, seq, offset_ms: e.offset_ms, event: e.event, event_id: e.event_id, data: e.data }));
  }
  return { exchanges: JSON.stringify(exchanges), payloads: JSON.stringify(payloads), events: JSON.stringify(events), startedAts: exchanges.map((e) => e.started_at) };
}
