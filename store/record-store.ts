// The record store, whatever holds it: a writer that takes finished exchange records off the
// request path and commits them in batches, and a reader that gets one record, pages through
// exchanges by id with a filter pushed down as far as the backend can (the rest judged in JS),
// and gives the TUI's totals, rates and sessions. A backend is a folder under store/ (SQLite:
// store/sqlite/) with one StoreBackend; store/open.ts picks it for a location.
import type { Exchange, ExchangeRecord } from '../core/exchange.js';

/** A store that cannot be opened or read, said for a person (the CLI prints it with exit code 2). */
export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/**
 * Fields of the exchange row a reader filters on. Each has the value buildContext gives the
 * CEL variable of the same name from the row alone (an empty string or 0 for a missing
 * value; llm.* and mcp.* empty for other protocols), so a filter pushed down decides what
 * CEL would. `cel`: the name is a CEL vocabulary field with exactly this value (a CEL filter
 * may be pushed down on it); the others are the store's own (started_at in Unix ms, the
 * recorded method whatever the protocol, streamed as 0 or 1).
 */
export const ROW_FIELDS = {
  protocol: { type: 'string', cel: true },
  direction: { type: 'string', cel: true },
  'agent.name': { type: 'string', cel: true },
  'route.name': { type: 'string', cel: true },
  'exchange.id': { type: 'string', cel: true },
  'exchange.status': { type: 'string', cel: true },
  'exchange.target': { type: 'string', cel: true },
  'exchange.session_id': { type: 'string', cel: true },
  'exchange.error_code': { type: 'string', cel: true },
  'exchange.replay_of': { type: 'string', cel: true },
  'exchange.duration_ms': { type: 'number', cel: true },
  'exchange.ttfb_ms': { type: 'number', cel: true },
  'exchange.http_status': { type: 'number', cel: true },
  'response.status': { type: 'number', cel: true },
  'response.error.code': { type: 'string', cel: true },
  'response.error.message': { type: 'string', cel: true },
  'usage.input_tokens': { type: 'number', cel: true },
  'usage.output_tokens': { type: 'number', cel: true },
  'usage.total_tokens': { type: 'number', cel: true },
  'usage.cost_usd': { type: 'number', cel: true },
  'llm.provider': { type: 'string', cel: true },
  'llm.operation': { type: 'string', cel: true },
  'llm.model': { type: 'string', cel: true },
  'mcp.method': { type: 'string', cel: true },
  'mcp.tool': { type: 'string', cel: true },
  'mcp.session': { type: 'string', cel: true },
  'exchange.started_at': { type: 'number', cel: false },
  'exchange.method': { type: 'string', cel: false },
  'exchange.streamed': { type: 'number', cel: false },
} as const satisfies Readonly<Record<string, { type: 'string' | 'number'; cel: boolean }>>;

export type RowField = keyof typeof ROW_FIELDS;

export type Comparison = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** A condition on the row fields, which a backend turns into its own query language. */
export type Condition =
  | { op: 'and' | 'or'; left: Condition; right: Condition }
  | { op: 'not'; condition: Condition }
  | { op: Comparison; field: RowField; value: string | number }
  /** An empty list matches nothing. */
  | { op: 'in'; field: RowField; values: readonly (string | number)[] }
  | { op: 'contains' | 'startsWith' | 'endsWith'; field: RowField; value: string }
  /** The agent's label `key` (CEL agent.labels[key], recorded with the exchange) is `value`; a row without it does not match. */
  | { op: 'label'; key: string; value: string };

/** `field == value`. */
export function equals(field: RowField, value: string | number): Condition {
  return { op: '=', field, value };
}

/** Every condition at once (null: no condition). */
export function allOf(...conditions: Condition[]): Condition | null {
  return conditions.reduce<Condition | null>((left, right) => (left ? { op: 'and', left, right } : right), null);
}

/** What a filter leaves to JS after its pushed-down condition: judged on each candidate. */
export interface RowTest {
  /** True when `matches` reads the row alone: the backend then never loads payloads and events. */
  rowOnly: boolean;
  /** `record` is the whole record, or null for a rowOnly test. */
  matches(exchange: Exchange, record: ExchangeRecord | null): boolean;
}

export type PageDirection = 'forward' | 'backward';

export interface PageQuery {
  /** Pushed down to the backend (none: every row). */
  where?: Condition | null;
  /** Run on the rows `where` lets through (none: all of them match). */
  rest?: RowTest | null;
  /** Ascending ids (oldest first) or descending. */
  direction: PageDirection;
  /** The page starts after this id (exclusive) in its direction; null: at the edge. */
  from: string | null;
  /** At most this many matching rows. */
  want: number;
  /** Look at most this many rows, by id, before answering (none: until `want` or the edge), so a slow filter can be run in steps. */
  budget?: number;
}

export interface Page {
  /** Matching rows, in the page's direction. */
  rows: Exchange[];
  /** True when `want` rows were found or the edge was reached. */
  done: boolean;
  /** Where the next step continues (exclusive) when not done. */
  resume: string | null;
  /** Rows looked at. */
  examined: number;
}

/** Counts over exchanges (the TUI's stats bar). */
export interface ExchangeCounts {
  exchanges: number;
  errors: number;
  denied: number;
  /** LLM calls' tokens in and out (the provider's usage, or tapwire's estimate where it gave none). */
  llmTokens: number;
  /** MCP messages' estimated tokens (what they cost the agent's context), agent-facing exchanges only (no parent). */
  mcpTokens: number;
  /** The priced calls' cost: a call whose model has no price counts in unpricedLlmCalls, not as $0. */
  costUsd: number;
  /** LLM calls with usage but no cost (no price for their model). */
  unpricedLlmCalls: number;
}

