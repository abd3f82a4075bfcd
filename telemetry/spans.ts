// Turns each finished exchange record into one CLIENT span with the record's own start and
// end times and the ids it was given when its request arrived, and exports the spans over
// OTLP/HTTP in batches. The queue is bounded: spans beyond it are dropped, never traffic.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, TracerProvider, type IdGenerator } from '@opentelemetry/sdk-trace';
import type { ExchangeRecord } from '../core/exchange.js';
import { describeSpan, type RouteTarget, type SpanOptions } from './attributes.js';
import { parentContext, spanOf } from '../core/trace-context.js';
import type { TelemetrySettings } from '../config/telemetry.js';
import type { ExportFailures } from './export-failures.js';
import type { ProtocolTelemetryTable } from './protocol-telemetry.js';

/**
 * Hands the tracer the ids tapwire chose when the request arrived (they are already on the
 * record and were sent upstream in `traceparent`), instead of new random ones.
 */
class ChosenIds implements IdGenerator {
  traceId = '';
  spanId = '';
  generateTraceId(): string {
    return this.traceId;
  }
  generateSpanId(): string {
    return this.spanId;
  }
}

export class SpanExport {
  private readonly provider: TracerProvider;
  private readonly ids = new ChosenIds();
  private readonly tracer;
  private readonly spanOptions: SpanOptions;

  constructor(
    settings: TelemetrySettings & { tracesUrl: string },
    resource: Resource,
    private readonly routeTarget: (route: string) => RouteTarget,
    failures: ExportFailures,
    private readonly protocols: ProtocolTelemetryTable,
  ) {
    this.spanOptions = { captureContent: settings.captureContent, latestConventions: settings.latestGenAiConventions };
    const exporter = new OTLPTraceExporter({ url: settings.tracesUrl, headers: settings.headers, timeoutMillis: settings.exportTimeoutMs });
    failures.watch('traces', settings.tracesUrl, exporter);
    const processor = new BatchSpanProcessor({
      exporter,
      maxQueueSize: settings.maxQueueSize,
      maxExportBatchSize: Math.min(512, settings.maxQueueSize),
      scheduledDelayMillis: 1000,
      exportTimeoutMillis: settings.exportTimeoutMs,
    });
    // Sampling was decided when the request arrived (core/trace-context.ts); unsampled records never get here.
    this.provider = new TracerProvider({ resource, sampler: new AlwaysOnSampler(), idGenerator: this.ids, spanProcessors: [processor] });
    this.tracer = this.provider.getTracer('tapwire');
  }

  /** Builds and ends the span of a finished exchange; it leaves with the next batch. */
  record(record: ExchangeRecord): void {
    const e = record.exchange;
    const span = spanOf(e);
    if (!span?.sampled) return;
    const { name, attributes } = describeSpan(record, this.routeTarget(e.route), this.spanOptions, this.protocols);
    const parent = span.parentSpanId ? { traceId: span.traceId, spanId: span.parentSpanId, sampled: true } : null;
    this.ids.traceId = span.traceId;
    this.ids.spanId = span.spanId;
    const started = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime: e.started_at, attributes }, parentContext(parent));
    if (e.status !== 'ok') started.setStatus({ code: SpanStatusCode.ERROR, message: e.error_message ?? e.error_code ?? e.status });
    started.end(e.started_at + (e.duration_ms ?? (e.ended_at ?? e.started_at) - e.started_at));
  }

  /** Exports what is queued, waiting at most `deadlineMs`, and stops. */
  async close(deadlineMs: number): Promise<void> {
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([this.provider.shutdown().catch(() => undefined), deadline]);
  }
}
