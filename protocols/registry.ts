// The protocol handlers, registered in one place: a route's `protocol` names its handler
// here, and nowhere else is a protocol picked by name. A new protocol is a folder with its
// handler, and one line in this table.
import { A2aHandler } from './a2a/handler.js';
import { HttpHandler } from './http.js';
import { LlmHandler } from './llm/handler.js';
import { McpHandler } from './mcp/handler.js';
import type { HandlerEnvironment, Protocol, ProtocolHandler } from './protocol.js';

const HANDLERS: Readonly<Record<Protocol, new (env: HandlerEnvironment) => ProtocolHandler>> = {
  llm: LlmHandler,
  mcp: McpHandler,
  a2a: A2aHandler,
  http: HttpHandler,
};

/** One handler per protocol, for one sidecar. */
export function protocolHandlers(env: HandlerEnvironment): ReadonlyMap<Protocol, ProtocolHandler> {
  return new Map(Object.entries(HANDLERS).map(([protocol, Handler]) => [protocol as Protocol, new Handler(env)]));
}
