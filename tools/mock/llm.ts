// The mock's LLM routes: a request is matched by provider, path, model, stream flag and body
// (tools/replay-match.ts); a recorded stream is replayed event by event (an AWS event stream
// as frames), edited back by the provider's adapter where tapwire changed it live (usage
// requested on the agent's behalf); a miss gets the provider's own error shape.
import type { ExchangeRecord } from '../../core/exchange.js';
import { sseText } from '../../core/sse-text.js';
import { encodeEventFrame, EVENT_STREAM_TYPE } from '../../core/eventstream.js';
import { upstreamTraits } from '../../protocols/llm/observer.js';
import { adapterFor } from '../../protocols/llm/providers.js';
import { emptyFacts } from '../../protocols/llm/usage.js';
import { recordedBody, recordedJson } from '../../store/bodies.js';
import type { JsonPath } from '../canonical-json.js';
import { llmKey, type KeyPart } from '../replay-match.js';
import { header, missHeaders, parseJson, responseHeaders, sendJson, type MockContext, type MockProtocol, type MockRequest } from './mock-protocol.js';

/** The key of a recorded LLM call: its method and path (the upstream's base path stripped) and body. */
function recordedKey(record: ExchangeRecord, ignored: readonly JsonPath[], basePath: string): KeyPart[] | null {
  const e = record.exchange;
  const line = /^([A-Z]+) (\S+)$/.exec(e.method ?? '');
  if (!line) return null;
  const path = basePath && line[2]!.startsWith(basePath) ? line[2]!.slice(basePath.length) : line[2]!;
  return llmKey(e.provider ?? '', `${line[1]} ${path}`, recordedJson(record.request) ?? null, ignored);
}

async function serve(mock: MockContext, request: MockRequest): Promise<void> {
  const { req, res, name, route, rest, body } = request;
  const provider = route.provider ?? undefined;
  const path = rest.split('?', 1)[0]!;
  const json = parseJson(body);
  const found = route.pool.take(llmKey(route.provider ?? '', `${req.method ?? 'GET'} ${path}`, json ?? null, mock.options.ignore));
  if ('miss' in found) {
    if (await mock.forwardMiss(request)) return;
    return sendJson(res, 404, adapterFor(provider, '').errorBody(404, 'tapwire_mock_miss', found.miss.message), missHeaders(found.miss));
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
  const call = adapterFor(provider, path).describe(path, recordedJson(record.request), recordedRequest, upstreamTraits(mock.options.config?.routes[name]));
  const facts = emptyFacts();
  // An AWS event stream (Bedrock) is served as frames again; tapwire never edits one live.
  if (header(record.response?.headers, 'content-type')?.startsWith(EVENT_STREAM_TYPE)) {
    return mock.writeEvents(res, record.events, (event) => encodeEventFrame(event.event, event.data));
  }
  await mock.writeEvents(res, record.events, (event) => {
    const raw = sseText(event);
    if (!call?.rewriteEvent) return raw;
    const sse = { event: event.event, data: event.data, id: event.event_id, retry: null, raw };
    call.observeEvent(sse, facts);
    return call.rewriteEvent(sse);
  });
}

export const llmMock: MockProtocol = { recordedKey, serve };
