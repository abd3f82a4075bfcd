// The MCP adapter for HTTP routes: Streamable HTTP (2025 sessions and the 2026 sessionless
// era) and the legacy HTTP+SSE transport. Bytes pass through untouched, except the legacy
// `endpoint` event, rewritten so the client posts back through tapwire, and a server answer
// that is not JSON-RPC, replaced by a JSON-RPC error naming the problem. Every message in
// the request body, the JSON answer or the SSE stream is handed to the tracker.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { errorResponse, idKey, INTERNAL_ERROR, parseJsonRpc, parseJsonRpcBody, type JsonRpcId, type JsonRpcMessage, type ParsedBody } from '../../core/jsonrpc.js';
import { httpRecord, type ExchangeObserver, type ForwardOutcome, type Replacement, type ResponseHead, type RecordSink } from '../observer.js';
import type { Route } from '../route.js';
import type { SseEvent } from '../../core/sse.js';
import { endpointKey, endpointSessionId, LegacyStream } from './legacy-sse.js';
import type { Carrier, McpDecisions, McpSession, McpTracker } from './tracker.js';

export interface McpCallContext {
  tracker: McpTracker;
  route: Route;
  sink: RecordSink;
  /** The agent's headers, already redacted, for the records of the messages it sent. */
  requestHeaders: HeaderMap;
  /** Redacts response headers for the records. */
  redact: (headers: HeaderMap) => HeaderMap;
  /** The session of a client that sent no session id (sessionless era, or initialize). */
  connectionKey: string;
  /** The HTTP call's exchange: the first request it carries takes over its span (core/trace-context.ts). */
  call?: Exchange;
  /** The response to the agent: a legacy GET stream carries tapwire's own answers on it too. */
  agent?: ServerResponse;
  /** The policy gate's decisions on the call's one request, stamped on its record. */
  decisions?: McpDecisions | null;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class McpObserver implements ExchangeObserver {
  readonly upstreamBody = null;
  readonly editsStream = true;
  readonly readsBody = true;
  private session: McpSession;
  /** Ids of the requests this call carried, for the errors tapwire answers with. */
  private readonly requestIds: JsonRpcId[] = [];
  private responseHeaders: HeaderMap = {};
  private httpStatus: number | null = null;
  private reviewed = false;

  constructor(
    private readonly req: IncomingMessage,
    body: Buffer | null,
    /** The body's messages (McpCallFacts: parsed once, shared with the gate). */
    private readonly parsed: ParsedBody | null,
    private readonly ctx: McpCallContext,
  ) {
    // A session id, else (legacy HTTP+SSE) the endpoint a GET stream named, else the agent's connection.
    const legacy = endpointKey(req.url ?? '/');
    this.session = ctx.tracker.session(first(req.headers['mcp-session-id']) ?? (ctx.tracker.find(legacy) ? legacy : ctx.connectionKey));
    if (!this.parsed?.ok) return;
    const single = this.parsed.messages.length === 1 ? body! : undefined;
    // The gate decides a POST's one request (a batch goes whole or not at all): its decisions go with it.
    for (const message of this.parsed.messages) this.fromClient(message, { headers: ctx.requestHeaders, bytes: single, call: ctx.call, decisions: ctx.decisions });
  }

  private fromClient(message: JsonRpcMessage, carrier: Carrier): void {
    const { tracker } = this.ctx;
    switch (message.kind) {
      case 'request':
        this.requestIds.push(message.id);
        tracker.request(this.session, 'client_to_server', message, carrier, this);
        break;
      case 'notification':
        tracker.notification(this.session, 'client_to_server', message, { ...carrier, httpStatus: 202 });
        break;
      case 'response':
        tracker.response(this.session, 'client_to_server', message, carrier);
        break;
      case 'invalid':
        break;
    }
  }

  private fromServer(message: JsonRpcMessage, bytes: Buffer | undefined): void {
    const carrier: Carrier = { headers: this.responseHeaders, httpStatus: this.httpStatus, bytes, owner: this };
    const { tracker } = this.ctx;
    switch (message.kind) {
      case 'request':
        tracker.request(this.session, 'server_to_client', message, carrier, null);
        break;
      case 'notification':
        tracker.notification(this.session, 'server_to_client', message, carrier);
        break;
      case 'response':
        tracker.response(this.session, 'server_to_client', message, carrier);
        break;
      case 'invalid':
        break;
    }
  }

  onResponseHead(head: ResponseHead): void {
    this.httpStatus = head.status;
    this.responseHeaders = this.ctx.redact(head.headers);
    const assigned = first(head.headers['mcp-session-id']);
    if (assigned && assigned !== this.session.key) this.session = this.ctx.tracker.adopt(this, this.session, assigned);
  }

  onEvent(event: SseEvent): string | null | undefined {
    if (event.event === 'endpoint') return this.rewriteEndpoint(event);
    if (event.data === '') return undefined; // priming events and keep-alives
    const parsed = parseJsonRpc(event.data);
    if (!parsed.ok) return undefined;
    // Legacy HTTP+SSE: an answer the policies review reaches the agent, and the record, as they leave it.
    const reviewed = !parsed.batch ? (this.session.legacy?.reviews.answer(parsed.messages[0]!.raw) ?? null) : null;
    // A refusal is recorded as sent: what a response-phase rule blocked is stored nowhere.
    const recorded = reviewed?.refused ? reviewed.text : event.data;
    const messages = reviewed?.refused ? parseJsonRpc(recorded) : parsed;
    if (!messages.ok) return undefined;
    const bytes = messages.messages.length === 1 ? Buffer.from(recorded) : undefined;
    for (const message of messages.messages) this.fromServer(message, bytes);
    if (reviewed === null) return undefined;
    return `${event.event !== null ? `event: ${event.event}\n` : ''}${event.id !== null ? `id: ${event.id}\n` : ''}data: ${reviewed.text}\n\n`;
  }

  /**
   * Legacy HTTP+SSE: the server names the URL to POST to. It is rewritten to the same path
   * under this route on tapwire, keeping absolute URLs absolute. That URL, whole, is the
   * session's key: the POSTs sent to it belong to this stream's session.
   */
  private rewriteEndpoint(event: SseEvent): string | undefined {
    const { route, tracker } = this.ctx;
    const upstream = new URL(event.data, route.upstream);
    const path = upstream.pathname.startsWith(route.basePath) ? upstream.pathname.slice(route.basePath.length) : upstream.pathname;
    const local = `/${route.name}${path.startsWith('/') ? path : `/${path}`}${upstream.search}`;
    this.session = tracker.session(endpointKey(local), endpointSessionId(upstream));
    if (this.ctx.agent) this.session.legacy = new LegacyStream(this.ctx.agent, this.session.sessionId);
    const absolute = /^[a-z][a-z0-9+.-]*:/i.test(event.data);
    const target = absolute ? `http://${this.req.headers.host ?? '127.0.0.1'}${local}` : local;
    if (target === event.data) return undefined;
    return `${event.id !== null ? `id: ${event.id}\n` : ''}event: endpoint\ndata: ${target}\n\n`;
  }

  reviewBody(head: ResponseHead, body: Buffer): Replacement | null {
    this.reviewed = true;
    return this.readAnswer(head, body);
  }

  /** Reads a JSON answer; a 2xx answer that is not JSON-RPC becomes errors for the requests. */
  private readAnswer(head: ResponseHead, body: Buffer): Replacement | null {
    // 202 Accepted answers nothing: the answers come on a stream (legacy HTTP+SSE), and its
    // body, if any (the SDK's "Accepted"), is not JSON-RPC.
    if (head.status === 202) return null;
    if (head.status >= 300 || body.length === 0 || this.requestIds.length === 0) {
      if (body.length > 0 && head.status < 300) this.readMessages(body);
      else if (body.length > 0 && head.status >= 400) this.readErrorAnswers(body);
      return null;
    }
    const problem = this.readMessages(body);
    if (!problem) return null;
    const message = `tapwire: the MCP server behind route "${this.ctx.route.name}" answered with something that is not JSON-RPC (${problem})`;
    const errors = this.requestIds.map((id) => errorResponse(id, INTERNAL_ERROR, message, { tapwire_error: 'upstream_invalid_jsonrpc' }));
    const replacement = JSON.stringify(errors.length === 1 && !(this.parsed?.ok && this.parsed.batch) ? errors[0] : errors);
    this.ctx.tracker.failOwned(this, 'error', 'upstream_invalid_jsonrpc', message, 200, { headers: this.responseHeaders, bytes: body });
    return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(replacement) };
  }

