// Correlates MCP JSON-RPC messages into exchanges, whatever carried them (a POST body, an
// SSE stream, a stdio line): a request opens an exchange, the response with its id (in the
// same MCP session) completes it, a notification is an exchange of its own and, when it
// carries a progress token (or a subscriptions/listen id), also an event of the request it
// reports on. Completed exchanges get their estimated token cost and the policies' decisions
// that came with their request (the gate's, see McpDecisions), and go to the record sink.
import { performance } from 'node:perf_hooks';
import { blankExchange, type Direction, type Exchange, type Payload } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { idKey, idText, type JsonRpcId, type JsonRpcMessage } from '../../core/jsonrpc.js';
import { estimateTokens } from '../../core/tokenizer.js';
import type { EventLimits } from '../../config/config.js';
import { EventLog, type RecordSink } from '../observer.js';
import { metaTraceparent, parseTraceparent, spanOf, TraceStarter, type TraceParent } from '../../core/trace-context.js';
import { stamp, type Decision, type Finding } from '../../policies/decision.js';
import { recordTransform, type RequestRewrite } from '../../policies/rewrite.js';
import { requestFacts, resultFacts, type McpRequestFacts } from './facts.js';
import type { LegacyStream } from './legacy-sse.js';

type Request = Extract<JsonRpcMessage, { kind: 'request' }>;
type Notification = Extract<JsonRpcMessage, { kind: 'notification' }>;
type Response = Extract<JsonRpcMessage, { kind: 'response' }>;

/**
 * The policies' decisions on one client message, carried with it to its record: the gate
 * makes them before the message goes on, the tracker stamps them on the record it makes.
 */
export interface McpDecisions {
  /** The request-phase decision (an allowing rule, an audit, a monitor-mode finding); null when none was made. */
  request: Decision | null;
  /** Set when a response-phase rule refused the answer (or, in monitor mode, would have): the record says so, not the answer's error. */
  answer: Decision | null;
  /** What the transform rules changed before the request was forwarded. */
  transform?: { rewrite: RequestRewrite | null; findings: Finding[] };
}

/** What carried a message: its HTTP headers (already redacted) and status, if any. */
export interface Carrier {
  headers: HeaderMap;
  httpStatus?: number | null;
  /** The message's own bytes when it is the whole body (kept byte for byte). */
  bytes?: Buffer;
  /** The HTTP call that carried a client's message: its first request takes over the call's span. */
  call?: Exchange;
  /** Federated routes: the agent-facing exchange that caused this message (recorded as parent_id). */
  parentId?: string;
  /** The span this message continues when its carrier has no `traceparent` (a federated route's message to a server: the agent-facing exchange's). */
  traceParent?: TraceParent;
  /** Federated routes: the member server the message went to or came from (recorded in details.server). */
  server?: string;
  /** The HTTP call a response came back on: it answers a request that call carried, if one has its id. */
  owner?: object;
  /** A client's request (or unreadable message): the policies' decisions on it, stamped on its record. */
  decisions?: McpDecisions | null;
}

interface OpenExchange {
  exchange: Exchange;
  t0: number;
  method: string;
  facts: McpRequestFacts;
  request: Payload;
  /** Notifications about the request (progress, subscription deliveries), up to the event limits. */
  events: EventLog;
  /** The HTTP call (or stdio pipe) that carried the request; its failure ends the exchange. */
  owner: object | null;
  /** Federated routes: the member server, kept in details. */
  server: string | null;
  /** The policies' decisions on the message, if the gate made any. */
  decisions: McpDecisions | null;
}

export class McpSession {
  readonly clientRequests = new Map<string, OpenExchange>();
  readonly serverRequests = new Map<string, OpenExchange>();
  readonly progress = new Map<string, OpenExchange>();
  /** A request reused the id of one still pending: both wait, the later in a numbered slot (see slotFor). */
  reusedIds = false;
  lastSeen = Date.now();
  /** Legacy HTTP+SSE: the session's GET stream, where its answers travel. */
  legacy: LegacyStream | null = null;
  constructor(
    readonly key: string,
    /** The session id recorded on exchanges: the MCP session id, or the connection's. */
    readonly sessionId: string,
  ) {}
  get pending(): number {
    return this.clientRequests.size + this.serverRequests.size;
  }
}

