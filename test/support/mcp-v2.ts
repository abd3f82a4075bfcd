// Harness for MCP integration tests with real, unmodified peers from the official SDKs: a v2
// server (createMcpHandler, serving the 2026-07-28 era and 2025 clients statelessly) behind
// @modelcontextprotocol/node, a v1 stateful Streamable HTTP server, clients of either SDK,
// and a sidecar whose `mcp` route points at one of those servers. Servers listen on
// 127.0.0.1, port 0, and record the headers of every request they receive.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import * as z from 'zod';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { acceptedContent, createMcpHandler, inputRequired, McpServer, type McpHttpHandler } from '@modelcontextprotocol/server';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1ClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer as V1McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport as V1ServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Exchange } from '../../core/exchange.js';
import { startTestSidecarFor, type TestSidecar } from './sidecar.js';

export const MODERN = '2026-07-28';

/** The request line and headers an MCP server received (bodies are the SDK's business). */
export interface ReceivedHead {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface McpTestServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:PORT/mcp */
  url: string;
  /** The server's origin, the upstream of a tapwire route (the client keeps the /mcp path). */
  origin: string;
  received: ReceivedHead[];
  close(): Promise<void>;
}

/** Serves `handle` on 127.0.0.1:0, recording each request's head; closed (after `onClose`) when the test ends. */
async function listen(
  t: TestContext,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  onClose: () => Promise<void>,
): Promise<{ origin: string; received: ReceivedHead[]; close: () => Promise<void> }> {
  const received: ReceivedHead[] = [];
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      await onClose();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    })());
  t.after(close);
  return { origin: `http://127.0.0.1:${port}`, received, close };
}

/**
 * The v2 server's surface: `echo` (its `region` argument marked `x-mcp-header: Region`),
 * `confirm` (elicitation through an input_required round), `sample` (sampling the same
 * way), `progress` (two progress notifications before its result), the resource
 * `memo://note` and the prompt `greet`. In the 2025 era (stateless legacy serving) the
 * input_required tools cannot reach the client and say so with isError.
 */
