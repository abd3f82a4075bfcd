// One tools/call of an openapi route as its REST call: the HTTP request built from the
// arguments, sent through the route's upstream pool with the route's headers (its
// credentials), recorded as an HTTP exchange whose parent_id is the MCP exchange of the
// call, and answered as an MCP tool result: the JSON answer as structuredContent plus its
// text, an image or audio answer as MCP image or audio content, an HTTP error status or a
// failed call as a tool error saying what happened.
import type { Dispatcher } from 'undici';
import type { Exchange, Payload } from '../../core/exchange.js';
import { blankExchange } from '../../core/exchange.js';
import { REDACTED, type HeaderMap } from '../../core/headers.js';
import { parseJson } from '../../core/json-body.js';
import { formatTraceparent, spanOf, type TraceStarter } from '../../core/trace-context.js';
import type { RecordSink } from '../observer.js';
import type { Route } from '../route.js';
import { classifyUpstreamError } from '../upstream-failure.js';
import type { Json } from './document.js';
import type { Operation } from './operations.js';
import { ArgumentError, buildRequest } from './request.js';

/** What a REST call needs besides its operation and arguments. */
export interface CallContext {
  agent: string;
  route: Route;
  sink: RecordSink;
  redact: (headers: HeaderMap) => HeaderMap;
  traces: TraceStarter;
}

/**
 * An answer larger than this is not read on: the tool result says so, and the record keeps
 * its status and what was read, marked truncated.
 */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** The tool result of calling `op` with `args`; `parent` is the MCP exchange of the call. */
export async function callOperation(ctx: CallContext, op: Operation, args: Json, parent: Exchange | undefined): Promise<Json> {
  let request;
  try {
    request = buildRequest(op, args);
  } catch (err) {
    if (err instanceof ArgumentError) return toolError(`tapwire could not call ${op.tool.name}: ${err.message}`);
    throw err;
  }
  const { route } = ctx;
  const path = route.upstreamPath(request.path);
  const exchange = blankExchange({ agent: ctx.agent, route: route.name, protocol: 'http' });
  exchange.method = `${request.method} ${path.split('?', 1)[0]}`;
  exchange.target = op.tool.name;
  exchange.parent_id = parent?.id ?? null;
  exchange.session_id = parent?.session_id ?? null;
  const parentSpan = parent ? spanOf(parent) : undefined;
  const span = ctx.traces.begin(exchange, parentSpan ? { traceId: parentSpan.traceId, spanId: parentSpan.spanId, sampled: parentSpan.sampled } : null);
  const headers: HeaderMap = { accept: 'application/json, */*;q=0.5', 'accept-encoding': 'identity', ...request.headers, traceparent: formatTraceparent(span) };
  // The route's headers (its credentials) win over arguments, and are never recorded.
  const recordedHeaders = ctx.redact({ ...headers });
  for (const [name, value] of Object.entries(route.config.headers)) {
    headers[name.toLowerCase()] = value;
    recordedHeaders[name.toLowerCase()] = REDACTED;
  }
  const sent = request.body === null ? null : Buffer.from(request.body);
  exchange.request_bytes = sent?.length ?? 0;
  const started = performance.now();
  const record = (response: Payload | null): void => {
    exchange.ended_at = Date.now();
    exchange.duration_ms = performance.now() - started;
    if (response) exchange.response_bytes = response.body_size;
    ctx.sink({ exchange, request: { headers: recordedHeaders, body: sent, body_size: exchange.request_bytes, truncated: false }, response, events: [] });
  };
  const failed = (failure: { code: string; message: string }, response: Payload | null = null): Json => {
    exchange.status = 'error';
    exchange.error_code = failure.code;
    exchange.error_message = failure.message;
    record(response);
    return toolError(`${op.tool.name} failed: ${failure.message}`);
  };
  let response: Dispatcher.ResponseData;
  try {
    response = await route.pool.request({ method: request.method, path, headers, body: sent });
  } catch (err) {
    return failed(classifyUpstreamError(err, route));
  }
  exchange.ttfb_ms = performance.now() - started;
  const status = response.statusCode;
  const answerHeaders = response.headers as HeaderMap;
  let answer: Buffer;
  try {
    answer = await readAnswer(response.body);
  } catch (err) {
    if (!(err instanceof AnswerTooLarge)) return failed(classifyUpstreamError(err, route));
    // The upstream did answer: its status, and what was read before tapwire stopped, cut short.
    exchange.http_status = status;
    return failed({ code: 'answer_too_large', message: err.message }, { headers: ctx.redact(answerHeaders), body: err.read, body_size: err.read.length, truncated: true });
  }
  exchange.http_status = status;
  if (status >= 400) exchange.status = 'error';
  record({ headers: ctx.redact(answerHeaders), body: answer, body_size: answer.length, truncated: false });
  const text = answer.toString('utf8');
  if (status >= 400) return toolError(`HTTP ${status} from ${request.method} ${path}${text ? `: ${text}` : ''}`);
  const mediaType = mediaTypeOf(answerHeaders);
  // An image or a sound as text would be mangled: it is MCP image or audio content, its bytes
  // in base64 (where the operation promises JSON, clients want structuredContent: an error below).
  const binary = /^(image|audio)\/[\w.+-]+$/.exec(mediaType);
  if (binary && answer.length > 0 && !op.tool.outputSchema) return { content: [{ type: binary[1]!, data: answer.toString('base64'), mimeType: mediaType }] };
  const json = jsonOf(mediaType, text);
  const content = [{ type: 'text', text: text || `HTTP ${status}` }];
  if (json === undefined) return op.tool.outputSchema ? toolError(`${op.tool.name}: the answer (HTTP ${status}) is not the JSON its operation describes`) : { content };
  const plainObject = json !== null && typeof json === 'object' && !Array.isArray(json);
  const structuredContent = op.wrapsOutput || (!op.tool.outputSchema && !plainObject) ? { result: json } : json;
  return { content, structuredContent };
}

function toolError(text: string): Json {
  return { content: [{ type: 'text', text }], isError: true };
}

/** The answer's media type, lower case and without parameters ("" when it has none). */
function mediaTypeOf(headers: HeaderMap): string {
  const type = headers['content-type'];
  return ((Array.isArray(type) ? type[0] : type) ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** The answer's JSON value, or undefined when it is not JSON (by its media type, or unreadable). */
function jsonOf(mediaType: string, text: string): unknown {
  if (!/^application\/(json|[\w.+-]+\+json)$/.test(mediaType) || text === '') return undefined;
  try {
    // As tapwire reads any JSON off the wire: JSON nested past the depth bound is not JSON.
    return parseJson(text);
  } catch {
    return undefined;
  }
}

/** An answer past MAX_ANSWER_BYTES, with what was read of it (`read`: a little more than that). */
class AnswerTooLarge extends Error {
  constructor(readonly read: Buffer) {
    super(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
  }
}

async function readAnswer(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    chunks.push(chunk);
    if (size > MAX_ANSWER_BYTES) {
      body.destroy();
      throw new AnswerTooLarge(Buffer.concat(chunks, size));
    }
  }
  return Buffer.concat(chunks, size);
}
