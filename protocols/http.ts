// The plain HTTP protocol handler: any other API, its bodies streamed through and each call
// recorded as one HTTP exchange, judged by the policies on its request line and headers (and
// held for approval when an approve rule asks: the person sees its method and path).
import type { RouteConfig } from '../config/config.js';
import { PlainHttpObserver } from './observer.js';
import type { RuleSet } from '../policies/rule-set.js';
import { stamp, type Decision } from '../policies/decision.js';
import { recordTransform } from '../policies/rewrite.js';
import { httpError, identityRequired, unchanged, type Admission, type GateCall, type PolicyGate } from './policy-gate.js';
import type { CallFacts, HandlerEnvironment, Observation, ProtocolCall, ProtocolHandler } from './protocol.js';

/** A plain HTTP call's facts: its request line and headers (its body is not read). */
class HttpCallFacts implements CallFacts {
  constructor(
    private readonly call: ProtocolCall,
    private readonly observer: PlainHttpObserver,
  ) {}

  observe(): Observation {
    return { observer: this.observer, path: this.call.rest };
  }

  unreadable(): null {
    return null;
  }

  unreadableRefusal(decision: Decision): unknown {
    return httpError(decision);
  }

  identityRefusal(message: string): unknown {
    return identityRequired(message);
  }

  admit(gate: PolicyGate, set: RuleSet, call: GateCall): Promise<Admission | null> {
    return gateHttp(gate, set, call);
  }
}

/** The request-phase decision on a call judged by its HTTP request alone. */
async function gateHttp(gate: PolicyGate, set: RuleSet, call: GateCall): Promise<Admission | null> {
  if (!set.applies('request', 'http')) return unchanged;
  const source = { exchange: call.exchange, path: call.path, routeUpstream: call.route.config.upstream };
  let decided = set.decide('request', gate.context(call, { ...source, request: { headers: call.req.headers } }), Date.now());
  // Its body streams through unread: the person sees the request line.
  if (decided.outcome === 'approve') decided = await gate.hold(call, set, decided, { target: null, arguments: null });
  // The body streams through unread: a transform that sets a body path cannot be applied, and refuses.
  const transformed = decided.outcome === 'allow' ? gate.transform(set, call, source) : null;
  const decision = transformed && 'refused' in transformed ? transformed.refused : decided;
  if (decision.outcome === 'allow') {
    stamp(call.exchange, decision);
    if (transformed && 'rewrite' in transformed) recordTransform(call.exchange, transformed);
    return unchanged;
  }
  gate.refuse(call, call.exchange, decision, httpError(decision), null);
  return null;
}

export class HttpHandler implements ProtocolHandler {
  readonly readsRequestBody = false;
  private readonly observer: PlainHttpObserver;

  constructor(env: HandlerEnvironment) {
    // The observer keeps no state of its own: one serves every call.
    this.observer = new PlainHttpObserver(env.sink);
  }

  parse(call: ProtocolCall): CallFacts {
    return new HttpCallFacts(call, this.observer);
  }

  errorBody(_route: RouteConfig, _path: string, _status: number, code: string, message: string): unknown {
    return { error: { code, message } };
  }
}
