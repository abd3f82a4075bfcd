// Integration test of the MCP route over the legacy HTTP+SSE transport (2024-11-05) with real
// v1 SDK peers: SSEServerTransport and SSEClientTransport. Responses arrive on the GET stream,
// not in the POST that carried the request, so tapwire must rewrite the `endpoint` event
// (relative, and absolute in a server variant) to post back through itself, and correlate
// each response on the stream with its POSTed request. Run directly and through tapwire.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, mcpColumns, one, probeLegacySse, ProgressGate, ROUTE, startLegacySseServer, startMcpTapwire } from '../support/mcp.js';

/** The current scenario's progress gate (the server is shared by the direct and through runs). */
let gate = new ProgressGate();

function buildServer(): McpServer {
  const mcp = new McpServer({ name: 'tapwire-legacy-fixture', version: '1.0.0' });
  mcp.registerTool('echo', { inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
  mcp.registerTool('count', { inputSchema: {} }, async (_args, extra) => {
    const token = extra._meta?.progressToken;
    if (token !== undefined) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 1 } });
      await gate.wait(1);
    }
    return { content: [{ type: 'text', text: 'counted' }] };
  });
  mcp.registerTool('ask-model', { inputSchema: { question: z.string() } }, async ({ question }, extra) => {
    const sampled = await mcp.server.createMessage(
      { messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 20 },
      { relatedRequestId: extra.requestId },
    );
    return { content: [{ type: 'text', text: `model said: ${sampled.content.type === 'text' ? sampled.content.text : '?'}` }] };
  });
  return mcp;
}

async function scenario(url: string): Promise<unknown> {
  const samplingSeen: unknown[] = [];
  const connected = await connectClient('sse', url, {
    sampling: (request) => {
      samplingSeen.push(request.params.messages);
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: 'blue' } };
    },
  });
  const { client } = connected;
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { msg: 'over the legacy stream' } });
  const progress: Progress[] = [];
  gate = new ProgressGate();
  const counted = await client.callTool({ name: 'count', arguments: {} }, undefined, {
    onprogress: (p) => {
      progress.push(p);
      gate.pass();
    },
  });
  const sampled = await client.callTool({ name: 'ask-model', arguments: { question: 'Sky colour?' } });
  await connected.close();
  assert.deepEqual(progress, [{ progress: 1, total: 1 }]);
  return { tools, echo, progress, counted, sampled, samplingSeen };
}

