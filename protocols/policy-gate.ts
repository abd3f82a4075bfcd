// Policies on the live flows. Before a call is forwarded, the request-phase decision: a
// refused call never reaches the upstream, the agent gets an error its client understands
// (the provider's error JSON with 403 or 429 and retry-after for LLM calls, told not to retry
// when the wait is long; for MCP and A2A a JSON-RPC error with the request's id, and for a
// denied MCP tools/call a tool result with isError, which the model sees), and the refusal
// is recorded. Calls let through get an observer wrapper that removes from MCP tools/list
// (prompts/list, resources/list) what the rules would deny, and applies response-phase rules
// to LLM bodies and streams (recorded as the agent received them) and MCP answers.
// MCP messages carried over stdio (tapwire wrap, command routes) get the same decisions,
// answers and list filtering through admitMessage() and AnswerReviews.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { blankExchange, type Exchange, type ExchangeEvent, type ExchangeRecord, type Payload } from '../core/exchange.js';
import { decodedHeaders } from '../core/encoding.js';
import type { HeaderMap } from '../core/headers.js';
import { errorResponse, idKey, idText, parseJsonRpcBody, type JsonRpcId, type JsonRpcMessage } from '../core/jsonrpc.js';
import { describeCall, versionHeader } from './a2a/wire.js';
import { jsonBody } from '../core/json-body.js';
import { safeParseJson } from './llm/adapter.js';
import type { LegacyStream } from './mcp/legacy-sse.js';
import { completeResult, requestRevision } from './mcp/revision.js';
import type { ExchangeObserver, ForwardOutcome, RecordSink, Replacement, ResponseHead } from './observer.js';
import type { Route } from './route.js';
import type { CallFacts, ProtocolCall } from './protocol.js';
import type { SseEvent } from '../core/sse.js';
import { sseText } from '../core/sse-text.js';
import type { Bindings } from '../policies/cel.js';
import { buildContext, eventText, type ContextSource, type ProtocolContexts } from '../policies/context.js';
import { stamp, type Decision, type PolicySet } from '../policies/engine.js';
import type { IdentityVerifier } from '../policies/identity.js';

/** The JSON-RPC error code of a call refused by policy (implementation-defined server error range). */
export const POLICY_DENIED = -32040;

/** What a batch member is judged as when no request-phase rule applies to its protocol. */
const ALLOW_ALL = { outcome: 'allow', rule: null, reason: '', retryAfterSeconds: null, findings: [] } as const satisfies Decision;

export interface GateOptions {
  agentLabels: Record<string, string>;
  /** Verifies the agent's identity token when the config has an identity section. */
  identity: IdentityVerifier | null;
  /** Redacts headers for the record. */
  redact: (headers: IncomingMessage['headers']) => HeaderMap;
  sink: RecordSink;
  /** What each protocol adds to the CEL context (protocols/registry.ts). */
  protocols: ProtocolContexts;
}

export interface GateCall {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  /** The path under the route, without the query. */
  path: string;
  exchange: Exchange;
  /** The body as the upstream reads it (readable-body.ts): decoded, or as received when `cannotRead`. */
  body: Buffer | null;
  /** Why tapwire could not decode the body (its content-encoding or charset); null when it could. */
  cannotRead: string | null;
  /** The verified identity's claims, set by admit(). */
  jwtClaims?: Record<string, unknown> | null;
  /** Legacy HTTP+SSE: the session's GET stream, where the answers to this POST travel (the POST itself gets 202). */
  answerStream?: LegacyStream | null;
}

/** What a call let through is forwarded with: the protocol's observer, wrapped when rules must see the answer. */
export type Admission = (observer: ExchangeObserver) => ExchangeObserver;

export const unchanged: Admission = (observer) => observer;

type McpRequest = Extract<JsonRpcMessage, { kind: 'request' }>;

/** What the agent gets instead of the server's answer to a request let through; null leaves it unchanged. */
export type AnswerReview = (answer: Record<string, unknown>) => Record<string, unknown> | null;

/** What the agent gets instead of an answer tapwire could not decode (`why`); null lets it through. */
type UnreadableAnswer = (why: string) => Record<string, unknown> | null;

/** What an MCP request's rules see besides the message itself: the carrier's headers, the route, the agent's identity. */
interface McpScope {
  headers: IncomingMessage['headers'];
  path?: string;
  routeUpstream?: string;
  jwtClaims: Record<string, unknown> | null;
}

/** One MCP request that came over stdio: a line of `tapwire wrap`, or a message of a command route's POST. */
export interface McpMessageCall {
  agent: string;
  route: string;
  sessionId: string | null;
  request: McpRequest;
  /** The message's own bytes (decoded when the HTTP body came compressed). */
  body: Buffer;
  /** True when `body` is as received because tapwire could not decode it. */
  undecoded?: boolean;
  /** The HTTP headers that carried it (none on stdio). */
  headers: IncomingMessage['headers'];
  /** The status of the HTTP response its answer goes on; null on stdio. */
  httpStatus: number | null;
  /** Federated routes: the member server the request goes to (mcp.server, details.server); "" for all of them. */
  server?: string;
}

/** A stdio MCP request decided: refused (recorded, `refusal` is the client's answer) or let through with its answer's review. */
export type MessageAdmission = { refusal: Record<string, unknown> } | { review: AnswerReview | null };

