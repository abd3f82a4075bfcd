// The TUI's other reads, through the record reader: running totals (counted once, then only
// what is new), per-second request and token rates for the sparklines, sessions with their
// totals, and the messages related to an exchange in its session.
import type { Exchange } from '../core/exchange.js';
import type { ExchangeCounts, RecordReader, SessionSummary } from '../store/record-store.js';

export interface Totals extends ExchangeCounts {
  /** The newest id counted: the next update counts only rows after it. */
  countedTo: string;
}

export function emptyTotals(): Totals {
  return { exchanges: 0, errors: 0, denied: 0, llmTokens: 0, mcpTokens: 0, costUsd: 0, unpricedLlmCalls: 0, countedTo: '' };
}

/**
 * Adds the rows recorded after `totals.countedTo`, at most `maxRows` of them (a million rows
 * take seconds: the TUI counts them in steps after its first screen). `done` is false when
 * rows were left for the next call.
 */
export async function updateTotals(reader: RecordReader, totals: Totals, maxRows = Number.POSITIVE_INFINITY): Promise<Totals & { done: boolean }> {
  const slice = await reader.totalsAfter(totals.countedTo, maxRows);
  if (slice.exchanges === 0) return { ...totals, done: true };
  return {
    done: slice.done,
    exchanges: totals.exchanges + slice.exchanges,
    errors: totals.errors + slice.errors,
    denied: totals.denied + slice.denied,
    llmTokens: totals.llmTokens + slice.llmTokens,
    mcpTokens: totals.mcpTokens + slice.mcpTokens,
    costUsd: totals.costUsd + slice.costUsd,
    unpricedLlmCalls: totals.unpricedLlmCalls + slice.unpricedLlmCalls,
    countedTo: slice.newest ?? totals.countedTo,
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
export async function ratesUntil(reader: RecordReader, endMs: number, seconds: number): Promise<Rates> {
  const end = Math.floor(endMs / 1000);
  const start = end - seconds + 1;
  const rows = await reader.perSecond(start * 1000, (end + 1) * 1000);
  const requests = new Array<number>(seconds).fill(0);
  const tokens = new Array<number>(seconds).fill(0);
  for (const r of rows) {
    const i = r.second - start;
    if (i >= 0 && i < seconds) {
      requests[i] = r.requests;
      tokens[i] = r.llmTokens;
    }
  }
  return { requests, tokens, endMs: end * 1000 };
}

const BARS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled to the largest; a blank stays the lowest bar. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max === 0 ? BARS[0]! : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))]!)).join('');
}

/** How far back the sessions view looks: sessions seen among the newest this many exchanges. */
export const SESSIONS_LOOKBACK = 200_000;

/** Sessions (MCP session / A2A context) among the newest SESSIONS_LOOKBACK exchanges, most recent first. */
export function sessions(reader: RecordReader, limit = 500): Promise<SessionSummary[]> {
  return reader.sessions(limit, SESSIONS_LOOKBACK);
}

/** Notifications and server-to-client messages in the exchange's session (at most `limit`). */
export function related(reader: RecordReader, exchange: Exchange, limit = 200): Promise<Exchange[]> {
  return reader.related(exchange, limit);
}