export interface TrackerOptions {
  agent: string;
  route: string;
  sink: RecordSink;
  /** store.max_events and store.max_event_bytes, per exchange; default DEFAULT_EVENT_LIMITS. */
  eventLimits?: EventLimits;
  /** Requests unanswered this long are recorded as errors. */
  pendingTimeoutMs: number;
  /** Called when a record could not be completed (never expected; logged). */
  onError?: (err: unknown) => void;
  /** Gives each exchange its span ids (core/trace-context.ts); default: parent-based, always sampled. */
  traces?: TraceStarter;
}

/** The `_meta` key stamping a notification with the subscriptions/listen request it belongs to. */
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** A session with nothing pending and no traffic for this long is forgotten. */
const IDLE_SESSION_MS = 60 * 60 * 1000;

/** A message's whole bytes: the record redacts them, then cuts them to store.max_body_bytes (proxy/recording.ts). */
function payload(headers: HeaderMap, bytes: Buffer): Payload {
  return { headers, body: bytes, body_size: bytes.length, truncated: false };
}

function progressKey(token: string | number): string {
  return typeof token === 'number' ? `n:${token}` : `s:${token}`;
}

export class McpTracker {
  private readonly sessions = new Map<string, McpSession>();
  private readonly sweeper: NodeJS.Timeout;
  /**
   * Calls (HTTP requests, stdio streams) still carrying traffic: a request whose answer may
   * yet arrive on its own open stream is not timed out, however long it runs.
   */
  private readonly liveOwners = new WeakSet<object>();
  /** Records still counting their tokens: close() waits for them, so none reaches a closed recorder. */
  private readonly completing = new Set<Promise<void>>();
  private readonly traces: TraceStarter;

  constructor(private readonly options: TrackerOptions) {
    this.traces = options.traces ?? new TraceStarter();
    this.sweeper = setInterval(() => this.sweep(), Math.min(5000, options.pendingTimeoutMs)).unref();
  }

  /** The session under `key`, created on first use. */
  session(key: string, sessionId: string = key): McpSession {
    let session = this.sessions.get(key);
    if (!session) {
      session = new McpSession(key, sessionId);
      this.sessions.set(key, session);
    }
    session.lastSeen = Date.now();
    return session;
  }

  /** The session under `key`, if there is one. */
  find(key: string): McpSession | undefined {
    return this.sessions.get(key);
  }

  /**
   * Moves the exchanges `owner` opened in `from` into the session `key` (an initialize
   * answered with a new Mcp-Session-Id), and records them under that id.
   */
  adopt(owner: object, from: McpSession, key: string): McpSession {
    const to = this.session(key);
    for (const [map, target] of [
      [from.clientRequests, to.clientRequests],
      [from.serverRequests, to.serverRequests],
      [from.progress, to.progress],
    ] as const) {
      for (const [k, open] of map) {
        if (open.owner !== owner) continue;
        map.delete(k);
        open.exchange.session_id = to.sessionId;
        target.set(k, open);
      }
    }
    return to;
  }

  private open(session: McpSession, direction: Direction, method: string, id: string | null, carrier: Carrier, bytes: Buffer): OpenExchange {
    const exchange = blankExchange({ agent: this.options.agent, route: this.options.route, protocol: 'mcp' });
    exchange.direction = direction;
    exchange.method = method;
    exchange.session_id = session.sessionId;
    exchange.jsonrpc_id = id;
    exchange.request_bytes = bytes.length;
    exchange.parent_id = carrier.parentId ?? null;
    this.traces.begin(exchange, carrier.traceParent ?? parseTraceparent(carrier.headers.traceparent));
    return {
      exchange,
      t0: performance.now(),
      method,
      facts: requestFacts(method, undefined),
      request: payload(carrier.headers, bytes),
      events: new EventLog(this.options.eventLimits),
      owner: null,
      server: carrier.server ?? null,
      decisions: carrier.decisions ?? null,
    };
  }