const LISTS: Readonly<Record<string, { field: string; asCall: (item: Record<string, unknown>) => { method: string; params: unknown } | null }>> = {
  'tools/list': { field: 'tools', asCall: (t) => (typeof t.name === 'string' ? { method: 'tools/call', params: { name: t.name, arguments: {} } } : null) },
  'prompts/list': { field: 'prompts', asCall: (p) => (typeof p.name === 'string' ? { method: 'prompts/get', params: { name: p.name, arguments: {} } } : null) },
  'resources/list': { field: 'resources', asCall: (r) => (typeof r.uri === 'string' ? { method: 'resources/read', params: { uri: r.uri } } : null) },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export class PolicyGate {
  constructor(
    /** The policies in force (they change when their files do). */
    readonly policies: () => PolicySet,
    private readonly options: GateOptions,
  ) {}

  /** The CEL context of a call as the rules see it, with the agent's labels and identity. */
  context(call: { jwtClaims?: Record<string, unknown> | null }, source: Omit<ContextSource, 'agentLabels' | 'jwtClaims' | 'protocols'>): Bindings {
    return buildContext({ ...source, agentLabels: this.options.agentLabels, jwtClaims: call.jwtClaims ?? null, protocols: this.options.protocols });
  }

  /** MCP answers replaced by a response-phase refusal (or read by none: monitor mode's would_deny), until their record is written: route, id, method -> decision. */
  private readonly refusedAnswers = new Map<string, Decision>();

  /**
   * MCP requests let through with something to record (the allowing rule, an audit or a
   * monitor-mode finding), until their record is written: route, id, method -> the decisions
   * of the requests in flight with that key, oldest first, each with its target. The tracker
   * makes the record of an MCP message, not the gate, so the decision waits here for it.
   */
  private readonly admittedDecisions = new Map<string, { target: string | null; decision: Decision }[]>();

  /** Applies the record-time rules (token charges, audits, redactions) and puts the request-phase decision on MCP records. */
  review(record: ExchangeRecord): void {
    const e = record.exchange;
    if (e.protocol === 'mcp') {
      const key = answerKey(e.route, e.jsonrpc_id, e.method);
      const refused = this.refusedAnswers.get(key);
      if (refused) {
        this.refusedAnswers.delete(key);
        // The stored answer is tapwire's refusal (a tool error): the record says denied, as a request-phase refusal's does.
        if (refused.outcome !== 'allow') e.error_code = e.error_message = null;
        stamp(e, refused);
      } else if (e.direction === 'client_to_server' && e.status !== 'denied') {
        const admitted = this.takeAdmitted(key, e.target);
        if (admitted) stamp(e, admitted);
      }
    }
    this.policies().review(record, { agentLabels: this.options.agentLabels, protocols: this.options.protocols });
  }

  /**
   * A federated route's member answered a request whose answer a response-phase rule refused:
   * the per-server record of that answer (the member's route, the id the server got) is
   * stamped with the same decision as the agent-facing one.
   */
  refusedForMember(agentFacing: { route: string; id: JsonRpcId; method: string }, member: { route: string; id: JsonRpcId }): void {
    const verdict = this.refusedAnswers.get(answerKey(agentFacing.route, idText(agentFacing.id), agentFacing.method));
    if (verdict) this.refusedAnswers.set(answerKey(member.route, idText(member.id), agentFacing.method), verdict);
  }

  private rememberAdmitted(live: Exchange, request: McpRequest, decision: Decision): void {
    this.remember(answerKey(live.route, idText(request.id), request.method), targetOf(request), decision);
  }

  private remember(key: string, target: string | null, decision: Decision): void {
    if (!decision.rule && decision.findings.length === 0) return;
    const waiting = this.admittedDecisions.get(key);
    if (waiting) waiting.push({ target, decision });
    else this.admittedDecisions.set(key, [{ target, decision }]);
    // Requests whose record never comes (a connection lost before the tracker saw them) must not pile up.
    if (this.admittedDecisions.size > ADMITTED_LIMIT) this.admittedDecisions.delete(this.admittedDecisions.keys().next().value!);
  }

  private takeAdmitted(key: string, target: string | null): Decision | null {
    const waiting = this.admittedDecisions.get(key);
    const index = waiting?.findIndex((w) => w.target === target) ?? -1;
    if (!waiting || index < 0) return null;
    const [taken] = waiting.splice(index, 1);
    if (waiting.length === 0) this.admittedDecisions.delete(key);
    return taken!.decision;
  }

  /**
   * Decides a call before its observer is made and it is forwarded. Returns null when it
   * was refused (the agent has its answer and the refusal is recorded).
   */
  async admit(received: ProtocolCall, facts: CallFacts): Promise<Admission | null> {
    const { req, res, route, path, exchange, readable, cannotRead } = received;
    const call: GateCall = { req, res, route, path, exchange, body: readable, cannotRead, answerStream: facts.answerStream ?? null };
    const identity = this.options.identity;
    if (identity) {
      const verified = await identity.verify(call.req.headers);
      if ('claims' in verified) call.jwtClaims = verified.claims;
      else if (call.route.config.require_identity) {
        const decision: Decision = { outcome: 'deny', rule: 'identity', reason: verified.problem, retryAfterSeconds: null, findings: [] };
        this.refuse(call, call.exchange, decision, facts.identityRefusal(`tapwire: ${verified.problem}`), 401);
        return null;
      }
    }
    const set = this.policies();
    const why = facts.unreadable();
    if (why !== null) {
      const decision = set.unreadable(call.exchange.protocol, why);
      if (decision.outcome !== 'allow') {
        this.refuse(call, call.exchange, decision, facts.unreadableRefusal(decision), null);
        return null;
      }
      // Monitor mode, or no request-phase rule for this protocol: forwarded as received.
      stamp(call.exchange, decision);
      return unchanged;
    }
    return facts.admit(this, set, call);
  }

  /** The request-phase decision on a call judged by its HTTP request alone (plain HTTP routes). */
  gateRequest(set: PolicySet, call: GateCall): Admission | null {
    const protocol = call.exchange.protocol;
    if (!set.applies('request', protocol)) return unchanged;
    const decision = set.decide('request', this.context(call, { exchange: call.exchange, request: { headers: call.req.headers }, path: call.path, routeUpstream: call.route.config.upstream }), Date.now());
    if (decision.outcome === 'allow') {
      stamp(call.exchange, decision);
      return unchanged;
    }
    this.refuse(call, call.exchange, decision, httpError(decision), null);
    return null;
  }

  /** The JSON-RPC protocols' part of admit() (MCP over HTTP, A2A). */
  gateJsonRpc(set: PolicySet, call: GateCall): Admission | null {
    const protocol = call.exchange.protocol;
    if (!set.applies('request', protocol) && !set.applies('response', protocol)) return unchanged;
    const parsed = call.body && call.body.length > 0 ? parseJsonRpcBody(call.body) : null;
    // One request per POST (JSON-RPC batches were dropped from MCP in 2025-06-18): decided as a whole when every message is let through.
    const request = parsed?.ok && !parsed.batch && parsed.messages[0]?.kind === 'request' ? parsed.messages[0] : null;
    const sessionId = first(call.req.headers['mcp-session-id']) ?? call.answerStream?.sessionId ?? null;
    // A2A calls are named by their v1.0 method whatever the version and binding, as they are recorded.
    const a2aMethod =
      protocol === 'a2a'
        ? describeCall({ httpMethod: call.req.method ?? 'GET', path: call.path, a2aVersion: versionHeader(call.req.headers['a2a-version']), body: call.body }).method
        : null;
    const messageExchange = (message: Extract<JsonRpcMessage, { kind: 'request' }>): Exchange => ({
      ...call.exchange,
      method: protocol === 'mcp' ? message.method : (a2aMethod ?? message.method),
      session_id: protocol === 'mcp' ? sessionId : call.exchange.session_id,
      jsonrpc_id: idText(message.id),
    });
    if (parsed?.ok && parsed.batch && (set.applies('request', protocol) || set.applies('response', protocol))) {
      return this.gateBatch(set, call, parsed.messages, messageExchange);
    }
    if (request && protocol === 'mcp') {
      const live = messageExchange(request);
      const judged = this.judgeMcp(set, { headers: call.req.headers, path: call.path, routeUpstream: call.route.config.upstream, jwtClaims: call.jwtClaims ?? null }, live, request, call.body);
      if ('refused' in judged) {
        // The call's own exchange becomes the record of the refused message (its trace span goes with it).
        Object.assign(call.exchange, { method: live.method, jsonrpc_id: live.jsonrpc_id, session_id: live.session_id, target: targetOf(request) });
        this.refuse(call, call.exchange, judged.refused, refusalMessage(request, judged.refused, call.req.headers), 200);
        return null;
      }
      const { review, unreadable } = judged;
      if (!review) return unchanged;
      // Legacy HTTP+SSE: the answer comes on the GET stream, which reviews it there.
      if (call.answerStream) {
        call.answerStream.reviews.expect(request.id, review);
        return unchanged;
      }
      return (observer) => new McpAnswerPolicyObserver(observer, request.id, review, unreadable);
    }
    if (request && set.applies('request', protocol)) {
      const live = messageExchange(request);
      const decision = set.decide('request', this.context(call, { exchange: live, request: { headers: call.req.headers, body: call.body }, path: call.path, routeUpstream: call.route.config.upstream }), Date.now());
      if (decision.outcome !== 'allow') {
        // The call's own exchange becomes the record of the refused message (its trace span goes with it).
        Object.assign(call.exchange, { method: live.method, jsonrpc_id: live.jsonrpc_id, session_id: live.session_id });
        this.refuse(call, call.exchange, decision, refusalMessage(request, decision, call.req.headers), 200);
        return null;
      }
      stamp(call.exchange, decision);
    } else if (!request && a2aMethod && a2aMethod !== 'GetAgentCard' && set.applies('request', protocol)) {
      // The HTTP+JSON binding: a REST call, refused with an HTTP error. (Agent card fetches are not A2A calls.)
      const live = { ...call.exchange, method: a2aMethod };
      const decision = set.decide('request', this.context(call, { exchange: live, request: { headers: call.req.headers, body: call.body }, path: call.path, routeUpstream: call.route.config.upstream }), Date.now());
      if (decision.outcome !== 'allow') {
        call.exchange.method = a2aMethod;
        this.refuse(call, call.exchange, decision, httpError(decision), null);
        return null;
      }
      stamp(call.exchange, decision);
    }
    // A GET stream (legacy HTTP+SSE: where the answers travel) is decoded when it comes
    // compressed, so each answer is reviewed before the agent gets it.
    if (protocol === 'mcp' && call.req.method === 'GET') {
      return (observer) => new DecodedStreamObserver(observer);
    }
    return unchanged;
  }

  /**
   * A JSON-RPC batch (MCP 2025-03-26, A2A): each request is judged as it would be alone, and
   * the batch is forwarded only when every one is let through. Otherwise no part of it reaches
   * the upstream: the refused requests get their refusal, the others an error saying their
   * batch was refused. Batches that hold a list request, or that response-phase rules would
   * have to see, are refused too: their answers cannot be filtered per message.
   */
  private gateBatch(set: PolicySet, call: GateCall, messages: JsonRpcMessage[], exchangeOf: (message: McpRequest) => Exchange): Admission | null {
    const requests = messages.filter((m): m is McpRequest => m.kind === 'request');
    if (requests.length === 0) return unchanged;
    let refused: { request: McpRequest; decision: Decision } | null = null;
    for (const request of requests) {
      const live = exchangeOf(request);
      // Each member is judged on its own bytes, as if it had come alone.
      const body = Buffer.from(JSON.stringify(request.raw));
      const decision = set.applies('request', live.protocol)
        ? set.decide('request', this.context(call, { exchange: live, request: { headers: call.req.headers, body }, path: call.path, routeUpstream: call.route.config.upstream }), Date.now())
        : ALLOW_ALL;
      if (decision.outcome !== 'allow') {
        refused = { request, decision };
        break;
      }
    }
    const unreviewable = requests.find((r) => LISTS[r.method] !== undefined || set.applies('response', call.exchange.protocol));
    if (!refused && !unreviewable) return unchanged;
    const decision: Decision = refused?.decision ?? {
      outcome: 'deny',
      rule: null,
      reason: `a JSON-RPC batch holding ${unreviewable!.method}: its answer must be reviewed on its own, so send it in a request of its own`,
      retryAfterSeconds: null,
      findings: [],
    };
    const answers = requests.map((request) =>
      request === refused?.request
        ? refusalMessage(request, decision, call.req.headers)
        : errorResponse(request.id, POLICY_DENIED, `tapwire policy ${decision.rule ?? ''}: not sent, because its batch was refused: ${decision.reason}`, { tapwire_error: 'policy_denied', rule: decision.rule }),
    );
    Object.assign(call.exchange, { method: (refused?.request ?? requests[0]!).method, jsonrpc_id: null });
    this.refuse(call, call.exchange, decision, answers, 200);
    return null;
  }

  /**
   * One MCP request over stdio (a `tapwire wrap` line, a command route's message), decided
   * as an HTTP route decides it: a refusal is recorded here and `refusal` is what the client
   * gets instead (the server never sees the request); a request let through gets the review
   * its answer must go through (list filtering, response-phase rules), or null.
   */
  admitMessage(call: McpMessageCall): MessageAdmission {
    const set = this.policies();
    if (!set.applies('request', 'mcp') && !set.applies('response', 'mcp')) return { review: null };
    const exchange = messageExchange(call);
    const judged = this.judgeMcp(set, { headers: call.headers, jwtClaims: null }, exchange, call.request, call.body);
    if (!('refused' in judged)) return judged;
    const refusal = refusalMessage(call.request, judged.refused, call.headers);
    const text = Buffer.from(JSON.stringify(refusal));
    exchange.target = targetOf(call.request);
    exchange.http_status = call.httpStatus;
    const request = this.refusedRequest(call.headers, call.body, true);
    this.recordRefusal(exchange, judged.refused, request, { headers: {}, body: text, body_size: text.length, truncated: false });
    return { refusal };
  }

  /**
   * A client message over stdio that tapwire cannot read (a `tapwire wrap` line or a command
   * route's POST that is not JSON, nested deeper than MAX_JSON_DEPTH, or longer than it
   * reads): refused when request-phase rules could judge it, recorded as denied, and
   * `refusal` is the client's answer (id null: the request's id is unreadable too); else
   * null. With `tracked`, the message goes on to the tracker, whose record of it then carries
   * a monitor-mode would_deny.
   */
  admitUnreadable(call: Omit<McpMessageCall, 'request'>, why: string, tracked: boolean): { refusal: Record<string, unknown> } | null {
    const decision = this.policies().unreadable('mcp', why);
    if (decision.outcome === 'allow') {
      if (tracked) this.remember(answerKey(call.route, null, INVALID_METHOD), null, decision);
      return null;
    }
    const refusal = unreadableRefusal(decision);
    const text = Buffer.from(JSON.stringify(refusal));
    const exchange = blankExchange({ agent: call.agent, route: call.route, protocol: 'mcp' });
    Object.assign(exchange, { method: INVALID_METHOD, session_id: call.sessionId, http_status: call.httpStatus });
    const request = this.refusedRequest(call.headers, call.body, call.undecoded !== true);
    this.recordRefusal(exchange, decision, request, { headers: {}, body: text, body_size: text.length, truncated: false });
    return { refusal };
  }

  /**
   * The review that removes from one server's answer to a list request what the rules would
   * deny: a federated route filters each server's page with that server as mcp.server. No
   * request-phase decision (admitMessage made it for the agent's list request), nothing recorded.
   */
  listFilter(call: McpMessageCall): AnswerReview | null {
    const list = LISTS[call.request.method];
    if (!list || !this.policies().applies('request', 'mcp')) return null;
    const exchange = messageExchange(call);
    return (answer) => this.filterList(exchange, { headers: call.headers, jwtClaims: null }, list, answer);
  }

  /** The request phase of one MCP request, and the review of its answer: the same for HTTP routes and stdio. */
  private judgeMcp(set: PolicySet, scope: McpScope, live: Exchange, request: McpRequest, body: Buffer | null): { refused: Decision } | { review: AnswerReview | null; unreadable: UnreadableAnswer } {
    if (set.applies('request', 'mcp')) {
      const decision = set.decide('request', this.context(scope, { exchange: live, request: { headers: scope.headers, body }, path: scope.path, routeUpstream: scope.routeUpstream }), Date.now());
      if (decision.outcome !== 'allow') return { refused: decision };
      this.rememberAdmitted(live, request, decision);
    }
    const list = LISTS[request.method];
    const respond = set.applies('response', 'mcp');
    const key = answerKey(live.route, idText(request.id), request.method);
    // An answer tapwire could not decode: refused as a response-phase deny would refuse it, or (monitor mode) recorded as would_deny.
    const unreadable: UnreadableAnswer = (why) => {
      const verdict = this.policies().unreadable('mcp', why, 'response');
      if (verdict.outcome === 'allow' && verdict.findings.length === 0) return null;
      this.refusedAnswers.set(key, verdict);
      return verdict.outcome === 'allow' ? null : refusalMessage(request, verdict, scope.headers);
    };
    if (!list && !respond) return { review: null, unreadable };
    return {
      unreadable,
      review: (answer) => {
        if (list) return this.filterList(live, scope, list, answer);
        if (!respond) return null;
        const verdict = this.policies().decide(
          'response',
          this.context(scope, { exchange: { ...live, http_status: 200 }, request: { headers: scope.headers, body }, response: { body: JSON.stringify(answer) } }),
          Date.now(),
        );
        if (verdict.outcome === 'allow') return null;
        this.refusedAnswers.set(key, verdict);
        return refusalMessage(request, verdict, scope.headers);
      },
    };
  }

  /** The list answer without the entries the rules would deny this agent if it called them; null when nothing is removed. */
  private filterList(exchange: Exchange, call: McpScope, list: (typeof LISTS)[string], answer: Record<string, unknown>): Record<string, unknown> | null {
    const result = answer.result;
    if (!isObject(result) || !Array.isArray(result[list.field])) return null;
    const set = this.policies();
    const items = result[list.field] as unknown[];
    const kept = items.filter((item) => {
      const asCall = isObject(item) ? list.asCall(item) : null;
      if (!asCall) return true;
      const body = JSON.stringify({ jsonrpc: '2.0', id: 0, method: asCall.method, params: asCall.params });
      const bindings = this.context(call, { exchange: { ...exchange, method: asCall.method }, request: { headers: call.headers, body }, path: call.path });
      return set.decide('request', bindings, Date.now(), false).outcome !== 'deny';
    });
    if (kept.length === items.length) return null;
    return { ...answer, result: { ...result, [list.field]: kept } };
  }

  /**
   * Answers a refused call and records it. `httpStatus` null: 403, or 429 for a limit. A
   * JSON-RPC answer (`httpStatus` 200) to a legacy HTTP+SSE POST goes on the session's GET
   * stream, and the POST gets what the transport's POSTs get, 202 Accepted.
   */
  refuse(call: GateCall, exchange: Exchange, decision: Decision, answer: unknown, httpStatus: number | null): void {
    const status = httpStatus ?? (decision.outcome === 'limit' ? 429 : 403);
    const text = JSON.stringify(answer);
    const headers: Record<string, string> = { ...refusalHeaders(decision), 'content-length': String(Buffer.byteLength(text)) };
    if (status === 401) headers['www-authenticate'] = 'Bearer';
    if (status === 200 && call.answerStream?.send(Array.isArray(answer) ? answer : [answer])) {
      call.res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8', 'x-tapwire-policy': headers['x-tapwire-policy']! });
      call.res.end('Accepted');
    } else {
      call.res.writeHead(status, headers);
      call.res.end(text);
    }
    exchange.http_status = status;
    this.recordRefusal(exchange, decision, this.refusedRequest(call.req.headers, call.body, call.cannotRead === null), {
      headers,
      body: Buffer.from(text),
      body_size: Buffer.byteLength(text),
      truncated: false,
    });
  }

  /**
   * A refused request as its record stores it, for redaction to see inside: `body` as read
   * (decoded, so its headers say DECODED_FROM_HEADER instead of content-encoding), or, when
   * tapwire could not read it (`read` false) and it came compressed, no bytes at all: what
   * redaction cannot read is not stored.
   */
  private refusedRequest(headers: IncomingMessage['headers'], body: Buffer | null, read: boolean): Payload {
    const redacted = this.options.redact(headers);
    const size = body?.length ?? 0;
    if (headers['content-encoding'] === undefined) return { headers: redacted, body, body_size: size, truncated: false };
    if (read) return { headers: decodedHeaders(redacted), body, body_size: size, truncated: false };
    return { headers: redacted, body: null, body_size: size, truncated: size > 0 };
  }

  /** Records a refused call: its request, and the answer the agent got instead. */
  private recordRefusal(exchange: Exchange, decision: Decision, request: Payload, response: Payload): void {
    stamp(exchange, decision);
    exchange.ended_at = Date.now();
    exchange.duration_ms = exchange.ended_at - exchange.started_at;
    exchange.request_bytes = request.body_size;
    exchange.response_bytes = response.body_size;
    this.options.sink({ exchange, request, response, events: [] });
  }
}

/** Why the rules cannot read a body its protocol reads as JSON (nested deeper than MAX_JSON_DEPTH included), or null. */
export function unreadableJson(body: Buffer): string | null {
  const json = jsonBody(body);
  return json.ok ? null : `the body is not JSON tapwire reads (${json.reason})`;
}

/** Why the rules cannot read an empty body where only JSON-RPC can be meant (an MCP POST, an A2A POST that is not an HTTP+JSON operation). */
export const EMPTY_JSONRPC = 'an empty body where a JSON-RPC message was expected';

/** The answer to a call without a valid identity token on a route whose protocol has no error format of its own. */
export function identityRequired(message: string): unknown {
  return { error: { code: 'identity_required', message } };
}

/** The JSON-RPC error answering a message refused as unreadable. */
export function unreadableRefusal(decision: Decision): Record<string, unknown> {
  return errorResponse(null, POLICY_DENIED, `tapwire policy ${decision.rule ?? ''}: ${decision.reason}`, { tapwire_error: 'policy_denied', rule: decision.rule });
}

/** The method the tracker records a message that is not JSON-RPC under. */
const INVALID_METHOD = '(invalid)';

/** The exchange of an MCP request that came over stdio or through a federated route, as its rules see it. */
function messageExchange(call: McpMessageCall): Exchange {
  const exchange = blankExchange({ agent: call.agent, route: call.route, protocol: 'mcp' });
  Object.assign(exchange, { method: call.request.method, session_id: call.sessionId, jsonrpc_id: idText(call.request.id) });
  if (call.server !== undefined) exchange.details = JSON.stringify({ server: call.server });
  return exchange;
}

/** MCP request keys whose decision waits for its record, at most (oldest forgotten first). */
const ADMITTED_LIMIT = 10_000;

function answerKey(route: string, id: string | null, method: string | null): string {
  return `${route}\n${id}\n${method}`;
}

function targetOf(request: Extract<JsonRpcMessage, { kind: 'request' }>): string | null {
  const p = isObject(request.params) ? request.params : {};
  return typeof p.name === 'string' ? p.name : typeof p.uri === 'string' ? p.uri : null;
}

/**
 * The JSON-RPC answer to a refused request: a tool error result for tools/call (with the
 * `resultType` a 2026-07-28 request's revision requires), an error otherwise.
 */
function refusalMessage(request: Pick<McpRequest, 'id' | 'method' | 'params'>, decision: Decision, headers: McpScope['headers']): Record<string, unknown> {
  const text = `tapwire policy ${decision.rule ?? ''}: ${decision.reason}`;
  if (request.method === 'tools/call') {
    const result = completeResult({ content: [{ type: 'text', text }], isError: true }, requestRevision(request.params, headers));
    return { jsonrpc: '2.0', id: request.id, result };
  }
  const data: Record<string, unknown> = { tapwire_error: decision.outcome === 'limit' ? 'policy_limited' : 'policy_denied', rule: decision.rule };
  if (decision.retryAfterSeconds !== null) data.retry_after_seconds = decision.retryAfterSeconds;
  return errorResponse(request.id, POLICY_DENIED, text, data);
}

/**
 * The longest retry-after, in seconds, a refusal lets the agent's SDK wait for. The Node
 * openai and @anthropic-ai/sdk clients sleep for whatever retry-after says before each of
 * their retries (two by default), so a day's token budget would hang the agent for days;
 * the Python clients honour retry-after only up to 60 s. Past this, the refusal says
 * `x-should-retry: false`, which both Node SDKs obey: they raise RateLimitError at once.
 */
const LONGEST_INVITED_RETRY_SECONDS = 60;

/** The headers of an HTTP refusal: the rule, and when (and whether) to retry. */
export function refusalHeaders(decision: Decision): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-tapwire-policy': decision.rule ?? 'policy' };
  const retryAfter = decision.retryAfterSeconds;
  if (retryAfter !== null) {
    headers['retry-after'] = String(retryAfter);
    if (retryAfter > LONGEST_INVITED_RETRY_SECONDS) headers['x-should-retry'] = 'false';
  }
  return headers;
}

