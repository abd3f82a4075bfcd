// The SQLite reader (RecordReader) over a read-only connection, so it never contends with
// the writer. Pages are keyset pagination on the time-sortable id (its primary-key index): "the
// next N rows after id X", never an OFFSET into millions. A budgeted page looks only at an id
// range of `budget` rows, the condition pushed down as SQL, the rest judged in JS.
import type { Statement } from 'better-sqlite3';
import type { Exchange } from '../../core/exchange.js';
import type { Condition, Page, PageQuery, RecordReader, SecondCounts, SessionSummary, TotalsSlice } from '../record-store.js';
import { EXCHANGE_COLUMNS } from './columns.js';
import type { Db } from './db.js';
import { getExchangeRecord } from './queries.js';
import { whereSql } from './where.js';

/** Sorts after every ULID (Crockford base32 is digits and capitals). */
const PAST_END = '~';
const COLUMNS = EXCHANGE_COLUMNS.join(', ');
/** An exchange's tokens in and out. */
const TOKENS = 'COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)';

export class SqliteReader implements RecordReader {
  /** Prepared once per SQL text: a filter's steps reuse theirs. */
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Db) {}

  private statement(sql: string): Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) this.statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  get(id: string): ReturnType<RecordReader['get']> {
    return Promise.resolve(getExchangeRecord(this.db, id));
  }

  page(query: PageQuery): Promise<Page> {
    return Promise.resolve(this.pageNow(query));
  }

  private pageNow({ where: condition, rest, direction, from, want, budget }: PageQuery): Page {
    const forward = direction === 'forward';
    const start = from ?? (forward ? '' : PAST_END);
    const [cmp, order] = forward ? ['>', 'ASC'] : ['<', 'DESC'];
    const { where, params } = whereSql(condition);
    const and = where ? ` AND ${where}` : '';
    if (budget === undefined && !rest) {
      const rows = this.statement(`SELECT ${COLUMNS} FROM exchanges WHERE id ${cmp} ?${and} ORDER BY id ${order} LIMIT ?`).all(start, ...params, want) as Exchange[];
      return { rows, done: true, resume: null, examined: rows.length };
    }
    // The id range this step may look at: `budget` rows from the start, by the id index.
    const bound =
      budget === undefined
        ? undefined
        : (this.statement(`SELECT id FROM exchanges WHERE id ${cmp} ? ORDER BY id ${order} LIMIT 1 OFFSET ?`).pluck().get(start, budget - 1) as string | undefined);
    const range = bound === undefined ? '' : ` AND id ${forward ? '<=' : '>='} ?`;
    const sql = `SELECT ${COLUMNS} FROM exchanges WHERE id ${cmp} ?${range}${and} ORDER BY id ${order}`;
    const rows: Exchange[] = [];
    let examined = 0;
    for (const row of this.statement(sql).iterate(...(bound === undefined ? [start] : [start, bound]), ...params) as IterableIterator<Exchange>) {
      examined++;
      if (!rest || rest.matches(row, rest.rowOnly ? null : getExchangeRecord(this.db, row.id))) rows.push(row);
      // Leaving the loop early closes the statement's iterator.
      if (rows.length === want) return { rows, done: true, resume: null, examined };
    }
    if (bound === undefined) return { rows, done: true, resume: null, examined };
    return { rows, done: false, resume: bound, examined };
  }

  count(condition: Condition | null): Promise<number> {
    const { where, params } = whereSql(condition);
    return Promise.resolve(this.statement(`SELECT count(*) FROM exchanges${where ? ` WHERE ${where}` : ''}`).pluck().get(...params) as number);
  }

  newestId(): Promise<string | null> {
    return Promise.resolve((this.statement('SELECT max(id) FROM exchanges').pluck().get() as string | null) ?? null);
  }

  newestStartedAt(): Promise<number | null> {
    return Promise.resolve((this.statement('SELECT max(started_at) FROM exchanges').pluck().get() as number | null) ?? null);
  }

  totalsAfter(after: string, maxRows = Number.POSITIVE_INFINITY): Promise<TotalsSlice> {
    const bound = Number.isFinite(maxRows)
      ? (this.statement('SELECT id FROM exchanges WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?').pluck().get(after, maxRows - 1) as string | undefined)
      : undefined;
    const row = this.statement(
      `SELECT count(*) AS n, total(status = 'error') AS errors, total(status = 'denied') AS denied,
              total(CASE WHEN protocol = 'llm' THEN ${TOKENS} END) AS llm_tokens,
              total(CASE WHEN protocol = 'mcp' AND parent_id IS NULL THEN ${TOKENS} END) AS mcp_tokens,
              total(cost_usd) AS cost, total(protocol = 'llm' AND cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)) AS unpriced, max(id) AS newest
       FROM exchanges WHERE id > ? AND id <= ?`,
    ).get(after, bound ?? PAST_END) as { n: number; errors: number; denied: number; llm_tokens: number; mcp_tokens: number; cost: number; unpriced: number; newest: string | null };
    return Promise.resolve({
      exchanges: row.n,
      errors: row.errors,
      denied: row.denied,
      llmTokens: row.llm_tokens,
      mcpTokens: row.mcp_tokens,
      costUsd: row.cost,
      unpricedLlmCalls: row.unpriced,
      newest: row.newest,
      done: row.n === 0 || bound === undefined,
    });
  }

  perSecond(fromMs: number, toMs: number): Promise<SecondCounts[]> {
    return Promise.resolve(
      this.statement(
        `SELECT started_at / 1000 AS second, count(*) AS requests, total(CASE WHEN protocol = 'llm' THEN ${TOKENS} END) AS llmTokens
         FROM exchanges WHERE started_at >= ? AND started_at < ? GROUP BY second`,
      ).all(fromMs, toMs) as SecondCounts[],
    );
  }

  sessions(limit: number, lookback: number): Promise<SessionSummary[]> {
    const from = (this.statement('SELECT id FROM exchanges ORDER BY id DESC LIMIT 1 OFFSET ?').pluck().get(lookback - 1) as string | undefined) ?? '';
    return Promise.resolve(
      this.statement(
        `SELECT session_id, min(protocol) AS protocol,
                COALESCE(min(CASE WHEN parent_id IS NULL THEN route END), min(route)) AS route, count(*) AS exchanges,
                total(status = 'error') AS errors, total(status = 'denied') AS denied,
                total(${TOKENS}) AS tokens, total(cost_usd) AS cost_usd,
                min(started_at) AS first_at, max(COALESCE(ended_at, started_at)) AS last_at
         FROM exchanges WHERE id >= ? AND session_id IS NOT NULL
         GROUP BY session_id ORDER BY max(id) DESC LIMIT ?`,
      ).all(from, limit) as SessionSummary[],
    );
  }

  related(exchange: Exchange, limit: number): Promise<Exchange[]> {
    if (!exchange.session_id) return Promise.resolve([]);
    return Promise.resolve(
      this.statement(
        `SELECT ${COLUMNS} FROM exchanges
         WHERE session_id = ? AND id != ? AND (direction = 'server_to_client' OR method LIKE 'notifications/%')
         ORDER BY id LIMIT ?`,
      ).all(exchange.session_id, exchange.id, limit) as Exchange[],
    );
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
