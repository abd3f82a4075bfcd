// `tapwire mock`: an HTTP server that answers from the record instead of an upstream, on the
// same route paths as the sidecar, so an agent's clients point at it unchanged. Requests are
// matched per protocol (tools/replay-match.ts); LLM streams are replayed event by event
// (instantly, or at their recorded offsets), MCP answers carry the live JSON-RPC id and
// progress token and a fresh session id, A2A answers the live JSON-RPC id and cards that
// point back at the mock. A request no recording matches gets an error naming the field that
// differed from the nearest recording, or, with `onMiss: 'forward'`, is sent to the route's
// upstream from the config. Each protocol's keys and answers are its MockProtocol
// (tools/mock/), picked from MOCK_PROTOCOLS.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request as undiciRequest } from 'undici';
import type { CompiledExpression } from '../policies/cel.js';
import type { JsonPath } from './canonical-json.js';
import { openRecordReader } from '../store/open.js';
import { RecordingPool, type KeyPart } from './replay-match.js';
import { selectRecords } from './select.js';
import type { Config } from '../config/config.js';
import type { ExchangeEvent, ExchangeRecord, Protocol } from '../core/exchange.js';
import { forwardableHeaders } from '../core/headers.js';
import { splitListen } from '../proxy/listener.js';
import { a2aMock } from './mock/a2a.js';
import { llmMock } from './mock/llm.js';
import { mcpMock } from './mock/mcp.js';
import { sendJson, type MockContext, type MockProtocol, type MockRequest, type MockRoute } from './mock/mock-protocol.js';

export interface MockOptions {
  db: string;
  /** host:port; port 0 picks a free one. */
  listen: string;
  onMiss: 'error' | 'forward';
  /** Streams: every event at once, or each at its recorded offset from the start of the response. */
  timing: 'instant' | 'recorded';
  /** LLM body paths left out of the match. */
  ignore: readonly JsonPath[];
  filter?: CompiledExpression | null;
  /** Routes' upstreams (for `forward` and to strip upstream base paths); without one, routes are known from the record alone. */
  config?: Config | null;
}

export interface MockServer {
  url: string;
  /** How many recorded exchanges can be served. */
  loaded: number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** How each protocol's routes are served; a protocol absent here (plain HTTP) is not. */
const MOCK_PROTOCOLS: Readonly<Partial<Record<Protocol, MockProtocol>>> = { llm: llmMock, mcp: mcpMock, a2a: a2aMock };

/** The match key of a recorded exchange, or null when the mock cannot serve it. `basePath`: the route upstream's path. */
function recordedKey(record: ExchangeRecord, ignored: readonly JsonPath[], basePath: string): KeyPart[] | null {
  const e = record.exchange;
  if (e.direction !== 'client_to_server' || !record.response) return null;
  return MOCK_PROTOCOLS[e.protocol]?.recordedKey(record, ignored, basePath) ?? null;
}

export async function startMock(options: MockOptions): Promise<MockServer> {
  const routes = new Map<string, MockRoute>();
  let loaded = 0;
  const reader = await openRecordReader(options.db);
  try {
    for await (const record of selectRecords(reader, { filter: options.filter ?? null })) {
      const e = record.exchange;
      const upstream = options.config?.routes[e.route]?.upstream;
      const basePath = upstream ? new URL(upstream).pathname.replace(/\/+$/, '') : '';
      const key = recordedKey(record, options.ignore, basePath);
      if (!key) continue;
      let route = routes.get(e.route);
      if (!route) routes.set(e.route, (route = { protocol: e.protocol, provider: e.provider, pool: new RecordingPool() }));
      route.pool.add(e.id, key, record);
      loaded++;
    }
  } finally {
    await reader.close();
  }

  let origin = '';

  async function forwardMiss({ req, res, name, rest, body }: MockRequest): Promise<boolean> {
    const rc = options.config?.routes[name];
    if (options.onMiss !== 'forward' || !rc?.upstream) return false;
    const upstream = new URL(rc.upstream);
    const headers: Record<string, string | string[]> = { ...forwardableHeaders(req.headers, ['content-length']) };
    for (const [k, v] of Object.entries(rc.headers)) headers[k.toLowerCase()] = v;
    const answer = await undiciRequest(`${upstream.origin}${upstream.pathname.replace(/\/+$/, '')}${rest}`, {
      method: (req.method ?? 'GET') as 'GET',
      headers,
      body: body.length > 0 ? body : null,
    });
    res.writeHead(answer.statusCode, forwardableHeaders(answer.headers));
    for await (const chunk of answer.body) res.write(chunk as Buffer);
    res.end();
    return true;
  }

  /** Writes recorded events (SSE text, or AWS event-stream frames), each through `edit` (null drops it), instantly or at their offsets. */
  async function writeEvents(res: ServerResponse, events: readonly ExchangeEvent[], edit: (event: ExchangeEvent) => string | Buffer | null): Promise<void> {
    const start = Date.now();
    for (const event of events) {
      if (options.timing === 'recorded') {
        const wait = event.offset_ms - (Date.now() - start);
        if (wait > 0) await sleep(wait);
      }
      const text = edit(event);
      if (text !== null) res.write(text);
    }
    res.end();
  }

  const context: MockContext = {
    options,
    get origin() {
      return origin;
    },
    forwardMiss,
    writeEvents,
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    // A client given a route URL without a trailing slash may ask at the root (A2A: for the
    // agent card): the only route whose protocol serves that path there gets the request.
    const rootRoutes = [...routes].filter(([, r]) => MOCK_PROTOCOLS[r.protocol]?.rootPaths?.includes(url)).map(([n]) => n);
    const atRoot = rootRoutes.length === 1;
    const slash = url.indexOf('/', 1);
    const end = slash === -1 ? url.length : slash;
    // Route names are plain path characters, compared as sent (as the sidecar does).
    const name = atRoot ? rootRoutes[0]! : url.slice(1, end).split('?', 1)[0]!;
    const rest = atRoot ? url : url.slice(end) || '/';
    const route = routes.get(name);
    if (!route) {
      return sendJson(res, 404, { error: { code: 'unknown_route', message: `tapwire mock has no recordings for route "${name}"; routes: ${[...routes.keys()].join(', ') || '(none)'}` } });
    }
    const body = await readBody(req);
    const mock = MOCK_PROTOCOLS[route.protocol];
    if (!mock) return sendJson(res, 404, { error: { code: 'unsupported_protocol', message: `tapwire mock does not serve ${route.protocol} routes` } });
    return mock.serve(context, { req, res, name, route, rest, body });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'tapwire_mock_internal', message: (err as Error).message } });
      else res.destroy();
    });
  });
  const [host, port] = splitListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return {
    url: origin,
    loaded,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