export function httpError(decision: Decision): unknown {
  return { error: { code: decision.outcome === 'limit' ? 'policy_limited' : 'policy_denied', message: `tapwire policy ${decision.rule ?? ''}: ${decision.reason}`, rule: decision.rule } };
}

/** Delegates everything to the protocol's observer; subclasses add a review of the answer. */
abstract class DelegatingObserver implements ExchangeObserver {
  constructor(protected readonly inner: ExchangeObserver) {}
  get upstreamBody(): Buffer | null {
    return this.inner.upstreamBody;
  }
  get editsStream(): boolean {
    return this.inner.editsStream;
  }
  get readsBody(): boolean {
    return this.inner.readsBody;
  }
  onResponseHead(head: ResponseHead): void {
    this.inner.onResponseHead?.(head);
  }
  onEvent(event: SseEvent, offsetMs: number): string | null | undefined {
    return this.inner.onEvent(event, offsetMs);
  }
  finish(outcome: ForwardOutcome): Promise<void> | void {
    return this.inner.finish(outcome);
  }
  errorBody(status: number, code: string, message: string): unknown {
    return this.inner.errorBody(status, code, message);
  }
}

/** The event tapwire sends to end a stream it refuses to pass on. */
export type StreamEnd = Pick<ExchangeEvent, 'event' | 'data'>;

