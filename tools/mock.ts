// `tapwire mock`: an HTTP server that answers from the record instead of an upstream, on the
// same route paths as the sidecar, so an agent's clients point at it unchanged. Requests are
// matched per protocol (tools/replay-match.ts); LLM streams are replayed event by event
// (instantly, or at their recorded offsets), MCP answers carry the live JSON-RPC id and
// progress token and a fresh session id, A2A answers the live JSON-RPC id and cards that
// point back at the mock. A request no recording matches gets an error naming the field that
// differed from the nearest recording, or, with `onMiss: 'forward'`, is sent to the route's
// upstream from the config.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request as undiciRequest } from 'undici';
import type { CompiledExpression } from '../policies/cel.js';
import { recordedBody, recordedJson } from '../store/bodies.js';
import { replaceStrings, type JsonPath } from './canonical-json.js';
import { openRecordReader } from '../store/open.js';
import { llmKey, mcpKey, RecordingPool, type KeyPart, type Miss } from './replay-match.js';
import { selectRecords } from './select.js';
import { isAgentCard } from '../protocols/a2a/card.js';
import { AGENT_CARD_PATH, describeCall, OLD_AGENT_CARD_PATH } from '../protocols/a2a/wire.js';
import type { Config } from '../config/config.js';
import { DECODED_FROM_HEADER } from '../core/encoding.js';
import type { ExchangeEvent, ExchangeRecord, Protocol } from '../core/exchange.js';
import { forwardableHeaders, type HeaderMap } from '../core/headers.js';
import { classify, errorResponse, type JsonRpcId } from '../core/jsonrpc.js';
import { adapterFor, upstreamTraits } from '../protocols/llm/observer.js';
import type { Provider } from '../protocols/llm/adapter.js';
import { emptyFacts } from '../protocols/llm/usage.js';
import { splitListen } from '../proxy/sidecar.js';
import { sseText } from '../core/sse-text.js';
import { a2aCallKey, recordedA2aCall, recordedKey, recordedMcpRequest } from './recorded-call.js';

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

interface MockRoute {
  protocol: Protocol;
  provider: Provider | null;
  pool: RecordingPool<ExchangeRecord>;
}

/** Headers of the recorded response that describe the recorded transfer, not the content. */
const TRANSFER_HEADERS = ['content-length', 'transfer-encoding', 'content-encoding', DECODED_FROM_HEADER, 'connection', 'keep-alive', 'date', 'etag'];

function responseHeaders(record: ExchangeRecord): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(record.response?.headers ?? {})) if (!TRANSFER_HEADERS.includes(name)) out[name] = value;
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: HeaderMap = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A recorded JSON-RPC response with the live request's id in place of the recorded one. */
function withId(message: unknown, id: JsonRpcId | null): unknown {
  if (message === null || typeof message !== 'object' || Array.isArray(message) || !('id' in message)) return message;
  return { ...(message as Record<string, unknown>), id };
}

/** Replaces the recorded progress token in a notification with the live one. */
function withProgressToken(message: unknown, recorded: unknown, live: unknown): unknown {
  if (recorded === undefined || message === null || typeof message !== 'object') return message;
  const m = message as { method?: unknown; params?: Record<string, unknown> };
  if (m.method !== 'notifications/progress' || m.params?.progressToken !== recorded) return message;
  return { ...m, params: { ...m.params, progressToken: live } };
}

/**
 * A2A: ids the live message names in place of the recorded call's, recorded → live, to put
 * into the answer: its task id, and its context id (a client may choose its own; the
 * recorded one may have been the server's, kept as the exchange's session id).
 */
function messageIds(record: ExchangeRecord, liveParams: unknown): Map<string, string> {
  const message = (params: unknown): Record<string, unknown> => {
    const p = (params ?? {}) as Record<string, unknown>;
    return (p.message ?? p.request ?? {}) as Record<string, unknown>;
  };
  const recorded = message(recordedA2aCall(record)?.params);
  const live = message(liveParams);
  const ids = new Map<string, string>();
  const pairs: [unknown, unknown][] = [
    [recorded.taskId, live.taskId],
    [typeof recorded.contextId === 'string' && recorded.contextId !== '' ? recorded.contextId : record.exchange.session_id, live.contextId],
  ];
  for (const [from, to] of pairs) {
    if (typeof from === 'string' && from !== '' && typeof to === 'string' && to !== '' && from !== to) ids.set(from, to);
  }
  return ids;
}

