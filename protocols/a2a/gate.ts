// The A2A part of the policy gate: a call is judged under its v1.0 method name whatever the
// version and binding, as it is recorded (A2aCallFacts describes it once), and held when an
// approve rule asks (the person sees its skill's call and params). A JSON-RPC request
// refused by policy is answered with a JSON-RPC error with its id, a batch as a whole
// (jsonrpc-gate.ts), an HTTP+JSON (REST) call with an HTTP error. Agent card fetches are not
// A2A calls. Response-phase rules on A2A are applied when the record is written, not live;
// a batch they would have to see is refused.
import { idText, parseJsonRpcBody } from '../../core/jsonrpc.js';
import { jsonValue } from '../../core/json-body.js';
import type { Exchange } from '../../core/exchange.js';
import type { RuleSet } from '../../policies/rule-set.js';
import { stamp } from '../../policies/decision.js';
import { recordTransform } from '../../policies/rewrite.js';
import { gateBatch, policyError, type JsonRpcRequest } from '../jsonrpc-gate.js';
import { httpError, unchanged, type Admission, type GateCall, type PolicyGate } from '../policy-gate.js';
import type { A2aCallFacts } from './handler.js';

export async function gateA2a(gate: PolicyGate, set: RuleSet, call: GateCall, facts: A2aCallFacts): Promise<Admission | null> {
  if (!set.applies('request', 'a2a') && !set.applies('response', 'a2a')) return unchanged;
  const parsed = call.body && call.body.length > 0 ? parseJsonRpcBody(call.body) : null;
  const method = facts.described.method;
  const exchangeOf = (message: JsonRpcRequest): Exchange => ({ ...call.exchange, method: method ?? message.method, jsonrpc_id: idText(message.id) });
  if (parsed?.ok && parsed.batch) {
    return gateBatch(gate, set, call, parsed.messages, {
      exchangeOf,
      reviewedAlone: () => set.applies('response', 'a2a'),
      refusal: (request, decision) => policyError(request.id, decision),
    });
  }
  if (!set.applies('request', 'a2a')) return unchanged;
  const request = parsed?.ok && parsed.messages[0]?.kind === 'request' ? parsed.messages[0] : null;
  // A JSON-RPC request; else an HTTP+JSON operation (a REST call).
  const live = request ? exchangeOf(request) : method && method !== 'GetAgentCard' ? { ...call.exchange, method } : null;
  if (!live) return unchanged;
  const source = { exchange: live, path: call.path, routeUpstream: call.route.config.upstream };
  const bindings = gate.context(call, { ...source, request: { headers: call.req.headers, body: call.body } });
  let decided = set.decide('request', bindings, Date.now());
  if (decided.outcome === 'approve') decided = await gate.hold(call, set, decided, { method: live.method ?? undefined, target: null, arguments: request ? (request.params ?? null) : jsonValue(call.body) });
  const transformed = decided.outcome === 'allow' ? gate.transform(set, call, source, bindings) : null;
  const decision = transformed && 'refused' in transformed ? transformed.refused : decided;
  if (decision.outcome === 'allow') {
    stamp(call.exchange, decision);
    if (transformed && 'rewrite' in transformed) recordTransform(call.exchange, transformed);
    return unchanged;
  }
  // The call's own exchange becomes the record of the refused call.
  Object.assign(call.exchange, { method: live.method, jsonrpc_id: live.jsonrpc_id });
  if (request) gate.refuse(call, call.exchange, decision, policyError(request.id, decision), 200);
  else gate.refuse(call, call.exchange, decision, httpError(decision), null);
  return null;
}
