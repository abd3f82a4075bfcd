// The MCP part of the policy gate, the same for every transport: a request is judged before
// it reaches the server, and a refused one is answered in the server's place (a tools/call
// with a tool result with isError, which the model sees; any other request with a JSON-RPC
// error) and recorded. A request let through gets the review of its answer: a list without
// what the rules would deny this agent if it called it, and the response-phase rules. A
// request an approve rule matches is held on HTTP routes (the person sees its tool and
// arguments) and refused over stdio, where tapwire cannot hold it. Its
// decisions (McpDecisions) travel with it to the tracker, which stamps them on its record.
// HTTP routes go through gateMcp (via McpCallFacts); stdio lines, command routes and
// federated routes through admitMessage, admitUnreadable and listFilter.
import type { IncomingMessage } from 'node:http';
import { blankExchange, type Exchange } from '../../core/exchange.js';
import { idText } from '../../core/jsonrpc.js';
import type { Bindings } from '../../policies/cel.js';
import type { RuleSet } from '../../policies/rule-set.js';
import type { Decision } from '../../policies/decision.js';
import { unheld } from '../../policies/approvals.js';
import type { TransformOutcome } from '../../policies/transform.js';
import { gateBatch, policyError, unreadableRefusal, type JsonRpcRequest } from '../jsonrpc-gate.js';
import { unchanged, type Admission, type GateCall, type PolicyGate } from '../policy-gate.js';
import { DecodedStreamObserver, McpAnswerPolicyObserver, type AnswerReview, type UnreadableAnswer } from './answer-review.js';
import type { McpCallFacts } from './handler.js';
import { completeResult, requestRevision } from './revision.js';
import type { McpDecisions } from './tracker.js';

/** One MCP request that came over stdio: a line of `tapwire wrap`, or a message of a command route's POST. */
export interface McpMessageCall {
  agent: string;
  route: string;
  sessionId: string | null;
  request: JsonRpcRequest;
  /** The message's own bytes (decoded when the HTTP body came compressed). */
  body: Buffer;
  /** True when `body` is as received because tapwire could not decode it. */
  undecoded?: boolean;
  /** The HTTP headers that carried it (none on stdio). */
  headers: IncomingMessage['headers'];
  /** The claims of the token that carried it (a route with auth's gateway); none on stdio. */
  jwtClaims?: Record<string, unknown> | null;
  /** The status of the HTTP response its answer goes on; null on stdio. */
  httpStatus: number | null;
  /** Federated routes: the member server the request goes to (mcp.server, details.server); "" for all of them. */
  server?: string;
}

/**
 * A stdio MCP request decided: refused (recorded, `refusal` is the client's answer) or let
 * through with its answer's review and the decisions its record carries (see McpDecisions).
 */
export type MessageAdmission = { refusal: Record<string, unknown> } | { review: AnswerReview | null; decisions: McpDecisions | null };

/** What an MCP request's rules see besides the message itself: the carrier's headers, the route, the agent's identity. */
interface McpScope {
  headers: IncomingMessage['headers'];
  path?: string;
  routeUpstream?: string;
  jwtClaims: Record<string, unknown> | null;
}

/** A request judged: refused, or let through with what its record carries and the reviews of its answer. */
type Judged = { refused: Decision } | { decisions: McpDecisions; review: AnswerReview | null; unreadable: UnreadableAnswer };

/** The list requests whose answers are filtered: the field that holds the entries, and the call each entry stands for. */
const LISTS: Readonly<Record<string, { field: string; asCall: (item: Record<string, unknown>) => { method: string; params: unknown } | null }>> = {
  'tools/list': { field: 'tools', asCall: (t) => (typeof t.name === 'string' ? { method: 'tools/call', params: { name: t.name, arguments: {} } } : null) },
  'prompts/list': { field: 'prompts', asCall: (p) => (typeof p.name === 'string' ? { method: 'prompts/get', params: { name: p.name, arguments: {} } } : null) },
  'resources/list': { field: 'resources', asCall: (r) => (typeof r.uri === 'string' ? { method: 'resources/read', params: { uri: r.uri } } : null) },
};

