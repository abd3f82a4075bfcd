// The PostgreSQL reader (RecordReader) of the central record, over a small pool. Pages are
// keyset pagination on the time-sortable id, as on SQLite (store/sqlite/reader.ts): "the next
// N rows after id X", the condition pushed down as SQL with parameters, the rest judged in
// JS on rows fetched a chunk at a time. Ids sort in the "C" collation, so '~' is past every id.
import type pg from 'pg';
import type { Exchange, ExchangeEvent, ExchangeRecord, Payload } from '../../core/exchange.js';
import type { Condition, Page, PageQuery, RecordReader, SecondCounts, SessionSummary, TotalsSlice } from '../record-store.js';
import { EXCHANGE_COLUMNS } from './insert.js';
import { whereSql } from './where.js';

/** Sorts after every ULID (Crockford base32 is digits and capitals). */
const PAST_END = '~';
const COLUMNS = EXCHANGE_COLUMNS.join(', ');
/** An exchange's tokens in and out. */
const TOKENS = 'COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)';
/** Rows fetched at a time while a JS test looks for matches. */
const CHUNK = 500;

interface PayloadRow {
  kind: 'request' | 'response';
  headers: string;
  body: Buffer | null;
  body_size: number;
  truncated: number;
}

export class PostgresReader implements RecordReader {
  constructor(private readonly pool: pg.Pool) {}

  private async rows<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  async get(id: string): Promise<ExchangeRecord | null> {
    const [exchange] = await this.rows<Exchange>(`SELECT ${COLUMNS} FROM exchanges WHERE id = $1`, [id]);
    if (!exchange) return null;
    const [payloads, events] = await Promise.all([
      this.rows<PayloadRow>('SELECT kind, headers, body, body_size, truncated FROM payloads WHERE exchange_id = $1', [id]),
      this.rows<ExchangeEvent>('SELECT offset_ms, event, event_id, data FROM events WHERE exchange_id = $1 ORDER BY seq', [id]),
    ]);
    const toPayload = (row: PayloadRow | undefined): Payload | null =>
      row ? { headers: JSON.parse(row.headers) as Payload['headers'], body: row.body, body_size: row.body_size, truncated: row.truncated === 1 } : null;
    return { exchange, request: toPayload(payloads.find((p) => p.kind === 'request')), response: toPayload(payloads.find((p) => p.kind === 'response')), events };
  }

  async page({ where: condition, rest, direction, from, want, budget }: PageQuery): Promise<Page> {
    const forward = direction === 'forward';
    const [cmp, order] = forward ? ['>', 'ASC'] : ['<', 'DESC'];
    let start = from ?? (forward ? '' : PAST_END);
    // The id range this step may look at: `budget` rows from the start, by the id index.
    const bound =
      budget === undefined
        ? undefined
        : (await this.rows<{ id: string }>(`SELECT id FROM exchanges WHERE id ${cmp} $1 ORDER BY id ${order} LIMIT 1 OFFSET $2`, [start, budget - 1]))[0]?.id;
    const range = bound === undefined ? '' : ` AND id ${forward ? '<=' : '>='} $2`;
    const { where, params } = whereSql(condition, bound === undefined ? 2 : 3);
    const and = where ? ` AND ${where}` : '';
    const chunk = rest ? CHUNK : want;
    const sql = `SELECT ${COLUMNS} FROM exchanges WHERE id ${cmp} $1${range}${and} ORDER BY id ${order} LIMIT ${chunk}`;
    const matched: Exchange[] = [];
    let examined = 0;
    for (;;) {
      const rows = await this.rows<Exchange>(sql, [start, ...(bound === undefined ? [] : [bound]), ...params]);
      for (const row of rows) {
        examined++;
        if (!rest || rest.matches(row, rest.rowOnly ? null : await this.get(row.id))) matched.push(row);
        if (matched.length === want) return { rows: matched, done: true, resume: null, examined };
      }
      if (rows.length < chunk) break;
      start = rows[rows.length - 1]!.id;
    }
    if (bound === undefined) return { rows: matched, done: true, resume: null, examined };
    return { rows: matched, done: false, resume: bound, examined };
  }

