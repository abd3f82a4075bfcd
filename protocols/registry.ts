// The protocols, registered in one place: a route's `protocol` names its handler here (and
// the proxy picks it once per route), and an exchange's protocol names what it adds to the
// CEL context. Nowhere else is a protocol picked by name. A new protocol is a folder with
// its handler and its context, and one line in this table.
import type { RouteCheck } from '../config/config.js';
import type { ProtocolContext, ProtocolContexts } from '../policies/context.js';
import { a2aContext } from './a2a/context.js';
import { A2aHandler } from './a2a/handler.js';
import { HttpHandler } from './http.js';
import { llmContext } from './llm/context.js';
import { LlmHandler } from './llm/handler.js';
import { providerProblems } from './llm/providers.js';
import { mcpContext } from './mcp/context.js';
import { McpHandler } from './mcp/handler.js';
import type { HandlerEnvironment, Protocol, ProtocolHandler } from './protocol.js';
import type { Protocol as RecordedProtocol } from '../core/exchange.js';

interface Registration {
  handler: new (env: HandlerEnvironment) => ProtocolHandler;
  /** What its exchanges add to the CEL context; none for plain HTTP. */
  context: ProtocolContext | null;
  /**
   * Its rules for a route beyond the config schema's. A function, not a handler method: the
   * config loader applies it (parseConfig's checkRoute) before any handler exists.
   */
  checkRoute?: RouteCheck;
  /** The protocol its routes' exchanges are recorded under, when not its own name. */
  recordsAs?: RecordedProtocol;
}

const PROTOCOLS: Readonly<Record<Protocol, Registration>> = {
  llm: { handler: LlmHandler, context: llmContext, checkRoute: providerProblems },
  mcp: { handler: McpHandler, context: mcpContext },
  a2a: { handler: A2aHandler, context: a2aContext },
  http: { handler: HttpHandler, context: null },
  // Served to agents as MCP by tapwire (protocols/openapi/): MCP's errors, MCP's records.
  openapi: { handler: McpHandler, context: null, recordsAs: 'mcp' },
};

const PROTOCOL_NAMES = Object.keys(PROTOCOLS) as Protocol[];

/** One handler per protocol, for one sidecar. */
export function protocolHandlers(env: HandlerEnvironment): ReadonlyMap<Protocol, ProtocolHandler> {
  return new Map(PROTOCOL_NAMES.map((protocol) => [protocol, new PROTOCOLS[protocol].handler(env)]));
}

/**
 * What a route's protocol finds wrong with it. The CLI gives it to the config loader (whose
 * messages name the line), and the sidecar applies it again at start to configs built otherwise.
 */
export const routeProblems: RouteCheck = (route) => PROTOCOLS[route.protocol].checkRoute?.(route) ?? [];

/** The protocol a route's exchanges are recorded under. */
export function recordedProtocol(protocol: Protocol): RecordedProtocol {
  return PROTOCOLS[protocol].recordsAs ?? (protocol as RecordedProtocol);
}

/** What each protocol adds to the CEL context, by protocol name. */
export const PROTOCOL_CONTEXTS: ProtocolContexts = Object.fromEntries(
  PROTOCOL_NAMES.flatMap((protocol) => {
    const context = PROTOCOLS[protocol].context;
    return context ? [[protocol, context]] : [];
  }),
);
