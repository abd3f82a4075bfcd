// The plain HTTP protocol handler: any other API, its bodies streamed through and each call
// recorded as one HTTP exchange.
import type { RouteConfig } from '../config/config.js';
import { PlainHttpObserver } from './observer.js';
import type { Decision, PolicySet } from '../policies/engine.js';
import { httpError, identityRequired, type Admission, type GateCall, type PolicyGate } from './policy-gate.js';
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

  admit(gate: PolicyGate, set: PolicySet, call: GateCall): Admission | null {
    return gate.gateRequest(set, call);
  }
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