  async count(condition: Condition | null): Promise<number> {
    const { where, params } = whereSql(condition);
    const [row] = await this.rows<{ n: number }>(`SELECT count(*) AS n FROM exchanges${where ? ` WHERE ${where}` : ''}`, params);
    return row!.n;
  }

  async newestId(): Promise<string | null> {
    return (await this.rows<{ id: string | null }>('SELECT max(id) AS id FROM exchanges'))[0]!.id;
  }

  async newestStartedAt(): Promise<number | null> {
    return (await this.rows<{ at: number | null }>('SELECT max(started_at) AS at FROM exchanges'))[0]!.at;
  }

  async totalsAfter(after: string, maxRows = Number.POSITIVE_INFINITY): Promise<TotalsSlice> {
    const bound = Number.isFinite(maxRows)
      ? (await this.rows<{ id: string }>('SELECT id FROM exchanges WHERE id > $1 ORDER BY id LIMIT 1 OFFSET $2', [after, maxRows - 1]))[0]?.id
      : undefined;
    const [row] = await this.rows<{ n: number; errors: number; denied: number; llm_tokens: number; mcp_tokens: number; cost: number; unpriced: number; newest: string | null }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE status = 'error') AS errors, count(*) FILTER (WHERE status = 'denied') AS denied,
              COALESCE(sum(CASE WHEN protocol = 'llm' THEN ${TOKENS} END), 0)::float8 AS llm_tokens,
              COALESCE(sum(CASE WHEN protocol = 'mcp' AND parent_id IS NULL THEN ${TOKENS} END), 0)::float8 AS mcp_tokens,
              COALESCE(sum(cost_usd), 0)::float8 AS cost, count(*) FILTER (WHERE protocol = 'llm' AND cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)) AS unpriced, max(id) AS newest
       FROM exchanges WHERE id > $1 AND id <= $2`,
      [after, bound ?? PAST_END],
    );
    return {
      exchanges: row!.n,
      errors: row!.errors,
      denied: row!.denied,
      llmTokens: row!.llm_tokens,
      mcpTokens: row!.mcp_tokens,
      costUsd: row!.cost,
      unpricedLlmCalls: row!.unpriced,
      newest: row!.newest,
      done: row!.n === 0 || bound === undefined,
    };
  }

  perSecond(fromMs: number, toMs: number): Promise<SecondCounts[]> {
    return this.rows<SecondCounts>(
      `SELECT started_at / 1000 AS second, count(*) AS requests,
              COALESCE(sum(CASE WHEN protocol = 'llm' THEN ${TOKENS} END), 0)::float8 AS "llmTokens"
       FROM exchanges WHERE started_at >= $1 AND started_at < $2 GROUP BY second ORDER BY second`,
      [fromMs, toMs],
    );
  }

  async sessions(limit: number, lookback: number): Promise<SessionSummary[]> {
    const from = (await this.rows<{ id: string }>('SELECT id FROM exchanges ORDER BY id DESC LIMIT 1 OFFSET $1', [lookback - 1]))[0]?.id ?? '';
    return this.rows<SessionSummary>(
      `SELECT session_id, min(protocol) AS protocol,
              COALESCE(min(CASE WHEN parent_id IS NULL THEN route END), min(route)) AS route, count(*) AS exchanges,
              count(*) FILTER (WHERE status = 'error') AS errors, count(*) FILTER (WHERE status = 'denied') AS denied,
              COALESCE(sum(${TOKENS}), 0)::float8 AS tokens, COALESCE(sum(cost_usd), 0)::float8 AS cost_usd,
              min(started_at) AS first_at, max(COALESCE(ended_at, started_at)) AS last_at
       FROM exchanges WHERE id >= $1 AND session_id IS NOT NULL
       GROUP BY session_id ORDER BY max(id) DESC LIMIT $2`,
      [from, limit],
    );
  }

  async related(exchange: Exchange, limit: number): Promise<Exchange[]> {
    if (!exchange.session_id) return [];
    return this.rows<Exchange>(
      `SELECT ${COLUMNS} FROM exchanges
       WHERE session_id = $1 AND id != $2 AND (direction = 'server_to_client' OR method LIKE 'notifications/%')
       ORDER BY id LIMIT $3`,
      [exchange.session_id, exchange.id, limit],
    );
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
