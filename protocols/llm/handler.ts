// The LLM protocol handler: a call's provider (the route's, or recognised from the path) and
// its request described once by that provider's adapter, shared by the policy gate (request
// and response review) and the observer (usage, cost, the record).
import type { RouteConfig } from '../../config/config.js';
import { jsonValue } from '../../core/json-body.js';
import { queryWithoutCredentials } from '../../core/url-credentials.js';
import type { RecordSink } from '../observer.js';
import type { CallFacts, HandlerEnvironment, Observation, ProtocolCall, ProtocolHandler } from '../protocol.js';
import type { LlmAdapter, LlmCall } from './adapter.js';
import { LlmObserver, upstreamTraits } from './observer.js';
import { adapterFor } from './providers.js';
import { PriceBook } from './pricing.js';
import type { RuleSet } from '../../policies/rule-set.js';
import type { Decision } from '../../policies/decision.js';
import { unreadableJson, type Admission, type GateCall, type PolicyGate } from '../policy-gate.js';
import { gateLlm, llmError } from './gate.js';

/** An LLM call's facts: its provider's adapter and the request as the adapter reads it. */
export class LlmCallFacts implements CallFacts {
  readonly adapter: LlmAdapter;
  /** Null when there is no body, or the adapter does not know this API (the call is still forwarded). */
  readonly described: LlmCall | null;

  constructor(
    readonly call: ProtocolCall,
    private readonly prices: PriceBook,
    private readonly sink: RecordSink,
  ) {
    const { route, path, readable } = call;
    this.adapter = adapterFor(route.config.provider, path);
    this.described = readable ? this.adapter.describe(path, jsonValue(readable), readable, upstreamTraits(route.config)) : null;
  }

  unreadable(): string | null {
    const { readable, cannotRead } = this.call;
    if (readable === null) return null;
    if (cannotRead !== null) return cannotRead;
    return readable.length === 0 ? null : unreadableJson(readable);
  }

  unreadableRefusal(decision: Decision): unknown {
    return llmError(this.adapter, decision);
  }

  identityRefusal(message: string): unknown {
    return this.adapter.authenticationError(message);
  }

  admit(gate: PolicyGate, set: RuleSet, call: GateCall): Promise<Admission | null> {
    return gateLlm(gate, set, call, this);
  }

  observe(): Observation {
    const { call } = this;
    return { observer: new LlmObserver(this.adapter, this.described, this.prices, this.sink, call.readable !== call.body, queryWithoutCredentials(call.rest)), path: call.rest };
  }
}

export class LlmHandler implements ProtocolHandler {
  readonly readsRequestBody = true;
  private readonly prices: PriceBook;

  constructor(private readonly env: HandlerEnvironment) {
    this.prices = new PriceBook(env.config.pricing);
  }

  parse(call: ProtocolCall): LlmCallFacts {
    return new LlmCallFacts(call, this.prices, this.env.sink);
  }

  errorBody(route: RouteConfig, path: string, status: number, code: string, message: string): unknown {
    return adapterFor(route.provider, path).errorBody(status, code, message);
  }
}