function v2Factory(): McpServer {
  const server = new McpServer({ name: 'tapwire-test-v2', version: '2.0.0' }, { capabilities: { logging: {} } });
  server.registerTool(
    'echo',
    { description: 'Echoes a message with the region it was sent to', inputSchema: z.object({ msg: z.string(), region: z.string().meta({ 'x-mcp-header': 'Region' }) }) },
    ({ msg, region }) => ({ content: [{ type: 'text', text: `${msg}@${region}` }] }),
  );
  server.registerTool('confirm', { description: 'Asks the user to confirm', inputSchema: z.object({}) }, (_args, ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'c', z.object({ ok: z.boolean() }));
    if (!answer) {
      return inputRequired({
        inputRequests: { c: inputRequired.elicit({ message: 'sure?', requestedSchema: z.object({ ok: z.boolean() }) }) },
        requestState: 'round1',
      });
    }
    return { content: [{ type: 'text', text: `confirmed=${answer.ok}` }] };
  });
  server.registerTool('sample', { description: 'Asks the client to sample', inputSchema: z.object({}) }, (_args, ctx) => {
    const sampled = ctx.mcpReq.inputResponses?.s;
    if (!sampled) {
      return inputRequired({
        inputRequests: { s: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'say pong' } }], maxTokens: 5 }) },
      });
    }
    return { content: [{ type: 'text', text: `sampled:${JSON.stringify(sampled)}` }] };
  });
  server.registerTool('progress', { description: 'Reports progress twice', inputSchema: z.object({}) }, async (_args, ctx) => {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    if (progressToken !== undefined) {
      for (let progress = 1; progress <= 2; progress++) {
        await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, total: 2 } });
      }
    }
    return { content: [{ type: 'text', text: 'done' }] };
  });
  server.registerResource('note', 'memo://note', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'remember the milk' }] }));
  server.registerPrompt('greet', { description: 'Greets someone', argsSchema: z.object({ name: z.string() }) }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${name}` } }],
  }));
  return server;
}

export interface V2TestServer extends McpTestServer {
  handler: McpHttpHandler;
}

/** A v2 server (createMcpHandler, default stateless legacy serving) on 127.0.0.1, closed when the test ends. */
export async function startV2Server(t: TestContext): Promise<V2TestServer> {
  const handler = createMcpHandler(v2Factory);
  const node = toNodeHandler(handler);
  const { origin, received, close } = await listen(t, (req, res) => void node(req, res), () => handler.close());
  return { url: `${origin}/mcp`, origin, received, handler, close };
}

/** A v1 SDK server with sessions (one transport per Mcp-Session-Id) and the tool `noop`. */
export async function startV1StatefulServer(t: TestContext): Promise<McpTestServer> {
  const transports = new Map<string, V1ServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const sessionId = req.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
    if (!transport) {
      if (typeof sessionId === 'string') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
        return;
      }
      const created = new V1ServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, created),
        onsessionclosed: (id) => void transports.delete(id),
      });
      transport = created;
      const server = new V1McpServer({ name: 'tapwire-test-v1', version: '1.0.0' });
      server.registerTool('noop', { description: 'Does nothing' }, () => ({ content: [{ type: 'text', text: 'ok' }] }));
      await server.connect(transport);
    }
    await transport.handleRequest(req, res);
  };
  const { origin, received, close } = await listen(
    t,
    (req, res) => void handle(req, res).catch(() => res.destroy()),
    async () => {
      await Promise.all([...transports.values()].map((transport) => transport.close()));
    },
  );
  return { url: `${origin}/mcp`, origin, received, close };
}

/**
 * A sidecar with one MCP route, `tools` → `upstream` (plus `extra` YAML lines for the route),
 * stopped (its database removed) when the test ends. `mcpUrl` is the server's /mcp through it.
 */
export async function startMcpTapwire(t: TestContext, upstream: string, extra: string[] = []): Promise<TestSidecar & { mcpUrl: string }> {
  const name = 'tools';
  const tapwire = await startTestSidecarFor(t, ['routes:', `  ${name}:`, '    protocol: mcp', `    upstream: ${upstream}`, ...extra.map((line) => `    ${line}`)].join('\n'));
  return { ...tapwire, mcpUrl: `${tapwire.url}/${name}/mcp` };
}

export type Negotiation = 'auto' | 'pin' | 'legacy';

/**
 * A v2 client that answers sampling with "pong" and elicitation with `{ ok: true }`,
 * connected to `url`; closed when the test ends.
 */
export async function connectV2(t: TestContext, url: string, negotiation: Negotiation): Promise<V2Client> {
  const client = new V2Client(
    { name: 'tapwire-test-client', version: '2.0.0' },
    {
      capabilities: { sampling: {}, elicitation: {} },
      versionNegotiation: { mode: negotiation === 'pin' ? { pin: MODERN } : negotiation },
    },
  );
  client.setRequestHandler('sampling/createMessage', () => ({ role: 'assistant', model: 'fake', content: { type: 'text', text: 'pong' } }));
  client.setRequestHandler('elicitation/create', () => ({ action: 'accept', content: { ok: true } }));
  await client.connect(new V2Transport(new URL(url)));
  t.after(() => client.close());
  return client;
}

/** A v1 SDK client connected to `url`; closed when the test ends. */
export async function connectV1(t: TestContext, url: string): Promise<V1Client> {
  const client = new V1Client({ name: 'tapwire-test-v1-client', version: '1.0.0' });
  await client.connect(new V1ClientTransport(new URL(url)));
  t.after(() => client.close());
  return client;
}

/** The `details` JSON of an exchange, parsed ({} when there is none). */
export function detailsOf(exchange: Exchange): Record<string, unknown> {
  return exchange.details === null ? {} : (JSON.parse(exchange.details) as Record<string, unknown>);
}

/** The recorded exchanges whose JSON-RPC method is `method`, oldest first. */
export function withMethod(exchanges: Exchange[], method: string): Exchange[] {
  return exchanges.filter((e) => e.method === method);
}

/** The MCP headers (mcp-*) of a request a server received, lower-cased names, sorted. */
export function mcpHeaders(head: ReceivedHead): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(head.headers).sort()) {
    const value = head.headers[name];
    if (name.startsWith('mcp-') && typeof value === 'string') out[name] = value;
  }
  return out;
}
