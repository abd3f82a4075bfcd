// What MCP adds to the CEL context (policies/context.ts): jsonrpc.* from the message, and
// mcp.* (the tool, resource or prompt it names, its session, the server it went to).
import type { ContextSource, ProtocolContext } from '../../policies/context.js';
import { obj } from '../../core/json-body.js';
import { parseJson, str, toCel, type CelJson } from '../../policies/context-values.js';

/**
 * mcp.server: the MCP server a message went to or came from. A federated route records it
 * in details.server (empty for what goes to all its servers); on any other route the route
 * is the server.
 */
function mcpServer(e: ContextSource['exchange']): string {
  if (e.details) {
    const details = obj(parseJson(e.details));
    if (details && typeof details.server === 'string') return details.server;
  }
  return e.route;
}

export const mcpContext: ProtocolContext = {
  // The message's own method; a record read back without its body carries it in exchange.method.
  jsonRpc: (e, body) => ({ method: str(body?.method) || str(e.method), params: body?.params }),
  bindings({ exchange: e, rpcMethod: method, params: p }) {
    return {
      mcp: new Map<string, CelJson>([
        ['method', method],
        ['tool', method === 'tools/call' ? str(p?.name) || str(e.target) : ''],
        ['arguments', method === 'tools/call' || method === 'prompts/get' ? toCel(p?.arguments ?? {}) : new Map()],
        ['resource', method.startsWith('resources/') ? str(p?.uri) || str(e.target) : ''],
        ['prompt', method === 'prompts/get' ? str(p?.name) || str(e.target) : ''],
        ['session', e.session_id ?? ''],
        ['server', mcpServer(e)],
      ]),
    };
  },
};
