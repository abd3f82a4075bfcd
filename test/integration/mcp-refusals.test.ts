// The refusals tapwire writes in an MCP server's place, as real clients receive them. The
// issue was found with the Python MCP SDK 2.x, which cannot be installed here (no PyPI), so
// the official Node SDKs stand in: the v2 client pinned to 2026-07-28, which requires
// `resultType` on every result as the Python client does, and the v1 SSEClientTransport for
// the legacy HTTP+SSE transport, where answers travel on the GET stream, not on the POST.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { connectV2, MODERN, startV2Server } from '../support/mcp-v2.js';
import { connectClient, mcpColumns, one, probeLegacySse, startLegacySseServer } from '../support/mcp.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';

/** Denies tools/call of `sample` before it is sent, and any tool answer that mentions "secret". */
const POLICY = [
  'rules:',
  '  - name: no-sampling-tools',
  '    when: mcp.method == "tools/call" && mcp.tool == "sample"',
  '    action: deny',
  '    message: sampling needs a human',
  '  - name: no-secrets-out',
  '    phase: response',
  '    when: mcp.method == "tools/call" && response.text.contains("secret")',
  '    action: deny',
  '    message: the answer held a secret',
  '',
].join('\n');

/** A sidecar with the MCP route `tools` → `upstream` and POLICY; stopped when the test ends. */
function startRefusing(t: TestContext, upstream: string): Promise<TestSidecar> {
  return startWithPolicy(t, `routes:\n  tools:\n    protocol: mcp\n    upstream: ${upstream}\n`, POLICY);
}

describe('MCP refusals for a 2026-07-28 client (v2 SDK, pinned)', () => {
  test('request- and response-phase denials are tool errors the client accepts, and its session goes on', async (t) => {
    const server = await startV2Server(t);
    const tapwire = await startRefusing(t, server.origin);
    const client = await connectV2(t, `${tapwire.url}/tools/mcp`, 'pin');
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    // Listing first lets the client send echo's Mcp-Param-Region header, which the v2 server requires.
    const listed = await client.listTools();
    assert.deepEqual(listed.tools.map((tool) => tool.name).sort(), ['confirm', 'echo', 'progress']);

    const refused = await client.callTool({ name: 'sample', arguments: {} });
    assert.equal(refused.isError, true);
    assert.deepEqual(refused.content, [{ type: 'text', text: 'tapwire policy no-sampling-tools: sampling needs a human' }]);
    const withheld = await client.callTool({ name: 'echo', arguments: { msg: 'the secret', region: 'eu' } });
    assert.equal(withheld.isError, true);
    assert.deepEqual(withheld.content, [{ type: 'text', text: 'tapwire policy no-secrets-out: the answer held a secret' }]);
    const echoed = await client.callTool({ name: 'echo', arguments: { msg: 'still works', region: 'eu' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'still works@eu' }]);
    await client.close();

    const exchanges = await tapwire.stop();
    const calls = exchanges.filter((e) => e.method === 'tools/call');
    assert.deepEqual(
      calls.map((e) => [e.target, e.status, e.policy_rule]),
      [
        ['sample', 'denied', 'no-sampling-tools'],
        ['echo', 'denied', 'no-secrets-out'],
        ['echo', 'ok', null],
      ],
    );
  });
});

/** A v1 server with `echo` and `delete_file`, served over the legacy HTTP+SSE transport. */
function legacyFixture(calls: string[]): () => McpServer {
  return () => {
    const mcp = new McpServer({ name: 'legacy-refusals', version: '1.0.0' });
    mcp.registerTool('echo', { inputSchema: { msg: z.string() } }, ({ msg }) => {
      calls.push(`echo ${msg}`);
      return { content: [{ type: 'text', text: msg }] };
    });
    mcp.registerTool('sample', { inputSchema: {} }, () => {
      calls.push('sample');
      return { content: [{ type: 'text', text: 'sampled' }] };
    });
    return mcp;
  };
}

describe('MCP refusals over legacy HTTP+SSE (v1 SSEClientTransport)', () => {
  test('a refusal arrives on the GET stream (the POST gets 202) and the session goes on', async (t) => {
    const calls: string[] = [];
    const server = await startLegacySseServer(legacyFixture(calls));
    t.after(() => server.close());
    const tapwire = await startRefusing(t, server.origin);
    // The SDK's default request timeout is 60 s; a refusal that never arrives must fail the test sooner.
    const timeout = { timeout: 5000 };

    // On the wire: the POST is answered as the transport answers POSTs, the refusal comes on the stream.
    const probed = await probeLegacySse(`${tapwire.url}/tools/sse`, '{"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"sample","arguments":{}}}');
    assert.deepEqual(probed.posted, { status: 202, body: 'Accepted' });
    assert.equal(
      probed.answer,
      'event: message\ndata: {"jsonrpc":"2.0","id":"p","result":{"content":[{"type":"text","text":"tapwire policy no-sampling-tools: sampling needs a human"}],"isError":true}}\n\n',
    );

    const connected = await connectClient('sse', `${tapwire.url}/tools/sse`);
    const { client } = connected;

    // Answers on the stream go through the rules too: the denied tool is not listed.
    const listed = await client.listTools(undefined, timeout);
    assert.deepEqual(listed.tools.map((tool) => tool.name), ['echo']);
    const refused = await client.callTool({ name: 'sample', arguments: {} }, undefined, timeout);
    assert.equal(refused.isError, true);
    assert.deepEqual(refused.content, [{ type: 'text', text: 'tapwire policy no-sampling-tools: sampling needs a human' }]);
    const withheld = await client.callTool({ name: 'echo', arguments: { msg: 'the secret' } }, undefined, timeout);
    assert.equal(withheld.isError, true);
    assert.deepEqual(withheld.content, [{ type: 'text', text: 'tapwire policy no-secrets-out: the answer held a secret' }]);
    const echoed = await client.callTool({ name: 'echo', arguments: { msg: 'still works' } }, undefined, timeout);
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'still works' }]);
    await connected.close();
    assert.deepEqual(calls, ['echo the secret', 'echo still works'], 'the refused call never reached the server');

    const exchanges = await tapwire.stop();
    const sessionId = one(exchanges, { method: 'initialize' }).session_id;
    assert.deepEqual(
      exchanges.filter((e) => e.method === 'tools/call' && e.jsonrpc_id !== '"p"').map(mcpColumns),
      [
        { method: 'tools/call', target: 'sample', direction: 'client_to_server', jsonrpc_id: '2', session_id: sessionId, status: 'denied', error_code: null, http_status: 200 },
        { method: 'tools/call', target: 'echo', direction: 'client_to_server', jsonrpc_id: '3', session_id: sessionId, status: 'denied', error_code: null, http_status: 200 },
        { method: 'tools/call', target: 'echo', direction: 'client_to_server', jsonrpc_id: '4', session_id: sessionId, status: 'ok', error_code: null, http_status: 200 },
      ],
    );
  });
});