  /** A request, from the agent (client_to_server) or from the server (server_to_client). Returns its exchange, still open. */
  request(session: McpSession, direction: Direction, message: Request, carrier: Carrier, owner: object | null): Exchange {
    const bytes = carrier.bytes ?? Buffer.from(JSON.stringify(message.raw));
    const open = this.open(session, direction, message.method, idText(message.id), carrier, bytes);
    open.owner = owner;
    if (owner) this.liveOwners.add(owner);
    this.continueTrace(open.exchange, carrier, metaTraceparent(message.params), direction === 'client_to_server');
    open.facts = requestFacts(message.method, message.params);
    open.exchange.target = open.facts.target;
    // A server's request arrives on a response (an SSE stream) whose status is already known.
    open.exchange.http_status = carrier.httpStatus ?? null;
    const pending = direction === 'client_to_server' ? session.clientRequests : session.serverRequests;
    const slot = slotFor(pending, idKey(message.id));
    if (slot !== idKey(message.id)) session.reusedIds = true;
    pending.set(slot, open);
    if (open.facts.progressToken !== null) session.progress.set(progressKey(open.facts.progressToken), open);
    return open.exchange;
  }

  /** A notification: its own exchange (returned), and an event of the request it reports progress on. */
  notification(session: McpSession, direction: Direction, message: Notification, carrier: Carrier): Exchange {
    const bytes = carrier.bytes ?? Buffer.from(JSON.stringify(message.raw));
    const open = this.open(session, direction, message.method, null, carrier, bytes);
    const params = message.params as Record<string, unknown> | undefined;
    const token = params?.progressToken;
    // 2026-07-28: what a subscriptions/listen stream delivers names the listen request's id.
    const subscription = direction === 'server_to_client' ? (params?._meta as Record<string, unknown> | undefined)?.[SUBSCRIPTION_ID] : undefined;
    const related =
      typeof token === 'string' || typeof token === 'number'
        ? session.progress.get(progressKey(token))
        : typeof subscription === 'string' || typeof subscription === 'number'
          ? session.clientRequests.get(idKey(subscription))
          : undefined;
    const relatedSpan = related ? spanOf(related.exchange) : undefined;
    this.continueTrace(open.exchange, carrier, metaTraceparent(params) ?? (relatedSpan ? { ...relatedSpan } : null), false);
    if (related) {
      related.events.add({ offset_ms: this.elapsed(related), event: message.method, event_id: null, data: bytes.toString('utf8') });
    }
    if (message.method === 'notifications/cancelled') {
      const requestId = params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') {
        const pending = direction === 'client_to_server' ? session.clientRequests : session.serverRequests;
        const cancelled = pending.get(idKey(requestId));
        if (cancelled) {
          pending.delete(idKey(requestId));
          this.end(session, cancelled, 'aborted', 'cancelled', typeof params?.reason === 'string' ? params.reason : 'cancelled by the sender');
        }
      }
    }
    open.exchange.target = related?.exchange.target ?? null;
    open.exchange.http_status = carrier.httpStatus ?? null;
    this.emit(open, null);
    return open.exchange;
  }

  /**
   * A response, completing the request with its id that went the other way. Returns false
   * when no such request is open (it is still recorded, as an exchange of its own).
   */
  response(session: McpSession, direction: Direction, message: Response, carrier: Carrier): boolean {
    const pending = direction === 'server_to_client' ? session.clientRequests : session.serverRequests;
    const key = message.id === null ? null : idKey(message.id);
    const slot = key === null ? undefined : session.reusedIds ? answeredSlot(pending, key, carrier.owner) : key;
    const open = slot === undefined ? undefined : pending.get(slot);
    const bytes = carrier.bytes ?? Buffer.from(JSON.stringify(message.raw));
    if (!open || slot === undefined) {
      const orphan = this.open(session, direction, '(response)', idText(message.id), carrier, bytes);
      orphan.exchange.status = 'error';
      orphan.exchange.error_code = 'unmatched_response';
      orphan.exchange.error_message = `a response to id ${idText(message.id)} with no open request in this session`;
      this.emit(orphan, null);
      return false;
    }
    pending.delete(slot);
    if (open.facts.progressToken !== null) session.progress.delete(progressKey(open.facts.progressToken));
    const { exchange } = open;
    exchange.http_status = carrier.httpStatus ?? exchange.http_status;
    exchange.response_bytes = bytes.length;
    if (message.error) {
      exchange.status = 'error';
      exchange.error_code = String(message.error.code);
      exchange.error_message = message.error.message;
    }
    this.emit(open, { headers: carrier.headers, bytes, result: message.error ? undefined : message.result });
    return true;
  }

  /**
   * Ends every exchange `owner` carried that is still open (its HTTP call failed or was cut);
   * `httpStatus` is what the agent received for that call, when it received a status, and
   * `response` what the server answered in it, when that answer was no JSON-RPC response.
   */
  failOwned(owner: object, status: 'error' | 'aborted', code: string, message: string, httpStatus?: number, response?: Omit<Carrier, 'httpStatus'>): void {
    for (const session of this.sessions.values()) {
      for (const map of [session.clientRequests, session.serverRequests]) {
        for (const [key, open] of map) {
          if (open.owner !== owner) continue;
          map.delete(key);
          if (httpStatus !== undefined) open.exchange.http_status = httpStatus;
          this.end(session, open, status, code, message, response);
        }
      }
    }
  }

  /** Something that is not a JSON-RPC message (e.g. a stdio line): an exchange of its own, an error. */
  invalid(session: McpSession, direction: Direction, reason: string, carrier: Carrier & { bytes: Buffer }): void {
    const open = this.open(session, direction, '(invalid)', null, carrier, carrier.bytes);
    open.exchange.status = 'error';
    open.exchange.error_code = 'invalid_jsonrpc';
    open.exchange.error_message = reason;
    this.emit(open, null);
  }

  /**
   * Ends every request of `session` that went `direction` and still waits for its answer,
   * because nothing will answer it any more (a stdio server exited). `answer` gives the
   * response tapwire sends in its place, recorded as the exchange's response. Returns the
   * ids of those requests, oldest first.
   */
  failPending(session: McpSession, direction: Direction, code: string, message: string, answer?: (id: JsonRpcId) => Buffer): JsonRpcId[] {
    const pending = direction === 'client_to_server' ? session.clientRequests : session.serverRequests;
    const ids: JsonRpcId[] = [];
    for (const [key, open] of pending) {
      pending.delete(key);
      const id = JSON.parse(open.exchange.jsonrpc_id ?? 'null') as JsonRpcId;
      ids.push(id);
      const bytes = answer?.(id);
      if (!bytes) {
        this.end(session, open, 'error', code, message);
        continue;
      }
      if (open.facts.progressToken !== null) session.progress.delete(progressKey(open.facts.progressToken));
      open.exchange.status = 'error';
      open.exchange.error_code = code;
      open.exchange.error_message = message;
      open.exchange.response_bytes = bytes.length;
      this.emit(open, { headers: {}, bytes, result: undefined });
    }
    return ids;
  }

  /** A session is over (DELETE, its stream or connection closed): what it left open is ended. */
  endSession(key: string, code: string, message: string): void {
    const session = this.sessions.get(key);
    if (!session) return;
    this.sessions.delete(key);
    for (const map of [session.clientRequests, session.serverRequests]) {
      for (const open of map.values()) this.end(session, open, 'aborted', code, message);
      map.clear();
    }
  }

  /** The call that carried `owner`'s requests is over: what it left unanswered may now time out. */
  release(owner: object): void {
    this.liveOwners.delete(owner);
  }

  /** Resolves once every record being completed now (its tokens being counted) has reached the sink. */
  async settled(): Promise<void> {
    await Promise.all(this.completing);
  }

  /** Records everything still open as aborted, stops the sweeper, and resolves once every record reached the sink. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const key of [...this.sessions.keys()]) this.endSession(key, 'sidecar_stopped', 'tapwire stopped before the exchange completed');
    while (this.completing.size > 0) await Promise.all(this.completing);
  }

  private sweep(): void {
    const now = performance.now();
    const wall = Date.now();
    for (const [key, session] of this.sessions) {
      for (const map of [session.clientRequests, session.serverRequests]) {
        for (const [id, open] of map) {
          if (now - open.t0 < this.options.pendingTimeoutMs || (open.owner && this.liveOwners.has(open.owner))) continue;
          map.delete(id);
          this.end(session, open, 'error', 'no_response', `no response within ${this.options.pendingTimeoutMs} ms`);
        }
      }
      // A legacy session lives as long as its GET stream, however quiet.
      if (session.pending === 0 && session.legacy === null && wall - session.lastSeen > IDLE_SESSION_MS) this.sessions.delete(key);
    }
  }

  private end(session: McpSession, open: OpenExchange, status: 'error' | 'aborted', code: string, message: string, response?: Omit<Carrier, 'httpStatus'>): void {
    if (open.facts.progressToken !== null) session.progress.delete(progressKey(open.facts.progressToken));
    open.exchange.status = status;
    open.exchange.error_code = code;
    open.exchange.error_message = message;
    const bytes = response?.bytes;
    if (bytes) open.exchange.response_bytes = bytes.length;
    this.emit(open, response && bytes ? { headers: response.headers, bytes, result: undefined } : null);
  }

  /**
   * The span of a message: a `traceparent` header on its carrier wins (the hop that carried
   * it, e.g. another tapwire), then the message's `params._meta.traceparent` (or, for a
   * notification, the request it reports on). The first request of an agent's HTTP call
   * takes over that call's span, the one named in the `traceparent` sent upstream.
   */
  private continueTrace(exchange: Exchange, carrier: Carrier, meta: TraceParent | null, mayAdopt: boolean): void {
    if (mayAdopt && carrier.call && this.traces.adopt(carrier.call, exchange, meta)) return;
    if (meta && !carrier.traceParent && !parseTraceparent(carrier.headers.traceparent)) this.traces.begin(exchange, meta);
  }

  private elapsed(open: OpenExchange): number {
    return Math.round((performance.now() - open.t0) * 1000) / 1000;
  }

  private emit(open: OpenExchange, response: { headers: HeaderMap; bytes: Buffer; result: unknown } | null): void {
    const { exchange } = open;
    exchange.ended_at = Date.now();
    exchange.duration_ms = this.elapsed(open);
    if (response) exchange.ttfb_ms = open.events.events[0]?.offset_ms ?? exchange.duration_ms;
    if (open.events.count > 0) open.events.stamp(exchange);
    const completing = this.complete(open, response)
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => this.completing.delete(completing));
    this.completing.add(completing);
  }

  private async complete(open: OpenExchange, response: { headers: HeaderMap; bytes: Buffer; result: unknown } | null): Promise<void> {
    const { exchange } = open;
    const result = response?.result === undefined ? null : resultFacts(open.method, response.result);
    if (result?.toolError) {
      exchange.status = 'error';
      exchange.error_code = 'tool_error';
      exchange.error_message = result.toolError;
    }
    const inputText = open.facts.inputText;
    const outputText = result?.outputText ?? '';
    if (inputText || outputText) {
      exchange.input_tokens = await estimateTokens(inputText);
      exchange.output_tokens = await estimateTokens(outputText);
      exchange.tokens_estimated = 1;
    }
    const details: Record<string, unknown> = {};
    if (open.server !== null) details.server = open.server;
    if (result?.resultType) details.result_type = result.resultType;
    if (result?.toolDefinitions) {
      const perTool: Record<string, number> = {};
      for (const [name, text] of result.toolDefinitions) perTool[name] = await estimateTokens(text);
      details.tool_tokens = perTool;
    }
    exchange.details = Object.keys(details).length > 0 ? JSON.stringify(details) : null;
    if (open.decisions) stampDecisions(exchange, open.decisions);
    this.options.sink({
      exchange,
      request: open.request,
      response: response ? payload(response.headers, response.bytes) : null,
      events: open.events.events,
    });
  }
}

