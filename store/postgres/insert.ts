// Writes batches of exchange records into the central record, idempotently: a record already
// there (same id, same started_at) is left as it is, so a batch shipped twice (the shipper's
// at-least-once) stores each exchange once. Each table takes the whole batch in one
// INSERT ... SELECT FROM unnest(arrays), one parameter per column whatever the batch size.
import type { PoolClient } from 'pg';
import type { Exchange, ExchangeRecord } from '../../core/exchange.js';
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
  SELECT * FROM unnest(${EXCHANGE_COLUMNS.map((c, i) => `$${i + 1}::${EXCHANGE_TYPES[c]}[]`).join(', ')})
  ON CONFLICT DO NOTHING`;
const INSERT_PAYLOADS = `INSERT INTO payloads (exchange_id, started_at, kind, headers, body, body_size, truncated)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bytea[], $6::bigint[], $7::int2[])
  ON CONFLICT DO NOTHING`;
const INSERT_EVENTS = `INSERT INTO events (exchange_id, started_at, seq, offset_ms, event, event_id, data)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::int4[], $4::float8[], $5::text[], $6::text[], $7::text[])
  ON CONFLICT DO NOTHING`;

/** PostgreSQL text cannot hold NUL: such a character is stored as U+FFFD. */
function pgText(value: string | null): string | null {
  return value !== null && value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

function columnsOf<T>(rows: readonly T[], width: number, row: (item: T) => unknown[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: width }, () => []);
  for (const item of rows) row(item).forEach((value, i) => columns[i]!.push(typeof value === 'string' ? pgText(value) : value));
  return columns;
}

/** Inserts the records in one transaction (their day partitions created first); records already stored are skipped. */
export async function insertRecords(client: PoolClient, partitions: DayPartitions, records: readonly ExchangeRecord[]): Promise<void> {
  if (records.length === 0) return;
  await partitions.ensure(client, records.map((r) => r.exchange.started_at));
  const exchanges = columnsOf(records, EXCHANGE_COLUMNS.length, (r) => EXCHANGE_COLUMNS.map((c) => r.exchange[c]));
  const payloads = records.flatMap((r) =>
    (['request', 'response'] as const).flatMap((kind) => {
      const payload = r[kind];
      return payload ? [[r.exchange.id, r.exchange.started_at, kind, JSON.stringify(payload.headers), payload.body, payload.body_size, payload.truncated ? 1 : 0]] : [];
    }),
  );
  const events = records.flatMap((r) => r.events.map((e, seq) => [r.exchange.id, r.exchange.started_at, seq, e.offset_ms, e.event, e.event_id, e.data]));
  await client.query('BEGIN');
  try {
    await client.query(INSERT_EXCHANGES, exchanges);
    if (payloads.length > 0) await client.query(INSERT_PAYLOADS, columnsOf(payloads, 7, (p) => p));
    if (events.length > 0) await client.query(INSERT_EVENTS, columnsOf(events, 7, (e) => e));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
