// Routes with a `command`: the sidecar runs a stdio MCP server per session and serves it as
// Streamable HTTP. The v1 SDK's StreamableHTTPClientTransport gets the same results through
// tapwire as a stdio client gets from the server itself; responses, progress and server
// requests ride the POST's stream, other server messages the GET stream; DELETE, idleness,
// a crash and the sidecar's stop each end the session's process; everything is recorded.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { EVERYTHING, everythingSession, isProgressOfThreeSteps, isRunning, withoutProgress, type EverythingResults } from '../support/mcp-everything.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { until } from '../support/upstream.js';

const TEST_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));

function routeYaml(name: string, args: string[], extra: string[] = []): string[] {
  return [
    `  ${name}:`,
    '    protocol: mcp',
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [${args.map((a) => JSON.stringify(a)).join(', ')}]`,
    ...extra.map((line) => `    ${line}`),
  ];
}

const ROUTES = {
  everything: routeYaml('everything', [EVERYTHING, 'stdio']),
  tiny: routeYaml('tiny', [TEST_SERVER]),
  idle: routeYaml('idle', [TEST_SERVER], ['timeouts: { session_idle_ms: 50 }']),
};

/** A sidecar for one test with the named command routes, stopped and removed when it ends. */
async function sidecarWith(t: TestContext, names: (keyof typeof ROUTES)[]): Promise<TestSidecar> {
  return startTestSidecarFor(t, ['routes:', ...names.flatMap((name) => ROUTES[name])].join('\n'));
}

async function httpClient(url: string, capabilities: Record<string, object> = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: 'stdio-route-test', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return { client, transport };
}

async function pidOf(client: Client): Promise<number> {
  const result = await client.callTool({ name: 'pid', arguments: {} });
  return Number((result.content as { text: string }[])[0]!.text);
}

function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

describe('MCP command routes (stdio servers over Streamable HTTP)', () => {
  test('an SDK client gets the same results over HTTP as a stdio client gets from the server, server requests included', async (t) => {
    const tapwire = await sidecarWith(t, ['everything']);
    const sampling = (client: Client): void =>
      client.setRequestHandler(CreateMessageRequestSchema, () => ({ model: 'fake', role: 'assistant', content: { type: 'text', text: 'sampled' } }));
    const session = async (client: Client): Promise<{ everything: EverythingResults; sampled: unknown }> => ({
      everything: await everythingSession(client),
      sampled: await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } }),
    });

    const direct = new Client({ name: 'stdio-route-test', version: '1.0.0' }, { capabilities: { sampling: {} } });
    sampling(direct);
    await direct.connect(new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'pipe' }));
    let expected;
    try {
      expected = await session(direct);
    } finally {
      await direct.close();
    }

    const { client, transport } = await httpClient(`${tapwire.url}/everything/mcp`, { sampling: {} });
    sampling(client);
    const sessionId = transport.sessionId;
    let got;
    try {
      got = await session(client);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
    assert.deepEqual({ ...got, everything: withoutProgress(got.everything) }, { ...expected, everything: withoutProgress(expected.everything) });
    assert.ok(isProgressOfThreeSteps(got.everything.progress), 'the progress notifications the client saw are in order');
    assert.match(JSON.stringify(got.sampled), /sampled/);
    assert.match(sessionId ?? '', /^[0-9a-f-]{36}$/);

    const exchanges = (await tapwire.stop()).filter((e) => e.route === 'everything');
    assert.ok(exchanges.every((e) => e.session_id === sessionId));
    const requests = exchanges.filter((e) => e.jsonrpc_id !== null && e.direction === 'client_to_server');
    assert.deepEqual(
      requests.map((e) => [e.method, e.target, e.status, e.http_status]).sort(),
      [
        ['initialize', null, 'ok', 200],
        ['prompts/get', 'simple-prompt', 'ok', 200],
        ['prompts/list', null, 'ok', 200],
        ['resources/list', null, 'ok', 200],
        ['resources/read', got.everything.resourceUri, 'ok', 200],
        ['tools/call', 'echo', 'ok', 200],
        ['tools/call', 'get-sum', 'ok', 200],
        ['tools/call', 'trigger-long-running-operation', 'ok', 200],
        ['tools/call', 'trigger-sampling-request', 'ok', 200],
        ['tools/list', null, 'ok', 200],
      ].sort(),
    );
    const serverRequest = exchanges.find((e) => e.method === 'sampling/createMessage')!;
    assert.deepEqual([serverRequest.direction, serverRequest.status, serverRequest.http_status], ['server_to_client', 'ok', 202], 'the status of the POST that carried the answer');
    const toolsList = requests.find((e) => e.method === 'tools/list')!;
    assert.equal(toolsList.tokens_estimated, 1);
    assert.ok(toolsList.output_tokens! > 100);
    const longRunning = requests.find((e) => e.target === 'trigger-long-running-operation')!;
    assert.equal(tapwire.record(longRunning.id).events.length, 3, 'every progress notification the server sent');
    assert.ok(exchanges.some((e) => e.method === 'DELETE' && e.http_status === 200));
  });

  test('server messages tied to no request go on the GET stream', async (t) => {
    const tapwire = await sidecarWith(t, ['tiny']);
    const { client } = await httpClient(`${tapwire.url}/tiny`);
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(n.params.data));
    try {
      // The client opens its GET stream on its own after initializing; until it is open,
      // such messages are dropped (as the SDKs' servers drop them), so ask until one arrives.
      for (let i = 0; logged.length === 0 && i < 50; i++) {
        await client.callTool({ name: 'log', arguments: { text: `note ${i}` } });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(logged.length > 0, 'a logging notification arrived on the GET stream');
    } finally {
      await client.close();
    }
  });

  test('DELETE ends the session: its process is stopped and the session id is unknown afterwards', async (t) => {
    const tapwire = await sidecarWith(t, ['tiny']);
    const { client, transport } = await httpClient(`${tapwire.url}/tiny/mcp`);
    const pid = await pidOf(client);
    assert.ok(isRunning(pid));
    const sessionId = transport.sessionId!;
    await transport.terminateSession();
    await until(() => !isRunning(pid), 'the session process to stop');
    const after = await postJson(`${tapwire.url}/tiny/mcp`, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, { 'mcp-session-id': sessionId });
    assert.equal(after.status, 404);
    assert.deepEqual(await after.json(), { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
    await client.close();
  });

  test('a server that crashes with a request pending: the client gets a JSON-RPC error, the record says server_exited', async (t) => {
    const tapwire = await sidecarWith(t, ['tiny']);
    const { client, transport } = await httpClient(`${tapwire.url}/tiny`);
    const sessionId = transport.sessionId!;
    const failure = await client.callTool({ name: 'exit', arguments: { code: 3 } }).then(
      () => assert.fail('the call should fail'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof McpError);
    assert.match(failure.message, /tapwire: the MCP server exited with code 3/);
    const after = await postJson(`${tapwire.url}/tiny`, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, { 'mcp-session-id': sessionId });
    assert.equal(after.status, 404);
    await client.close();
    const exchanges = await tapwire.stop();
    const call = exchanges.find((e) => e.session_id === sessionId && e.target === 'exit')!;
    assert.deepEqual([call.status, call.error_code], ['error', 'server_exited']);
    const answer = JSON.parse(tapwire.record(call.id).response!.body!.toString()) as { error: { message: string } };
    assert.match(answer.error.message, /exited with code 3/);
  });

  test('a session whose client went away is stopped once idle', async (t) => {
    const tapwire = await sidecarWith(t, ['idle']);
    const { client } = await httpClient(`${tapwire.url}/idle`);
    const pid = await pidOf(client);
    await client.close(); // closes the GET stream: nothing is left open
    await until(() => !isRunning(pid), 'the idle session process to stop');
  });

  test("stopping the sidecar stops every session's process", async (t) => {
    const tapwire = await sidecarWith(t, ['tiny']);
    const { client } = await httpClient(`${tapwire.url}/tiny`);
    const pid = await pidOf(client);
    await tapwire.stop();
    assert.ok(!isRunning(pid), 'stop() resolves once the process is gone');
    await client.close();
  });

  test('requests the Streamable HTTP rules refuse get the SDK servers\' statuses', async (t) => {
    const tapwire = await sidecarWith(t, ['tiny']);
    {
      const url = `${tapwire.url}/tiny`;
      const noSession = await postJson(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      assert.equal(noSession.status, 400);
      const unknown = await postJson(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-session-id': 'nope' });
      assert.equal(unknown.status, 404);
      const notJson = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{oops' });
      assert.equal(notJson.status, 400);
      assert.equal(((await notJson.json()) as { error: { code: number } }).error.code, -32700);
      const put = await fetch(url, { method: 'PUT' });
      assert.equal(put.status, 405);
      assert.equal(put.headers.get('allow'), 'GET, POST, DELETE');
      const getWithoutSse = await fetch(url, { headers: { accept: 'application/json', 'mcp-session-id': 'x' } });
      assert.equal(getWithoutSse.status, 406);
    }
  });
});
