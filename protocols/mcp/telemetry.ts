// An MCP message's OpenTelemetry, per the MCP semantic conventions: its span (named after the
// JSON-RPC method and its target, with mcp.*, jsonrpc.* and, for tools/call, the GenAI tool
// attributes and, when captured, the tool's arguments and result) and the client operation
// duration of the requests the client sent. Telemetry picks it from its table
// (protocols/telemetry-table.ts).
import type { Attributes, Histogram } from '@opentelemetry/api';
import type { ExchangeRecord } from '../../core/exchange.js';
import { bodyJson, requestHeader, setAttribute, withTarget, type RouteTarget, type SpanOptions } from '../../telemetry/attributes.js';
import { putContent } from '../../telemetry/content.js';
import { countedRpcMethod } from '../../telemetry/metrics.js';
import type { InstrumentFactory, ProtocolMetrics, ProtocolTelemetry } from '../../telemetry/protocol-telemetry.js';

/** mcp.client.operation.duration buckets, in seconds (MCP conventions). */
const MCP_SECONDS_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** True when an MCP exchange is a request the client sent and the server answered (not a notification). */
function isClientRequest(record: ExchangeRecord): boolean {
  const e = record.exchange;
  return e.direction === 'client_to_server' && e.jsonrpc_id !== null && e.method !== null && !e.method.startsWith('(');
}

/** Content attributes of a tools/call: its arguments and its result (or JSON-RPC error). */
function toolContent(request: Record<string, unknown>, response: Record<string, unknown>, attributes: Attributes): void {
  const params = request.params !== null && typeof request.params === 'object' && !Array.isArray(request.params) ? (request.params as Record<string, unknown>) : {};
  putContent(attributes, 'gen_ai.tool.call.arguments', params.arguments);
  putContent(attributes, 'gen_ai.tool.call.result', response.result ?? response.error);
}

function mcpSpan(record: ExchangeRecord, attributes: Attributes, route: RouteTarget, options: SpanOptions): string {
  const e = record.exchange;
  const method = e.method ?? '(unknown)';
  setAttribute(attributes, 'mcp.method.name', method);
  if (method === 'tools/call') {
    setAttribute(attributes, 'gen_ai.operation.name', 'execute_tool');
    setAttribute(attributes, 'gen_ai.tool.name', e.target);
    if (options.captureContent) toolContent(bodyJson(record.request), bodyJson(record.response), attributes);
  }
  setAttribute(attributes, 'mcp.session.id', e.session_id?.startsWith('conn-') ? null : e.session_id);
  setAttribute(attributes, 'mcp.protocol.version', requestHeader(record, 'mcp-protocol-version'));
  setAttribute(attributes, 'jsonrpc.request.id', e.jsonrpc_id);
  // A JSON-RPC error's code is recorded as the error code: it is the response's status code.
  if (e.error_code !== null && /^-?\d+$/.test(e.error_code)) setAttribute(attributes, 'rpc.response.status_code', e.error_code);
  setAttribute(attributes, 'network.transport', route.pipe ? 'pipe' : 'tcp');
  setAttribute(attributes, 'tapwire.direction', e.direction);
  return withTarget(method, e.target);
}

/** mcp.client.operation.duration of each answered client request. */
class McpMetrics implements ProtocolMetrics {
  private readonly duration: Histogram;

  constructor(meter: InstrumentFactory) {
    this.duration = meter.createHistogram('mcp.client.operation.duration', {
      unit: 's',
      description: 'Duration of an MCP request as the client sees it',
      advice: { explicitBucketBoundaries: MCP_SECONDS_BUCKETS },
    });
  }

  record(record: ExchangeRecord, target: RouteTarget, errorType: string | null): void {
    const e = record.exchange;
    if (!isClientRequest(record) || e.duration_ms === null) return;
    const attributes: Attributes = { 'mcp.method.name': e.method!, 'network.transport': target.pipe ? 'pipe' : 'tcp' };
    if (e.method === 'tools/call') setAttribute(attributes, 'gen_ai.tool.name', e.target);
    this.duration.record(e.duration_ms / 1000, setAttribute(attributes, 'error.type', errorType));
  }
}

export const mcpTelemetry: ProtocolTelemetry = {
  span: mcpSpan,
  countedMethod: countedRpcMethod,
  metrics: (meter) => new McpMetrics(meter),
};
