// `tapwire replay`: sends recorded requests again through a live route and compares what
// comes back with what was recorded. Requests go to a sidecar (one started in-process from
// the config and recording into the same database, or a running one given by URL), so the
// upstream gets the route's own credentials from the config, never the recorded (redacted)
// ones, and the new exchanges are recorded with replay_of naming the originals
// (REPLAY_OF_HEADER). MCP calls are replayed inside a fresh session (the session's recorded
// initialize first, then notifications/initialized); A2A calls in recorded order per route,
// with the task and context ids the server generates this time put in place of the recorded
// ones. Independent units (an LLM call, an MCP session, an A2A route) run `concurrency` at a
// time; each protocol's plan (tools/replay/, picked from REPLAY_PLANS) makes its units.
// Both sides of a comparison pass the config's redaction first (as an export does), so a
// masked value is compared and printed masked, never in clear.
import type { Config } from '../config/config.js';
import type { Exchange, ExchangeEvent, ExchangeRecord, Protocol } from '../core/exchange.js';
import type { HeaderMap } from '../core/headers.js';
import type { SseEvent } from '../core/sse.js';
import type { JsonPath } from './canonical-json.js';
import { recordedJson } from '../store/bodies.js';
import { openRecordReader } from '../store/open.js';
import { allOf, equals, type RecordReader } from '../store/record-store.js';
import { selectRecords, type Selection } from './select.js';
import { redactedCopy, type ExportRedaction } from './export.js';
import { eachEvent, generatedText, structuralDiff, type Difference } from './compare.js';
import { A2aRoutes } from './replay/a2a-routes.js';
import { HttpCalls } from './replay/http-calls.js';
import { McpSessions } from './replay/mcp-sessions.js';
import type { RecordLookup, ReplayContext, ReplayPlan, ReplayPlanFactory, ReplayUnit } from './replay/plan.js';
import type { Sent } from './replay/send.js';

export interface ReplayOptions {
  db: string;
  selection: Selection;
  config: Config;
  /** Base URL of the sidecar to send through, e.g. http://127.0.0.1:4100. */
  sidecarUrl: string;
  /** Send every call to this route instead of its recorded one. */
  route?: string | null;
  /** Sub-paths of JSON-RPC endpoints under their route (the record has no HTTP path for JSON-RPC calls), by route name. */
  paths?: Readonly<Record<string, string>>;
  concurrency: number;
  /** Extra response paths left out of the diff. */
  ignore?: readonly JsonPath[];
  /** What the record masks (the config's credential headers and redact rules): applied to both sides before they are compared. */
  redaction: ExportRedaction;
}

export interface ReplayResult {
  original: Exchange;
  /** The new exchange's record, when it was found in the database. */
  replay: Exchange | null;
  /** The HTTP status the replay got; null when it could not be sent. */
  status: number | null;
  latencyMs: number | null;
  differences: Difference[];
  /** Why the call could not be sent, or was not (skipped). */
  error: string | null;
  skipped: string | null;
}

/**
 * True when a replay failed: it could not be sent, or it was refused with an HTTP error
 * status the original did not get (a 406 for missing headers, a 401 for a missing
 * credential). An answer that only differs is not a failure.
 */
export function replayFailed(r: ReplayResult): boolean {
  return r.error !== null || (r.status !== null && r.status >= 400 && r.status !== r.original.http_status);
}

/** How each protocol's selected calls are replayed; finish() runs in this order (MCP sessions before A2A routes). */
const REPLAY_PLANS: Readonly<Record<Protocol, ReplayPlanFactory>> = {
  llm: (replay) => new HttpCalls(replay, generatedText),
  mcp: (replay, lookup) => new McpSessions(replay, lookup),
  a2a: (replay, lookup) => new A2aRoutes(replay, lookup),
  http: (replay) => new HttpCalls(replay, eachEvent),
};

export class Replayer implements ReplayContext {
  private readonly results = new Map<string, ReplayResult>();

  constructor(readonly options: ReplayOptions) {}

  private routeOf(record: ExchangeRecord): string {
    return this.options.route ?? record.exchange.route;
  }

  url(record: ExchangeRecord, path: string): string {
    return `${this.options.sidecarUrl}/${encodeURIComponent(this.routeOf(record))}${path}`;
  }

  note(record: ExchangeRecord, sent: Sent | null, error: string | null, before: unknown, after: unknown, ignore: readonly JsonPath[] = []): void {
    this.results.set(record.exchange.id, {
      original: record.exchange,
      replay: null,
      status: sent?.status ?? null,
      latencyMs: sent?.ms ?? null,
      differences: sent ? structuralDiff(before, after, [...(this.options.ignore ?? []), ...ignore]) : [],
      error,
      skipped: null,
    });
  }

  noted(record: ExchangeRecord): boolean {
    return this.results.has(record.exchange.id);
  }

  skip(record: ExchangeRecord, why: string): void {
    this.results.set(record.exchange.id, { original: record.exchange, replay: null, status: null, latencyMs: null, differences: [], error: null, skipped: why });
  }

