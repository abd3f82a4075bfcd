// The protocol handler interface: what the proxy asks of a route's protocol (LLM, MCP, A2A,
// plain HTTP) and nothing else. A handler parses a call once into its facts, which the policy
// gate, the observer and the record then share; builds the observer; and gives the error
// shapes of its protocol. The handlers are registered in one table (registry.ts), and the
// proxy picks a route's handler once, when it builds its routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Config, RouteConfig } from '../config/config.js';
import type { Exchange } from '../core/exchange.js';
import type { HeaderMap } from '../core/headers.js';
import type { ExchangeObserver, RecordSink } from './observer.js';
import type { Route } from './route.js';
import type { McpTracker } from './mcp/tracker.js';
import type { Admission, AnswerChannel, GateCall, PolicyGate } from './policy-gate.js';
import type { RuleSet } from '../policies/rule-set.js';
import type { Decision } from '../policies/decision.js';
import type { RequestRewrite } from '../policies/rewrite.js';

/** A route's protocol, as its configuration names it. */
export type Protocol = RouteConfig['protocol'];

/** One HTTP call on a route, as the proxy received it. */
export interface ProtocolCall {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  /** The path and query after the route segment. */
  rest: string;
  /** `rest` without the query. */
  path: string;
  exchange: Exchange;
  /** The body as received (what is forwarded); null when the protocol lets it stream through. */
  body: Buffer | null;
  /** The body as the upstream reads it (readable-body.ts): decoded, or as received when `cannotRead`. */
  readable: Buffer | null;
  /** Why tapwire could not decode the body (its content-encoding or charset); null when it could. */
  cannotRead: string | null;
  /** What the policies' transform rules change before it is forwarded (set by the gate). */
  rewrite?: RequestRewrite | null;
  /**
   * Set on a route with MCP authorization, which checked the call itself: the verified
   * token's claims (gateway), or null (passthrough). The gate then runs no identity check.
   */
  tokenClaims?: Record<string, unknown> | null;
}

/** How a call is forwarded: the protocol's observer, and the path to send it to. */
export interface Observation {
  observer: ExchangeObserver;
  /** The path and query sent upstream (the call's `rest`, unless the protocol maps it). */
  path: string;
}

/** A call's facts, parsed once from its request, and what is built from them. */
export interface CallFacts {
  /** The protocol's observer for this call (made once the gate has let it through). */
  observe(): Observation | Promise<Observation>;
  /**
   * Why the rules cannot judge the call's body, or null when they can: a body tapwire cannot
   * decode, or one the protocol reads as JSON that is not. The gate then fails closed.
   */
  unreadable(): string | null;
  /** The answer to the call refused because its body cannot be read, in the protocol's format. */
  unreadableRefusal(decision: Decision): unknown;
  /** The answer to the call refused for want of a valid identity token, in the protocol's format. */
  identityRefusal(message: string): unknown;
  /** The protocol's part of the gate: the request-phase decision, and what reviews the answer. */
  admit(gate: PolicyGate, set: RuleSet, call: GateCall): Admission | null | Promise<Admission | null>;
  /** Where the answers to this call travel when not on its own response (MCP's legacy HTTP+SSE: the session's GET stream; the POST itself gets 202). */
  readonly answerStream?: AnswerChannel | null;
}

/** An answer to a request at the sidecar's root that names no route (see ProtocolHandler.atRoot). */
export type RootAnswer = { kind: 'route'; name: string; rest: string } | { kind: 'error'; status: number; body: unknown };

export interface ProtocolHandler {
  /**
   * True when request bodies are read whole before forwarding (their facts decide how the
   * response is read, and whether it is sent at all); false when they stream through, and
   * only a declared length can be refused up front.
   */
  readonly readsRequestBody: boolean;
  /** Parses the call's request once. */
  parse(call: ProtocolCall): CallFacts;
  /** The body of an error tapwire answers itself on a route of this protocol (`path`: under the route). */
  errorBody(route: RouteConfig, path: string, status: number, code: string, message: string): unknown;
  /** True for a request whose response stays open as long as the agent keeps it (close() ends those at once). */
  isStanding?(req: IncomingMessage): boolean;
  /** A request at the sidecar's root (`url`) that this protocol serves through one of its routes, or answers itself; null when it is not one. */
  atRoot?(url: string, sidecarUrl: string): RootAnswer | null;
}

/** What the handlers of one sidecar share: its configuration, where records go, and its MCP sessions. */
export interface HandlerEnvironment {
  config: Config;
  sink: RecordSink;
  /** Redacts headers for the record. */
  redact: (headers: IncomingMessage['headers']) => HeaderMap;
  /** The MCP tracker of a route (its sessions and pending requests). */
  trackerFor: (route: string) => McpTracker;
  /** A key for the agent's connection: sessionless MCP clients are told apart by it. */
  connectionKey: (socket: Socket) => string;
}
