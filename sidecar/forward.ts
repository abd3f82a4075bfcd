// The forwarding engine for HTTP routes: sends the agent's request upstream with undici,
// streams the response back chunk by chunk (SSE event by event when an adapter edits it),
// lets the protocol's observer read what passes, and hands the finished record to the
// recorder. Failures of the upstream become errors in the protocol's own format.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createBrotliDecompress, createGunzip, createInflate, brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Transform } from 'node:stream';
import { errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import type { Exchange, ExchangeRecord, Payload } from './exchange.js';
import { forwardableHeaders, redactHeaders, type HeaderMap } from './headers.js';
import { EventLog, type ExchangeObserver, type ResponseHead } from './observer.js';
import type { Route } from './route.js';
import { SseParser } from './sse.js';

export interface ForwardContext {
  redacted: ReadonlySet<string>;
  maxBodyBytes: number;
  record(record: ExchangeRecord): void;
  onComplete?(exchange: Exchange): void;
}

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  /** Path and query after the route segment, e.g. "/v1/chat/completions?x=1". */
  path: string;
  exchange: Exchange;
  /** The agent's body when the adapter needed it read first; null streams it through. */
  body: Buffer | null;
  observer: ExchangeObserver;
  /** performance.now() when the request arrived. */
  t0: number;
  /**
   * True when the observer reads a non-streamed response body (LLM routes: usage comes at
   * its end), which is then kept whole for it, up to OBSERVED_BODY_LIMIT, even when the
   * record stores less of it.
   */
  observesBody?: boolean;
}

/** The largest non-streamed response body kept whole for an observer that reads it. */
export const OBSERVED_BODY_LIMIT = 16 * 1024 * 1024;

interface GatewayFailure {
  status: 502 | 504;
  code: string;
  message: string;
}

/**
 * Keeps up to `keep` bytes of a body by reference (at least `cap`, what the record stores),
 * and counts the whole.
 */
class BodyCapture {
  readonly chunks: Buffer[] = [];
  size = 0;
  private kept = 0;
  constructor(
    private readonly cap: number,
    private readonly keep: number = cap,
  ) {}
  add(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.kept >= this.keep) return;
    this.chunks.push(chunk);
    this.kept += chunk.length;
  }
  /** The whole body, or null when it was longer than `keep`. */
  whole(): Buffer | null {
    if (this.size > this.keep) return null;
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }
  payload(headers: HeaderMap): Payload {
    const truncated = this.size > this.cap;
    // A truncated body is copied out, so the record does not hold on to the rest.
    const body = this.chunks.length === 1 && !truncated ? this.chunks[0]! : Buffer.concat(this.chunks, Math.min(this.kept, this.cap));
    return { headers, body, body_size: this.size, truncated };
  }
}

export function classifyUpstreamError(err: unknown, route: Route): GatewayFailure {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.code ?? e.cause?.code ?? '';
  const where = `upstream ${route.upstream.origin} (route ${route.name})`;
  const t = route.config.timeouts;
  if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return { status: 504, code: 'upstream_connect_timeout', message: `could not connect to ${where} within ${t.connect_ms} ms` };
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return { status: 504, code: 'upstream_timeout', message: `${where} sent no response within ${t.response_ms} ms` };
  }
  if (err instanceof undiciErrors.BodyTimeoutError || code === 'UND_ERR_BODY_TIMEOUT') {
    return { status: 504, code: 'upstream_timeout', message: `${where} sent nothing for ${t.idle_ms} ms mid-response` };
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
    return { status: 502, code: 'upstream_unreachable', message: `cannot reach ${where}: ${code}` };
  }
  if (['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(code) || err instanceof undiciErrors.SocketError) {
    return { status: 502, code: 'upstream_reset', message: `${where} closed the connection: ${e.message}` };
  }
  return { status: 502, code: 'upstream_error', message: `${where} failed: ${e.message ?? String(err)}` };
}

function decoderFor(encoding: string | undefined): Transform | null {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return null;
  }
}

function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      return body;
  }
}

