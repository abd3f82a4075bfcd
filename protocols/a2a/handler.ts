// The A2A protocol handler: the agent card served at the sidecar's root when one A2A route
// can serve it, each call described once (binding, version, v1.0 method) for the policy gate
// and the observer, and one observer per call from the route's flow (A2aFlow), which shares
// what is known of each route's agent.
import { isCommandRoute, type RouteConfig } from '../../config/config.js';
import type { CallFacts, HandlerEnvironment, Observation, ProtocolCall, ProtocolHandler, RootAnswer } from '../protocol.js';
import { jsonRpcRefusal } from '../refusal.js';
import { A2aFlow, isRootCardRequest, rootCard } from './flow.js';
import type { A2aCall } from './wire.js';
import type { RuleSet } from '../../policies/rule-set.js';
import type { Decision } from '../../policies/decision.js';
import { EMPTY_JSONRPC, unreadableRefusal } from '../jsonrpc-gate.js';
import { identityRequired, unreadableJson, type Admission, type GateCall, type PolicyGate } from '../policy-gate.js';
import { gateA2a } from './gate.js';

/** An A2A call's facts: what the call is, read once. */
export class A2aCallFacts implements CallFacts {
  /** The call's binding, version and v1.0 method, shared by the gate and the observer. */
  readonly described: A2aCall;

  constructor(
    readonly call: ProtocolCall,
    private readonly flow: A2aFlow,
    private readonly env: HandlerEnvironment,
  ) {
    this.described = flow.describe(call.req, call.route, call.path, call.readable);
  }

  unreadable(): string | null {
    const { readable, cannotRead } = this.call;
    if (readable === null) return null;
    if (cannotRead !== null) return cannotRead;
    if (readable.length > 0) return unreadableJson(readable);
    // An HTTP+JSON operation may have no body (e.g. a task's cancel); a JSON-RPC POST may not.
    return this.described.method !== null ? null : EMPTY_JSONRPC;
  }

  unreadableRefusal(decision: Decision): unknown {
    return unreadableRefusal(decision);
  }

  identityRefusal(message: string): unknown {
    return identityRequired(message);
  }

  admit(gate: PolicyGate, set: RuleSet, call: GateCall): Promise<Admission | null> {
    return gateA2a(gate, set, call, this);
  }

  observe(): Promise<Observation> {
    const { call } = this;
    return this.flow.prepare({ req: call.req, route: call.route, rest: call.rest, call: this.described, sink: this.env.sink });
  }
}

export class A2aHandler implements ProtocolHandler {
  readonly readsRequestBody = true;
  private readonly flow = new A2aFlow();
  /** The routes that can serve the agent card at the sidecar's root. */
  private readonly routeNames: string[];

  constructor(private readonly env: HandlerEnvironment) {
    this.routeNames = Object.entries(env.config.routes)
      .filter(([, route]) => route.protocol === 'a2a' && !isCommandRoute(route))
      .map(([name]) => name);
  }

  parse(call: ProtocolCall): A2aCallFacts {
    return new A2aCallFacts(call, this.flow, this.env);
  }

  errorBody(_route: RouteConfig, _path: string, _status: number, code: string, message: string): unknown {
    return jsonRpcRefusal(code, message);
  }

  /** A2A clients given a route URL without a trailing slash look for the card at the root. */
  atRoot(url: string, sidecarUrl: string): RootAnswer | null {
    return isRootCardRequest(url) ? rootCard(url, this.routeNames, sidecarUrl) : null;
  }
}