  /** The record as the comparison sees it: through the config's redaction (a record older than a rule gets it too). */
  recorded(record: ExchangeRecord): ExchangeRecord {
    return redactedCopy(record, this.options.redaction);
  }

  /**
   * The live answer as the record would keep it: `body` (and the stream's events) masked by
   * the config's redaction, judged as an answer to `record`'s request.
   */
  live(record: ExchangeRecord, headers: HeaderMap, body: Buffer, events: readonly SseEvent[] | null): { body: Buffer; events: ExchangeEvent[] | null } {
    const answer: ExchangeRecord = {
      exchange: record.exchange,
      request: record.request,
      response: { headers, body, body_size: body.length, truncated: false },
      events: (events ?? []).map((e) => ({ offset_ms: 0, event: e.event, event_id: e.id, data: e.data })),
    };
    const copy = redactedCopy(answer, this.options.redaction);
    return { body: copy.response?.body ?? Buffer.alloc(0), events: events ? copy.events : null };
  }

  /** Replays the selected records; returns one result per record, in the order selected. */
  async run(): Promise<ReplayResult[]> {
    const reader = await openRecordReader(this.options.db);
    const selected: ExchangeRecord[] = [];
    const units: ReplayUnit[] = [];
    try {
      const lookup: RecordLookup = {
        sessionInitialize: (e) => sessionInitialize(reader, e),
        jsonRpcPathFromCard: (route) => jsonRpcPathFromCard(reader, route, this.options.config),
      };
      const plans = Object.fromEntries(Object.entries(REPLAY_PLANS).map(([protocol, plan]) => [protocol, plan(this, lookup)])) as Record<Protocol, ReplayPlan>;
      for await (const record of selectRecords(reader, this.options.selection)) {
        selected.push(record);
        const e = record.exchange;
        if (e.direction !== 'client_to_server') this.skip(record, 'sent by the server: replayed only as part of the call it belongs to');
        else if (!record.request || record.request.truncated) this.skip(record, 'the request body was not recorded whole (store.max_body_bytes), so it cannot be sent again');
        else {
          const unit = plans[e.protocol].add(record);
          if (unit) units.push(unit);
        }
      }
      for (const plan of Object.values(plans)) units.push(...(await plan.finish()));
    } finally {
      await reader.close();
    }
    await runAtMost(this.options.concurrency, units);
    return selected.map((record) => this.results.get(record.exchange.id)!);
  }
}

/**
 * The results with the replay records the database holds: each original's newest replay
 * recorded after `since` (an exchange id taken before the replay began).
 */
export async function attachReplays(dbPath: string, results: readonly ReplayResult[], since: string): Promise<ReplayResult[]> {
  const reader = await openRecordReader(dbPath);
  try {
    const newest = async (original: string): Promise<Exchange | null> =>
      (await reader.page({ where: allOf(equals('exchange.replay_of', original), { op: '>', field: 'exchange.id', value: since }), direction: 'backward', from: null, want: 1 })).rows[0] ?? null;
    const attached: ReplayResult[] = [];
    for (const result of results) attached.push({ ...result, replay: result.status === null ? null : await newest(result.original.id) });
    return attached;
  } finally {
    await reader.close();
  }
}

/** The initialize an MCP session's call was made under (the newest one recorded before it), or null (sessionless, or an era without one). */
async function sessionInitialize(reader: RecordReader, e: Exchange): Promise<ExchangeRecord | null> {
  if (!e.session_id) return null;
  const where = allOf(equals('route.name', e.route), equals('exchange.session_id', e.session_id), equals('exchange.method', 'initialize'));
  const [found] = (await reader.page({ where, direction: 'backward', from: e.id, want: 1 })).rows;
  return found ? reader.get(found.id) : null;
}

/** The JSON-RPC endpoint's path under the route, from the newest agent card recorded on it. */
async function jsonRpcPathFromCard(reader: RecordReader, route: string, config: Config): Promise<string | null> {
  const where = allOf(equals('route.name', route), equals('exchange.method', 'GetAgentCard'), equals('exchange.http_status', 200));
  const [found] = (await reader.page({ where, direction: 'backward', from: null, want: 1 })).rows;
  const card = found ? (recordedJson((await reader.get(found.id))?.response ?? null) as Record<string, unknown> | undefined) : undefined;
  const upstream = config.routes[route]?.upstream;
  const base = upstream ? new URL(upstream).pathname.replace(/\/+$/, '') : '';
  for (const list of [card?.supportedInterfaces, card?.additionalInterfaces]) {
    for (const entry of Array.isArray(list) ? (list as Record<string, unknown>[]) : []) {
      if ((entry.protocolBinding ?? entry.transport) !== 'JSONRPC' || typeof entry.url !== 'string') continue;
      const path = new URL(entry.url).pathname;
      return base && path.startsWith(base) ? path.slice(base.length) : path;
    }
  }
  if (typeof card?.url === 'string' && (card.preferredTransport ?? 'JSONRPC') === 'JSONRPC') return new URL(card.url).pathname.slice(base.length);
  return null;
}

async function runAtMost(limit: number, units: readonly (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < units.length) await units[next++]!();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, units.length)) }, worker));
}
