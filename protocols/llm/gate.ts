// The LLM part of the policy gate: the request-phase decision on a call described once (its
// LlmCallFacts), held when an approve rule asks (the person sees the model and the request's
// body), refused in its provider's error format (403, or 429 with retry-after), and
// the response-phase rules on its body or stream, whose usage is read as the record reads it.
import { jsonValue } from '../../core/json-body.js';
import { errorHeadersOf } from '../../core/error-headers.js';
import type { ContextSource } from '../../policies/context.js';
import type { RuleSet } from '../../policies/rule-set.js';
import { stamp, type Decision } from '../../policies/decision.js';
import { recordTransform } from '../../policies/rewrite.js';
import type { Replacement, ResponseHead } from '../observer.js';
import { refusalHeaders, ResponsePolicyObserver, unchanged, type Admission, type GateCall, type PolicyGate, type StreamEnd } from '../policy-gate.js';
import { responseValue, type LlmAdapter } from './adapter.js';
import type { LlmCallFacts } from './handler.js';
import { emptyFacts, type Usage } from './usage.js';

/** The provider's own error shape, so its SDK raises its usual permission or rate-limit error. */
export function llmError(adapter: LlmAdapter, decision: Decision): unknown {
  return adapter.policyError(`tapwire policy ${decision.rule ?? ''}: ${decision.reason}`, decision.outcome === 'limit');
}

/** The SSE event that ends an LLM stream with an error its provider's SDK raises. */
function llmErrorEvent(adapter: LlmAdapter, decision: Decision): StreamEnd {
  return { event: adapter.streamErrorEvent, data: JSON.stringify(llmError(adapter, decision)) };
}

export async function gateLlm(gate: PolicyGate, set: RuleSet, call: GateCall, facts: LlmCallFacts): Promise<Admission | null> {
  if (!set.applies('request', 'llm') && !set.applies('response', 'llm')) return unchanged;
  const { adapter, described } = facts;
  const request = described?.request;
  const live = { ...call.exchange, provider: adapter.provider, operation: request?.operation ?? null, model: request?.model ?? null };
  const source = { exchange: live, request: { headers: call.req.headers, body: call.body }, path: call.path, routeUpstream: call.route.config.upstream };
  const bindings = gate.context(call, source);
  let decided = set.decide('request', bindings, Date.now());
  if (decided.outcome === 'approve') decided = await gate.hold(call, set, decided, { target: live.model, arguments: jsonValue(call.body) });
  const transformed = decided.outcome === 'allow' ? gate.transform(set, call, source, bindings) : null;
  const decision = transformed && 'refused' in transformed ? transformed.refused : decided;
  if (decision.outcome !== 'allow') {
    Object.assign(call.exchange, { provider: live.provider, operation: live.operation, model: live.model, target: live.model });
    gate.refuse(call, call.exchange, decision, llmError(adapter, decision), null);
    return null;
  }
  stamp(call.exchange, decision);
  if (transformed && 'rewrite' in transformed) recordTransform(call.exchange, transformed);
  if (!set.applies('response', 'llm')) return unchanged;
  let head: ResponseHead | null = null;
  const judge = (response: ContextSource['response'], responseText?: string, usage?: Usage | null): Decision | null => {
    const exchange = { ...live, http_status: head?.status ?? null, input_tokens: usage?.input_tokens ?? null, output_tokens: usage?.output_tokens ?? null };
    const verdict = gate.policies().decide('response', gate.context(call, { ...source, exchange, response, responseText }), Date.now());
    if (verdict.outcome === 'allow') return null;
    stamp(call.exchange, verdict);
    return verdict;
  };
  const refusalBody = (verdict: Decision): Replacement => {
    const answer = llmError(adapter, verdict);
    return { status: verdict.outcome === 'limit' ? 429 : 403, headers: { ...refusalHeaders(verdict), ...errorHeadersOf(answer) }, body: Buffer.from(JSON.stringify(answer)) };
  };
  return (observer) =>
    new ResponsePolicyObserver(observer, {
      onHead: (h) => (head = h),
      body: (h, body) => {
        // The provider's usage, read as the record will read it, so live rules see usage.* too.
        const answer = emptyFacts();
        if (described) described.readBody(responseValue(described, body), answer);
        described?.readHead?.(h.headers, answer);
        const verdict = judge({ headers: h.headers, body }, undefined, answer.usage);
        return verdict ? refusalBody(verdict) : null;
      },
      events: (text) => {
        const verdict = judge({ headers: head?.headers ?? {} }, text);
        return verdict ? llmErrorEvent(adapter, verdict) : null;
      },
      unreadable: (why) => {
        const verdict = gate.policies().unreadable('llm', why, 'response');
        stamp(call.exchange, verdict);
        return verdict.outcome === 'allow' ? null : { body: refusalBody(verdict), event: llmErrorEvent(adapter, verdict) };
      },
    });
}
