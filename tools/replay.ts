// `tapwire replay`: sends recorded requests again through a live route and compares what
// comes back with what was recorded. Requests go to a sidecar (one started in-process from
// the config and recording into the same database, or a running one given by URL), so the
// upstream gets the route's own credentials from the config, never the recorded (redacted)
// ones, and the new exchanges are recorded with replay_of naming the originals
// (REPLAY_OF_HEADER). MCP calls are replayed inside a fresh session (the session's recorded
// initialize first, then notifications/initialized); A2A calls in recorded order per route,
// with the task and context ids the server generates this time put in place of the recorded
// ones. Independent units (an LLM call, an MCP session, an A2A route) run `concurrency` at a time.
// Both sides of a comparison pass the config's redaction first (as an export does), so a
// masked value is compared and printed masked, never in clear.
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { Config } from '../config/config.js';
import type { Exchange, ExchangeEvent, ExchangeRecord } from '../core/exchange.js';
import { REDACTED, REPLAY_OF_HEADER, type HeaderMap } from '../core/headers.js';
import { classify } from '../core/jsonrpc.js';
import { SseParser, type SseEvent } from '../core/sse.js';
import { AGENT_CARD_PATH, CARD_METHODS } from '../protocols/a2a/wire.js';
import { replaceStrings, type JsonPath } from './canonical-json.js';
import { recordedBody, recordedJson } from '../store/bodies.js';
import { openRecordReader } from '../store/open.js';
import { allOf, equals, type RecordReader } from '../store/record-store.js';
import { selectRecords, type Selection } from './select.js';
import { redactedCopy, type ExportRedaction } from './export.js';
import { comparable, structuralDiff, type Difference } from './compare.js';

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

interface Sent {
  status: number;
  headers: HeaderMap;
  body: Buffer;
  events: SseEvent[] | null;
  ms: number;
}

/** Request headers that describe the recorded transfer or session, not the call: the replay sets its own. */
const NOT_REPLAYED = ['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'accept-encoding', 'traceparent', 'tracestate', 'mcp-session-id', REPLAY_OF_HEADER];

/** What a Streamable HTTP POST must carry; records made over stdio (command servers, `tapwire wrap`) have no headers at all. */
const MCP_POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function replayHeaders(record: ExchangeRecord, replayOf: string | null): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(record.request?.headers ?? {})) {
    // Redacted credentials are dropped: the route's configured headers supply fresh ones.
    if (NOT_REPLAYED.includes(name) || value === REDACTED || (Array.isArray(value) && value.includes(REDACTED))) continue;
    out[name] = value;
  }
  if (replayOf) out[REPLAY_OF_HEADER] = replayOf;
  return out;
}

async function send(url: string, method: string, headers: Record<string, string | string[]>, body: Buffer | null): Promise<Sent> {
  const t0 = performance.now();
  const answer = await request(url, { method: method as 'POST', headers, body: body && body.length > 0 ? body : null });
  const bytes = Buffer.from(await answer.body.arrayBuffer());
  const ms = performance.now() - t0;
  const contentType = String(answer.headers['content-type'] ?? '');
  let events: SseEvent[] | null = null;
  if (contentType.includes('text/event-stream')) {
    const parser = new SseParser();
    events = [...parser.push(bytes), ...parser.end()];
  }
  return { status: answer.statusCode, headers: answer.headers as HeaderMap, body: bytes, events, ms };
}

/**
 * A card's interface URLs, left out of its diff: the record keeps the card the upstream sent,
 * the agent (and so the replay) gets it rewritten to the sidecar's address.
 */
const CARD_URLS: readonly JsonPath[] = [['url'], ['supportedInterfaces', '*', 'url'], ['additionalInterfaces', '*', 'url']];

