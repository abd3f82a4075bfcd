// What a protocol adapter plugs into the forwarding engine: it may replace the request
// body, watch (and for SSE, edit) the response as it passes, then complete the record.
import type { Exchange, ExchangeEvent } from './exchange.js';
import type { HeaderMap } from './headers.js';
import type { SseEvent } from './sse.js';

export interface ResponseHead {
  status: number;
  headers: HeaderMap;
}

export interface ExchangeObserver {
  /** Bytes to send upstream instead of the agent's body; null sends the agent's body. */
  readonly upstreamBody: Buffer | null;
  /** True when onEvent may edit the stream: upstream is then asked for an uncompressed body. */
  readonly editsStream: boolean;
  /**
   * True when complete() reads a non-streamed response body (LLM usage comes at its end):
   * the body is then kept whole for it, up to OBSERVED_BODY_LIMIT, even when the record
   * stores less of it.
   */
  readonly readsBody: boolean;
  /** One SSE event of the response. Returns the raw text to send instead, null to drop it, or undefined to pass it unchanged. */
  onEvent(event: SseEvent, offsetMs: number): string | null | undefined;
  /**
   * Fills in the protocol's facts once the exchange is over. `body` is the whole decoded
   * response body when it was not an event stream (null otherwise, or when there was none).
   */
  complete(exchange: Exchange, head: ResponseHead | null, body: Buffer | null): Promise<void> | void;
  /** The body of an error tapwire itself answers with (upstream down, timed out), in the protocol's format. */
  errorBody(status: number, code: string, message: string): unknown;
}

/** Records SSE events as the exchange's events; adapters embed it to share the bookkeeping. */
export class EventLog {
  readonly events: ExchangeEvent[] = [];
  add(event: SseEvent, offsetMs: number): void {
    this.events.push({ offset_ms: offsetMs, event: event.event, event_id: event.id, data: event.data });
  }
}