  /**
   * An HTTP error whose body answers this call's requests by id with JSON-RPC errors (the
   * 2026-07-28 header checks answer 400 -32020 so): they complete their exchanges with the
   * server's own code and message. Any other error body is left to finish() (http_NNN).
   */
  private readErrorAnswers(body: Buffer): void {
    const parsed = parseJsonRpcBody(body);
    if (!parsed.ok) return;
    const carried = new Set(this.requestIds.map(idKey));
    if (!parsed.messages.every((m) => m.kind === 'response' && m.id !== null && carried.has(idKey(m.id)))) return;
    for (const message of parsed.messages) this.fromServer(message, parsed.messages.length === 1 ? body : undefined);
  }

  /** Hands the messages of a JSON answer to the tracker; returns what is wrong with it, if anything. */
  private readMessages(body: Buffer): string | null {
    const parsed = parseJsonRpcBody(body);
    if (!parsed.ok) return parsed.reason;
    const bad = parsed.messages.find((m) => m.kind === 'invalid');
    if (bad?.kind === 'invalid') return bad.reason;
    for (const message of parsed.messages) this.fromServer(message, parsed.messages.length === 1 ? body : undefined);
    return null;
  }

  finish(outcome: ForwardOutcome): void {
    this.readOutcome(outcome);
    this.ctx.tracker.release(this);
  }

