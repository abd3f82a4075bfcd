// Serves MCP sessions to agents as stateful Streamable HTTP (protocol revisions 2025-03-26
// to 2025-11-25): an initialize POST starts a session (Mcp-Session-Id), later POSTs, the GET
// stream and DELETE go to that session. Requests are checked the way the MCP SDKs' servers
// check them, with the same statuses and JSON-RPC error bodies. What a session is behind
// that depends on the route: a command route's stdio server process (stdio-session.ts,
// where policies apply to each request as on an HTTP MCP route), or a federated route's
// servers (federation-session.ts). One bridge per route.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PolicyGate } from '../policy-gate.js';
import { admitUnreadable } from './gate.js';
import type { CommandRouteConfig } from '../../config/config.js';
import { blankExchange } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { INVALID_REQUEST, parseJsonRpcBody, PARSE_ERROR, type JsonRpcMessage } from '../../core/jsonrpc.js';
import type { BodyReading } from '../readable-body.js';
import type { Logger } from '../../core/log.js';
import type { RecordSink } from '../observer.js';
import { serverEnvironment } from './stdio-process.js';
import { StdioHttpSession } from './stdio-session.js';
import type { McpTracker } from './tracker.js';
import { parseTraceparent, type TraceStarter } from '../../core/trace-context.js';

export interface BridgeContext {
  agent: string;
  sink: RecordSink;
  /** Redacts the agent's headers for the record. */
  redact: (headers: IncomingMessage['headers']) => HeaderMap;
  /** Gives the exchanges the bridge records itself (DELETE) their span. */
  traces: TraceStarter;
  /** Decides each request before it reaches the server, and reviews list answers; null without policies. */
  gate: PolicyGate | null;
}

export interface StdioBridgeContext extends BridgeContext {
  tracker: McpTracker;
  log: Logger;
}

/** One session a bridge serves. */
export interface BridgedSession {
  /** The Mcp-Session-Id. */
  readonly id: string;
  /** False once the session has ended (its id is then unknown). */
  readonly alive: boolean;
  /** Settles once the session is over and its records are complete. */
  readonly finished: Promise<void>;
  /** The server process, when the session has one. */
  readonly pid?: number | undefined;
  /** A POST's (already validated) messages, with the claims of the token that carried them (a route with auth's gateway); resolves when its HTTP response is over. */
  post(messages: JsonRpcMessage[], body: Buffer, agentHeaders: IncomingMessage['headers'], res: ServerResponse, claims: Record<string, unknown> | null): Promise<void>;
  /** Opens the standing GET stream; false when one is already open. */
  openStanding(res: ServerResponse): Promise<void> | false;
  end(code: string, message: string): Promise<void>;
}

/** Starts a session for an initialize request; it calls `onEnd` once, when it ends. */
export type SessionFactory = (onEnd: (session: BridgedSession) => void) => BridgedSession;

/** A command route's sessions: each its own stdio server process. */
export function commandSessions(name: string, route: CommandRouteConfig, ctx: StdioBridgeContext): SessionFactory {
  const command = { command: route.command, args: route.args ?? [], env: serverEnvironment(route.env), cwd: route.cwd };
  return (onEnd) =>
    new StdioHttpSession(command, {
      agent: ctx.agent,
      routeName: name,
      tracker: ctx.tracker,
      gate: ctx.gate,
      redact: ctx.redact,
      log: ctx.log,
      idleMs: route.timeouts.session_idle_ms,
      onEnd,
    });
}

/** The MCP SDKs' code for an unknown session. */
const SESSION_NOT_FOUND = -32001;
const BAD_REQUEST = -32000;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function sendError(res: ServerResponse, status: number, code: number, message: string, extraHeaders: HeaderMap = {}): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extraHeaders });
  res.end(body);
}

export class SessionHttpBridge {
  /** Sessions by id, while they can be used. */
  private readonly sessions = new Map<string, BridgedSession>();
  /** Sessions not finished yet (ended ones included, while they stop). */
  private readonly running = new Set<BridgedSession>();
  private closing = false;

  constructor(
    private readonly name: string,
    private readonly ctx: BridgeContext,
    private readonly newSession: SessionFactory,
  ) {}

  /** The server process of a session, for tests and diagnostics. */
  pidOf(sessionId: string): number | undefined {
    return this.sessions.get(sessionId)?.pid;
  }