export interface ResponseReview {
  onHead(head: ResponseHead): void;
  /** A non-streamed body: the replacement to send instead, or null. */
  body(head: ResponseHead, body: Buffer): Replacement | null;
  /** The text of a stream so far (see streamText): the error event that ends it, or null. */
  events(text: string): StreamEnd | null;
  /** An answer tapwire could not decode (`why`): the refusal, as a body and as a stream's last event; null lets it through. */
  unreadable(why: string): { body: Replacement; event: StreamEnd } | null;
}

/**
 * Applies the response-phase rules: a non-streamed response is held and judged whole; a
 * stream is judged after each event on the events so far, and a refusal ends what the
 * agent receives with an error event. The record holds what the agent received: the
 * refusal instead of a refused body; of a refused stream, the events that passed and the
 * error event. What the rule blocked is not stored. The usage columns still count what
 * the upstream generated (it was spent).
 */
export class ResponsePolicyObserver extends DelegatingObserver {
  /** The stream's text so far, assembled as streamText does, one event at a time. */
  private generated = '';
  private raw = '';
  private anyGenerated = false;
  /** Events seen so far: the position in the record's events of the next one. */
  private seen = 0;
  /** A refused stream: how many events passed, and the error event that replaced the rest. */
  private cut: { passed: number; end: ExchangeEvent } | null = null;
  /** A refused body: what the agent received instead. */
  private replaced: Replacement | null = null;
  /** When the last event came, in ms: where a refusal of the undecodable rest goes in the record. */
  private lastOffsetMs = 0;
  constructor(
    inner: ExchangeObserver,
    private readonly review: ResponseReview,
  ) {
    super(inner);
  }
  override get editsStream(): boolean {
    return true;
  }
  override onResponseHead(head: ResponseHead): void {
    this.review.onHead(head);
    super.onResponseHead(head);
  }
  override onEvent(event: SseEvent, offsetMs: number): string | null | undefined {
    const inner = this.inner.onEvent(event, offsetMs);
    const index = this.seen++;
    this.lastOffsetMs = offsetMs;
    if (this.cut) return null;
    if (event.data === '') return inner;
    const piece = eventText(event.data);
    if (piece !== null) {
      this.generated += piece;
      this.anyGenerated = true;
    }
    this.raw += this.raw === '' ? event.data : `\n${event.data}`;
    const end = this.review.events(this.anyGenerated ? this.generated : this.raw);
    if (end === null) return inner;
    this.cut = { passed: index, end: { ...end, offset_ms: offsetMs, event_id: null } };
    // Nothing more is judged: the rest of the upstream's stream is dropped.
    this.generated = this.raw = '';
    return sseText(this.cut.end);
  }
  reviewBody(head: ResponseHead, body: Buffer): Replacement | null {
    const inner = this.inner.reviewBody?.(head, body) ?? null;
    if (inner || head.status >= 400) return inner;
    this.replaced = this.review.body(head, body);
    return this.replaced;
  }
  unreadableBody(head: ResponseHead, why: string): Replacement | null {
    if (head.status >= 400) return null;
    this.replaced = this.review.unreadable(why)?.body ?? null;
    return this.replaced;
  }
  unreadableStream(why: string): string | null {
    if (this.cut) return null;
    const refusal = this.review.unreadable(why);
    if (!refusal) return null;
    this.cut = { passed: this.seen, end: { ...refusal.event, offset_ms: this.lastOffsetMs, event_id: null } };
    return sseText(this.cut.end);
  }
  override finish(outcome: ForwardOutcome): Promise<void> | void {
    if (this.replaced) {
      const { headers, body } = this.replaced;
      outcome.response = { headers: { ...headers, 'content-length': String(body.length) }, body, body_size: body.length, truncated: false };
      outcome.exchange.response_bytes = body.length;
    } else if (this.cut && outcome.response) {
      outcome.events = [...outcome.events.slice(0, this.cut.passed), this.cut.end];
      outcome.response = { ...outcome.response, ...sentStream(outcome.events, outcome.response) };
      outcome.exchange.response_bytes = outcome.response.body_size;
    }
    return super.finish(outcome);
  }
}

