// What a protocol adapter plugs into the forwarding engine. The engine moves bytes; the
// observer may replace the request body, watch (and for SSE, edit) the response as it
// passes, hold a non-streamed response to review it, and turns what happened into records:
// one per HTTP call for LLM and plain HTTP, one per JSON-RPC message exchange for MCP.
import type { Exchange, ExchangeEvent, ExchangeRecord, Payload } from '../core/exchange.js';
import type { HeaderMap } from '../core/headers.js';
import type { SseEvent } from '../core/sse.js';
import { DEFAULT_EVENT_LIMITS, type EventLimits } from '../config/config.js';

export interface ResponseHead {
  status: number;
  headers: HeaderMap;
}

/** Where finished records go: the recorder, and the per-exchange log line. */
export type RecordSink = (record: ExchangeRecord) => void;

/** Everything the engine saw of one HTTP call, handed to the observer when it is over. */
export interface ForwardOutcome {
  /** The HTTP-level exchange: timing, bytes, status and transport errors already set. */
  exchange: Exchange;
  head: ResponseHead | null;
  /** The whole decoded response body when the observer reads bodies and it was not SSE. */
  body: Buffer | null;
  request: Payload;
  response: Payload | null;
  events: ExchangeEvent[];
}

/** A response the agent receives instead of the upstream's (see reviewBody). */
export interface Replacement {
  status: number;
  headers: HeaderMap;
  body: Buffer;
}

export interface ExchangeObserver {
  /** Bytes to send upstream instead of the agent's body; null sends the agent's body. */
  readonly upstreamBody: Buffer | null;
  /** True when onEvent may edit the stream: upstream is then asked for an uncompressed body. */
  readonly editsStream: boolean;
  /**
   * True when finish() reads a non-streamed response body (LLM usage comes at its end): the
   * body is then kept whole, up to OBSERVED_BODY_LIMIT, even when the record stores less.
   */
  readonly readsBody: boolean;
  /**
   * When present, a non-streamed response is held until the whole body has arrived and is
   * passed here first; a returned Replacement is what the agent receives instead.
   */
  reviewBody?(head: ResponseHead, body: Buffer): Replacement | null;
  /**
   * A compressed response tapwire could not decode within its bound (or at all), so no
   * rule could read it: for a held body, what the agent receives instead (null sends the
   * upstream's bytes); for an edited stream, the text that ends it (null ends it as it is).
   */
  unreadableBody?(head: ResponseHead, why: string): Replacement | null;
  unreadableStream?(why: string): string | null;
  /** The upstream's status and headers, before they are sent on to the agent. */
  onResponseHead?(head: ResponseHead): void;
  /** One SSE event of the response. Returns the raw text to send instead, null to drop it, or undefined to pass it unchanged. */
  onEvent(event: SseEvent, offsetMs: number): string | null | undefined;
  /** A piece of a response that is not an event stream (SSE, AWS frames), decoded, as it arrives: JSON lines are read here for time to first token. */
  onBodyData?(chunk: Buffer, offsetMs: number): void;
  /** Turns the finished call into records and hands them to the sink. */
  finish(outcome: ForwardOutcome): Promise<void> | void;
  /** The body of an error tapwire itself answers with (upstream down, timed out), in the protocol's format. */
  errorBody(status: number, code: string, message: string): unknown;
}

/** The record of a call as one HTTP exchange, with `http_NNN` for error statuses that said no more. */
export function httpRecord(outcome: ForwardOutcome): ExchangeRecord {
  const { exchange, head } = outcome;
  if (head && head.status >= 400) {
    exchange.error_code ??= `http_${head.status}`;
    exchange.error_message ??= `upstream answered HTTP ${head.status}`;
  }
  return { exchange, request: outcome.request, response: outcome.response, events: outcome.events };
}

/**
 * The events of one exchange, up to its limits: past them events are counted, not kept,
 * so a stream that lasts for hours holds bounded memory and stores bounded rows.
 */
export class EventLog {
  readonly events: ExchangeEvent[] = [];
  /** Every event seen, kept or not. */
  count = 0;
  private bytes = 0;
  constructor(private readonly limits: EventLimits = DEFAULT_EVENT_LIMITS) {}

  add(event: ExchangeEvent): void {
    this.count++;
    if (this.events.length >= this.limits.maxEvents || this.bytes + event.data.length > this.limits.maxEventBytes) return;
    this.bytes += event.data.length;
    this.events.push(event);
  }

  /** An SSE event of the response, at its offset. */
  addSse(event: SseEvent, offsetMs: number): void {
    this.add({ offset_ms: offsetMs, event: event.event, event_id: event.id, data: event.data });
  }

  /** An event seen but not readable (longer than the limit): counted only. */
  skip(): void {
    this.count++;
  }

  /** Puts the count on the exchange: event_count, and events_truncated when some were not kept. */
  stamp(exchange: Exchange): void {
    exchange.event_count = this.count;
    exchange.events_truncated = this.count > this.events.length ? 1 : 0;
  }
}

/** Forwards and records a call as plain HTTP: routes with no protocol adapter. */
export class PlainHttpObserver implements ExchangeObserver {
  readonly upstreamBody = null;
  readonly editsStream = false;
  readonly readsBody = false;
  constructor(private readonly sink: RecordSink) {}
  onEvent(): undefined {
    return undefined;
  }
  finish(outcome: ForwardOutcome): void {
    this.sink(httpRecord(outcome));
  }
  errorBody(_status: number, code: string, message: string): unknown {
    return { error: { code, message } };
  }
}
