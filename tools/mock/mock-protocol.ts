// What each protocol's mock is given and gives back. tools/mock.ts picks one per protocol from
// its table: a MockProtocol keys the recorded calls it can serve and answers live requests on
// its routes from them, with the services the mock server shares (MockContext: forwarding a
// miss upstream, writing recorded events at their pace) and the helpers below.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { DECODED_FROM_HEADER } from '../../core/encoding.js';
import type { ExchangeEvent, ExchangeRecord, Protocol } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { errorResponse, type JsonRpcId } from '../../core/jsonrpc.js';
import type { JsonPath } from '../canonical-json.js';
import type { MockOptions } from '../mock.js';
import type { KeyPart, Miss, RecordingPool } from '../replay-match.js';

/** A route's recordings, keyed by its protocol's MockProtocol.recordedKey. */
export interface MockRoute {
  protocol: Protocol;
  /** The LLM provider its exchanges were recorded with (null on other protocols). */
  provider: string | null;
  pool: RecordingPool<ExchangeRecord>;
}

/** A live request on a route: `rest` is its URL after the route name, `body` read whole. */
export interface MockRequest {
  req: IncomingMessage;
  res: ServerResponse;
  name: string;
  route: MockRoute;
  rest: string;
  body: Buffer;
}

/** What the mock server does for every protocol. */
export interface MockContext {
  readonly options: MockOptions;
  /** The mock's own origin (http://host:port), once it listens. */
  readonly origin: string;
  /** Sends a request no recording matched to the route's upstream (`onMiss: 'forward'`); false when it is not forwarded. */
  forwardMiss(request: MockRequest): Promise<boolean>;
  /** Writes recorded SSE events, each through `edit` (null drops it), instantly or at their offsets, then ends the response. */
  writeEvents(res: ServerResponse, events: readonly ExchangeEvent[], edit: (event: ExchangeEvent) => string | Buffer | null): Promise<void>;
}

export interface MockProtocol {
  /** The match key of a recorded client request that has a response, or null when it cannot be served. `basePath`: the route upstream's path. */
  recordedKey(record: ExchangeRecord, ignored: readonly JsonPath[], basePath: string): KeyPart[] | null;
  /** Answers a live request on one of the protocol's routes. */
  serve(mock: MockContext, request: MockRequest): Promise<void>;
  /** Paths a client may ask at the mock's root, meaning the route when it is the only one of this protocol (A2A's agent card). */
  rootPaths?: readonly string[];
}

/** Headers of the recorded response that describe the recorded transfer, not the content. */
const TRANSFER_HEADERS = ['content-length', 'transfer-encoding', 'content-encoding', DECODED_FROM_HEADER, 'connection', 'keep-alive', 'date', 'etag'];

/** The recorded response's headers, without those of the recorded transfer. */
export function responseHeaders(record: ExchangeRecord): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(record.response?.headers ?? {})) if (!TRANSFER_HEADERS.includes(name)) out[name] = value;
  return out;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: HeaderMap = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A body as JSON; undefined when it is empty or not JSON. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** A header's (first) value, from a live request's headers or a recorded message's. */
export function header(headers: IncomingHttpHeaders | HeaderMap | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A recorded JSON-RPC response with the live request's id in place of the recorded one. */
export function withId(message: unknown, id: JsonRpcId | null): unknown {
  if (message === null || typeof message !== 'object' || Array.isArray(message) || !('id' in message)) return message;
  return { ...(message as Record<string, unknown>), id };
}

/** The header a miss answer names the differing field in. */
export function missHeaders(miss: Miss): HeaderMap {
  return { 'x-tapwire-mock-miss': miss.field };
}

/**
 * The answer to a request no recording matched: a JSON-RPC error carrying the miss, for a
 * JSON-RPC request (`rpcId` defined), else a 404 with the miss as a JSON error.
 */
export function missAnswer(res: ServerResponse, miss: Miss, rpcId: JsonRpcId | null | undefined): void {
  if (rpcId !== undefined) return sendJson(res, 200, errorResponse(rpcId, -32000, miss.message, { tapwire_mock_miss: miss }), missHeaders(miss));
  return sendJson(res, 404, { error: { code: 'tapwire_mock_miss', message: miss.message, field: miss.field, nearest: miss.nearest } }, missHeaders(miss));
}