/**
 * The body of a stream as the agent received it, from its recorded events, stored within
 * the same bound as the upstream's body was (`stored`: its record, perhaps truncated).
 */
function sentStream(events: readonly ExchangeEvent[], stored: Payload): Pick<Payload, 'body' | 'body_size' | 'truncated'> {
  const sent = Buffer.from(events.map(sseText).join(''));
  const bound = stored.truncated ? (stored.body?.length ?? 0) : Infinity;
  if (sent.length <= bound) return { body: sent, body_size: sent.length, truncated: false };
  return { body: sent.subarray(0, bound), body_size: sent.length, truncated: true };
}

/**
 * Finds the answer to one MCP request, as a JSON body or an SSE event, and sends the
 * agent what `rewrite` makes of it instead (null leaves it unchanged). The tracker still
 * records what the server answered.
 */
class McpAnswerPolicyObserver extends DelegatingObserver {
  /** The answer was seen (and reviewed). */
  private answered = false;
  constructor(
    inner: ExchangeObserver,
    private readonly id: JsonRpcId,
    private readonly rewrite: AnswerReview,
    private readonly unreadable: UnreadableAnswer,
  ) {
    super(inner);
  }

  private rewritten(text: string): ReviewedAnswer | null {
    const message = safeParseJson(text);
    if (!isAnswer(message) || message.id !== this.id) return null;
    this.answered = true;
    return reviewedAnswer(this.rewrite(message));
  }

