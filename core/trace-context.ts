// W3C trace context for exchanges: reads an incoming `traceparent`, gives each exchange its
// own span (trace id and span id, stored on the record) when its request arrives, and writes
// the `traceparent` tapwire sends upstream, so the span the exporter later builds from the
// finished record is the parent of whatever the upstream does.
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace, type Context } from '@opentelemetry/api';
import { ParentBasedSampler, AlwaysOnSampler, SamplingDecision, type Sampler } from '@opentelemetry/sdk-trace';
import type { Exchange } from './exchange.js';

/** The span context a request arrived with (from a `traceparent` header or MCP `params._meta`). */
export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

/** The span of one exchange: its ids, its parent's span id, and whether it is exported. */
export interface ExchangeSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Parses a W3C `traceparent` value; null when absent or malformed (the request then starts a trace). */
export function parseTraceparent(value: unknown): TraceParent | null {
  const text = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (typeof text !== 'string') return null;
  const match = TRACEPARENT.exec(text.trim().toLowerCase());
  if (!match) return null;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === 'ff' || (version === '00' && text.trim().length !== 55) || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & TraceFlags.SAMPLED) !== 0 };
}

/** The `traceparent` value naming `span` as the parent of the next hop. */
export function formatTraceparent(span: ExchangeSpan): string {
  return `00-${span.traceId}-${span.spanId}-${span.sampled ? '01' : '00'}`;
}

/** The `traceparent` an MCP message carries in `params._meta` (the MCP convention for trace context). */
export function metaTraceparent(params: unknown): TraceParent | null {
  if (params === null || typeof params !== 'object') return null;
  const meta = (params as { _meta?: unknown })._meta;
  if (meta === null || typeof meta !== 'object') return null;
  return parseTraceparent((meta as { traceparent?: unknown }).traceparent);
}

const spans = new WeakMap<Exchange, ExchangeSpan>();

/** Cryptographic randomness for ids, drawn from a pool: one call into the CSPRNG per ~170 exchanges, not two per exchange. */
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;

function randomHex(bytes: number): string {
  if (idPoolOffset + bytes > idPool.length) {
    idPool = randomBytes(4096);
    idPoolOffset = 0;
  }
  const hex = idPool.toString('hex', idPoolOffset, idPoolOffset + bytes);
  idPoolOffset += bytes;
  return hex;
}

/** The span given to `exchange` when its request arrived, if any. */
export function spanOf(exchange: Exchange): ExchangeSpan | undefined {
  return spans.get(exchange);
}

/** An OpenTelemetry context whose current span is `parent` (a remote span), for the sampler and the tracer. */
export function parentContext(parent: { traceId: string; spanId: string; sampled: boolean } | null): Context {
  if (!parent) return ROOT_CONTEXT;
  const traceFlags = parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags, isRemote: true });
}

/** Starts the spans of exchanges: new ids, the parent they continue, and the sampler's decision. */
export class TraceStarter {
  /** Calls (HTTP exchanges) whose span an MCP request already took over. */
  private readonly adopted = new WeakSet<Exchange>();

  constructor(private readonly sampler: Sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() })) {}

  /** Gives `exchange` a new span, the child of `parent` (or the root of a new trace). */
  begin(exchange: Exchange, parent: TraceParent | null): ExchangeSpan {
    const traceId = parent?.traceId ?? randomHex(16);
    const spanId = randomHex(8);
    const decision = this.sampler.shouldSample(parentContext(parent), traceId, '', SpanKind.CLIENT, {}, []).decision;
    const span: ExchangeSpan = { traceId, spanId, parentSpanId: parent?.spanId ?? null, sampled: decision === SamplingDecision.RECORD_AND_SAMPLED };
    exchange.trace_id = traceId;
    exchange.span_id = spanId;
    spans.set(exchange, span);
    return span;
  }

  /**
   * The first MCP request an HTTP call carries takes over the call's span (the HTTP call has
   * no record of its own; its `traceparent` upstream must name a span that is exported). When
   * the call came without a `traceparent` header, the request's `_meta.traceparent` becomes
   * the parent first. Returns false when the call's span is already taken: the message then
   * needs a span of its own.
   */
  adopt(call: Exchange, exchange: Exchange, metaParent: TraceParent | null): boolean {
    const callSpan = spans.get(call);
    if (!callSpan || this.adopted.has(call)) return false;
    this.adopted.add(call);
    const span = callSpan.parentSpanId === null && metaParent ? this.begin(call, metaParent) : callSpan;
    exchange.trace_id = span.traceId;
    exchange.span_id = span.spanId;
    spans.set(exchange, span);
    return true;
  }
}