/** The method the tracker records a message that is not JSON-RPC under. */
const INVALID_METHOD = '(invalid)';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The MCP part of PolicyGate.admit on an HTTP route (Streamable HTTP, legacy HTTP+SSE). */
export async function gateMcp(gate: PolicyGate, set: RuleSet, call: GateCall, facts: McpCallFacts): Promise<Admission | null> {
  if (!set.applies('request', 'mcp') && !set.applies('response', 'mcp')) return unchanged;
  const parsed = facts.parsed;
  const sessionId = first(call.req.headers['mcp-session-id']) ?? facts.answerStream?.sessionId ?? null;
  const exchangeOf = (message: JsonRpcRequest): Exchange => ({ ...call.exchange, method: message.method, session_id: sessionId, jsonrpc_id: idText(message.id) });
  if (parsed?.ok && parsed.batch) {
    return gateBatch(gate, set, call, parsed.messages, {
      exchangeOf,
      reviewedAlone: (request) => LISTS[request.method] !== undefined || set.applies('response', 'mcp'),
      refusal: (request, decision) => refusalMessage(request, decision, call.req.headers),
    });
  }
  // One request per POST (JSON-RPC batches were dropped from MCP in 2025-06-18).
  const request = parsed?.ok && parsed.messages[0]?.kind === 'request' ? parsed.messages[0] : null;
  if (!request) {
    // A GET stream (legacy HTTP+SSE: where the answers travel) is decoded when it comes
    // compressed, so each answer is reviewed before the agent gets it.
    return call.req.method === 'GET' ? (observer) => new DecodedStreamObserver(observer) : unchanged;
  }
  const live = exchangeOf(request);
  const scope: McpScope = { headers: call.req.headers, path: call.path, routeUpstream: call.route.config.upstream, jwtClaims: call.jwtClaims ?? null };
  // One context for the request-phase decision and the transform rules (built lazily: cheap when unread).
  const source = { exchange: live, path: scope.path, routeUpstream: scope.routeUpstream };
  const bindings = gate.context(scope, { ...source, request: { headers: scope.headers, body: call.body } });
  let decision = decideRequest(set, bindings);
  if (decision?.outcome === 'approve') {
    decision = await gate.hold(call, set, decision, { method: request.method, target: targetOf(request), arguments: argumentsOf(request) }, facts.keepAlive(request, decision.rule ?? ''));
  }
  let judged = judge(gate, set, scope, live, request, call.body, decision);
  if (!('refused' in judged)) {
    const transformed = gate.transform(set, call, source, bindings);
    if ('rewrite' in transformed) judged.decisions.transform = transformed;
    else judged = { refused: transformed.refused };
  }
  if ('refused' in judged) {
    // The call's own exchange becomes the record of the refused message (its trace span goes with it).
    Object.assign(call.exchange, { method: live.method, jsonrpc_id: live.jsonrpc_id, session_id: live.session_id, target: targetOf(request) });
    gate.refuse(call, call.exchange, judged.refused, refusalMessage(request, judged.refused, call.req.headers), 200);
    return null;
  }
  facts.decisions = judged.decisions;
  const { review, unreadable } = judged;
  if (!review) return unchanged;
  // Legacy HTTP+SSE: the answer comes on the GET stream, which reviews it there.
  if (facts.answerStream) {
    facts.answerStream.reviews.expect(request.id, review);
    return unchanged;
  }
  return (observer) => new McpAnswerPolicyObserver(observer, request.id, review, unreadable);
}

/**
 * One MCP request over stdio (a `tapwire wrap` line, a command route's message), decided
 * as an HTTP route decides it: a refusal is recorded here and `refusal` is what the client
 * gets instead (the server never sees the request); a request let through gets the review
 * its answer must go through (list filtering, response-phase rules), or null, and the
 * decisions to hand the tracker with it.
 */
