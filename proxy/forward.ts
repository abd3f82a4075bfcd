// The forwarding engine for HTTP routes: one undici dispatch handler per exchange. It sends
// the agent's request upstream, streams the response back chunk by chunk as it arrives (SSE
// event by event when an adapter edits it), lets the protocol's observer read what passes
// (SSE events, or the binary frames of an AWS event stream, which always pass unchanged),
// and hands the finished record to the recorder. Upstream failures become errors in the
// protocol's own format. With strict durability the last piece of every response waits
// until the record is committed, and calls are refused while the store cannot be written.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pipeline, Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import { boundedDecoder, decodedHeaders, decodedPayload, MAX_DECODED_BYTES, type BoundedDecoder } from '../core/encoding.js';
import type { Exchange, Payload } from '../core/exchange.js';
import { forwardableHeaders, redactHeaders, type HeaderMap } from '../core/headers.js';
import { DEFAULT_EVENT_LIMITS, type EventLimits } from '../config/config.js';
import { EventLog, type ExchangeObserver, type Replacement, type ResponseHead } from '../protocols/observer.js';
import type { Route } from '../protocols/route.js';
import { classifyUpstreamError, type GatewayFailure } from '../protocols/upstream-failure.js';
import { formatTraceparent, spanOf } from '../core/trace-context.js';
import { SseParser, type SseEvent } from '../core/sse.js';
import { EVENT_STREAM_TYPE, EventStreamParser } from '../core/eventstream.js';
import { errorHeadersOf } from '../core/error-headers.js';
import { routeSigner } from './aws-signing.js';

export interface ForwardContext {
  redacted: ReadonlySet<string>;
  maxBodyBytes: number;
  /** store.max_events and store.max_event_bytes; default DEFAULT_EVENT_LIMITS. */
  eventLimits?: EventLimits;
  /** store.durability strict: resolves true once every record handed over so far is committed. */
  committed?: () => Promise<boolean>;
  /** store.durability strict: why the store takes no records right now, or null when it does. */
  storeFailure?: () => string | null;
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
  /** A stream that lasts as long as the agent keeps it (MCP GET, subscriptions/listen): strict durability never holds its events back. */
  standing?: boolean;
  /** What the policies' transform rules change in the request sent upstream (the record keeps the agent's). */
  changes?: RequestChanges | null;
  /** Headers the upstream call carries over the route's own (an MCP gateway route's credential); never recorded. */
  upstreamHeaders?: HeaderMap;
  /** Edits the upstream's response head before anything reads it (an MCP route's challenges pointed at tapwire). */
  onHead?: (head: ResponseHead) => void;
}

/** A request as transform rules changed it for the upstream. */
export interface RequestChanges {
  /** Headers set (a value) or removed (null), lower-cased. */
  headers: ReadonlyMap<string, string | null>;
  /** The body to send instead, as plain JSON (no content-encoding); null: the body is unchanged. */
  body: Buffer | null;
}

/** The largest non-streamed response body kept whole for an observer that reads it. */
export const OBSERVED_BODY_LIMIT = MAX_DECODED_BYTES;

/**
 * A compressed stream is decoded until its decoded size passes both OBSERVED_BODY_LIMIT and
 * this many times the compressed bytes decoded: text streams stay far below it, a
 * decompression bomb (gzip of zeros: about 1000) does not.
 */
const STREAM_DECODE_RATIO = 100;

/**
 * Keeps up to `keep` bytes of a body by reference (at least store.max_body_bytes, what the
 * record stores), and counts the whole.
 */
class BodyCapture {
  readonly chunks: Buffer[] = [];
  size = 0;
  private kept = 0;
  private joined: Buffer | null = null;
  constructor(readonly keep: number) {}
  add(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.kept >= this.keep) return;
    this.chunks.push(chunk);
    this.kept += chunk.length;
  }
  /** The whole body, or null when it was longer than `keep`. */
  whole(): Buffer | null {
    if (this.size > this.keep) return null;
    this.joined ??= this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    return this.joined;
  }
  /**
   * Everything kept, truncated when that is not the whole body or `cut` says so (a body not
   * read to its end): the record is redacted whole and only then cut to store.max_body_bytes
   * (proxy/recording.ts).
   */
  payload(headers: HeaderMap, cut = false): Payload {
    const body = this.whole() ?? Buffer.concat(this.chunks, this.kept);
    return { headers, body, body_size: this.size, truncated: cut || this.kept < this.size };
  }
}

