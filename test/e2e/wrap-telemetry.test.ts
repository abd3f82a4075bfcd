// `tapwire wrap` exports OpenTelemetry too: an SDK client runs tapwire wrap (with the OTLP
// endpoint given the standard way, OTEL_EXPORTER_OTLP_ENDPOINT) around a stdio server; once
// tapwire has exited, the real OTLP endpoint the test runs holds one span per recorded
// message, with network.transport=pipe, the trace context from params._meta, the ids the
// rows store, and the MCP metrics.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import { isRunning } from '../support/mcp-everything.js';
import { spanOfExchange, startOtlpCollector, SPAN_KIND_CLIENT, type OtlpCollector } from '../support/otlp.js';
import { until } from '../support/upstream.js';
import { CLI } from '../support/cli.js';

const TEST_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));
const AGENT_TRACE = '5c0ad1f1a3b64e2f9d8e7c6b5a493827';
const AGENT_SPAN = 'a1b2c3d4e5f60718';

describe('tapwire wrap exports spans and metrics', () => {
  let collector: OtlpCollector;
  let dir: string;

  before(async () => {
    collector = await startOtlpCollector();
    dir = mkdtempSync(join(tmpdir(), 'tapwire-wrap-otel-'));
  });

  after(async () => {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('tools/call spans with network.transport=pipe under the _meta traceparent, and the MCP metrics', async () => {
    const dbPath = join(dir, 'wrap.db');
    const env = Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => kv[1] !== undefined));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'wrap', '--route', 'local', '--db', dbPath, '--', process.execPath, TEST_SERVER],
      env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'wrap-test' },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'wrap-telemetry-test', version: '1.0.0' });
    await client.connect(transport);
    const pid = transport.pid!;
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'traced' }, _meta: { traceparent: `00-${AGENT_TRACE}-${AGENT_SPAN}-01` } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'traced' }]);
    await client.close();
    await until(() => !isRunning(pid), 'tapwire wrap to exit', 15_000);

    const db = openDatabase(dbPath, { readonly: true });
    const rows = (() => {
      try {
        return listExchanges(db);
      } finally {
        db.close();
      }
    })();
    const call = rows.find((e) => e.method === 'tools/call' && e.target === 'echo');
    assert.ok(call, 'the tools/call is recorded');
    const spans = collector.spans();
    const span = spanOfExchange(spans, call.id);
    assert.equal(span.name, 'tools/call echo');
    assert.equal(span.kind, SPAN_KIND_CLIENT);
    assert.equal(span.traceId, AGENT_TRACE);
    assert.equal(span.parentSpanId, AGENT_SPAN);
    assert.equal(span.spanId, call.span_id);
    assert.equal(call.trace_id, AGENT_TRACE);
    assert.equal(span.attributes['network.transport'], 'pipe');
    assert.equal(span.attributes['gen_ai.tool.name'], 'echo');
    assert.equal(span.attributes['tapwire.route'], 'local');
    assert.equal(span.resource['service.name'], 'wrap-test');
    const initialize = rows.find((e) => e.method === 'initialize');
    assert.equal(spanOfExchange(spans, initialize!.id).attributes['network.transport'], 'pipe');
    const metrics = collector.metricNames();
    assert.ok(metrics.has('mcp.client.operation.duration'), [...metrics].join(', '));
    assert.ok(metrics.has('tapwire.exchanges'));
  });
});
