// The policy gate's JSON-RPC pieces, shared by the protocols that speak it (MCP, A2A): the
// error code and answers of a refusal, and the refusal of a batch, whose members are each
// judged as if they had come alone and which is sent whole or not at all (so never held for approval).
import type { Exchange } from '../core/exchange.js';
import { errorResponse, type JsonRpcId, type JsonRpcMessage } from '../core/jsonrpc.js';
import type { RuleSet } from '../policies/rule-set.js';
import type { Decision } from '../policies/decision.js';
import { unheld } from '../policies/approvals.js';
import { recordTransform } from '../policies/rewrite.js';
import { unchanged, type Admission, type GateCall, type PolicyGate } from './policy-gate.js';

/** The JSON-RPC error code of a call refused by policy (implementation-defined server error range). */
export const POLICY_DENIED = -32040;

/** Why the rules cannot read an empty body where only JSON-RPC can be meant (an MCP POST, an A2A POST that is not an HTTP+JSON operation). */
export const EMPTY_JSONRPC = 'an empty body where a JSON-RPC message was expected';

export type JsonRpcRequest = Extract<JsonRpcMessage, { kind: 'request' }>;

/** What a batch member is judged as when no request-phase rule applies to its protocol. */
const ALLOW_ALL = { outcome: 'allow', rule: null, reason: '', retryAfterSeconds: null, findings: [] } as const satisfies Decision;

/** The JSON-RPC error answering a request refused by policy (`id` null: a message whose id is unreadable). */
export function policyError(id: JsonRpcId | null, decision: Decision): Record<string, unknown> {
  const data: Record<string, unknown> = { tapwire_error: decision.outcome === 'limit' ? 'policy_limited' : 'policy_denied', rule: decision.rule };
  if (decision.retryAfterSeconds !== null) data.retry_after_seconds = decision.retryAfterSeconds;
  return errorResponse(id, POLICY_DENIED, `tapwire policy ${decision.rule ?? ''}: ${decision.reason}`, data);
}

/** The JSON-RPC error answering a message refused as unreadable. */
export function unreadableRefusal(decision: Decision): Record<string, unknown> {
  return errorResponse(null, POLICY_DENIED, `tapwire policy ${decision.rule ?? ''}: ${decision.reason}`, { tapwire_error: 'policy_denied', rule: decision.rule });
}

/** What a protocol tells the batch gate about its requests. */
export interface BatchRules {
  /** The exchange of one member, as its rules see it. */
  exchangeOf(request: JsonRpcRequest): Exchange;
  /** True when the member's answer must be reviewed on its own (a list to filter, response-phase rules): its batch cannot be sent. */
  reviewedAlone(request: JsonRpcRequest): boolean;
  /** The answer to the member refused by `decision`. */
  refusal(request: JsonRpcRequest, decision: Decision): Record<string, unknown>;
}

/**
 * A JSON-RPC batch (MCP 2025-03-26, A2A): each request is judged as it would be alone, and
 * the batch is forwarded only when every one is let through. Otherwise no part of it reaches
 * the upstream: the refused requests get their refusal, the others an error saying their
 * batch was refused. Batches holding a request whose answer must be reviewed on its own are
 * refused too: their answers cannot be reviewed per message.
 */
export function gateBatch(gate: PolicyGate, set: RuleSet, call: GateCall, messages: readonly JsonRpcMessage[], rules: BatchRules): Admission | null {
  const requests = messages.filter((m): m is JsonRpcRequest => m.kind === 'request');
  if (requests.length === 0) return unchanged;
  let refused: { request: JsonRpcRequest; decision: Decision } | null = null;
  for (const request of requests) {
    const live = rules.exchangeOf(request);
    // Each member is judged on its own bytes, as if it had come alone.
    const body = Buffer.from(JSON.stringify(request.raw));
    let decision = set.applies('request', live.protocol)
      ? set.decide('request', gate.context(call, { exchange: live, request: { headers: call.req.headers, body }, path: call.path, routeUpstream: call.route.config.upstream }), Date.now())
      : ALLOW_ALL;
    // A batch is sent whole or not at all: one member cannot wait for a person while the others go.
    if (decision.outcome === 'approve') decision = unheld(decision, 'inside a JSON-RPC batch (send it in a request of its own)');
    if (decision.outcome !== 'allow') {
      refused = { request, decision };
      break;
    }
  }
  const unreviewable = requests.find((r) => rules.reviewedAlone(r));
  if (!refused && !unreviewable) {
    // Transform rules see the batch whole (its headers; a body path has no one object to set in, and refuses).
    const transformed = gate.transform(set, call, { exchange: call.exchange, path: call.path, routeUpstream: call.route.config.upstream });
    if ('rewrite' in transformed) {
      recordTransform(call.exchange, transformed);
      return unchanged;
    }
    refused = { request: requests[0]!, decision: transformed.refused };
  }
  const decision: Decision = refused?.decision ?? {
    outcome: 'deny',
    rule: null,
    reason: `a JSON-RPC batch holding ${unreviewable!.method}: its answer must be reviewed on its own, so send it in a request of its own`,
    retryAfterSeconds: null,
    findings: [],
  };
  const answers = requests.map((request) =>
    request === refused?.request
      ? rules.refusal(request, decision)
      : errorResponse(request.id, POLICY_DENIED, `tapwire policy ${decision.rule ?? ''}: not sent, because its batch was refused: ${decision.reason}`, { tapwire_error: 'policy_denied', rule: decision.rule }),
  );
  Object.assign(call.exchange, { method: (refused?.request ?? requests[0]!).method, jsonrpc_id: null });
  gate.refuse(call, call.exchange, decision, answers, 200);
  return null;
}
