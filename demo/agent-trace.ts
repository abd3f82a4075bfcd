// The scripted agent's own span for each round, `invoke_agent demo-agent`, so a round is one
// complete trace: every call of the round carries the span in `traceparent`, and the
// sidecar's spans become its children. With an OTLP endpoint the span is exported there
// (as an instrumented agent would); without one only its ids are used.
import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export class AgentTracer {
  private readonly provider: TracerProvider | null;

  constructor(
    private readonly agent: string,
    otlpEndpoint: string | undefined,
  ) {
    this.provider = otlpEndpoint
      ? new TracerProvider({
          resource: resourceFromAttributes({ 'service.name': 'tapwire-demo-agent', 'gen_ai.agent.name': agent }),
          spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/+$/, '')}/v1/traces` }) })],
        })
      : null;
  }

  /** Runs one round inside the agent's span, handing it the `traceparent` its calls carry. */
  async round(work: (traceparent: string) => Promise<void>): Promise<void> {
    if (!this.provider) return work(`00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`);
    const span = this.provider.getTracer('tapwire-demo').startSpan(`invoke_agent ${this.agent}`, {
      kind: SpanKind.INTERNAL,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': this.agent },
    });
    const { traceId, spanId } = span.spanContext();
    try {
      await work(`00-${traceId}-${spanId}-01`);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  /** Exports the last spans, waiting at most `deadlineMs` for the endpoint. */
  async close(deadlineMs: number): Promise<void> {
    if (!this.provider) return;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([this.provider.shutdown().catch(() => undefined), deadline]);
  }
}
