// Test harness for MCP integration tests with real, unmodified peers: a tapwire sidecar with
// one `mcp` route, v1 SDK servers on node:http (Streamable HTTP and the legacy HTTP+SSE
// transport), @modelcontextprotocol/server-everything as a child process pinned to
// 127.0.0.1, a v1 SDK client for either transport, and readers for what tapwire recorded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { Exchange, ExchangeRecord } from '../../core/exchange.js';
import { startTestSidecarFor, type TestSidecar } from './sidecar.js';

/** The name of the sidecar's MCP route: the agent talks to `<tapwire>/mcp/...`. */
export const ROUTE = 'mcp';

/**
 * Starts a sidecar whose route `mcp` forwards to `upstream` (and each of `more`, name ->
 * upstream, likewise); stopped and removed after the test.
 */
export async function startMcpTapwire(t: TestContext, upstream: string, more: Record<string, string> = {}): Promise<TestSidecar> {
  const routes = { [ROUTE]: upstream, ...more };
  const yaml = ['routes:', ...Object.entries(routes).flatMap(([name, url]) => [`  ${name}:`, '    protocol: mcp', `    upstream: ${url}`])].join('\n');
  return startTestSidecarFor(t, yaml);
}

/** What an MCP server saw of one HTTP request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface McpHttpServer {
  /** http://127.0.0.1:<port> */
  origin: string;
  port: number;
  /** Every HTTP request the server received, in arrival order. */
  seen: SeenRequest[];
  /** How many GET streams (server-to-client) are open, their headers sent. */
  openStreams(): number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server, before: () => Promise<void> = async () => {}): () => Promise<void> {
  return async () => {
    await before();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

function jsonError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

export interface StreamableOptions {
  /** An in-memory event store: SSE `id:` lines, and priming events on POST streams. */
  eventStore?: boolean;
  /** DNS-rebinding protection allowing only this server's own Host and Origin. */
  dnsRebindingProtection?: boolean;
  /** Answer POSTs with a JSON body instead of an SSE stream. */
  jsonResponse?: boolean;
}

/**
 * A stateful v1 Streamable HTTP server at `<origin>/mcp`: one McpServer (from `build`) and
 * one StreamableHTTPServerTransport per session, the way the SDK's examples serve it.
 */
export async function startStreamableServer(build: () => McpServer, options: StreamableOptions = {}): Promise<McpHttpServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const seen: SeenRequest[] = [];
  const streams = new Set<ServerResponse>();
  let port = 0;
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    if (req.method === 'GET') {
      streams.add(res);
      res.on('close', () => streams.delete(res));
    }
    void (async () => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') return jsonError(res, 404, -32000, 'Not found');
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      let transport = sessionId ? transports.get(sessionId) : undefined;
      if (!transport) {
        if (sessionId) return jsonError(res, 404, -32001, 'Session not found');
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void transports.set(id, created),
          onsessionclosed: (id) => void transports.delete(id),
          ...(options.eventStore ? { eventStore: new InMemoryEventStore() } : {}),
          ...(options.jsonResponse ? { enableJsonResponse: true } : {}),
          ...(options.dnsRebindingProtection
            ? { enableDnsRebindingProtection: true, allowedHosts: [`127.0.0.1:${port}`], allowedOrigins: [`http://127.0.0.1:${port}`] }
            : {}),
        });
        await build().connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res);
    })().catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
  });
  port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    seen,
    openStreams: () => [...streams].filter((r) => r.headersSent && !r.writableEnded).length,
    close: closer(server, async () => {
      await Promise.all([...transports.values()].map((t) => t.close()));
    }),
  };
}

export interface LegacySseOptions {
  /** Send the endpoint event as an absolute URL (SSEServerTransport itself sends a relative one). */
  absoluteEndpoint?: boolean;
  /**
   * Name the endpoint as the Python MCP SDK's server does, `/messages/?session_id=...`
   * (SSEServerTransport always writes `/messages?sessionId=...`). The Python SDK cannot be
   * installed here, so the unmodified v1 transport serves it, behind a rewrite of that event.
   */
  pythonEndpoint?: boolean;
  /**
   * gzip the GET stream whatever the client accepts (SSEServerTransport never compresses;
   * servers behind a compressing proxy do), each event flushed as it is written.
   */
  gzipStream?: boolean;
}

/**
 * A v1 legacy HTTP+SSE (2024-11-05 transport) server: `GET <origin>/sse` opens the stream,
 * whose `endpoint` event names `POST <origin>/messages?sessionId=...`.
 */