  // A refusal replaces the answer before the protocol's observer reads it, so the tracker records what the agent receives.
  override onEvent(event: SseEvent, offsetMs: number): string | null | undefined {
    const answer = event.data === '' || event.event === 'endpoint' ? null : this.rewritten(event.data);
    if (answer === null) return this.inner.onEvent(event, offsetMs);
    const sent = { ...event, data: answer.text };
    const inner = this.inner.onEvent(answer.refused ? sent : event, offsetMs);
    return (answer.refused ? inner : undefined) ?? sseText({ event: sent.event, event_id: sent.id, data: sent.data });
  }

  reviewBody(head: ResponseHead, body: Buffer): Replacement | null {
    const answer = head.status >= 300 ? null : this.rewritten(body.toString('utf8'));
    if (answer === null) return this.inner.reviewBody?.(head, body) ?? null;
    const replacement = answerReplacement(head, answer.text);
    return this.inner.reviewBody?.(head, answer.refused ? replacement.body : body) ?? replacement;
  }

  unreadableBody(head: ResponseHead, why: string): Replacement | null {
    if (head.status >= 300) return null;
    const refusal = this.unreadable(why);
    if (!refusal) return null;
    const replacement = answerReplacement(head, JSON.stringify(refusal));
    // The tracker records the refusal as the answer the agent received.
    this.inner.reviewBody?.(head, replacement.body);
    return replacement;
  }