/** The counts of a run of exchanges after a given id. */
export interface TotalsSlice extends ExchangeCounts {
  /** The newest id counted (null when there was nothing). */
  newest: string | null;
  /** False when rows were left past `maxRows`. */
  done: boolean;
}

/** Exchanges started in one second. */
export interface SecondCounts {
  /** Unix seconds. */
  second: number;
  requests: number;
  /** LLM tokens in and out. */
  llmTokens: number;
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

/** Reads the record. Every read is a promise, so a backend may be a server across the network. */
export interface RecordReader {
  /** One exchange with its payloads and events, or null when there is none. */
  get(id: string): Promise<ExchangeRecord | null>;
  /** One page (or, with a budget, one step) of matching exchanges by id. */
  page(query: PageQuery): Promise<Page>;
  /** How many exchanges match. */
  count(where: Condition | null): Promise<number>;
  /** The newest id, or null when the store is empty. */
  newestId(): Promise<string | null>;
  /** The newest start time (Unix ms), or null when the store is empty. */
  newestStartedAt(): Promise<number | null>;
  /** Totals of the exchanges after id `after` (exclusive), at most `maxRows` of them. */
  totalsAfter(after: string, maxRows?: number): Promise<TotalsSlice>;
  /** Per-second counts of the exchanges started in [fromMs, toMs), only the seconds that have any. */
  perSecond(fromMs: number, toMs: number): Promise<SecondCounts[]>;
  /**
   * Sessions (MCP session / A2A context) among the newest `lookback` exchanges, most recent
   * first. A federated session is named by the route the agent called (its exchanges without a parent).
   */
  sessions(limit: number, lookback: number): Promise<SessionSummary[]>;
  /** Notifications and server-to-client messages in the exchange's session (at most `limit`), oldest first. */
  related(exchange: Exchange, limit: number): Promise<Exchange[]>;
  close(): Promise<void>;
}

export interface WriterStats {
  /** Records handed to record(). */
  queued: number;
  committed: number;
  /** Write attempts that failed (each is retried), and problems the writer repaired. */
  writeFailures: number;
  /** Records dropped because the buffer was full while the store failed. */
  dropped: number;
  /** Records never written: dropped, or still unwritten when the writer closed. */
  failed: number;
  /** Records waiting for the store right now (queued or in a batch being written). */
  buffered: number;
}

export interface WriterOptions {
  flushIntervalMs: number;
  /** A batch is sent early when this many records are waiting. */
  maxBatch?: number;
  /** Records held in memory while the store cannot be written; beyond this the oldest are dropped. */
  bufferLimit?: number;
  /** How long a failed store rests before the next attempt. */
  retryIntervalMs?: number;
  /** A write failed; its `buffered` records wait for the next attempt. */
  onError?: (message: string, buffered: number) => void;
  /** The store took a batch again after failing. */
  onRecover?: (written: number) => void;
  /** The buffer was full: `count` of the oldest records were dropped (`total` so far). */
  onDrop?: (count: number, total: number) => void;
  /** Something the writer fixed on its own, e.g. a deleted database file it recreated. */
  onWarning?: (message: string) => void;
  /** Exchanges that started more than this many days ago are deleted (at start, then hourly); none: kept forever. */
  retentionDays?: number;
  /** Exchanges were deleted for retentionDays. */
  onRetention?: (deleted: number) => void;
}

/**
 * Writes the record: record() only queues (never blocks the request path); batches are
 * committed in arrival order, retried while the store fails, the oldest dropped past the buffer.
 */
export interface RecordWriter {
  record(record: ExchangeRecord): void;
  /** Resolves true once every record handed over so far is committed; false when a write fails first. */
  committed(): Promise<boolean>;
  /** Writes what is queued and resolves once it is committed, or once a write failed. */
  flush(): Promise<void>;
  /** Writes what is queued (one more attempt if the store is failing), then stops. */
  close(): Promise<void>;
  getStats(): Readonly<WriterStats>;
  /** Why the store is not taking records right now (the last write's error), or null when it is. */
  readonly failure: string | null;
}

/** Exchanges read per page by eachRow. */
const EACH_ROW_PAGE = 500;

/** Every exchange matching `where`, oldest first, read a page at a time. */
export async function* eachRow(reader: RecordReader, where: Condition | null): AsyncGenerator<Exchange> {
  let from: string | null = null;
  for (;;) {
    const { rows } = await reader.page({ where, direction: 'forward', from, want: EACH_ROW_PAGE });
    yield* rows;
    if (rows.length < EACH_ROW_PAGE) return;
    from = rows[rows.length - 1]!.id;
  }
}

/** `browse`: opened for a person exploring it (the TUI), every way the location can be wrong named as such. */
export type ReaderPurpose = 'read' | 'browse';

/** One backend: opens its readers and starts its writers for a location (a path, a URL). */
export interface StoreBackend {
  /** A bad, missing or too-new store throws StoreError. */
  openReader(location: string, purpose: ReaderPurpose): Promise<RecordReader>;
  /** Creates or upgrades the store first: a bad or too-new one throws StoreError. */
  startWriter(location: string, options: WriterOptions): Promise<RecordWriter>;
}
