// An openapi route's MCP server, run by tapwire in the process: what a federated session
// (protocols/mcp/federation-session.ts) talks to in place of a member server's transport.
// It answers initialize, ping, tools/list (one tool per operation) and tools/call (the REST
// call, protocols/openapi/call.ts); other requests are "method not found", notifications
// need nothing. Sessions, revisions, policies and the MCP records are the federated
// session's: this only answers.
import type { Exchange } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { classify, errorResponse, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, type JsonRpcId } from '../../core/jsonrpc.js';
import type { UpstreamConnection, UpstreamHandlers } from '../mcp/federation-upstream.js';
import { callOperation, type CallContext } from './call.js';
import type { Json } from './document.js';
import type { Operation } from './operations.js';

/** Answered to an initialize that names no protocol version. */
const DEFAULT_VERSION = '2025-06-18';

/** An openapi route's tools and how to call them, shared by its sessions. */
export interface OpenApiService {
  call: CallContext;
  operations: ReadonlyMap<string, Operation>;
  serverInfo: { name: string; version: string };
  instructions: string | null;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** One session's connection to the route's in-process server. */
export class OpenApiConnection implements UpstreamConnection {
  /** Nothing travels between tapwire and itself; the route's headers go on the REST calls. */
  readonly sentHeaders: HeaderMap = {};
  readonly answersWithinSend = true;

  constructor(
    private readonly service: OpenApiService,
    private readonly handlers: UpstreamHandlers,
  ) {}

  initialized(): void {}

  async send(message: Record<string, unknown>, _traceparent?: string, record?: Exchange): Promise<void> {
    if (typeof message.method !== 'string' || message.id === undefined) return; // a notification, or an answer to a request it never sends
    const id = message.id as JsonRpcId;
    const params = isObject(message.params) ? message.params : {};
    // Whatever goes wrong here is this call's error, never the session's end.
    const answer = await this.answer(id, message.method, params, record).catch((err: unknown) => errorResponse(id, INTERNAL_ERROR, `tapwire: ${(err as Error).message}`));
    const text = JSON.stringify(answer);
    this.handlers.onMessage(classify(answer), Buffer.from(text), { headers: {}, httpStatus: null, via: id });
  }

  async close(): Promise<void> {}

  private async answer(id: JsonRpcId, method: string, params: Json, record: Exchange | undefined): Promise<Json> {
    const { service } = this;
    switch (method) {
      case 'initialize': {
        const result: Json = {
          protocolVersion: typeof params.protocolVersion === 'string' ? params.protocolVersion : DEFAULT_VERSION,
          capabilities: { tools: { listChanged: false } },
          serverInfo: service.serverInfo,
          ...(service.instructions ? { instructions: service.instructions } : {}),
        };
        return { jsonrpc: '2.0', id, result };
      }
      case 'ping':
        return { jsonrpc: '2.0', id, result: {} };
      case 'tools/list':
        return { jsonrpc: '2.0', id, result: { tools: [...service.operations.values()].map((op) => op.tool) } };
      case 'tools/call': {
        const op = typeof params.name === 'string' ? service.operations.get(params.name) : undefined;
        if (!op) return errorResponse(id, INVALID_PARAMS, `Unknown tool: ${JSON.stringify(params.name)}`);
        const args = isObject(params.arguments) ? params.arguments : {};
        return { jsonrpc: '2.0', id, result: await callOperation(service.call, op, args, record) };
      }
      default:
        return errorResponse(id, METHOD_NOT_FOUND, `Method not found: ${method}`);
    }
  }
}