function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export async function forward(request: ForwardRequest, ctx: ForwardContext): Promise<void> {
  const { req, res, route, exchange, observer, t0 } = request;
  // Microsecond resolution is all a latency record needs.
  const elapsed = (): number => Math.round((performance.now() - t0) * 1000) / 1000;
  const requestPayload = new BodyCapture(ctx.maxBodyBytes);
  if (request.body) requestPayload.add(request.body);
  const requestHeaders = redactHeaders(req.headers, ctx.redacted);

  const drop = observer.upstreamBody ? ['content-length'] : [];
  const upstreamHeaders = forwardableHeaders(req.headers, drop);
  // Header names are case-insensitive: a configured X-Api-Key replaces the agent's x-api-key.
  for (const [name, value] of Object.entries(route.config.headers)) upstreamHeaders[name.toLowerCase()] = value;
  if (observer.editsStream) upstreamHeaders['accept-encoding'] = 'identity';

  const abort = new AbortController();
  let clientGone = false;
  res.on('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      abort.abort();
    }
  });

  let upstreamBody: Dispatcher.DispatchOptions['body'];
  if (observer.upstreamBody) upstreamBody = observer.upstreamBody;
  else if (request.body) upstreamBody = request.body;
  else if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.on('data', (chunk: Buffer) => requestPayload.add(chunk));
    upstreamBody = req;
  }

  let head: ResponseHead | null = null;
  let responseBody: Buffer | null = null;
  let responsePayload = new BodyCapture(ctx.maxBodyBytes);
  const eventLog = new EventLog();
  let failure: GatewayFailure | null = null;

  try {
    const upstream = await route.pool.request({
      method: req.method as Dispatcher.HttpMethod,
      path: route.basePath + request.path,
      headers: upstreamHeaders,
      body: upstreamBody,
      signal: abort.signal,
    });
    exchange.ttfb_ms = elapsed();
    head = { status: upstream.statusCode, headers: upstream.headers as HeaderMap };
    exchange.http_status = upstream.statusCode;
    const contentType = headerValue(head.headers, 'content-type') ?? '';
    const encoding = headerValue(head.headers, 'content-encoding');
    const isSse = contentType.startsWith('text/event-stream');
    const editing = isSse && observer.editsStream && !encoding;
    if (!isSse && request.observesBody) {
      responsePayload = new BodyCapture(ctx.maxBodyBytes, Math.max(ctx.maxBodyBytes, OBSERVED_BODY_LIMIT));
    }
    res.writeHead(upstream.statusCode, forwardableHeaders(head.headers, editing ? ['content-length'] : []));
    if (isSse) res.flushHeaders();

    const parser = isSse ? new SseParser() : null;
    const decoder = parser ? decoderFor(encoding) : null;
    const onEvents = (events: ReturnType<SseParser['push']>): void => {
      for (const event of events) {
        const at = elapsed();
        eventLog.add(event, at);
        const replacement = observer.onEvent(event, at);
        if (editing && replacement !== null) res.write(replacement ?? event.raw);
      }
    };
    decoder?.on('data', (chunk: Buffer) => onEvents(parser!.push(chunk)));

    await new Promise<void>((resolve, reject) => {
      const body = upstream.body;
      body.on('data', (chunk: Buffer) => {
        responsePayload.add(chunk);
        if (parser) {
          if (decoder) decoder.write(chunk);
          else onEvents(parser.push(chunk));
        }
        if (!editing) res.write(chunk);
        if (res.writableNeedDrain) {
          body.pause();
          res.once('drain', () => body.resume());
        }
      });
      body.on('end', resolve);
      body.on('error', reject);
    });
    if (parser) {
      if (decoder) decoder.end();
      onEvents(parser.end());
    } else {
      const whole = responsePayload.whole();
      if (whole && whole.length > 0) responseBody = decodeBody(whole, encoding);
    }
    res.end();
  } catch (err) {
    if (clientGone) {
      exchange.status = 'aborted';
      exchange.error_code = 'client_aborted';
      exchange.error_message = 'the agent closed the connection before the response was complete';
    } else {
      failure = classifyUpstreamError(err, route);
      exchange.status = 'error';
      exchange.error_code = failure.code;
      exchange.error_message = failure.message;
      if (!res.headersSent) {
        exchange.http_status = failure.status;
        const body = JSON.stringify(observer.errorBody(failure.status, failure.code, failure.message));
        res.writeHead(failure.status, { 'content-type': 'application/json', 'x-tapwire-error': failure.code });
        res.end(body);
      } else {
        // The status line is gone: cut the connection so the agent sees a broken response,
        // never a silently shortened one.
        exchange.error_message = `${failure.message} (after ${responsePayload.size} response bytes)`;
        res.destroy();
      }
    }
  }

  exchange.ended_at = Date.now();
  exchange.duration_ms = elapsed();
  exchange.request_bytes = requestPayload.size;
  exchange.response_bytes = responsePayload.size;
  if (head && head.status >= 400 && exchange.status === 'ok') exchange.status = 'error';
  try {
    await observer.complete(exchange, head, responseBody);
  } catch (err) {
    exchange.error_message ??= `tapwire could not read the response: ${(err as Error).message}`;
  }
  if (head && head.status >= 400) {
    exchange.error_code ??= `http_${head.status}`;
    exchange.error_message ??= `upstream answered HTTP ${head.status}`;
  }
  ctx.record({
    exchange,
    request: requestPayload.payload(requestHeaders),
    response: head ? responsePayload.payload(redactHeaders(head.headers, ctx.redacted)) : null,
    events: eventLog.events,
  });
  ctx.onComplete?.(exchange);
}