export function admitMessage(gate: PolicyGate, call: McpMessageCall): MessageAdmission {
  const set = gate.policies();
  if (!set.applies('request', 'mcp') && !set.applies('response', 'mcp')) return { review: null, decisions: null };
  const exchange = messageExchange(call);
  const scope: McpScope = { headers: call.headers, jwtClaims: call.jwtClaims ?? null };
  const bindings = gate.context(scope, { exchange, request: { headers: scope.headers, body: call.body } });
  let decision = decideRequest(set, bindings);
  if (decision?.outcome === 'approve') decision = unheld(decision, 'on a stdio server (tapwire wrap, command and federated routes)');
  let judged = judge(gate, set, scope, exchange, call.request, call.body, decision);
  if (!('refused' in judged) && set.transforms('mcp')) {
    const transformed = unappliedTransform(gate, set, call, exchange, bindings);
    if ('rewrite' in transformed) judged.decisions.transform = transformed;
    else judged = { refused: transformed.refused };
  }
  if (!('refused' in judged)) return { review: judged.review, decisions: judged.decisions };
  const refusal = refusalMessage(call.request, judged.refused, call.headers);
  const text = Buffer.from(JSON.stringify(refusal));
  exchange.target = targetOf(call.request);
  exchange.http_status = call.httpStatus;
  gate.recordRefusal(exchange, judged.refused, { headers: call.headers, body: call.body, read: true }, { headers: {}, body: text, body_size: text.length, truncated: false });
  return { refusal };
}

/**
 * Transform rules on a message these routes pass on byte for byte (stdio, command and
 * federated routes): what only monitor-mode files would change is recorded, but a change
 * to be made refuses the message (fail closed) rather than pass it on unchanged.
 */
function unappliedTransform(gate: PolicyGate, set: RuleSet, call: McpMessageCall, exchange: Exchange, bindings: Bindings): TransformOutcome {
  const outcome = set.transform({
    protocol: 'mcp',
    headers: call.headers,
    body: call.body,
    context: (headers, body) => gate.context(call, { exchange, request: { headers, body } }),
    bindings,
    recorded: (name, value) => gate.recordedHeader(name, value),
  });
  const applied = 'rewrite' in outcome ? outcome.rewrite?.changes.find((c) => !c.would) : undefined;
  if (!applied) return outcome;
  const reason = `rule ${applied.rule} would change this message, and tapwire passes messages on this route as they came (transforms apply on MCP routes with an upstream URL)`;
  return { refused: { outcome: 'deny', rule: applied.rule, reason, retryAfterSeconds: null, findings: [] } };
}

/**
 * A client message over stdio that tapwire cannot read (a `tapwire wrap` line or a command
 * route's POST that is not JSON, nested deeper than MAX_JSON_DEPTH, or longer than it
 * reads): refused when request-phase rules could judge it, recorded as denied, and
 * `refusal` is the client's answer (id null: the request's id is unreadable too). Else the
 * decisions for the tracker's record of the message, if it goes on to the tracker (a
 * monitor-mode would_deny).
 */
export function admitUnreadable(gate: PolicyGate, call: Omit<McpMessageCall, 'request'>, why: string): { refusal: Record<string, unknown> } | { decisions: McpDecisions } {
  const decision = gate.policies().unreadable('mcp', why);
  if (decision.outcome === 'allow') return { decisions: { request: decision, answer: null } };
  const refusal = unreadableRefusal(decision);
  const text = Buffer.from(JSON.stringify(refusal));
  const exchange = blankExchange({ agent: call.agent, route: call.route, protocol: 'mcp' });
  Object.assign(exchange, { method: INVALID_METHOD, session_id: call.sessionId, http_status: call.httpStatus });
  gate.recordRefusal(exchange, decision, { headers: call.headers, body: call.body, read: call.undecoded !== true }, { headers: {}, body: text, body_size: text.length, truncated: false });
  return { refusal };
}

/**
 * The review that removes from one server's answer to a list request what the rules would
 * deny: a federated route filters each server's page with that server as mcp.server. No
 * request-phase decision (admitMessage made it for the agent's list request), nothing recorded.
 */
export function listFilter(gate: PolicyGate, call: McpMessageCall): AnswerReview | null {
  const list = LISTS[call.request.method];
  if (!list || !gate.policies().applies('request', 'mcp')) return null;
  const exchange = messageExchange(call);
  return (answer) => filterList(gate, exchange, { headers: call.headers, jwtClaims: call.jwtClaims ?? null }, list, answer);
}

/** The request-phase decision on one MCP request (`bindings`: its context); null when no request-phase rule applies to MCP. */
function decideRequest(set: RuleSet, bindings: Bindings): Decision | null {
  return set.applies('request', 'mcp') ? set.decide('request', bindings, Date.now()) : null;
}