  unreadableStream(why: string): string | null {
    if (this.answered) return null;
    const refusal = this.unreadable(why);
    return refusal ? `data: ${JSON.stringify(refusal)}\n\n` : null;
  }
}

/**
 * An MCP GET stream on a policed route. Defining unreadableStream makes the forwarder decode
 * a compressed stream and send it decoded, event by event, so the answers on it are reviewed
 * (LegacyStream.reviews) before they are sent. What does not decode is never sent; nothing
 * ends the stream in its place (the answers it would have carried belong to no request the
 * forwarder knows of).
 */
class DecodedStreamObserver extends DelegatingObserver {
  unreadableStream(): string | null {
    return null;
  }
}

/** The server's response with `data` as its body instead. */
function answerReplacement(head: ResponseHead, data: string): Replacement {
  const headers: HeaderMap = {};
  for (const [name, value] of Object.entries(head.headers)) {
    if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding'].includes(name.toLowerCase())) headers[name] = value;
  }
  return { status: head.status, headers, body: Buffer.from(data) };
}


/**
 * An answer the agent gets instead of the server's: its JSON text, and whether it is a
 * refusal. A refusal is recorded as sent (what the rule blocked is stored nowhere); a
 * filtered list keeps the server's own answer in the record.
 */
interface ReviewedAnswer {
  text: string;
  refused: boolean;
}