function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

class ClientGone extends Error {
  constructor() {
    super('the agent closed the connection before the response was complete');
  }
}

/** Forwards one request and resolves once its record has been handed to the recorder. */
export function forward(request: ForwardRequest, ctx: ForwardContext): Promise<void> {
  return new Promise((resolve) => new ForwardedExchange(request, ctx, resolve).start());
}

class ForwardedExchange implements Dispatcher.DispatchHandler {
  private readonly requestPayload: BodyCapture;
  private responsePayload: BodyCapture;
  private readonly eventLog: EventLog;
  private controller: Dispatcher.DispatchController | null = null;
  private head: ResponseHead | null = null;
  private encoding: string | undefined;
  private parser: SseParser | EventStreamParser | null = null;
  /** A compressed response: decodes tapwire's copy (what the observer reads and the record stores). */
  private decoder: BoundedDecoder | null = null;
  /** Response bytes as received from upstream (and sent to the agent). */
  private wireBytes = 0;
  /** The observer may rewrite the stream: events are written one by one, not raw chunks. */
  private editing = false;
  /** The observer reviews the whole body before the agent gets any of it. */
  private holding = false;
  /** A held compressed body as received: what the agent gets when the review of its decoded copy lets it through. */
  private heldWire: BodyCapture | null = null;
  /** A held body that grew past what tapwire holds: the refusal sent instead of it. */
  private tooLong: Replacement | null = null;
  private clientGone = false;
  private settled = false;
  /** Strict durability: the last piece written, sent once the record is committed. */
  private held: Buffer | string | null = null;

  constructor(
    private readonly request: ForwardRequest,
    private readonly ctx: ForwardContext,
    private readonly done: () => void,
  ) {
    this.requestPayload = new BodyCapture(ctx.maxBodyBytes);
    this.responsePayload = new BodyCapture(ctx.maxBodyBytes);
    this.eventLog = new EventLog(ctx.eventLimits);
  }

  /** Microseconds since the request arrived, in milliseconds: all a latency record needs. */
  private elapsed(): number {
    return Math.round((performance.now() - this.request.t0) * 1000) / 1000;
  }

