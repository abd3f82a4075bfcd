// Integration test of the MCP route when one side breaks the protocol: an agent body that is
// not JSON-RPC goes to the server unchanged (the server owns the protocol and answers it) and
// is recorded as invalid; a server answer that is not JSON-RPC reaches the real v1 SDK client
// as a well-formed JSON-RPC error naming the problem; an upstream that is down gives the
// client an error and the record says why. After each, the sidecar still serves a real MCP
// session on another route.
//
// The misbehaving servers are hand-written node:http peers: no SDK server can be made to
// answer with HTML or with JSON that is not JSON-RPC, and a hand-written one can report the
// exact bytes it received, which is the point of the first case.
import type { ServerResponse } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { TestSidecar } from '../support/sidecar.js';
import { connectClient, mcpColumns, one, ROUTE, startMcpTapwire, startStreamableServer } from '../support/mcp.js';
import { rejectionOf } from '../support/routes.js';
import { closedPortUrl, type ReceivedRequest, upstreamFor } from '../support/upstream.js';

const GOOD = 'good';

/** A real v1 MCP server on a second route, to show the sidecar still serves after a failure. */
async function withGoodRoute(t: TestContext, upstream: string): Promise<TestSidecar> {
  const good = await startStreamableServer(() => {
    const mcp = new McpServer({ name: 'good', version: '1.0.0' });
    mcp.registerTool('echo', { inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
    return mcp;
  });
  t.after(() => good.close());
  return startMcpTapwire(t, upstream, { [GOOD]: `${good.origin}` });
}

async function stillServes(tapwire: TestSidecar): Promise<void> {
  const connected = await connectClient('streamable', `${tapwire.url}/${GOOD}/mcp`);
  const result = await connected.client.callTool({ name: 'echo', arguments: { msg: 'still here' } });
  assert.deepEqual(result.content, [{ type: 'text', text: 'still here' }]);
  await connected.close(true);
}

const INITIALIZE_RESULT = {
  protocolVersion: '2025-11-25',
  capabilities: { tools: {} },
  serverInfo: { name: 'scripted', version: '1.0.0' },
};

/**
 * An MCP-ish server in the sessionless style: answers initialize, 202 for notifications, 405
 * for the GET stream, and hands every other request to `answer`.
 */
function mcpish(answer: (message: { id: unknown; method: string }, res: ServerResponse) => void): (req: ReceivedRequest, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    let message: { id?: unknown; method?: string };
    try {
      message = JSON.parse(req.body.toString('utf8')) as { id?: unknown; method?: string };
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
      return;
    }
    if (typeof message.method !== 'string') {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}');
      return;
    }
    if (message.id === undefined) return void res.writeHead(202).end();
    if (message.method === 'initialize') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: INITIALIZE_RESULT }));
      return;
    }
    answer({ id: message.id, method: message.method }, res);
  };
}