export function reviewedAnswer(replacement: Record<string, unknown> | null): ReviewedAnswer | null {
  if (!replacement) return null;
  const refused = 'error' in replacement || (isObject(replacement.result) && replacement.result.isError === true);
  return { text: JSON.stringify(replacement), refused };
}

function isAnswer(message: unknown): message is Record<string, unknown> & { id: JsonRpcId } {
  return isObject(message) && (typeof message.id === 'string' || typeof message.id === 'number') && ('result' in message || 'error' in message);
}

/**
 * The reviews the answers to stdio requests let through are waiting for, by request id:
 * each server answer with a pending id is reviewed once, as McpAnswerPolicyObserver reviews
 * an HTTP route's answer.
 */
export class AnswerReviews {
  private readonly pending = new Map<string, AnswerReview>();

  expect(id: JsonRpcId, review: AnswerReview): void {
    this.pending.set(idKey(id), review);
  }

  /** What the client gets instead of this server message, or null to send it unchanged. */
  answer(message: unknown): ReviewedAnswer | null {
    if (this.pending.size === 0 || !isAnswer(message)) return null;
    const key = idKey(message.id);
    const review = this.pending.get(key);
    if (!review) return null;
    this.pending.delete(key);
    return reviewedAnswer(review(message));
  }
}