/** Puts the policies' decisions on a message's record; a refused answer's decision wins over the request's. */
function stampDecisions(exchange: Exchange, { request, answer, transform }: McpDecisions): void {
  if (request) stamp(exchange, request);
  if (transform) recordTransform(exchange, transform);
  if (!answer) return;
  // The stored answer is tapwire's refusal (a tool error): the record says denied, as a request-phase refusal's does.
  if (answer.outcome !== 'allow') exchange.error_code = exchange.error_message = null;
  stamp(exchange, answer);
}

/**
 * Where a request waits for its answer: its id's key, or, when an agent reuses the id of a
 * request still pending (JSON-RPC forbids it, agents do it), a numbered slot after it, so
 * neither is lost and each is recorded once.
 */
function slotFor(pending: ReadonlyMap<string, OpenExchange>, key: string): string {
  let slot = key;
  for (let n = 2; pending.has(slot); n++) slot = `${key}\u0000${n}`;
  return slot;
}

/** The slot of the request a response to `key` answers: one its own HTTP call carried, else the oldest. */
function answeredSlot(pending: ReadonlyMap<string, OpenExchange>, key: string, owner: object | undefined): string | undefined {
  let oldest: string | undefined;
  for (const [slot, open] of pending) {
    if (slot !== key && !slot.startsWith(`${key}\u0000`)) continue;
    if (owner !== undefined && open.owner === owner) return slot;
    oldest ??= slot;
  }
  return oldest;
}
