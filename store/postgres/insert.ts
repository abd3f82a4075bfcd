// Writes batches of exchange records into the central record, idempotently: a record already
// there (same id, same started_at) is left as it is, so a batch shipped twice (the shipper's
// at-least-once) stores each exchange once. Each table takes the whole batch as one JSON
// parameter (store/sql/ship-rows.ts) that json_to_recordset expands: the shipper gets that JSON
// from SQLite as one string, where per-column arrays cost an object and an escape per value.
import type { PoolClient } from 'pg';
import type { Exchange } from '../../core/exchange.js';
import type { ShipRows } from '../sql/ship-rows.js';
import type { DayPartitions } from './partitions.js';

/** Each exchange field's PostgreSQL type (a missing or extra field fails to compile). */
const EXCHANGE_TYPES: Readonly<Record<keyof Exchange, string>> = {
  id: 'text', started_at: 'bigint', ended_at: 'bigint', duration_ms: 'float8', ttfb_ms: 'float8', ttft_ms: 'float8',
  agent: 'text', route: 'text', protocol: 'text', direction: 'text', method: 'text', target: 'text', session_id: 'text',
  jsonrpc_id: 'text', trace_id: 'text', span_id: 'text', status: 'text', http_status: 'int4', error_code: 'text',
  error_message: 'text', policy_rule: 'text', policy_action: 'text', policy_reason: 'text', provider: 'text',
  operation: 'text', model: 'text', response_model: 'text', response_id: 'text', finish_reasons: 'text',
  input_tokens: 'bigint', output_tokens: 'bigint', cache_read_tokens: 'bigint', cache_write_tokens: 'bigint',
  reasoning_tokens: 'bigint', tokens_estimated: 'int2', cost_usd: 'float8', streamed: 'int2', request_bytes: 'bigint',
  response_bytes: 'bigint', replay_of: 'text', details: 'text', task_id: 'text', task_state: 'text', parent_id: 'text',
  event_count: 'bigint', events_truncated: 'int2', agent_labels: 'text', transform: 'text',
};

/** The exchange columns, in the order the reader selects them. */
export const EXCHANGE_COLUMNS = Object.keys(EXCHANGE_TYPES) as (keyof Exchange)[];

const INSERT_EXCHANGES = `INSERT INTO exchanges (${EXCHANGE_COLUMNS.join(', ')})
  SELECT ${EXCHANGE_COLUMNS.join(', ')} FROM json_to_recordset($1::json)
    AS r(${EXCHANGE_COLUMNS.map((c) => `${c} ${EXCHANGE_TYPES[c]}`).join(', ')})
  ON CONFLICT DO NOTHING`;
const INSERT_PAYLOADS = `INSERT INTO payloads (exchange_id, started_at, kind, headers, body, body_size, truncated)
  SELECT exchange_id, started_at, kind, headers, decode(body, 'hex'), body_size, truncated FROM json_to_recordset($1::json)
    AS r(exchange_id text, started_at bigint, kind text, headers text, body text, body_size bigint, truncated int2)
  ON CONFLICT DO NOTHING`;
const INSERT_EVENTS = `INSERT INTO events (exchange_id, started_at, seq, offset_ms, event, event_id, data)
  SELECT exchange_id, started_at, seq, offset_ms, event, event_id, data FROM json_to_recordset($1::json)
    AS r(exchange_id text, started_at bigint, seq int4, offset_ms float8, event text, event_id text, data text)
  ON CONFLICT DO NOTHING`;

/** An escaped NUL (`\u0000`, not an escaped backslash before "u0000"). */
const ESCAPED_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

/** JSON text for PostgreSQL, whose text cannot hold NUL: such a character is stored as U+FFFD. */
function withoutNul(json: string): string {
  return json.includes('\\u0000') ? json.replace(ESCAPED_NUL, '$1\\ufffd') : json;
}

/** Inserts the rows in one transaction (their day partitions created first); exchanges already stored are skipped. */
export async function insertRows(client: PoolClient, partitions: DayPartitions, rows: ShipRows): Promise<void> {
  if (rows.startedAts.length === 0) return;
  await partitions.ensure(client, rows.startedAts);
  await client.query('BEGIN');
  try {
    await client.query(INSERT_EXCHANGES, [withoutNul(rows.exchanges)]);
    if (rows.payloads !== '[]') await client.query(INSERT_PAYLOADS, [withoutNul(rows.payloads)]);
    if (rows.events !== '[]') await client.query(INSERT_EVENTS, [withoutNul(rows.events)]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