/** Makes everything written to `res` go out gzipped (content-encoding: gzip), flushed at each write. */
function gzipResponse(res: ServerResponse): void {
  const gzip = createGzip({ flush: zlibConstants.Z_SYNC_FLUSH });
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: OutgoingHttpHeaders) => ServerResponse;
  const write = res.write.bind(res) as (chunk: Buffer) => boolean;
  const end = res.end.bind(res) as () => ServerResponse;
  gzip.on('data', (chunk: Buffer) => write(chunk));
  gzip.on('end', () => end());
  const patched = res as unknown as { writeHead: (status: number, headers?: OutgoingHttpHeaders) => ServerResponse; write: (chunk: string | Uint8Array) => boolean; end: () => ServerResponse };
  patched.writeHead = (status, headers) => writeHead(status, { ...headers, 'content-encoding': 'gzip' });
  patched.write = (chunk) => gzip.write(chunk);
  patched.end = () => {
    gzip.end();
    return res;
  };
}

export async function startLegacySseServer(build: () => McpServer, options: LegacySseOptions = {}): Promise<McpHttpServer> {
  const transports = new Map<string, SSEServerTransport>();
  const seen: SeenRequest[] = [];
  let origin = '';
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === '/sse') {
        if (options.absoluteEndpoint || options.pythonEndpoint) {
          // Other servers announce other endpoints; these variants do it by rewriting the
          // event the unmodified transport writes.
          const write = res.write.bind(res) as (chunk: string | Uint8Array) => boolean;
          const rewrite = (text: string): string => {
            const python = options.pythonEndpoint ? text.replace(/^(event: endpoint\ndata: \/messages)\?sessionId=/, '$1/?session_id=') : text;
            return options.absoluteEndpoint ? python.replace(/^(event: endpoint\ndata: )\//, `$1${origin}/`) : python;
          };
          (res as unknown as { write: (chunk: string | Uint8Array) => boolean }).write = (chunk) => write(typeof chunk === 'string' ? rewrite(chunk) : chunk);
        }
        if (options.gzipStream) gzipResponse(res);
        const transport = new SSEServerTransport('/messages', res);
        transports.set(transport.sessionId, transport);
        res.on('close', () => transports.delete(transport.sessionId));
        await build().connect(transport);
        return;
      }
      if (req.method === 'POST' && url.pathname === (options.pythonEndpoint ? '/messages/' : '/messages')) {
        const transport = transports.get(url.searchParams.get(options.pythonEndpoint ? 'session_id' : 'sessionId') ?? '');
        if (!transport) {
          res.writeHead(404).end('unknown session');
          return;
        }
        await transport.handlePostMessage(req, res);
        return;
      }
      res.writeHead(404).end();
    })().catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
  });
  const port = await listen(server);
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    seen,
    openStreams: () => transports.size,
    close: closer(server, async () => {
      await Promise.all([...transports.values()].map((t) => t.close()));
    }),
  };
}

export interface LegacySseProbe {
  /** The endpoint event, raw. */
  endpoint: string;
  /** What the POST of the message to that endpoint answered. */
  posted: { status: number; body: string };
  /** The next event on the stream: the message's answer. */
  answer: string;
}

/**
 * Opens a legacy SSE stream by hand, reads the endpoint event, and POSTs `message` (a ping by
 * default) to that endpoint, without initializing: what each side of the transport carries.
 */
export async function probeLegacySse(sseUrl: string, message = '{"jsonrpc":"2.0","id":"probe","method":"ping"}'): Promise<LegacySseProbe> {
  const controller = new AbortController();
  const response = await fetch(sseUrl, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  assert.ok(response.body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const nextEvent = async (): Promise<string> => {
    while (!text.includes('\n\n')) {
      const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
      if (done) throw new Error('the stream ended');
      text += decoder.decode(value, { stream: true });
    }
    const end = text.indexOf('\n\n') + 2;
    const event = text.slice(0, end);
    text = text.slice(end);
    return event;
  };
  const endpoint = await nextEvent();
  const target = new URL(/^data: (.*)$/m.exec(endpoint)?.[1] ?? '', sseUrl);
  const post = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: message });
  const posted = { status: post.status, body: await post.text() };
  const answer = await nextEvent();
  controller.abort();
  return { endpoint, posted, answer };
}

export interface SpawnedServer {
  origin: string;
  close(): Promise<void>;
}

/**
 * Runs @modelcontextprotocol/server-everything in `mode` on a free loopback port. It has no
 * host option, so a preload forces its listen() onto 127.0.0.1 and reports the port.
 */