describe('MCP legacy HTTP+SSE (v1 SSEServerTransport and SSEClientTransport)', () => {
  for (const variant of ['relative', 'absolute'] as const) {
    test(`${variant === 'absolute' ? 'an' : 'a'} ${variant} endpoint: same results through tapwire, responses on the stream matched to their POSTs`, async (t) => {
      const server = await startLegacySseServer(buildServer, { absoluteEndpoint: variant === 'absolute' });
      t.after(() => server.close());
      const tapwire = await startMcpTapwire(t, server.origin);

      // The endpoint event as each side announces it: through tapwire it names tapwire's route,
      // and a POST there is answered as the server answers it (202 "Accepted", the response on
      // the stream).
      const directProbe = await probeLegacySse(`${server.origin}/sse`);
      const throughProbe = await probeLegacySse(`${tapwire.url}/${ROUTE}/sse`);
      const prefix = variant === 'absolute' ? server.origin : '';
      assert.match(directProbe.endpoint, new RegExp(`^event: endpoint\\ndata: ${prefix}/messages\\?sessionId=[0-9a-f-]{36}\\n\\n$`));
      const tapwirePrefix = variant === 'absolute' ? tapwire.url : '';
      assert.match(throughProbe.endpoint, new RegExp(`^event: endpoint\\ndata: ${tapwirePrefix}/${ROUTE}/messages\\?sessionId=[0-9a-f-]{36}\\n\\n$`));
      assert.deepEqual(directProbe.posted, { status: 202, body: 'Accepted' });
      assert.deepEqual(throughProbe.posted, directProbe.posted);
      assert.equal(throughProbe.answer, directProbe.answer);
      assert.equal(directProbe.answer, 'event: message\ndata: {"result":{},"jsonrpc":"2.0","id":"probe"}\n\n');

      const direct = await scenario(`${server.origin}/sse`);
      const seenBefore = server.seen.length;
      const through = await scenario(`${tapwire.url}/${ROUTE}/sse`);
      assert.deepEqual(through, direct);

      // Through tapwire, the client posted to the rewritten endpoint and tapwire to the server's.
      const posts = server.seen.slice(seenBefore).filter((r) => r.method === 'POST');
      assert.ok(posts.length >= 6);
      const sessionId = new URL(posts[0]!.url, server.origin).searchParams.get('sessionId');
      assert.ok(sessionId);
      for (const post of posts) assert.equal(post.url, `/messages?sessionId=${sessionId}`);

      const exchanges = await tapwire.stop();
      const mine = exchanges.filter((e) => e.session_id === sessionId);
      const probed = one(exchanges, { method: 'ping' });
      assert.deepEqual(
        { ...mcpColumns(probed), session_id: null },
        { method: 'ping', target: null, direction: 'client_to_server', jsonrpc_id: '"probe"', session_id: null, status: 'ok', error_code: null, http_status: 200 },
      );
      assert.notEqual(probed.session_id, sessionId);
      assert.deepEqual(
        exchanges.filter((e) => e.session_id !== sessionId && e.id !== probed.id).map((e) => e.method),
        [],
      );
      const init = one(mine, { method: 'initialize' });
      assert.deepEqual(mcpColumns(init), {
        method: 'initialize', target: null, direction: 'client_to_server', jsonrpc_id: '0', session_id: sessionId,
        status: 'ok', error_code: null, http_status: 200,
      });
      const echo = one(mine, { method: 'tools/call', target: 'echo' });
      assert.deepEqual(mcpColumns(echo), {
        method: 'tools/call', target: 'echo', direction: 'client_to_server', jsonrpc_id: '2', session_id: sessionId,
        status: 'ok', error_code: null, http_status: 200,
      });
      assert.equal(echo.output_tokens, countTokens('over the legacy stream'));
      assert.equal(one(mine, { method: 'tools/list' }).status, 'ok');
      const count = one(mine, { method: 'tools/call', target: 'count' });
      assert.equal(count.status, 'ok');
      assert.deepEqual(
        tapwire.record(count.id).events.map((e) => e.event),
        ['notifications/progress'],
      );
      assert.equal(one(mine, { method: 'notifications/progress' }).target, 'count');
      const sampling = one(mine, { method: 'sampling/createMessage' });
      assert.deepEqual(mcpColumns(sampling), {
        method: 'sampling/createMessage', target: null, direction: 'server_to_client', jsonrpc_id: '0', session_id: sessionId,
        status: 'ok', error_code: null, http_status: 200,
      });
      assert.equal(sampling.output_tokens, countTokens('blue'));
      assert.equal(one(mine, { method: 'tools/call', target: 'ask-model' }).status, 'ok');
      assert.deepEqual(
        mine.filter((e) => e.status !== 'ok').map((e) => [e.method, e.error_code]),
        [],
      );
    });
  }

  test('an endpoint named the Python SDK\'s way (/messages/?session_id=): one session, every request matched to its answer', async (t) => {
    // The Python MCP SDK cannot be installed here (no PyPI): the v1 server announces its
    // endpoint the way the Python server does (startLegacySseServer's pythonEndpoint).
    const server = await startLegacySseServer(buildServer, { pythonEndpoint: true });
    t.after(() => server.close());
    const tapwire = await startMcpTapwire(t, server.origin);

    const throughProbe = await probeLegacySse(`${tapwire.url}/${ROUTE}/sse`);
    assert.match(throughProbe.endpoint, new RegExp(`^event: endpoint\\ndata: /${ROUTE}/messages/\\?session_id=[0-9a-f-]{36}\\n\\n$`));
    assert.deepEqual(throughProbe.posted, { status: 202, body: 'Accepted' });
    assert.equal(throughProbe.answer, 'event: message\ndata: {"result":{},"jsonrpc":"2.0","id":"probe"}\n\n');
    await scenario(`${tapwire.url}/${ROUTE}/sse`);

    const exchanges = await tapwire.stop();
    const probed = one(exchanges, { method: 'ping' });
    assert.deepEqual(mcpColumns(probed), {
      method: 'ping', target: null, direction: 'client_to_server', jsonrpc_id: '"probe"', session_id: /session_id=(.*)\n/.exec(throughProbe.endpoint)![1]!,
      status: 'ok', error_code: null, http_status: 200,
    });
    const init = one(exchanges, { method: 'initialize' });
    const mine = exchanges.filter((e) => e.id !== probed.id);
    assert.deepEqual([...new Set(mine.map((e) => e.session_id))], [init.session_id]);
    // Records are written as they complete, not in message order.
    assert.deepEqual(
      mine.map((e) => `${e.direction} ${e.method} ${e.target ?? '-'} ${e.status} ${e.error_code ?? '-'}`).sort(),
      [
        'client_to_server initialize - ok -',
        'client_to_server notifications/initialized - ok -',
        'client_to_server tools/call ask-model ok -',
        'client_to_server tools/call count ok -',
        'client_to_server tools/call echo ok -',
        'client_to_server tools/list - ok -',
        'server_to_client notifications/progress count ok -',
        'server_to_client sampling/createMessage - ok -',
      ],
    );
  });
});