function header(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Ids the server generated for A2A tasks and contexts: recorded value → this run's value. */
function learnIds(before: unknown, after: unknown, ids: Map<string, string>): void {
  if (Array.isArray(before) && Array.isArray(after)) {
    before.forEach((item, i) => learnIds(item, after[i], ids));
    return;
  }
  if (!before || !after || typeof before !== 'object' || typeof after !== 'object') return;
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  for (const [key, value] of Object.entries(b)) {
    const now = a[key];
    if ((key === 'id' || key === 'taskId' || key === 'contextId') && typeof value === 'string' && typeof now === 'string' && value !== now) ids.set(value, now);
    else learnIds(value, now, ids);
  }
}

export class Replayer {
  private readonly results = new Map<string, ReplayResult>();

  constructor(private readonly options: ReplayOptions) {}

  private routeOf(record: ExchangeRecord): string {
    return this.options.route ?? record.exchange.route;
  }

  private url(record: ExchangeRecord, path: string): string {
    return `${this.options.sidecarUrl}/${encodeURIComponent(this.routeOf(record))}${path}`;
  }

  private note(record: ExchangeRecord, sent: Sent | null, error: string | null, before: unknown, after: unknown, ignore: readonly JsonPath[] = []): void {
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

  private skip(record: ExchangeRecord, why: string): void {
    this.results.set(record.exchange.id, { original: record.exchange, replay: null, status: null, latencyMs: null, differences: [], error: null, skipped: why });
  }

  /** The record as the comparison sees it: through the config's redaction (a record older than a rule gets it too). */
  private recorded(record: ExchangeRecord): ExchangeRecord {
    return redactedCopy(record, this.options.redaction);
  }

  /**
   * The live answer as the record would keep it: `body` (and the stream's events) masked by
   * the config's redaction, judged as an answer to `record`'s request.
   */
  private live(record: ExchangeRecord, headers: HeaderMap, body: Buffer, events: readonly SseEvent[] | null): { body: Buffer; events: ExchangeEvent[] | null } {
    const answer: ExchangeRecord = {
      exchange: record.exchange,
      request: record.request,
      response: { headers, body, body_size: body.length, truncated: false },
      events: (events ?? []).map((e) => ({ offset_ms: 0, event: e.event, event_id: e.id, data: e.data })),
    };
    const copy = redactedCopy(answer, this.options.redaction);
    return { body: copy.response?.body ?? Buffer.alloc(0), events: events ? copy.events : null };
  }

  /** LLM and plain HTTP calls: the recorded method and path (without the upstream's base path). */
  private async replayHttpCall(record: ExchangeRecord): Promise<void> {
    const line = /^([A-Z]+) (\S+)$/.exec(record.exchange.method ?? '');
    if (!line) return this.skip(record, `no HTTP method and path in the record (${record.exchange.method ?? 'none'})`);
    const upstream = this.options.config.routes[record.exchange.route]?.upstream;
    const base = upstream ? new URL(upstream).pathname.replace(/\/+$/, '') : '';
    const path = base && line[2]!.startsWith(base) ? line[2]!.slice(base.length) : line[2]!;
    try {
      const sent = await send(this.url(record, path), line[1]!, replayHeaders(record, record.exchange.id), recordedBody(record.request)?.bytes ?? null);
      const p = record.exchange.protocol;
      const before = this.recorded(record);
      const after = this.live(record, sent.headers, sent.body, sent.events);
      this.note(record, sent, null, comparable(p, recordedBody(before.response)?.bytes ?? null, before.events), comparable(p, after.body, after.events));
    } catch (err) {
      this.note(record, null, (err as Error).message, null, null);
    }
  }

  /** Notes an MCP call's replay: its JSON-RPC answer (redacted) against the recorded one. Returns the answer unredacted. */
  private noteMcp(record: ExchangeRecord, sent: Sent): unknown {
    const bytes = mcpAnswer(sent, record);
    this.note(record, sent, null, recordedJson(this.recorded(record).response), bytes && parsed(this.live(record, {}, bytes, null).body));
    return mcpAnswerJson(sent, record);
  }

  /** One recorded MCP session: a fresh session (its recorded initialize, when it had one), its calls in order, then its end. */
  private async replayMcpSession(records: ExchangeRecord[], initialize: ExchangeRecord | null): Promise<void> {
    const first = records[0]!;
    const url = this.url(first, this.options.paths?.[first.exchange.route] ?? '');
    let session: string | undefined;
    let version: string | undefined;
    const sessionHeaders = (record: ExchangeRecord, replayOf: string | null): Record<string, string | string[]> => ({
      ...MCP_POST_HEADERS,
      ...(version ? { 'mcp-protocol-version': version } : {}),
      ...replayHeaders(record, replayOf),
      ...(session ? { 'mcp-session-id': session } : {}),
    });
    try {
      if (initialize) {
        const sent = await send(url, 'POST', sessionHeaders(initialize, initialize.exchange.id), recordedBody(initialize.request)?.bytes ?? null);
        const answer = records.includes(initialize) ? this.noteMcp(initialize, sent) : mcpAnswerJson(sent, initialize);
        // Without a session the calls would only be refused: they are reported as not sent, with the reason.
        if (sent.status >= 400) throw new Error(`its initialize was answered HTTP ${sent.status}`);
        const result = answer as { result?: { protocolVersion?: unknown }; error?: { code?: unknown } } | null;
        if (!result?.result) throw new Error(result?.error ? `its initialize was answered with JSON-RPC error ${String(result.error.code)}` : 'its initialize got no answer');
        session = header(sent.headers, 'mcp-session-id');
        // The version this server agreed to, for the messages that had none recorded (initialized, DELETE).
        if (typeof result.result.protocolVersion === 'string') version = result.result.protocolVersion;
        const initialized = Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
        await send(url, 'POST', sessionHeaders(initialize, null), initialized);
      }
      for (const record of records) {
        if (record === initialize) continue;
        try {
          this.noteMcp(record, await send(url, 'POST', sessionHeaders(record, record.exchange.id), recordedBody(record.request)?.bytes ?? null));
        } catch (err) {
          this.note(record, null, (err as Error).message, null, null);
        }
      }
    } catch (err) {
      for (const record of records) if (!this.results.has(record.exchange.id)) this.note(record, null, `the fresh session could not be started: ${(err as Error).message}`, null, null);
    } finally {
      if (session) await send(url, 'DELETE', sessionHeaders(first, null), null).catch(() => undefined);
    }
  }

  /** One route's A2A calls in recorded order, with server-generated ids mapped to this run's. */
  private async replayA2aRoute(records: ExchangeRecord[], jsonRpcPath: string): Promise<void> {
    const ids = new Map<string, string>();
    for (const record of records) {
      let details: { binding?: string; wire_method?: string } = {};
      try {
        details = JSON.parse(record.exchange.details ?? '{}') as typeof details;
      } catch {
        // unreadable details: treated as a JSON-RPC call
      }
      const wire = /^([A-Z]+) (\S+)$/.exec(details.wire_method ?? '');
      const [method, path] =
        details.binding === 'card' ? ['GET', AGENT_CARD_PATH] : details.binding === 'HTTP+JSON' && wire ? [wire[1]!, wire[2]!.split('/').map((s) => ids.get(decodeURIComponent(s)) ?? s).join('/')] : ['POST', jsonRpcPath];
      const json = recordedJson(record.request);
      const body = json === undefined ? (recordedBody(record.request)?.bytes ?? null) : Buffer.from(JSON.stringify(replaceStrings(json, ids)));
      const headers = replayHeaders(record, record.exchange.id);
      if (body) headers['content-type'] ??= 'application/json';
      try {
        const sent = await send(this.url(record, path), method, headers, body);
        const recorded = this.recorded(record);
        const live = this.live(record, sent.headers, sent.body, sent.events);
        const before = comparable('a2a', recordedBody(recorded.response)?.bytes ?? null, recorded.events);
        const after = comparable('a2a', live.body, live.events);
        learnIds(before, after, ids);
        this.note(record, sent, null, before, after, CARD_METHODS.has(record.exchange.method ?? '') ? CARD_URLS : []);
      } catch (err) {
        this.note(record, null, (err as Error).message, null, null);
      }
    }
  }

  /** Replays the selected records; returns one result per record, in the order selected. */
  async run(): Promise<ReplayResult[]> {
    const reader = await openRecordReader(this.options.db);
    const selected: ExchangeRecord[] = [];
    const units: (() => Promise<void>)[] = [];
    try {
      const sessions = new McpSessions();
      const a2aRoutes = new Map<string, ExchangeRecord[]>();
      for await (const record of selectRecords(reader, this.options.selection)) {
        selected.push(record);
        const e = record.exchange;
        if (e.direction !== 'client_to_server') this.skip(record, 'sent by the server: replayed only as part of the call it belongs to');
        else if (!record.request || record.request.truncated) this.skip(record, 'the request body was not recorded whole (store.max_body_bytes), so it cannot be sent again');
        else if (e.protocol === 'mcp') {
          if (e.method === 'DELETE' || e.method === 'notifications/initialized') this.skip(record, 'part of the session: the replay opens and ends its own');
          else sessions.add(record);
        } else if (e.protocol === 'a2a') groupInto(a2aRoutes, e.route, record);
        else units.push(() => this.replayHttpCall(record));
      }
      for (const records of sessions.all()) {
        const initialize = records.find((r) => r.exchange.method === 'initialize') ?? (await sessionInitialize(reader, records[0]!.exchange));
        units.push(() => this.replayMcpSession(records, initialize));
      }
      for (const [route, records] of a2aRoutes) {
        const path = this.options.paths?.[route] ?? (await jsonRpcPathFromCard(reader, route, this.options.config)) ?? '';
        units.push(() => this.replayA2aRoute(records, path));
      }
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

function groupInto(groups: Map<string, ExchangeRecord[]>, key: string, record: ExchangeRecord): void {
  const list = groups.get(key);
  if (list) list.push(record);
  else groups.set(key, [record]);
}

/**
 * MCP calls grouped into the sessions they are replayed in: by route and recorded session,
 * and a new one at each recorded initialize. A federated route's per-server records share
 * the agent's session id, and a server that went down and came back was initialized again
 * within it: what followed belongs to that second session.
 */
class McpSessions {
  private readonly current = new Map<string, ExchangeRecord[]>();
  private readonly sessions: ExchangeRecord[][] = [];

  add(record: ExchangeRecord): void {
    const key = `${record.exchange.route}\u0000${record.exchange.session_id ?? ''}`;
    let session = this.current.get(key);
    if (!session || record.exchange.method === 'initialize') {
      session = [];
      this.current.set(key, session);
      this.sessions.push(session);
    }
    session.push(record);
  }

  all(): readonly ExchangeRecord[][] {
    return this.sessions;
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

/** The JSON-RPC answer to `record`'s request in an MCP response: the JSON body, or the data of the SSE event carrying it. */
function mcpAnswer(sent: Sent, record: ExchangeRecord): Buffer | null {
  if (!sent.events) return sent.body;
  const request = classify(recordedJson(record.request));
  const id = request.kind === 'request' ? request.id : undefined;
  for (const event of sent.events) {
    try {
      const message = classify(JSON.parse(event.data) as unknown);
      if (message.kind === 'response' && message.id === id) return Buffer.from(event.data);
    } catch {
      // not JSON: not the answer
    }
  }
  return null;
}

/** The JSON-RPC answer to `record`'s request, parsed; null when the response had none. */
function mcpAnswerJson(sent: Sent, record: ExchangeRecord): unknown {
  const bytes = mcpAnswer(sent, record);
  return bytes && parsed(bytes);
}

/** A body as JSON, else as text. */
function parsed(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return bytes.toString('utf8');
  }
}

async function runAtMost(limit: number, units: readonly (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < units.length) await units[next++]!();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, units.length)) }, worker));
}
