// Sending a recorded request again, for every protocol's replay: the recorded headers minus
// the ones that describe the recorded transfer or session (and minus redacted credentials:
// the route's configured headers supply fresh ones), with REPLAY_OF_HEADER naming the
// original, and the answer read whole (its SSE events, or AWS event-stream frames, parsed
// when it is a stream).
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { ExchangeRecord } from '../../core/exchange.js';
import { REDACTED, REPLAY_OF_HEADER, type HeaderMap } from '../../core/headers.js';
import { SseParser, type SseEvent } from '../../core/sse.js';
import { EVENT_STREAM_TYPE, EventStreamParser } from '../../core/eventstream.js';

/** What a replayed request got back. */
export interface Sent {
  status: number;
  headers: HeaderMap;
  body: Buffer;
  events: SseEvent[] | null;
  ms: number;
}

/** Request headers that describe the recorded transfer or session, not the call: the replay sets its own. */
const NOT_REPLAYED = ['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'accept-encoding', 'traceparent', 'tracestate', 'mcp-session-id', REPLAY_OF_HEADER];

/** The recorded request's headers to send again; `replayOf` (the original's id) goes in REPLAY_OF_HEADER, none when null. */
export function replayHeaders(record: ExchangeRecord, replayOf: string | null): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(record.request?.headers ?? {})) {
    // Redacted credentials are dropped: the route's configured headers supply fresh ones.
    if (NOT_REPLAYED.includes(name) || value === REDACTED || (Array.isArray(value) && value.includes(REDACTED))) continue;
    out[name] = value;
  }
  if (replayOf) out[REPLAY_OF_HEADER] = replayOf;
  return out;
}

export async function send(url: string, method: string, headers: Record<string, string | string[]>, body: Buffer | null): Promise<Sent> {
  const t0 = performance.now();
  const answer = await request(url, { method: method as 'POST', headers, body: body && body.length > 0 ? body : null });
  const bytes = Buffer.from(await answer.body.arrayBuffer());
  const ms = performance.now() - t0;
  const contentType = String(answer.headers['content-type'] ?? '');
  let events: SseEvent[] | null = null;
  if (contentType.includes('text/event-stream')) {
    const parser = new SseParser();
    events = [...parser.push(bytes), ...parser.end()];
  } else if (contentType.includes(EVENT_STREAM_TYPE)) {
    const parser = new EventStreamParser();
    events = [...parser.push(bytes), ...parser.end()];
  }
  return { status: answer.statusCode, headers: answer.headers as HeaderMap, body: bytes, events, ms };
}
