// The MCP protocol handler for routes forwarded over HTTP (Streamable HTTP and the legacy
// HTTP+SSE transport): a call's JSON-RPC messages parsed once, shared by the policy gate and
// the observer (which hands them to the route's tracker, where their records are made, with
// the gate's decisions on them).
import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../../config/config.js';
import { parseJsonRpcBody, type ParsedBody } from '../../core/jsonrpc.js';
import type { CallFacts, HandlerEnvironment, Observation, ProtocolCall, ProtocolHandler } from '../protocol.js';
import { jsonRpcRefusal } from '../refusal.js';
import { legacyStreamOf, type LegacyStream } from './legacy-sse.js';
import { McpObserver } from './observer.js';
import type { McpDecisions, McpTracker } from './tracker.js';
import type { RuleSet } from '../../policies/rule-set.js';
import type { Decision } from '../../policies/decision.js';
import { EMPTY_JSONRPC, unreadableRefusal, type JsonRpcRequest } from '../jsonrpc-gate.js';
import { identityRequired, type Admission, type GateCall, type KeepAlive, type PolicyGate } from '../policy-gate.js';
import { gateMcp } from './gate.js';
import { acceptsSse, heldStream } from './held-stream.js';

/** An MCP call's facts: its messages, and (legacy HTTP+SSE) the stream its answers travel on. */
export class McpCallFacts implements CallFacts {
  /** The body's messages; null for a call without a body (GET, DELETE). */
  readonly parsed: ParsedBody | null;
  /** Legacy HTTP+SSE: the session's GET stream, where the answers to this POST travel (the POST itself gets 202). */
  readonly answerStream: LegacyStream | null;
  /** The gate's decisions on the call's request (one request per POST), for its record; null when it made none. */
  decisions: McpDecisions | null = null;
  private readonly tracker: McpTracker;

  constructor(
    readonly call: ProtocolCall,
    private readonly env: HandlerEnvironment,
  ) {
    const { req, readable } = call;
    this.tracker = env.trackerFor(call.route.name);
    // A POST always carries JSON-RPC: an empty one is read as not JSON-RPC, like any other.
    this.parsed = readable && readable.length > 0 ? parseJsonRpcBody(readable) : req.method === 'POST' ? { ok: false, reason: 'an empty body' } : null;
    this.answerStream = req.method === 'POST' ? legacyStreamOf(this.tracker, req) : null;
  }

  unreadable(): string | null {
    const { readable, cannotRead } = this.call;
    if (readable === null) return null;
    if (cannotRead !== null) return cannotRead;
    if (readable.length === 0) return EMPTY_JSONRPC;
    const parsed = this.parsed!;
    if (!parsed.ok) return `the body is not a JSON-RPC message tapwire reads (${parsed.reason})`;
    const invalid = parsed.messages.find((m) => m.kind === 'invalid');
    return invalid?.kind === 'invalid' ? `a batch member is not a JSON-RPC message (${invalid.reason})` : null;
  }

  unreadableRefusal(decision: Decision): unknown {
    return unreadableRefusal(decision);
  }

  identityRefusal(message: string): unknown {
    return identityRequired(message);
  }

  admit(gate: PolicyGate, set: RuleSet, call: GateCall): Promise<Admission | null> {
    return gateMcp(gate, set, call, this);
  }

  /** What keeps the client waiting while `request` is held for approval (rule `rule`): only a Streamable HTTP POST that takes an SSE answer has one. */
  keepAlive(request: JsonRpcRequest, rule: string): KeepAlive | undefined {
    const { req, res } = this.call;
    if (this.answerStream || !acceptsSse(req.headers.accept)) return undefined;
    return heldStream(res, request, rule, this.env.config.approval_keepalive_ms);
  }

  observe(): Observation {
    const { call, env } = this;
    const observer = new McpObserver(call.req, call.readable, this.parsed, {
      tracker: this.tracker,
      route: call.route,
      sink: env.sink,
      requestHeaders: env.redact(call.req.headers),
      redact: env.redact,
      connectionKey: env.connectionKey(call.req.socket),
      call: call.exchange,
      agent: call.res,
      decisions: this.decisions,
    });
    return { observer, path: call.rest };
  }
}

export class McpHandler implements ProtocolHandler {
  readonly readsRequestBody = true;

  constructor(private readonly env: HandlerEnvironment) {}

  parse(call: ProtocolCall): McpCallFacts {
    return new McpCallFacts(call, this.env);
  }

  errorBody(_route: RouteConfig, _path: string, _status: number, code: string, message: string): unknown {
    return jsonRpcRefusal(code, message);
  }

  /**
   * A GET (the 2025 server-to-client stream, for the session's life) and a 2026-07-28
   * subscriptions/listen POST, which the client must name in its Mcp-Method header.
   */
  isStanding(req: IncomingMessage): boolean {
    return req.method === 'GET' || (req.method === 'POST' && req.headers['mcp-method'] === 'subscriptions/listen');
  }
}