/** One MCP request after its request-phase `decision`, and the review of its answer: the same for HTTP routes and stdio. */
function judge(gate: PolicyGate, set: RuleSet, scope: McpScope, live: Exchange, request: JsonRpcRequest, body: Buffer | null, decision: Decision | null): Judged {
  const decisions: McpDecisions = { request: null, answer: null };
  if (decision) {
    if (decision.outcome !== 'allow') return { refused: decision };
    decisions.request = decision;
  }
  const list = LISTS[request.method];
  const respond = set.applies('response', 'mcp');
  // An answer tapwire could not decode: refused as a response-phase deny would refuse it, or (monitor mode) recorded as would_deny.
  const unreadable: UnreadableAnswer = (why) => {
    const verdict = gate.policies().unreadable('mcp', why, 'response');
    if (verdict.outcome === 'allow' && verdict.findings.length === 0) return null;
    decisions.answer = verdict;
    return verdict.outcome === 'allow' ? null : refusalMessage(request, verdict, scope.headers);
  };
  if (!list && !respond) return { decisions, review: null, unreadable };
  return {
    decisions,
    unreadable,
    review: (answer) => {
      if (list) return filterList(gate, live, scope, list, answer);
      if (!respond) return null;
      const verdict = gate.policies().decide(
        'response',
        gate.context(scope, { exchange: { ...live, http_status: 200 }, request: { headers: scope.headers, body }, response: { body: JSON.stringify(answer) } }),
        Date.now(),
      );
      if (verdict.outcome === 'allow') return null;
      decisions.answer = verdict;
      return refusalMessage(request, verdict, scope.headers);
    },
  };
}

/** The list answer without the entries the rules would deny this agent if it called them; null when nothing is removed. */
function filterList(gate: PolicyGate, exchange: Exchange, scope: McpScope, list: (typeof LISTS)[string], answer: Record<string, unknown>): Record<string, unknown> | null {
  const result = answer.result;
  if (!isObject(result) || !Array.isArray(result[list.field])) return null;
  const set = gate.policies();
  const items = result[list.field] as unknown[];
  const kept = items.filter((item) => {
    const asCall = isObject(item) ? list.asCall(item) : null;
    if (!asCall) return true;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 0, method: asCall.method, params: asCall.params });
    const bindings = gate.context(scope, { exchange: { ...exchange, method: asCall.method }, request: { headers: scope.headers, body }, path: scope.path });
    return set.decide('request', bindings, Date.now(), false).outcome !== 'deny';
  });
  if (kept.length === items.length) return null;
  return { ...answer, result: { ...result, [list.field]: kept } };
}

/** The exchange of an MCP request that came over stdio or through a federated route, as its rules see it. */
function messageExchange(call: McpMessageCall): Exchange {
  const exchange = blankExchange({ agent: call.agent, route: call.route, protocol: 'mcp' });
  Object.assign(exchange, { method: call.request.method, session_id: call.sessionId, jsonrpc_id: idText(call.request.id) });
  if (call.server !== undefined) exchange.details = JSON.stringify({ server: call.server });
  return exchange;
}

/** What a held request asks: a tool call's arguments, or the request's params. */
function argumentsOf(request: JsonRpcRequest): unknown {
  const p = isObject(request.params) ? request.params : {};
  return request.method === 'tools/call' ? (p.arguments ?? {}) : (request.params ?? null);
}

function targetOf(request: JsonRpcRequest): string | null {
  const p = isObject(request.params) ? request.params : {};
  return typeof p.name === 'string' ? p.name : typeof p.uri === 'string' ? p.uri : null;
}

/**
 * The JSON-RPC answer to a refused request: a tool error result for tools/call (with the
 * `resultType` a 2026-07-28 request's revision requires), an error otherwise.
 */
function refusalMessage(request: Pick<JsonRpcRequest, 'id' | 'method' | 'params'>, decision: Decision, headers: McpScope['headers']): Record<string, unknown> {
  if (request.method !== 'tools/call') return policyError(request.id, decision);
  const text = `tapwire policy ${decision.rule ?? ''}: ${decision.reason}`;
  const result = completeResult({ content: [{ type: 'text', text }], isError: true }, requestRevision(request.params, headers));
  return { jsonrpc: '2.0', id: request.id, result };
}
