// Writes batches of exchange records in one transaction. Used by the writer worker; kept
// apart from it so tests and the TUI bench can write records synchronously.
import type { ExchangeRecord, Payload } from '../../core/exchange.js';
import { EXCHANGE_COLUMNS } from './columns.js';
import type { Db } from './db.js';

export type InsertBatch = (records: readonly ExchangeRecord[]) => void;

export function prepareInsert(db: Db): InsertBatch {
  const insertExchange = db.prepare(
    `INSERT INTO exchanges (${EXCHANGE_COLUMNS.join(', ')}) VALUES (${EXCHANGE_COLUMNS.map((c) => `@${c}`).join(', ')})`,
  );
  const insertPayload = db.prepare(
    'INSERT INTO payloads (exchange_id, kind, headers, body, body_size, truncated) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const insertEvent = db.prepare(
    'INSERT INTO events (exchange_id, seq, offset_ms, event, event_id, data) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const writePayload = (id: string, kind: 'request' | 'response', payload: Payload | null): void => {
    if (!payload) return;
    insertPayload.run(id, kind, JSON.stringify(payload.headers), payload.body, payload.body_size, payload.truncated ? 1 : 0);
  };
  return db.transaction((records: readonly ExchangeRecord[]) => {
    for (const record of records) {
      const id = record.exchange.id;
      insertExchange.run(record.exchange);
      writePayload(id, 'request', record.request);
      writePayload(id, 'response', record.response);
      record.events.forEach((e, seq) => insertEvent.run(id, seq, e.offset_ms, e.event, e.event_id, e.data));
    }
  });
}