function progressToken(params: unknown): unknown {
  const meta = (params as { _meta?: { progressToken?: unknown } } | null | undefined)?._meta;
  return meta?.progressToken;
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
      if (!route) routes.set(e.route, (route = { protocol: e.protocol, provider: (e.provider as Provider | null) ?? null, pool: new RecordingPool() }));
      route.pool.add(e.id, key, record);
      loaded++;
    }
  } finally {
    await reader.close();
  }

  let origin = '';

  function missAnswer(res: ServerResponse, route: MockRoute, miss: Miss, rpcId: JsonRpcId | null | undefined, restJson: boolean): void {
    const headers = { 'x-tapwire-mock-miss': miss.field };
    if (route.protocol === 'llm') {
      const adapter = adapterFor(route.provider ?? undefined, '');
      return sendJson(res, 404, adapter.errorBody(404, 'tapwire_mock_miss', miss.message), headers);
    }
    if (rpcId !== undefined && !restJson) {
      return sendJson(res, 200, errorResponse(rpcId, -32000, miss.message, { tapwire_mock_miss: miss }), headers);
    }
    return sendJson(res, 404, { error: { code: 'tapwire_mock_miss', message: miss.message, field: miss.field, nearest: miss.nearest } }, headers);
  }

  async function forwardMiss(req: IncomingMessage, res: ServerResponse, name: string, rest: string, body: Buffer): Promise<boolean> {
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

  /** Writes recorded SSE events, each through `edit` (null drops it), instantly or at their offsets. */
  async function writeEvents(res: ServerResponse, events: readonly ExchangeEvent[], edit: (event: ExchangeEvent) => string | null): Promise<void> {
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

  async function serveLlm(req: IncomingMessage, res: ServerResponse, name: string, route: MockRoute, rest: string, body: Buffer): Promise<void> {
    const path = rest.split('?', 1)[0]!;
    const json = parseJson(body);
    const found = route.pool.take(llmKey(route.provider ?? '', `${req.method ?? 'GET'} ${path}`, json ?? null, options.ignore));
    if ('miss' in found) {
      if (await forwardMiss(req, res, name, rest, body)) return;
      return missAnswer(res, route, found.miss, undefined, false);
    }
    const record = found.hit;
    res.writeHead(record.exchange.http_status ?? 200, responseHeaders(record));
    if (record.exchange.streamed !== 1) {
      res.end(recordedBody(record.response)?.bytes ?? Buffer.alloc(0));
      return;
    }
    // The record keeps what the upstream sent; where tapwire changed the stream for the agent
    // (usage requested on its behalf), the adapter edits it back, as it did live.
    const recordedRequest = recordedBody(record.request)?.bytes ?? Buffer.alloc(0);
    const call = adapterFor(route.provider ?? undefined, path).describe(path, recordedJson(record.request), recordedRequest, upstreamTraits(options.config?.routes[name]));
    const facts = emptyFacts();
    await writeEvents(res, record.events, (event) => {
      const raw = sseText(event);
      if (!call?.rewriteEvent) return raw;
      const sse = { event: event.event, data: event.data, id: event.event_id, retry: null, raw };
      call.observeEvent(sse, facts);
      return call.rewriteEvent(sse);
    });
  }

  async function serveMcp(req: IncomingMessage, res: ServerResponse, name: string, route: MockRoute, rest: string, body: Buffer): Promise<void> {
    if (req.method === 'GET') {
      res.writeHead(405, { allow: 'POST, DELETE' }).end();
      return;
    }
    if (req.method === 'DELETE') {
      res.writeHead(200).end();
      return;
    }
    const message = classify(parseJson(body));
    if (message.kind === 'invalid') return sendJson(res, 400, errorResponse(null, -32700, `tapwire mock: not a JSON-RPC message: ${message.reason}`));
    if (message.kind !== 'request') {
      res.writeHead(202).end();
      return;
    }
    const found = route.pool.take(mcpKey(message.method, message.params));
    if ('miss' in found) {
      if (await forwardMiss(req, res, name, rest, body)) return;
      return missAnswer(res, route, found.miss, message.id, false);
    }
    const record = found.hit;
    const headers: HeaderMap = {};
    let session = header(req, 'mcp-session-id');
    // A recorded session becomes a fresh live one: the client gets a new id, as from a server.
    if (message.method === 'initialize' && record.response?.headers['mcp-session-id']) session = randomUUID();
    if (session) headers['mcp-session-id'] = session;
    const answer = withId(recordedJson(record.response), message.id);
    const recordedToken = progressToken(recordedMcpRequest(record)?.params);
    const liveToken = progressToken(message.params);
    const streamed = /text\/event-stream/.test(String(record.response?.headers['content-type'] ?? '')) && /text\/event-stream/.test(header(req, 'accept') ?? '');
    if (!streamed) return sendJson(res, record.exchange.http_status ?? 200, answer, headers);
    res.writeHead(record.exchange.http_status ?? 200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const notifications = record.events.map((event) => ({ ...event, event: 'message', event_id: null }));
    const final: ExchangeEvent = { offset_ms: record.exchange.duration_ms ?? 0, event: 'message', event_id: null, data: JSON.stringify(answer) };
    await writeEvents(res, [...notifications, final], (event) => {
      if (event === final) return sseText(event);
      const parsed = parseJson(Buffer.from(event.data));
      return sseText({ ...event, data: JSON.stringify(withProgressToken(parsed, recordedToken, liveToken)) });
    });
  }

  /** A recorded agent card with its interface URLs moved under the mock's route (same path). */
  function cardForMock(card: Record<string, unknown>, name: string): Record<string, unknown> {
    const copy = structuredClone(card);
    const move = (holder: Record<string, unknown>): void => {
      if (typeof holder.url !== 'string') return;
      try {
        const url = new URL(holder.url);
        const routed = url.pathname.startsWith(`/${name}/`) ? url.pathname : `/${name}${url.pathname}`;
        holder.url = `${origin}${routed}${url.search}`;
      } catch {
        // not a URL: left as recorded
      }
    };
    move(copy);
    for (const list of [copy.additionalInterfaces, copy.supportedInterfaces]) {
      if (Array.isArray(list)) for (const entry of list) if (entry && typeof entry === 'object') move(entry as Record<string, unknown>);
    }
    return copy;
  }

  async function serveA2a(req: IncomingMessage, res: ServerResponse, name: string, route: MockRoute, rest: string, body: Buffer): Promise<void> {
    const path = rest.split('?', 1)[0]!;
    const call = describeCall({ httpMethod: req.method ?? 'GET', path: path.endsWith(OLD_AGENT_CARD_PATH) ? AGENT_CARD_PATH : path, a2aVersion: header(req, 'a2a-version') ?? null, body });
    const key: KeyPart[] | null = a2aCallKey(call);
    const found = key ? route.pool.take(key) : { miss: { field: 'method', request: call.wireMethod, recorded: '', nearest: null, message: `tapwire mock: ${call.wireMethod} is not an A2A call` } };
    if ('miss' in found) {
      if (await forwardMiss(req, res, name, rest, body)) return;
      return missAnswer(res, route, found.miss, call.jsonrpcId ?? undefined, call.binding !== 'JSONRPC');
    }
    const record = found.hit;
    const status = record.exchange.http_status ?? 200;
    const ids = messageIds(record, call.params);
    if (record.exchange.streamed === 1) {
      res.writeHead(status, responseHeaders(record));
      await writeEvents(res, record.events, (event) => {
        const parsed = parseJson(Buffer.from(event.data));
        if (parsed === undefined) return sseText(event);
        const mapped = replaceStrings(parsed, ids);
        return sseText({ ...event, data: JSON.stringify(call.binding === 'JSONRPC' ? withId(mapped, call.jsonrpcId) : mapped) });
      });
      return;
    }
    let answer = replaceStrings(recordedJson(record.response), ids);
    if (answer === undefined) {
      res.writeHead(status, responseHeaders(record)).end(recordedBody(record.response)?.bytes ?? Buffer.alloc(0));
      return;
    }
    if (call.binding === 'JSONRPC') answer = withId(answer, call.jsonrpcId);
    const result = (answer as { result?: unknown }).result;
    if (isAgentCard(answer)) answer = cardForMock(answer, name);
    else if (isAgentCard(result)) answer = { ...(answer as Record<string, unknown>), result: cardForMock(result, name) };
    const text = JSON.stringify(answer);
    res.writeHead(status, { ...responseHeaders(record), 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const a2aRoutes = [...routes].filter(([, r]) => r.protocol === 'a2a').map(([n]) => n);
    // A2A clients given a route URL without a trailing slash look for the card at the root.
    const rootCard = (url === AGENT_CARD_PATH || url === OLD_AGENT_CARD_PATH) && a2aRoutes.length === 1;
    const slash = url.indexOf('/', 1);
    const end = slash === -1 ? url.length : slash;
    // Route names are plain path characters, compared as sent (as the sidecar does).
    const name = rootCard ? a2aRoutes[0]! : url.slice(1, end).split('?', 1)[0]!;
    const rest = rootCard ? url : url.slice(end) || '/';
    const route = routes.get(name);
    if (!route) {
      return sendJson(res, 404, { error: { code: 'unknown_route', message: `tapwire mock has no recordings for route "${name}"; routes: ${[...routes.keys()].join(', ') || '(none)'}` } });
    }
    const body = await readBody(req);
    if (route.protocol === 'llm') return serveLlm(req, res, name, route, rest, body);
    if (route.protocol === 'mcp') return serveMcp(req, res, name, route, rest, body);
    if (route.protocol === 'a2a') return serveA2a(req, res, name, route, rest, body);
    return sendJson(res, 404, { error: { code: 'unsupported_protocol', message: `tapwire mock does not serve ${route.protocol} routes` } });
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
