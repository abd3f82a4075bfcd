// OpenTelemetry for MCP: a v1 SDK client calls a v1 SDK Streamable HTTP server through two
// chained sidecars (agent → sidecar A → sidecar B → server), both exporting over OTLP/HTTP to
// a real endpoint the test runs. A tools/call carrying `params._meta.traceparent` must give
// one trace: A's span the child of the agent's, B's the child of A's (the `traceparent`
// header A sends), the server receiving B's; spans named and attributed per the MCP
// conventions, tool errors as error spans, and the MCP duration metric served. A command
// route (a stdio server tapwire runs) exports a span for every row it records, DELETE included.
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONTENT_MAX_CHARS, TRUNCATED_MARK } from '../../telemetry/content.js';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Exchange } from '../../core/exchange.js';
import { connectClient, startStreamableServer, type McpHttpServer } from '../support/mcp.js';
import { spanOfExchange, startOtlpCollector, SPAN_KIND_CLIENT, STATUS_ERROR, type OtlpCollector } from '../support/otlp.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import { startTestSidecarFor } from '../support/sidecar.js';

const STDIO_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));

const AGENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const AGENT_SPAN = 'b7ad6b7169203331';

function buildServer(): McpServer {
  const mcp = new McpServer({ name: 'tapwire-telemetry-fixture', version: '1.0.0' });
  mcp.registerTool('echo', { description: 'Echoes its message', inputSchema: { msg: z.string() } }, ({ msg }) => ({
    content: [{ type: 'text', text: msg }],
  }));
  mcp.registerTool('fail', { description: 'Always fails', inputSchema: {} }, () => ({ content: [{ type: 'text', text: 'no' }], isError: true }));
  return mcp;
}

function yaml(agent: string, upstream: string, collector: OtlpCollector): string {
  return [`agent: { name: ${agent} }`, 'routes:', '  mcp:', '    protocol: mcp', `    upstream: ${upstream}`, 'telemetry:', `  endpoint: ${collector.url}`].join('\n');
}

function toolCall(rows: Exchange[], tool: string): Exchange {
  const found = rows.filter((e) => e.method === 'tools/call' && e.target === tool);
  assert.equal(found.length, 1, `one tools/call ${tool}`);
  return found[0]!;
}

