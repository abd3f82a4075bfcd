// The A2A protocol handler: the agent card served at the sidecar's root when one A2A route
// can serve it, and one observer per call from the route's flow (A2aFlow), which shares what
// is known of each route's agent.
import { isCommandRoute, type RouteConfig } from '../../config/config.js';
import type { CallFacts, HandlerEnvironment, Observation, ProtocolCall, ProtocolHandler, RootAnswer } from '../protocol.js';
import { jsonRpcRefusal } from '../refusal.js';
import { A2aFlow, isRootCardRequest, rootCard } from './flow.js';
import { describeCall, versionHeader } from './wire.js';
import type { Decision, PolicySet } from '../../policies/engine.js';
import { EMPTY_JSONRPC, identityRequired, unreadableJson, unreadableRefusal, type Admission, type GateCall, type PolicyGate } from '../policy-gate.js';

/** An A2A call's facts. */
export class A2aCallFacts implements CallFacts {
  constructor(
    readonly call: ProtocolCall,
    private readonly flow: A2aFlow,
    private readonly env: HandlerEnvironment,
  ) {}

  unreadable(): string | null {
    const { readable, cannotRead } = this.call;
    if (readable === null) return null;
    if (cannotRead !== null) return cannotRead;
    if (readable.length > 0) return unreadableJson(readable);
    // An HTTP+JSON operation may have no body (e.g. a task's cancel); a JSON-RPC POST may not.
    return this.restMethod() !== null ? null : EMPTY_JSONRPC;
  }

  /** The A2A method of an HTTP+JSON call with no body; null for anything else. */
  private restMethod(): string | null {
    const { req, path, readable } = this.call;
    return describeCall({ httpMethod: req.method ?? 'GET', path, a2aVersion: versionHeader(req.headers['a2a-version']), body: readable }).method;
  }

  unreadableRefusal(decision: Decision): unknown {
    return unreadableRefusal(decision);
  }

  identityRefusal(message: string): unknown {
    return identityRequired(message);
  }

  admit(gate: PolicyGate, set: PolicySet, call: GateCall): Admission | null {
    return gate.gateJsonRpc(set, call);
  }

  observe(): Promise<Observation> {
    const { call } = this;
    return this.flow.prepare({ req: call.req, route: call.route, rest: call.rest, body: call.readable, sink: this.env.sink });
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