  private readOutcome(outcome: ForwardOutcome): void {
    const { exchange, head } = outcome;
    const method = this.req.method ?? 'GET';
    if (method === 'POST' && this.parsed && !this.parsed.ok) {
      // Not JSON-RPC: the server owns the protocol, so it got the bytes; the record says so.
      exchange.status = 'error';
      exchange.error_code = 'invalid_jsonrpc';
      exchange.error_message = `the agent sent a body that is not JSON-RPC: ${this.parsed.reason}`;
      this.ctx.sink(httpRecord(outcome));
      return;
    }
    if (exchange.status !== 'ok' && (!head || exchange.error_code !== null)) {
      // The call failed (upstream down, cut mid-stream, the agent went away).
      const status = exchange.status === 'aborted' ? 'aborted' : 'error';
      this.ctx.tracker.failOwned(this, status, exchange.error_code ?? 'upstream_error', exchange.error_message ?? 'the HTTP call failed', exchange.http_status ?? undefined);
    } else if (head && !this.reviewed && outcome.body) {
      this.readAnswer(head, outcome.body);
    }
    if (head && head.status >= 400) {
      // An HTTP error answers every request this call carried (e.g. 404 session not found).
      const message = `the MCP server answered HTTP ${head.status}`;
      const answer = outcome.body ? { headers: this.responseHeaders, bytes: outcome.body } : undefined;
      this.ctx.tracker.failOwned(this, 'error', `http_${head.status}`, outcome.body?.toString('utf8').slice(0, 500) || message, head.status, answer);
    }
    if (method === 'DELETE') {
      exchange.method = 'DELETE';
      exchange.session_id = this.session.sessionId;
      this.ctx.sink(httpRecord(outcome));
      if (head && head.status < 300) this.ctx.tracker.endSession(this.session.key, 'session_ended', 'the client ended the MCP session');
    }
    if (method === 'GET' && this.session.key !== this.ctx.connectionKey && this.isLegacyStream()) {
      this.ctx.tracker.endSession(this.session.key, 'stream_closed', 'the legacy SSE stream closed');
    }
  }

  private isLegacyStream(): boolean {
    return this.req.headers['mcp-session-id'] === undefined;
  }

  errorBody(_status: number, code: string, message: string): unknown {
    const data = { tapwire_error: code };
    if (this.requestIds.length === 0) return errorResponse(null, INTERNAL_ERROR, message, data);
    const errors = this.requestIds.map((id) => errorResponse(id, INTERNAL_ERROR, message, data));
    return this.parsed?.ok && this.parsed.batch ? errors : errors[0];
  }
}
