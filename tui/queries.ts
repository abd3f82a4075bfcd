// The TUI's other reads: running totals (counted once, then only what is new), per-second
// request and token rates for the sparklines (on the started_at index), sessions with their
// totals, and the messages related to an exchange in its session.
import type { Exchange } from '../core/exchange.js';
import { EXCHANGE_COLUMNS } from '../store/columns.js';
import type { Db } from '../store/db.js';

export interface Totals {
  exchanges: number;
  errors: number;
  denied: number;
  /** LLM calls' tokens in and out (the provider's usage, or tapwire's estimate where it gave none). */
  llmTokens: number;
  /** MCP messages' estimated tokens (what they cost the agent's context), agent-facing exchanges only. */
  mcpTokens: number;
  costUsd: number;
  /** The newest id counted: the next update counts only rows after it. */
  countedTo: string;
}

/** An exchange's tokens in and out. */
const TOKENS = 'COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)';

export function emptyTotals(): Totals {
  return { exchanges: 0, errors: 0, denied: 0, llmTokens: 0, mcpTokens: 0, costUsd: 0, countedTo: '' };
}

/**
 * Adds the rows recorded after `totals.countedTo`, at most `maxRows` of them (a million rows
 * take seconds: the TUI counts them in steps after its first screen). `done` is false when
 * rows were left for the next call.
 */
export function updateTotals(db: Db, totals: Totals, maxRows = Number.POSITIVE_INFINITY): Totals & { done: boolean } {
  const bound = Number.isFinite(maxRows)
    ? (db.prepare('SELECT id FROM exchanges WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?').pluck().get(totals.countedTo, maxRows - 1) as string | undefined)
    : undefined;
  const row = db
    .prepare(
      `SELECT count(*) AS n, total(status = 'error') AS errors, total(status = 'denied') AS denied,
              total(CASE WHEN protocol = 'llm' THEN ${TOKENS} END) AS llm_tokens,
              total(CASE WHEN protocol = 'mcp' AND parent_id IS NULL THEN ${TOKENS} END) AS mcp_tokens,
              total(cost_usd) AS cost, max(id) AS newest
       FROM exchanges WHERE id > ? AND id <= ?`,
    )
    .get(totals.countedTo, bound ?? '~') as { n: number; errors: number; denied: number; llm_tokens: number; mcp_tokens: number; cost: number; newest: string | null };
  if (row.n === 0) return { ...totals, done: true };
  return {
    done: bound === undefined,
    exchanges: totals.exchanges + row.n,
    errors: totals.errors + row.errors,
    denied: totals.denied + row.denied,
    llmTokens: totals.llmTokens + row.llm_tokens,
    mcpTokens: totals.mcpTokens + row.mcp_tokens,
    costUsd: totals.costUsd + row.cost,
    countedTo: row.newest ?? totals.countedTo,
  };
}

export interface Rates {
  /** Requests per second, oldest second first. */
  requests: number[];
  /** LLM tokens (in + out) per second. */
  tokens: number[];
  /** The last second shown (epoch ms at its start). */
  endMs: number;
}

/** Per-second counts over the `seconds` seconds ending at `endMs`. */
export function ratesUntil(db: Db, endMs: number, seconds: number): Rates {
  const end = Math.floor(endMs / 1000);
  const start = end - seconds + 1;
  const rows = db
    .prepare(
      `SELECT started_at / 1000 AS second, count(*) AS n, total(CASE WHEN protocol = 'llm' THEN ${TOKENS} END) AS tokens
       FROM exchanges WHERE started_at >= ? AND started_at < ? GROUP BY second`,
    )
    .all(start * 1000, (end + 1) * 1000) as { second: number; n: number; tokens: number }[];
  const requests = new Array<number>(seconds).fill(0);
  const tokens = new Array<number>(seconds).fill(0);
  for (const r of rows) {
    const i = r.second - start;
    if (i >= 0 && i < seconds) {
      requests[i] = r.n;
      tokens[i] = r.tokens;
    }
  }
  return { requests, tokens, endMs: end * 1000 };
}

/** The newest start time in the table, or null when it is empty. */
export function newestStart(db: Db): number | null {
  return (db.prepare('SELECT max(started_at) FROM exchanges').pluck().get() as number | null) ?? null;
}

const BARS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled to the largest; a blank stays the lowest bar. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max === 0 ? BARS[0]! : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))]!)).join('');
}

export interface SessionSummary {
  session_id: string;
  protocol: string;
  route: string;
  exchanges: number;
  errors: number;
  denied: number;
  tokens: number;
  cost_usd: number;
  first_at: number;
  last_at: number;
}

/** How far back the sessions view looks: sessions seen among the newest this many exchanges. */
export const SESSIONS_LOOKBACK = 200_000;

/**
 * Sessions (MCP session / A2A context) among the newest exchanges, most recent first. A
 * federated session is named by the route the agent called: its agent-facing exchanges have
 * no parent, the per-server ones under them sit on the member routes.
 */
export function sessions(db: Db, limit = 500): SessionSummary[] {
  const from = (db.prepare('SELECT id FROM exchanges ORDER BY id DESC LIMIT 1 OFFSET ?').pluck().get(SESSIONS_LOOKBACK - 1) as string | undefined) ?? '';
  return db
    .prepare(
      `SELECT session_id, min(protocol) AS protocol,
              COALESCE(min(CASE WHEN parent_id IS NULL THEN route END), min(route)) AS route, count(*) AS exchanges,
              total(status = 'error') AS errors, total(status = 'denied') AS denied,
              total(COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0)) AS tokens, total(cost_usd) AS cost_usd,
              min(started_at) AS first_at, max(COALESCE(ended_at, started_at)) AS last_at
       FROM exchanges WHERE id >= ? AND session_id IS NOT NULL
       GROUP BY session_id ORDER BY max(id) DESC LIMIT ?`,
    )
    .all(from, limit) as SessionSummary[];
}

const COLUMNS = EXCHANGE_COLUMNS.join(', ');

/** Notifications and server-to-client messages in the exchange's session (at most `limit`). */
export function related(db: Db, exchange: Exchange, limit = 200): Exchange[] {
  if (!exchange.session_id) return [];
  return db
    .prepare(
      `SELECT ${COLUMNS} FROM exchanges
       WHERE session_id = ? AND id != ? AND (direction = 'server_to_client' OR method LIKE 'notifications/%')
       ORDER BY id LIMIT ?`,
    )
    .all(exchange.session_id, exchange.id, limit) as Exchange[];
}
