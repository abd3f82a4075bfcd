// Integration test of the MCP route over Streamable HTTP with real, unmodified v1 SDK peers:
// a stateful McpServer + StreamableHTTPServerTransport (in-memory event store, so SSE `id:`
// lines and priming events flow; DNS-rebinding protection allowing only its own Host and
// Origin, so every request through tapwire proves the Host/Origin rewrite) and the v1 Client
// + StreamableHTTPClientTransport. One scenario runs directly and through tapwire; the client
// must see the same results, and each JSON-RPC exchange must be recorded right.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { z } from 'zod';
import { McpError, LoggingMessageNotificationSchema, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Exchange } from '../../core/exchange.js';
import { bodyJson, connectClient, mcpColumns, one, ProgressGate, ROUTE, startMcpTapwire, startStreamableServer, type McpHttpServer } from '../support/mcp.js';
import { until } from '../support/upstream.js';

/** The current scenario's progress gate (the server is shared by the direct and through runs). */
let gate = new ProgressGate();

function buildServer(): McpServer {
  const mcp = new McpServer({ name: 'tapwire-fixture', version: '1.0.0' }, { capabilities: { logging: {} } });
  mcp.registerTool('echo', { description: 'Echoes its message', inputSchema: { msg: z.string() } }, ({ msg }) => ({
    content: [{ type: 'text', text: msg }],
  }));
  mcp.registerTool('fail', { description: 'Always fails', inputSchema: { why: z.string() } }, ({ why }) => ({
    content: [{ type: 'text', text: `failed: ${why}` }],
    isError: true,
  }));
  mcp.registerTool('count', { description: 'Reports progress twice', inputSchema: {} }, async (_args, extra) => {
    const token = extra._meta?.progressToken;
    if (token !== undefined) {
      for (const progress of [1, 2]) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: 2 } });
        await gate.wait(progress);
      }
    }
    return { content: [{ type: 'text', text: 'counted to 2' }] };
  });
  mcp.registerTool('ask-model', { description: 'Samples the client model', inputSchema: { question: z.string() } }, async ({ question }, extra) => {
    const sampled = await mcp.server.createMessage(
      { messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 20 },
      { relatedRequestId: extra.requestId },
    );
    return { content: [{ type: 'text', text: `model said: ${sampled.content.type === 'text' ? sampled.content.text : '?'}` }] };
  });
  mcp.registerTool('ask-user', { description: 'Elicits a name', inputSchema: {} }, async (_args, extra) => {
    const answer = await mcp.server.elicitInput(
      { message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
      { relatedRequestId: extra.requestId },
    );
    return { content: [{ type: 'text', text: `${answer.action}: ${JSON.stringify(answer.content ?? {})}` }] };
  });
  mcp.registerTool('log', { description: 'Logs on the standalone stream', inputSchema: {} }, async () => {
    // No related request: the SDK sends this on the GET stream.
    await mcp.server.sendLoggingMessage({ level: 'info', data: 'hello from the GET stream' });
    return { content: [{ type: 'text', text: 'logged' }] };
  });
  mcp.registerResource('greeting', 'memo://greeting', { mimeType: 'text/plain', description: 'A greeting' }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Hello, reader.' }],
  }));
  mcp.registerResource('note', new ResourceTemplate('memo://notes/{id}', { list: undefined }), { mimeType: 'text/plain' }, (uri, { id }) => ({
    contents: [{ uri: uri.href, text: `note ${String(id)}` }],
  }));
  mcp.registerPrompt('review', { description: 'Review code', argsSchema: { code: z.string() } }, ({ code }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Please review: ${code}` } }],
  }));
  return mcp;
}

const SAMPLED_TEXT = 'forty-two';

/** Everything the client observed; equal direct and through tapwire. */
interface Observed {
  tools: unknown;
  echo: unknown;
  fail: unknown;
  unknownTool: unknown;
  unknownPrompt: { code: number; message: string };
  resources: unknown;
  greeting: unknown;
  templates: unknown;
  note: unknown;
  prompts: unknown;
  prompt: unknown;
  progress: Progress[];
  counted: unknown;
  sampled: unknown;
  samplingRequest: unknown;
  elicited: unknown;
  elicitationRequest: unknown;
  logged: unknown;
  logMessage: unknown;
}

async function scenario(server: McpHttpServer, url: string): Promise<{ observed: Observed; sessionId: string }> {
  const requests: { sampling?: unknown; elicitation?: unknown } = {};
  const connected = await connectClient(
    'streamable',
    url,
    {
      sampling: (request) => {
        requests.sampling = request.params;
        return { role: 'assistant', model: 'test-model', content: { type: 'text', text: SAMPLED_TEXT } };
      },
      elicitation: (request) => {
        requests.elicitation = request.params;
        return { action: 'accept', content: { name: 'Ada' } };
      },
    },
    new URL(url).origin,
  );
  const { client } = connected;
  const sessionId = connected.sessionId();
  assert.ok(sessionId, 'the server assigned a session id');
  const logMessages: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logMessages.push(n.params));

  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { msg: 'hello tapwire' } });
  const fail = await client.callTool({ name: 'fail', arguments: { why: 'on purpose' } });
  // The v1 McpServer answers an unknown tool with an isError result, not a JSON-RPC error.
  const unknownTool = await client.callTool({ name: 'no-such-tool', arguments: {} });
  const promptError = await client.getPrompt({ name: 'no-such-prompt' }).then(
    () => assert.fail('an unknown prompt must fail'),
    (err: unknown) => err,
  );
  assert.ok(promptError instanceof McpError);
  const resources = await client.listResources();
  const greeting = await client.readResource({ uri: 'memo://greeting' });
  const templates = await client.listResourceTemplates();
  const note = await client.readResource({ uri: 'memo://notes/7' });
  const prompts = await client.listPrompts();
  const prompt = await client.getPrompt({ name: 'review', arguments: { code: 'x = 1' } });
  const progress: Progress[] = [];
  gate = new ProgressGate();
  const counted = await client.callTool({ name: 'count', arguments: {} }, undefined, {
    onprogress: (p) => {
      progress.push(p);
      gate.pass();
    },
  });
  const sampled = await client.callTool({ name: 'ask-model', arguments: { question: 'What is six times seven?' } });
  const elicited = await client.callTool({ name: 'ask-user', arguments: {} });
  // The log goes on the GET stream, which the client opens on its own after initializing.
  await until(() => server.openStreams() === 1, 'the GET stream');
  const logged = await client.callTool({ name: 'log', arguments: {} });
  await until(() => logMessages.length === 1, 'the log notification');
  await connected.close(true);
  return {
    sessionId,
    observed: {
      tools,
      echo,
      fail,
      unknownTool,
      unknownPrompt: { code: promptError.code, message: promptError.message },
      resources,
      greeting,
      templates,
      note,
      prompts,
      prompt,
      progress,
      counted,
      sampled,
      samplingRequest: requests.sampling,
      elicited,
      elicitationRequest: requests.elicitation,
      logged,
      logMessage: logMessages[0],
    },
  };
}

describe('MCP Streamable HTTP (v1 SDK client and server)', () => {
  test('the client sees the same results through tapwire, and every exchange is recorded', async (t) => {
    const server = await startStreamableServer(buildServer, { eventStore: true, dnsRebindingProtection: true });
    t.after(() => server.close());
    const direct = await scenario(server, `${server.origin}/mcp`);
    const seenDirect = server.seen.length;

    const tapwire = await startMcpTapwire(t, server.origin);
    const through = await scenario(server, `${tapwire.url}/${ROUTE}/mcp`);
    assert.deepEqual(through.observed, direct.observed);
    assert.equal(direct.observed.unknownPrompt.code, -32602);
    assert.deepEqual(direct.observed.progress, [
      { progress: 1, total: 2 },
      { progress: 2, total: 2 },
    ]);

    // DNS-rebinding protection let every forwarded request in: Host and Origin name the server.
    const forwarded = server.seen.slice(seenDirect);
    assert.ok(forwarded.length > 10);
    for (const r of forwarded) {
      assert.equal(r.headers.host, `127.0.0.1:${server.port}`);
      assert.equal(r.headers.origin, server.origin);
    }
    assert.deepEqual(
      forwarded.map((r) => r.method).filter((m) => m !== 'POST'),
      ['GET', 'DELETE'],
    );

    const exchanges = await tapwire.stop();
    const sid = through.sessionId;
    for (const e of exchanges) {
      assert.equal(e.protocol, 'mcp');
      assert.equal(e.route, ROUTE);
      assert.equal(e.session_id, sid, `${e.method} is recorded under the Mcp-Session-Id`);
    }
    const c2s = (method: string, target: string | null = null): Exchange => one(exchanges, { method, target, direction: 'client_to_server' });

    const init = c2s('initialize');
    assert.deepEqual(mcpColumns(init), {
      method: 'initialize', target: null, direction: 'client_to_server', jsonrpc_id: '0', session_id: sid,
      status: 'ok', error_code: null, http_status: 200,
    });
    assert.equal(c2s('notifications/initialized').http_status, 202);

    // tools/list: output = the tools array, broken down per tool in details.
    const list = c2s('tools/list');
    assert.equal(list.status, 'ok');
    const listed = bodyJson(tapwire.record(list.id).response) as { result: { tools: { name: string }[] } };
    assert.deepEqual(
      listed.result.tools.map((tool) => tool.name),
      ['echo', 'fail', 'count', 'ask-model', 'ask-user', 'log'],
    );
    assert.equal(list.tokens_estimated, 1);
    assert.equal(list.input_tokens, 0);
    assert.equal(list.output_tokens, countTokens(JSON.stringify(listed.result.tools)));
    const perTool = (JSON.parse(list.details ?? '{}') as { tool_tokens: Record<string, number> }).tool_tokens;
    assert.deepEqual(perTool, Object.fromEntries(listed.result.tools.map((tool) => [tool.name, countTokens(JSON.stringify(tool))])));
    for (const n of Object.values(perTool)) assert.ok(n > 0);

    const echo = c2s('tools/call', 'echo');
    assert.deepEqual(mcpColumns(echo), {
      method: 'tools/call', target: 'echo', direction: 'client_to_server', jsonrpc_id: '2', session_id: sid,
      status: 'ok', error_code: null, http_status: 200,
    });
    assert.equal(echo.input_tokens, countTokens(JSON.stringify({ msg: 'hello tapwire' })));
    assert.equal(echo.output_tokens, countTokens('hello tapwire'));
    assert.equal(echo.tokens_estimated, 1);

    const fail = c2s('tools/call', 'fail');
    assert.equal(fail.status, 'error');
    assert.equal(fail.error_code, 'tool_error');
    assert.equal(fail.error_message, 'failed: on purpose');
    const unknownTool = c2s('tools/call', 'no-such-tool');
    assert.equal(unknownTool.error_code, 'tool_error');
    assert.equal(unknownTool.error_message, 'MCP error -32602: Tool no-such-tool not found');

    const badPrompt = c2s('prompts/get', 'no-such-prompt');
    assert.equal(badPrompt.status, 'error');
    assert.equal(badPrompt.error_code, '-32602');
    assert.equal(`MCP error -32602: ${badPrompt.error_message}`, direct.observed.unknownPrompt.message);

    assert.equal(c2s('resources/list').status, 'ok');
    const greeting = c2s('resources/read', 'memo://greeting');
    assert.equal(greeting.output_tokens, countTokens('Hello, reader.'));
    assert.equal(c2s('resources/templates/list').status, 'ok');
    assert.equal(c2s('resources/read', 'memo://notes/7').output_tokens, countTokens('note 7'));
    assert.equal(c2s('prompts/list').status, 'ok');
    const review = c2s('prompts/get', 'review');
    assert.equal(review.input_tokens, countTokens(JSON.stringify({ code: 'x = 1' })));
    assert.equal(review.output_tokens, countTokens('Please review: x = 1'));

    // Progress: exchanges of their own, and events of the tools/call they report on.
    const count = c2s('tools/call', 'count');
    const progress = exchanges.filter((e) => e.method === 'notifications/progress');
    assert.deepEqual(
      progress.map((e) => [e.direction, e.target, e.jsonrpc_id, e.status]),
      [
        ['server_to_client', 'count', null, 'ok'],
        ['server_to_client', 'count', null, 'ok'],
      ],
    );
    const countEvents = tapwire.record(count.id).events;
    assert.deepEqual(
      countEvents.map((ev) => [ev.event, (JSON.parse(ev.data) as { params: { progress: number } }).params.progress]),
      [
        ['notifications/progress', 1],
        ['notifications/progress', 2],
      ],
    );
    assert.equal(count.output_tokens, countTokens('counted to 2'));

    // Sampling and elicitation: server-to-client requests on the tools/call stream, completed
    // by the client's reply in a POST of its own.
    const sampling = one(exchanges, { method: 'sampling/createMessage', direction: 'server_to_client' });
    assert.deepEqual(mcpColumns(sampling), {
      method: 'sampling/createMessage', target: null, direction: 'server_to_client', jsonrpc_id: '0', session_id: sid,
      status: 'ok', error_code: null, http_status: 200,
    });
    const samplingRecord = tapwire.record(sampling.id);
    assert.deepEqual(bodyJson(samplingRecord.response), {
      jsonrpc: '2.0', id: 0, result: { role: 'assistant', model: 'test-model', content: { type: 'text', text: SAMPLED_TEXT } },
    });
    assert.equal(sampling.output_tokens, countTokens(SAMPLED_TEXT));
    assert.equal(
      sampling.input_tokens,
      countTokens(JSON.stringify([{ role: 'user', content: { type: 'text', text: 'What is six times seven?' } }])),
    );
    assert.equal(c2s('tools/call', 'ask-model').status, 'ok');
    const elicitation = one(exchanges, { method: 'elicitation/create', direction: 'server_to_client' });
    assert.equal(elicitation.jsonrpc_id, '1');
    assert.equal(elicitation.status, 'ok');
    assert.deepEqual(bodyJson(tapwire.record(elicitation.id).response), { jsonrpc: '2.0', id: 1, result: { action: 'accept', content: { name: 'Ada' } } });

    // The log notification came on the GET stream.
    const log = one(exchanges, { method: 'notifications/message', direction: 'server_to_client' });
    assert.equal(log.status, 'ok');
    assert.deepEqual((bodyJson(tapwire.record(log.id).request) as { params: unknown }).params, {
      level: 'info', data: 'hello from the GET stream',
    });

    // terminateSession: the DELETE is recorded, and the session is over.
    const del = one(exchanges, { method: 'DELETE' });
    assert.equal(del.status, 'ok');
    assert.equal(del.http_status, 200);
    assert.equal(exchanges.at(-1)?.id, del.id, 'nothing was left open to be ended after the DELETE');

    // Nothing else: no orphan responses, nothing left pending.
    assert.deepEqual(
      exchanges.filter((e) => e.error_code === 'unmatched_response' || e.status === 'aborted').map((e) => e.method),
      [],
    );
  });
});
