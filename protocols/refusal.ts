// Requests tapwire answers itself before forwarding: reading a body up to the configured
// limit, and the refusal in the route's own error format (its protocol handler's), recorded
// like any other exchange.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange } from '../core/exchange.js';
import { errorHeadersOf } from '../core/error-headers.js';
import type { HeaderMap } from '../core/headers.js';
import { errorResponse, INVALID_REQUEST } from '../core/jsonrpc.js';
import type { RecordSink } from './observer.js';
import type { ProtocolHandler } from './protocol.js';
import type { RouteConfig } from '../config/config.js';

/** A request body longer than limits.max_request_bytes. */
export class BodyTooLarge extends Error {
  constructor(
    readonly limit: number,
    /** Bytes received (or declared by content-length) when it was refused. */
    readonly size: number,
    /** True when it is the body decoded (content-encoding, charset) that is too long. */
    decoded = false,
  ) {
    super(`the request body is larger than ${limit} bytes${decoded ? ' once decoded' : ''} (limits.max_request_bytes)`);
  }
}

/**
 * Reads a whole body, refusing it as soon as it is declared or found to be longer than
 * `limit`: what was read is let go, and the rest is discarded unread as it arrives.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = declaredTooLarge(req, limit);
    if (declared) return reject(declared);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.off('data', onData);
        req.resume();
        reject(new BodyTooLarge(limit, size));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A refusal when the request's content-length is over `limit` (its body is then discarded unread). */
export function declaredTooLarge(req: IncomingMessage, limit: number): BodyTooLarge | null {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!(declared > limit)) return null;
  req.resume();
  return new BodyTooLarge(limit, declared);
}

/**
 * The JSON-RPC error tapwire answers a request with before reading its body (MCP and A2A
 * routes): the request's id is unknown, so JSON-RPC says null.
 */
export function jsonRpcRefusal(code: string, message: string): Record<string, unknown> {
  return errorResponse(null, INVALID_REQUEST, message, { tapwire_error: code });
}

export interface RefusedCall {
  req: IncomingMessage;
  res: ServerResponse;
  route: RouteConfig;
  /** The route's protocol, whose error format the refusal takes. */
  handler: ProtocolHandler;
  path: string;
  exchange: Exchange;
  requestHeaders: HeaderMap;
  sink: RecordSink;
}

/** Answers a body over the limit with 413 and records the call (its body is not kept). */
export function refuseTooLarge(call: RefusedCall, tooLarge: BodyTooLarge): void {
  const { res, exchange } = call;
  const answer = call.handler.errorBody(call.route, call.path, 413, 'request_too_large', tooLarge.message);
  const text = JSON.stringify(answer);
  const headers = { ...errorHeadersOf(answer), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'x-tapwire-error': 'request_too_large', connection: 'close' };
  if (!res.headersSent) {
    res.writeHead(413, headers);
    res.end(text);
  }
  exchange.status = 'error';
  exchange.http_status = 413;
  exchange.error_code = 'request_too_large';
  exchange.error_message = tooLarge.message;
  exchange.ended_at = Date.now();
  exchange.duration_ms = exchange.ended_at - exchange.started_at;
  exchange.request_bytes = tooLarge.size;
  exchange.response_bytes = Buffer.byteLength(text);
  call.sink({
    exchange,
    request: { headers: call.requestHeaders, body: null, body_size: tooLarge.size, truncated: true },
    response: { headers, body: Buffer.from(text), body_size: Buffer.byteLength(text), truncated: false },
    events: [],
  });
}
