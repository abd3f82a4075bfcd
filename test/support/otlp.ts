// A real OTLP/HTTP endpoint for telemetry tests: a node:http server on 127.0.0.1 that takes
// what tapwire's OTLP exporters post (http/json, the encoding of exporter-*-otlp-http) to
// /v1/traces and /v1/metrics, and flattens the spans for assertions.
import { startUpstream, type ScriptedUpstream } from './upstream.js';

/** An OTLP/JSON AnyValue. */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
}

interface TracesRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

interface MetricsRequest {
  resourceMetrics?: { scopeMetrics?: { metrics?: { name: string }[] }[] }[];
}

export type AttributeValue = string | number | boolean | AttributeValue[];

/** A span as received, with its attributes and its resource's attributes as plain objects. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  /** OTLP SpanKind: 3 is CLIENT. */
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export const SPAN_KIND_CLIENT = 3;
export const STATUS_ERROR = 2;

function plain(value: AnyValue): AttributeValue {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  return (value.arrayValue?.values ?? []).map(plain);
}

function attributes(list: KeyValue[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, plain(kv.value)]));
}

export interface OtlpCollector {
  /** The base URL to configure as telemetry.endpoint. */
  url: string;
  server: ScriptedUpstream;
  /** Every span received so far, in arrival order. */
  spans(): ReceivedSpan[];
  /** The names of the metrics received so far. */
  metricNames(): Set<string>;
  close(): Promise<void>;
}

/** Starts an OTLP/HTTP receiver that accepts everything (200 with an empty JSON body). */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const server = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  const bodies = (path: string): unknown[] =>
    server.requests.filter((r) => r.url === path).map((r) => JSON.parse(r.body.toString('utf8')) as unknown);
  return {
    url: server.url,
    server,
    spans(): ReceivedSpan[] {
      return (bodies('/v1/traces') as TracesRequest[]).flatMap((body) =>
        (body.resourceSpans ?? []).flatMap((rs) => {
          const resource = attributes(rs.resource?.attributes);
          return (rs.scopeSpans ?? []).flatMap((ss) =>
            (ss.spans ?? []).map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId || null,
              name: s.name,
              kind: s.kind,
              startMs: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000,
              endMs: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000,
              attributes: attributes(s.attributes),
              resource,
              statusCode: s.status?.code ?? 0,
            })),
          );
        }),
      );
    },
    metricNames(): Set<string> {
      const names = (bodies('/v1/metrics') as MetricsRequest[]).flatMap((body) =>
        (body.resourceMetrics ?? []).flatMap((rm) => (rm.scopeMetrics ?? []).flatMap((sm) => (sm.metrics ?? []).map((m) => m.name))),
      );
      return new Set(names);
    },
    close: () => server.close(),
  };
}

/** The one span whose `tapwire.exchange.id` is `exchangeId`. */
export function spanOfExchange(spans: ReceivedSpan[], exchangeId: string): ReceivedSpan {
  const found = spans.filter((s) => s.attributes['tapwire.exchange.id'] === exchangeId);
  if (found.length !== 1) throw new Error(`expected one span for exchange ${exchangeId}, got ${found.length}`);
  return found[0]!;
}