  start(): void {
    const { req, res, route, observer } = this.request;
    const changes = this.request.changes;
    const rewritten = changes?.body ?? null;
    // A body sent rewritten gets its own length; one changed by a policy goes out decoded.
    const upstreamHeaders = forwardableHeaders(req.headers, rewritten ? ['content-length', 'content-encoding'] : observer.upstreamBody ? ['content-length'] : []);
    // The policies' header changes, before the route's own headers (its credentials) are set.
    for (const [name, value] of changes?.headers ?? []) {
      if (value === null) delete upstreamHeaders[name];
      else upstreamHeaders[name] = value;
    }
    // Header names are case-insensitive: a configured X-Api-Key replaces the agent's x-api-key.
    for (const [name, value] of Object.entries(route.config.headers)) upstreamHeaders[name.toLowerCase()] = value;
    Object.assign(upstreamHeaders, this.request.upstreamHeaders);
    // Servers that guard against DNS rebinding check Origin (and Host, which undici sets).
    if (upstreamHeaders.origin !== undefined) upstreamHeaders.origin = route.upstream.origin;
    if (observer.editsStream || observer.reviewBody) upstreamHeaders['accept-encoding'] = 'identity';
    // The upstream continues this exchange's trace (tracestate passes through unchanged).
    const span = spanOf(this.request.exchange);
    if (span) upstreamHeaders.traceparent = formatTraceparent(span);

    let body: Dispatcher.DispatchOptions['body'] = rewritten ?? observer.upstreamBody ?? this.request.body;
    if (this.request.body) this.requestPayload.add(this.request.body);
    else if (req.method !== 'GET' && req.method !== 'HEAD') {
      // A streamed body is captured on its way to undici: a 'data' listener on req itself
      // would start it flowing before undici reads it, and undici would send nothing.
      const requestPayload = this.requestPayload;
      const captured = new Transform({
        transform(chunk: Buffer, _encoding, next) {
          requestPayload.add(chunk);
          next(null, chunk);
        },
      });
      pipeline(req, captured, () => undefined);
      body = captured;
    }
    res.on('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.controller?.abort(new ClientGone());
    });
    const storeFailure = this.ctx.storeFailure?.();
    if (storeFailure) {
      // Strict durability: nothing is forwarded that could not be recorded.
      if (!this.request.body) req.resume();
      // Its record joins the buffer without another write attempt: the retry timer makes those.
      void this.answerFailure(storeUnavailable(storeFailure), false);
      return;
    }
    const path = route.upstreamPath(this.request.path);
    const signer = routeSigner(route);
    if (!signer) return this.dispatch(path, upstreamHeaders, body);
    // A route with AWS credentials signs the call as it goes upstream, the body as sent (transforms
    // applied; it was read whole: an LLM route's always is).
    signer.sign(req.method ?? 'GET', route.upstream, path, upstreamHeaders, rewritten ?? observer.upstreamBody ?? this.request.body).then(
      (signed) => this.dispatch(path, signed, body),
      (err: unknown) => this.fail(err),
    );
  }

  private dispatch(path: string, headers: HeaderMap, body: Dispatcher.DispatchOptions['body']): void {
    try {
      this.request.route.pool.dispatch({ method: this.request.req.method as Dispatcher.HttpMethod, path, headers, body }, this);
    } catch (err) {
      this.fail(err);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.clientGone) controller.abort(new ClientGone());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    const { res, exchange, observer } = this.request;
    if (statusCode < 200) return this.informational(statusCode, headers as HeaderMap);
    exchange.ttfb_ms = this.elapsed();
    exchange.http_status = statusCode;
    this.head = { status: statusCode, headers: headers as HeaderMap };
    this.request.onHead?.(this.head);
    observer.onResponseHead?.(this.head);
    const contentType = headerValue(this.head.headers, 'content-type') ?? '';
    this.encoding = headerValue(this.head.headers, 'content-encoding');
    const isSse = contentType.startsWith('text/event-stream');
    const isEventStream = contentType.startsWith(EVENT_STREAM_TYPE);
    // A compressed answer that policies review (despite accept-encoding: identity) is judged
    // on its decoded copy: a held body is then sent as it came, an edited stream goes out
    // decoded (an error event cannot be spliced into gzip). Others pass as they came.
    this.editing = isSse && observer.editsStream && (!this.encoding || observer.unreadableStream !== undefined);
    this.holding = !isSse && !isEventStream && observer.reviewBody !== undefined && (!this.encoding || observer.unreadableBody !== undefined);
    const maxEventBytes = (this.ctx.eventLimits ?? DEFAULT_EVENT_LIMITS).maxEventBytes;
    if (isSse) {
      this.parser = new SseParser({ maxEventChars: maxEventBytes });
    } else if (isEventStream) {
      this.parser = new EventStreamParser({ maxFrameBytes: maxEventBytes });
    } else if (observer.readsBody || this.holding) {
      this.responsePayload = new BodyCapture(Math.max(this.ctx.maxBodyBytes, OBSERVED_BODY_LIMIT));
    }
    const kept = this.responsePayload.keep;
    // A whole body is never decoded past what is kept (one byte more marks it truncated).
    const bound = this.parser ? (consumed: number) => Math.max(OBSERVED_BODY_LIMIT, STREAM_DECODE_RATIO * consumed) : () => kept + 1;
    this.decoder = boundedDecoder(this.encoding, (chunk) => this.onBody(chunk), bound);
    // No coding grows a body by more than a small fraction, so twice the decoded bound holds any body that decodes within it.
    if (this.holding && this.decoder) this.heldWire = new BodyCapture(2 * kept);
    if (isEventStream && observer.reviewBody !== undefined) this.unjudgedEventStream();
    if (this.holding) return; // the head goes out with the reviewed body
    const dropped = this.editing ? (this.decoder ? ['content-length', 'content-encoding'] : ['content-length']) : [];
    res.writeHead(statusCode, forwardableHeaders(this.head.headers, dropped));
    if (this.parser) res.flushHeaders();
  }

  /**
   * An AWS event stream is never edited (its binary frames pass as they came), so response
   * rules cannot cut it short: it is unreadable to them, and refused whole (read to its end,
   * for its usage, but not sent) when they would decide, else passed on (monitor mode).
   */
  private unjudgedEventStream(): void {
    const why = 'tapwire cannot end an AWS event stream with a refusal, so no rule can judge it as it passes';
    this.tooLong = this.request.observer.unreadableBody?.(this.head!, why) ?? null;
    this.holding = this.tooLong !== null;
  }

  /**
   * A 1xx before the response (101 never reaches here: tapwire does not forward upgrades):
   * 103 Early Hints are passed on to the agent, the others dropped; the final response
   * follows on the same exchange, and only it is recorded.
   */
  private informational(statusCode: number, headers: HeaderMap): void {
    const { res } = this.request;
    if (statusCode !== 103 || res.headersSent || headers.link === undefined) return;
    res.writeEarlyHints(forwardableHeaders(headers));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const { res } = this.request;
    this.wireBytes += chunk.length;
    this.heldWire?.add(chunk);
    if (this.decoder) this.decoder.write(chunk);
    else this.onBody(chunk);
    if (this.holding && !this.decoder && !this.tooLong && this.responsePayload.size > this.responsePayload.keep) this.outgrowHold(chunk);
    if (!this.editing && !this.holding) this.write(chunk);
    if (res.writableNeedDrain && !controller.paused) {
      controller.pause();
      res.once('drain', () => controller.resume());
    }
  }

  /**
   * A held body longer than tapwire holds cannot be reviewed: refused as unreadable (what
   * comes after is dropped), or, when the rules let it through unread (monitor mode, or no
   * rule reviews it), sent on from its first byte and streamed from here on.
   */
  private outgrowHold(chunk: Buffer): void {
    const head = this.head!;
    const why = `the response body is longer than the ${this.responsePayload.keep} bytes tapwire holds for review`;
    this.tooLong = this.request.observer.unreadableBody?.(head, why) ?? null;
    if (this.tooLong) return;
    this.holding = false;
    this.request.res.writeHead(head.status, forwardableHeaders(head.headers));
    // The chunk that crossed the bound is written by the caller, as every chunk after it.
    for (const kept of this.responsePayload.chunks) if (kept !== chunk) this.write(kept);
  }

  onResponseEnd(): void {
    void this.finishResponse();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  /** The response body as tapwire reads it (decoded when it was compressed). */
  private onBody(chunk: Buffer): void {
    this.responsePayload.add(chunk);
    if (this.parser) this.onEvents(this.parser.push(chunk));
    else this.request.observer.onBodyData?.(chunk, this.elapsed());
  }

  private onEvents(events: SseEvent[]): void {
    if (events.length === 0) return;
    const { observer } = this.request;
    // Re-emitted events go out in one write per upstream chunk, as the upstream sent them.
    let out = '';
    for (const event of events) {
      if (event.oversize) {
        // Too long to hold: passed on as it came, counted, never read.
        if (event.oversize === 'end') this.eventLog.skip();
        if (this.editing) out += event.raw;
        continue;
      }
      const at = this.elapsed();
      this.eventLog.addSse(event, at);
      const replacement = observer.onEvent(event, at);
      if (this.editing && replacement !== null) out += replacement ?? event.raw;
    }
    if (out) this.write(out);
  }

  /** Writes to the agent; with strict durability one piece behind, so the last waits for the commit. */
  private write(piece: Buffer | string): void {
    if (!this.ctx.committed || this.request.standing) {
      this.request.res.write(piece);
      return;
    }
    if (this.held !== null) this.request.res.write(this.held);
    this.held = piece;
  }

  private async finishResponse(): Promise<void> {
    let body: Buffer | null = null;
    if (this.decoder) {
      await this.decoder.end();
      if (this.decoder.stopped) this.request.exchange.error_message ??= this.decoder.stopped;
    }
    if (this.parser) {
      this.onEvents(this.parser.end());
      // Re-emitting events, the bytes after the last one must still go out unchanged.
      const tail = this.editing ? this.parser.unterminated() : '';
      if (tail) this.request.res.write(tail);
      // Events tapwire could not decode were never judged, nor sent: the observer may end the stream with a refusal.
      const end = this.editing && this.decoder?.stopped ? this.request.observer.unreadableStream?.(this.decoder.stopped) : null;
      if (end) this.write(end);
    } else if (!this.decoder?.stopped) {
      const whole = this.responsePayload.whole();
      if (whole && whole.length > 0) body = whole;
    }
    const { res } = this.request;
    const reviewed = this.holding ? this.review(body) : null;
    if (this.ctx.committed) {
      await this.settle(body);
      if (!(await this.ctx.committed())) return this.refuseUnrecorded();
    }
    if (reviewed) {
      res.writeHead(reviewed.status, reviewed.headers);
      res.write(reviewed.body);
    }
    if (this.held !== null) res.write(this.held);
    res.end();
    await this.settle(body);
    this.done();
  }

  /**
   * What a held response sends: the upstream's, or the observer's replacement for it. A
   * compressed body is reviewed decoded and, let through, sent as received; one that did not
   * decode within the bound goes to unreadableBody instead.
   */
  private review(body: Buffer | null): Replacement {
    const { observer, exchange } = this.request;
    const head = this.head!;
    const wire = this.heldWire ? this.heldWire.whole() : null;
    const why = this.decoder?.stopped ?? (this.heldWire && !wire ? `tapwire holds at most ${this.heldWire.keep} bytes of a compressed body` : null);
    const replacement = this.tooLong ?? (why !== null ? (observer.unreadableBody?.(head, why) ?? null) : observer.reviewBody!(head, body ?? this.responsePayload.whole() ?? Buffer.alloc(0)));
    if (replacement) {
      exchange.http_status = replacement.status;
      return { ...replacement, headers: { ...replacement.headers, 'content-length': String(replacement.body.length) } };
    }
    if (this.heldWire && !wire) {
      // Let through unread (monitor mode), but too long to have been held whole: not sent cut short.
      const failure = { status: 502, code: 'response_too_large', message: why! };
      exchange.http_status = failure.status;
      const answer = observer.errorBody(failure.status, failure.code, failure.message);
      const text = Buffer.from(JSON.stringify(answer));
      return { status: failure.status, headers: { 'content-type': 'application/json', 'x-tapwire-error': failure.code, ...errorHeadersOf(answer), 'content-length': String(text.length) }, body: text };
    }
    return { status: head.status, headers: forwardableHeaders(head.headers), body: wire ?? body ?? this.responsePayload.whole() ?? Buffer.alloc(0) };
  }

  /**
   * Strict durability, the record could not be committed: the agent gets a store error
   * when nothing was sent yet, else a cut connection, never a complete unrecorded response.
   */
  private refuseUnrecorded(): void {
    const { res, observer } = this.request;
    const failure = storeUnavailable(this.ctx.storeFailure?.() ?? 'the record could not be committed');
    if (!res.headersSent) this.writeError(observer, failure);
    else res.destroy();
    this.done();
  }

  private writeError(observer: ExchangeObserver, failure: GatewayFailure): void {
    const answer = observer.errorBody(failure.status, failure.code, failure.message);
    this.request.res.writeHead(failure.status, { 'content-type': 'application/json', 'x-tapwire-error': failure.code, ...errorHeadersOf(answer) });
    this.request.res.end(JSON.stringify(answer));
  }

  private fail(err: unknown): void {
    const { exchange } = this.request;
    this.decoder?.stop('the exchange failed before the body was decoded');
    if (this.clientGone || err instanceof ClientGone) {
      exchange.status = 'aborted';
      exchange.error_code = 'client_aborted';
      exchange.error_message = new ClientGone().message;
      void this.settle(null).then(() => this.done());
      return;
    }
    void this.answerFailure(classifyUpstreamError(err, this.request.route));
  }

  /** Answers (and records) a call tapwire could not complete, in the protocol's error format. */
  private async answerFailure(failure: GatewayFailure, waitForCommit = true): Promise<void> {
    const { res, exchange, observer } = this.request;
    exchange.status = 'error';
    exchange.error_code = failure.code;
    exchange.error_message = failure.message;
    if (res.headersSent) {
      // The status line is gone: cut the connection so the agent sees a broken response,
      // never a silently shortened one.
      exchange.error_message = `${failure.message} (after ${this.wireBytes} response bytes)`;
      res.destroy();
      await this.settle(null);
      return this.done();
    }
    exchange.http_status = failure.status;
    if (this.ctx.committed && waitForCommit) {
      await this.settle(null);
      if (!(await this.ctx.committed())) return this.refuseUnrecorded();
    }
    this.writeError(observer, failure);
    await this.settle(null);
    this.done();
  }

  /** The response as the record stores it: decoded when it was compressed, and then truncated when decoding stopped short. */
  private recordedResponse(head: ResponseHead): Payload {
    const headers = redactHeaders(head.headers, this.ctx.redacted);
    // An AWS event stream's frames are its record (the events, decoded where redaction reads
    // them); its binary body, whose base64 chunks no redaction pattern could read, is not stored.
    if (this.parser instanceof EventStreamParser) return { headers, body: null, body_size: this.responsePayload.size, truncated: true };
    if (!this.decoder) return this.responsePayload.payload(headers);
    return this.responsePayload.payload(decodedHeaders(headers), this.decoder.stopped !== null);
  }

  /** Hands the finished call to the observer once, whichever way it ended. */
  private async settle(body: Buffer | null): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    const { exchange, observer } = this.request;
    const head = this.head;
    exchange.ended_at = Date.now();
    exchange.duration_ms = this.elapsed();
    exchange.request_bytes = this.requestPayload.size;
    exchange.response_bytes = this.wireBytes;
    if (head && head.status >= 400 && exchange.status === 'ok') exchange.status = 'error';
    if (this.parser) {
      this.eventLog.stamp(exchange);
      // A stream whose decoding stopped carried events tapwire never saw.
      if (this.decoder?.stopped) exchange.events_truncated = 1;
      // An event stream whose frames stopped making sense: what followed passed on unread.
      if (this.parser instanceof EventStreamParser && this.parser.broken) {
        exchange.events_truncated = 1;
        exchange.error_message ??= `tapwire could not read the event stream: ${this.parser.broken}`;
      }
    }
    // Decoded up to what a response body may be held to: the record redacts it whole, then cuts it.
    const captured = decodedPayload(this.requestPayload.payload(redactHeaders(this.request.req.headers, this.ctx.redacted)), Math.max(this.ctx.maxBodyBytes, OBSERVED_BODY_LIMIT));
    // Only a compressed request waits here: yielding for every call would let the agent's
    // connection close end an MCP stream's exchanges before this one hands them its status.
    const request = captured instanceof Promise ? await captured : captured;
    await observer.finish({ exchange, head, body, request, response: head ? this.recordedResponse(head) : null, events: this.eventLog.events });
  }
}

function storeUnavailable(reason: string): GatewayFailure {
  return {
    status: 503,
    code: 'store_unavailable',
    message: `tapwire cannot record this call (store.durability is strict) because the database cannot be written: ${reason}`,
  };
}