export async function spawnEverything(mode: 'streamableHttp' | 'sse'): Promise<SpawnedServer> {
  const bin = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');
  const preload = fileURLToPath(new URL('./listen-localhost.js', import.meta.url));
  const child = spawn(process.execPath, ['--import', preload, bin, mode], {
    env: { PATH: process.env.PATH ?? '', PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /LISTENING (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`server-everything exited (${code}) before listening: ${text}`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    async close(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface ClientHandlers {
  sampling?: (request: CreateMessageRequest) => CreateMessageResult;
  elicitation?: (request: ElicitRequest) => ElicitResult;
}

export interface Connected {
  client: Client;
  /** Ends the MCP session (DELETE) when the transport has one, then closes the client. */
  close(terminate?: boolean): Promise<void>;
  sessionId(): string | undefined;
}

/**
 * Connects a v1 SDK client over Streamable HTTP (`kind` 'streamable') or legacy SSE. With
 * `origin`, every request carries that Origin header, as a browser-hosted agent's would.
 */
export async function connectClient(
  kind: 'streamable' | 'sse',
  url: string,
  handlers: ClientHandlers = {},
  origin?: string,
): Promise<Connected> {
  const capabilities = { ...(handlers.sampling ? { sampling: {} } : {}), ...(handlers.elicitation ? { elicitation: {} } : {}) };
  const client = new Client({ name: 'tapwire-test', version: '1.0.0' }, { capabilities });
  const { sampling, elicitation } = handlers;
  if (sampling) client.setRequestHandler(CreateMessageRequestSchema, (request) => sampling(request));
  if (elicitation) client.setRequestHandler(ElicitRequestSchema, (request) => elicitation(request));
  const requestInit = origin ? { headers: { origin } } : undefined;
  if (kind === 'streamable') {
    const transport = new StreamableHTTPClientTransport(new URL(url), requestInit ? { requestInit } : {});
    await client.connect(transport);
    return {
      client,
      sessionId: () => transport.sessionId,
      async close(terminate = false): Promise<void> {
        if (terminate) await transport.terminateSession();
        await client.close();
      },
    };
  }
  const transport = new SSEClientTransport(new URL(url), requestInit ? { requestInit } : {});
  await client.connect(transport);
  return { client, sessionId: () => undefined, close: () => client.close() };
}

/**
 * Lets a fixture tool wait until the in-process client has seen each progress notification
 * before it sends the next or returns: the v1 client handles a notification a microtask
 * after it arrives but a response at once, so a progress notification that arrives in the
 * same read as the result is dropped (a known SDK race, not something tapwire should hide).
 */
export class ProgressGate {
  private seen = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  pass(): void {
    this.seen++;
    this.waiters = this.waiters.filter((w) => (w.n <= this.seen ? (w.resolve(), false) : true));
  }
  wait(n: number): Promise<void> {
    return n <= this.seen ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** The columns of an MCP exchange a user reads first, for one deepEqual. */
export type McpColumns = Pick<
  Exchange,
  'method' | 'target' | 'direction' | 'jsonrpc_id' | 'session_id' | 'status' | 'error_code' | 'http_status'
>;

export function mcpColumns(e: Exchange): McpColumns {
  return {
    method: e.method,
    target: e.target,
    direction: e.direction,
    jsonrpc_id: e.jsonrpc_id,
    session_id: e.session_id,
    status: e.status,
    error_code: e.error_code,
    http_status: e.http_status,
  };
}

/** The one recorded exchange matching `where`; fails when there is none or more than one. */
export function one(exchanges: Exchange[], where: Partial<Exchange>, what = JSON.stringify(where)): Exchange {
  const found = exchanges.filter((e) => Object.entries(where).every(([k, v]) => e[k as keyof Exchange] === v));
  if (found.length !== 1) {
    const seen = exchanges.map((e) => `${e.direction} ${e.method} ${e.target ?? ''} id=${e.jsonrpc_id} ${e.status} ${e.error_code ?? ''}`);
    throw new Error(`expected one exchange ${what}, found ${found.length} among:\n  ${seen.join('\n  ')}`);
  }
  return found[0]!;
}

/** A recorded body parsed as JSON. */
export function bodyJson(payload: ExchangeRecord['request']): unknown {
  if (!payload?.body) throw new Error('the payload has no body');
  return JSON.parse(Buffer.from(payload.body).toString('utf8')) as unknown;
}

/**
 * What an agent sees of the stdio policy tests' rules (`no-writes` denies write_file, `no-pings`
 * denies ping) on test/support/mcp-stdio-server.ts, whichever way tapwire serves it: write_file
 * hidden and refused as a tool error, ping refused with -32040, echo still answered.
 */
export async function assertStdioPolicies(client: Client, target: string): Promise<void> {
  const tools = await client.listTools();
  assert.deepEqual(tools.tools.map((tool) => tool.name).sort(), ['argv', 'echo', 'exit', 'kill', 'leak', 'log', 'pid']);
  const denied = await client.callTool({ name: 'write_file', arguments: { path: target, text: 'x' } });
  assert.equal(denied.isError, true);
  assert.deepEqual(denied.content, [{ type: 'text', text: 'tapwire policy no-writes: writes need a human' }]);
  await assert.rejects(client.ping(), (err: unknown) => err instanceof McpError && err.code === -32040 && /no-pings/.test(err.message));
  const echoed = await client.callTool({ name: 'echo', arguments: { text: 'still works' } });
  assert.deepEqual(echoed.content, [{ type: 'text', text: 'still works' }]);
}