  /**
   * Handles one HTTP request on the route (any path), its body as read (readable-body.ts),
   * and the claims of the token the route's auth verified (null without); resolves when its
   * response is over.
   */
  async handle(req: IncomingMessage, res: ServerResponse, body: BodyReading | null, claims: Record<string, unknown> | null = null): Promise<void> {
    const method = req.method ?? 'GET';
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      return sendError(res, 405, BAD_REQUEST, 'Method not allowed.', { allow: 'GET, POST, DELETE' });
    }
    const accept = req.headers.accept ?? '';
    const sessionId = first(req.headers['mcp-session-id']);
    if (method === 'POST') return this.post(req, res, body ?? { ok: true, body: Buffer.alloc(0) }, accept, sessionId, claims);
    if (method === 'GET' && !/text\/event-stream|\*\/\*/.test(accept)) {
      return sendError(res, 406, BAD_REQUEST, 'Not Acceptable: Client must accept text/event-stream');
    }
    const session = this.find(res, sessionId);
    if (!session) return;
    if (method === 'DELETE') return this.terminate(req, res, session);
    const standing = session.openStanding(res);
    if (!standing) return sendError(res, 409, BAD_REQUEST, 'Conflict: Only one SSE stream is allowed per session');
    return standing;
  }

  /** Ends every session (the sidecar is stopping); resolves once their records are complete. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.running].map((s) => s.end('sidecar_stopped', 'tapwire stopped')));
  }

  private async post(req: IncomingMessage, res: ServerResponse, reading: BodyReading, accept: string, sessionId: string | undefined, claims: Record<string, unknown> | null): Promise<void> {
    if (!/text\/event-stream|\*\/\*/.test(accept) || !/application\/json|\*\/\*/.test(accept)) {
      return sendError(res, 406, BAD_REQUEST, 'Not Acceptable: Client must accept both application/json and text/event-stream');
    }
    if (!(req.headers['content-type'] ?? '').includes('application/json')) {
      return sendError(res, 415, BAD_REQUEST, 'Unsupported Media Type: Content-Type must be application/json');
    }
    if (!reading.ok) {
      if (this.refusedUnreadable(req, res, reading.body, reading.reason, true)) return;
      return sendError(res, 415, BAD_REQUEST, `Unsupported Media Type: ${reading.reason}`);
    }
    const body = reading.body;
    const parsed = parseJsonRpcBody(body);
    if (!parsed.ok) {
      if (this.refusedUnreadable(req, res, body, `the body is not a JSON-RPC message tapwire reads (${parsed.reason})`)) return;
      const code = parsed.reason.startsWith('invalid JSON') ? PARSE_ERROR : INVALID_REQUEST;
      return sendError(res, 400, code, `${code === PARSE_ERROR ? 'Parse error' : 'Invalid Request'}: ${parsed.reason}`);
    }
    const invalid = parsed.messages.find((m) => m.kind === 'invalid');
    if (invalid?.kind === 'invalid') {
      if (this.refusedUnreadable(req, res, body, `a batch member is not a JSON-RPC message (${invalid.reason})`)) return;
      return sendError(res, 400, INVALID_REQUEST, `Invalid Request: ${invalid.reason}`);
    }
    const initialize = parsed.messages.some((m) => m.kind === 'request' && m.method === 'initialize');
    let session: BridgedSession | null;
    if (initialize) {
      if (parsed.messages.length > 1) return sendError(res, 400, INVALID_REQUEST, 'Invalid Request: Only one initialization request is allowed');
      if (sessionId !== undefined) return sendError(res, 400, INVALID_REQUEST, 'Invalid Request: Server already initialized');
      if (this.closing) return sendError(res, 503, BAD_REQUEST, 'tapwire is stopping');
      session = this.start();
    } else {
      session = this.find(res, sessionId);
      if (!session) return;
    }
    return session.post(parsed.messages, body, req.headers, res, claims);
  }

  /**
   * A POST no server reads (tapwire cannot read it either): with request-phase policies,
   * refused with 403 and recorded as denied with the reason. False when no policy judges it.
   */
  private refusedUnreadable(req: IncomingMessage, res: ServerResponse, body: Buffer, why: string, undecoded = false): boolean {
    if (!this.ctx.gate) return false;
    const sessionId = first(req.headers['mcp-session-id']) ?? null;
    // A message let through here is answered 400 or 415 and never reaches the tracker: nothing to record with it.
    const admitted = admitUnreadable(this.ctx.gate, { agent: this.ctx.agent, route: this.name, sessionId, body, undecoded, headers: req.headers, httpStatus: 403 }, why);
    if (!('refusal' in admitted)) return false;
    const text = JSON.stringify(admitted.refusal);
    res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return true;
  }

  private start(): BridgedSession {
    const session = this.newSession((ended) => this.sessions.delete(ended.id));
    this.sessions.set(session.id, session);
    this.running.add(session);
    void session.finished.then(() => this.running.delete(session));
    return session;
  }

  /** The session a request names; answers 400 or 404 itself when there is none. */
  private find(res: ServerResponse, sessionId: string | undefined): BridgedSession | null {
    if (sessionId === undefined) {
      sendError(res, 400, BAD_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
      return null;
    }
    const session = this.sessions.get(sessionId);
    if (!session?.alive) {
      sendError(res, 404, SESSION_NOT_FOUND, 'Session not found');
      return null;
    }
    return session;
  }

  /** DELETE: the client ends the session; its process is stopped. Recorded as the HTTP flow records it. */
  private terminate(req: IncomingMessage, res: ServerResponse, session: BridgedSession): void {
    const exchange = blankExchange({ agent: this.ctx.agent, route: this.name, protocol: 'mcp' });
    exchange.method = 'DELETE';
    exchange.session_id = session.id;
    this.ctx.traces.begin(exchange, parseTraceparent(req.headers.traceparent));
    void session.end('session_ended', 'the client ended the MCP session');
    res.writeHead(200, { 'mcp-session-id': session.id });
    res.end();
    exchange.http_status = 200;
    exchange.ended_at = Date.now();
    exchange.duration_ms = exchange.ended_at - exchange.started_at;
    this.ctx.sink({
      exchange,
      request: { headers: this.ctx.redact(req.headers), body: null, body_size: 0, truncated: false },
      response: { headers: { 'mcp-session-id': session.id }, body: null, body_size: 0, truncated: false },
      events: [],
    });
  }
}