describe('OpenTelemetry for MCP calls', () => {
  let server: McpHttpServer;
  let collector: OtlpCollector;

  before(async () => {
    server = await startStreamableServer(buildServer);
    collector = await startOtlpCollector();
  });

  after(async () => {
    await server.close();
    await collector.close();
  });

  test('two chained sidecars: tools/call spans form one trace under the agent span from params._meta', async (t) => {
    const gateway = await startTestSidecarFor(t, yaml('gateway', server.origin, collector));
    const planner = await startTestSidecarFor(t, yaml('planner', `${gateway.url}/mcp`, collector));
    const connected = await connectClient('streamable', `${planner.url}/mcp/mcp`);
    const { client } = connected;
    const echoed = await client.callTool({ name: 'echo', arguments: { msg: 'traced' }, _meta: { traceparent: `00-${AGENT_TRACE}-${AGENT_SPAN}-01` } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'traced' }]);
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    assert.equal(failed.isError, true);
    const session = connected.sessionId();
    await connected.close();

    const plannerRows = await planner.stop();
    const gatewayRows = await gateway.stop();
    const spans = collector.spans();

    const a = spanOfExchange(spans, toolCall(plannerRows, 'echo').id);
    const b = spanOfExchange(spans, toolCall(gatewayRows, 'echo').id);
    assert.equal(a.traceId, AGENT_TRACE);
    assert.equal(a.parentSpanId, AGENT_SPAN);
    assert.equal(b.traceId, AGENT_TRACE);
    assert.equal(b.parentSpanId, a.spanId, "the gateway's span is the child of the planner's");
    assert.equal(toolCall(plannerRows, 'echo').span_id, a.spanId);
    assert.equal(toolCall(gatewayRows, 'echo').trace_id, AGENT_TRACE);
    const upstreamTraceparents = server.seen.map((r) => r.headers.traceparent);
    assert.ok(upstreamTraceparents.includes(`00-${AGENT_TRACE}-${b.spanId}-01`), 'the server got the gateway span as its parent');

    assert.equal(a.name, 'tools/call echo');
    assert.equal(a.kind, SPAN_KIND_CLIENT);
    assert.deepEqual(
      Object.fromEntries(
        ['mcp.method.name', 'gen_ai.operation.name', 'gen_ai.tool.name', 'mcp.session.id', 'jsonrpc.request.id', 'network.transport', 'tapwire.route'].map(
          (k) => [k, a.attributes[k]],
        ),
      ),
      {
        'mcp.method.name': 'tools/call',
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'echo',
        'mcp.session.id': session,
        'jsonrpc.request.id': toolCall(plannerRows, 'echo').jsonrpc_id,
        'network.transport': 'tcp',
        'tapwire.route': 'mcp',
      },
    );
    assert.equal(typeof a.attributes['mcp.protocol.version'], 'string');
    assert.equal(a.attributes['gen_ai.tool.call.arguments'], undefined, 'no tool arguments unless capture_content is on');
    assert.equal(a.attributes['gen_ai.tool.call.result'], undefined, 'no tool result unless capture_content is on');
    assert.equal(a.resource['gen_ai.agent.name'], 'planner');

    const failSpan = spanOfExchange(spans, toolCall(plannerRows, 'fail').id);
    assert.equal(failSpan.statusCode, STATUS_ERROR);
    assert.equal(failSpan.attributes['error.type'], 'tool_error');
    assert.equal(failSpan.parentSpanId, null, 'no trace context from the agent: a trace of its own');

    const initialize = plannerRows.find((e) => e.method === 'initialize')!;
    assert.equal(spanOfExchange(spans, initialize.id).name, 'initialize');
  });

  test('capture_content: tool arguments and results on tools/call spans, redacted and capped', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      [yaml('planner', server.origin, collector), '  capture_content: true'].join('\n'),
      ['rules:', '  - name: mask-tokens', '    when: protocol == "mcp"', '    action: redact', "    redact: { patterns: ['tok_[a-z0-9]+'] }", ''].join('\n'),
    );
    const connected = await connectClient('streamable', `${tapwire.url}/mcp/mcp`);
    const echoed = await connected.client.callTool({ name: 'echo', arguments: { msg: 'key tok_abc123 here' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'key tok_abc123 here' }], 'the agent gets the real answer');
    const long = 'x'.repeat(CONTENT_MAX_CHARS * 2);
    await connected.client.callTool({ name: 'echo', arguments: { msg: long } });
    await connected.close();
    const rows = await tapwire.stop();
    const spans = collector.spans();
    const [first, second] = rows.filter((e) => e.method === 'tools/call').map((e) => spanOfExchange(spans, e.id));
    assert.deepEqual(JSON.parse(String(first!.attributes['gen_ai.tool.call.arguments'])), { msg: 'key [redacted] here' });
    assert.deepEqual(JSON.parse(String(first!.attributes['gen_ai.tool.call.result'])), { content: [{ type: 'text', text: 'key [redacted] here' }] });
    for (const key of ['gen_ai.tool.call.arguments', 'gen_ai.tool.call.result']) {
      const value = String(second!.attributes[key]);
      assert.equal(value.length, CONTENT_MAX_CHARS, `${key} is capped`);
      assert.ok(value.endsWith(TRUNCATED_MARK));
    }
  });

  test('GET /_tapwire/metrics counts MCP requests and their durations by method and tool', async (t) => {
    const tapwire = await startTestSidecarFor(t, yaml('planner', server.origin, collector));
    const connected = await connectClient('streamable', `${tapwire.url}/mcp/mcp`);
    await connected.client.callTool({ name: 'echo', arguments: { msg: 'counted' } });
    await connected.client.callTool({ name: 'fail', arguments: {} });
    await connected.close();
    const text = await (await fetch(`${tapwire.url}/_tapwire/metrics`)).text();
    const lines = text.split('\n');
    const has = (name: string, labels: string[]): boolean => lines.some((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
    assert.ok(has('mcp_client_operation_duration_count', ['mcp_method_name="tools/call"', 'gen_ai_tool_name="echo"', 'network_transport="tcp"']), text);
    assert.ok(has('mcp_client_operation_duration_count', ['gen_ai_tool_name="fail"', 'error_type="tool_error"']), text);
    assert.ok(has('tapwire_exchanges_total', ['tapwire_protocol="mcp"', 'tapwire_method="tools/call"', 'tapwire_status="error"']), text);
    assert.ok(has('tapwire_exchanges_total', ['tapwire_method="notifications/initialized"']), text);
  });

  test('a command route (stdio server): every recorded exchange, the DELETE included, has its span, over a pipe', async (t) => {
    const route = ['  tiny:', '    protocol: mcp', `    command: ${JSON.stringify(process.execPath)}`, `    args: [${JSON.stringify(STDIO_SERVER)}]`];
    const tapwire = await startTestSidecarFor(t, ['agent: { name: planner }', 'routes:', ...route, 'telemetry:', `  endpoint: ${collector.url}`].join('\n'));
    const transport = new StreamableHTTPClientTransport(new URL(`${tapwire.url}/tiny/mcp`));
    const client = new Client({ name: 'telemetry-stdio', version: '1.0.0' });
    await client.connect(transport);
    await client.callTool({ name: 'echo', arguments: { text: 'over a pipe' } });
    await transport.terminateSession();
    await client.close();
    const rows = await tapwire.stop();

    assert.ok(rows.some((e) => e.method === 'DELETE'), `a DELETE row among ${rows.map((e) => e.method).join(', ')}`);
    const spans = collector.spans();
    for (const row of rows) {
      const span = spanOfExchange(spans, row.id);
      assert.equal(span.spanId, row.span_id, `the ${row.method} row names its span`);
    }
    assert.equal(spanOfExchange(spans, rows.find((e) => e.method === 'DELETE')!.id).name, 'DELETE');
    const call = toolCall(rows, 'echo');
    assert.equal(spanOfExchange(spans, call.id).attributes['network.transport'], 'pipe');
  });
});