describe('MCP route with bad input', () => {
  test('a body that is not JSON-RPC reaches the server unchanged and is recorded as invalid', async (t) => {
    const server = await upstreamFor(t, mcpish(() => assert.fail('no request should parse')));
    const tapwire = await withGoodRoute(t, server.url);
    const bodies = ['{"jsonrpc":"2.0","method":"tools/list",', '{"hello":"world"}', '[]', 'not json at all'];
    const answers: { status: number; body: string }[] = [];
    for (const body of bodies) {
      const response = await fetch(`${tapwire.url}/${ROUTE}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body,
      });
      answers.push({ status: response.status, body: await response.text() });
    }
    assert.deepEqual(
      server.requests.map((r) => r.body.toString('utf8')),
      bodies,
    );
    // The agent got the server's own answers.
    assert.deepEqual(answers, [
      { status: 400, body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}' },
      { status: 400, body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}' },
      { status: 400, body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}' },
      { status: 400, body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}' },
    ]);
    await stillServes(tapwire);

    const exchanges = (await tapwire.stop()).filter((e) => e.route === ROUTE);
    assert.deepEqual(
      exchanges.map((e) => [e.method, e.status, e.error_code, e.http_status]),
      bodies.map(() => ['POST /mcp', 'error', 'invalid_jsonrpc', 400]),
    );
    assert.match(exchanges[0]!.error_message ?? '', /^the agent sent a body that is not JSON-RPC: invalid JSON/);
    assert.equal(exchanges[1]!.error_message, 'the agent sent a body that is not JSON-RPC: neither a request, a notification nor a response');
    assert.equal(exchanges[2]!.error_message, 'the agent sent a body that is not JSON-RPC: empty batch');
    assert.deepEqual(
      exchanges.map((e) => tapwire.record(e.id).request?.body?.toString('utf8')),
      bodies,
    );
  });

  const garbage = [
    {
      what: 'HTML with status 200 to initialize',
      body: '<html><body>Welcome to nginx!</body></html>',
      contentType: 'text/html',
      method: 'initialize',
      problem: /answered with something that is not JSON-RPC \(invalid JSON: /,
    },
    {
      what: 'JSON that is not JSON-RPC to tools/list',
      body: '{"tools":"soon"}',
      contentType: 'application/json',
      method: 'tools/list',
      problem: /answered with something that is not JSON-RPC \(neither a request, a notification nor a response\)/,
    },
  ];
  for (const { what, body, contentType, method, problem } of garbage) {
    const answer = (res: ServerResponse): void => void res.writeHead(200, { 'content-type': contentType }).end(body);
    test(`a server answering ${what}: the SDK client gets a JSON-RPC error naming the problem`, async (t) => {
      const server = await upstreamFor(t, (req, res) => {
        if (method === 'initialize' && req.method === 'POST') return answer(res);
        mcpish((_message, r) => answer(r))(req, res);
      });
      const tapwire = await withGoodRoute(t, server.url);

      // Directly, the SDK fails on its own terms; through tapwire it gets a JSON-RPC error.
      const direct = await rejectionOf(
        (async () => {
          const connected = await connectClient('streamable', `${server.url}/mcp`);
          await connected.client.listTools();
        })(),
      );
      assert.ok(direct instanceof Error);
      const err = await rejectionOf(
        (async () => {
          const connected = await connectClient('streamable', `${tapwire.url}/${ROUTE}/mcp`);
          t.after(() => connected.close());
          await connected.client.listTools();
        })(),
      );
      assert.ok(err instanceof McpError, `an McpError, got ${String(err)}`);
      assert.equal(err.code, -32603);
      assert.match(err.message, problem);
      assert.match(err.message, new RegExp(`the MCP server behind route "${ROUTE}"`));
      await stillServes(tapwire);

      const exchanges = (await tapwire.stop()).filter((e) => e.route === ROUTE);
      const failed = one(exchanges, { method });
      assert.deepEqual(
        { ...mcpColumns(failed), session_id: null },
        {
          method, target: null, direction: 'client_to_server', jsonrpc_id: method === 'initialize' ? '0' : '1', session_id: null,
          status: 'error', error_code: 'upstream_invalid_jsonrpc', http_status: 200,
        },
      );
      assert.match(failed.error_message ?? '', problem);
      // The record keeps what the server really sent, not tapwire's replacement.
      const response = tapwire.record(failed.id).response;
      assert.equal(response?.body?.toString('utf8'), body);
    });
  }

  test('an upstream that is down: the SDK client gets an error, the record says upstream_unreachable', async (t) => {
    const down = await closedPortUrl();
    const tapwire = await withGoodRoute(t, down);
    const err = await rejectionOf(connectClient('streamable', `${tapwire.url}/${ROUTE}/mcp`));
    assert.ok(err instanceof StreamableHTTPError, `a StreamableHTTPError, got ${String(err)}`);
    assert.equal(err.code, 502);
    // The body is a JSON-RPC error for the initialize request, naming the problem.
    const body = JSON.parse(err.message.slice(err.message.indexOf('{'))) as unknown;
    assert.deepEqual(body, {
      jsonrpc: '2.0',
      id: 0,
      error: { code: -32603, message: `cannot reach upstream ${down} (route ${ROUTE}): ECONNREFUSED`, data: { tapwire_error: 'upstream_unreachable' } },
    });
    await stillServes(tapwire);

    const exchanges = (await tapwire.stop()).filter((e) => e.route === ROUTE);
    const init = one(exchanges, { method: 'initialize' });
    assert.equal(init.status, 'error');
    assert.equal(init.error_code, 'upstream_unreachable');
    assert.match(init.error_message ?? '', /^cannot reach upstream http:\/\/127\.0\.0\.1:\d+ \(route mcp\): ECONNREFUSED/);
    assert.equal(init.jsonrpc_id, '0');
    assert.equal(init.http_status, 502);
    assert.deepEqual(
      exchanges.map((e) => e.method),
      ['initialize'],
    );
  });
});
