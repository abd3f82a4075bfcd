// The reader behind GET /_tapwire/metrics (Prometheus text format, served on the sidecar's own
// listener): a module of its own so its exporter loads only when the endpoint is on.
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';

export function prometheusReader(producers: MetricProducer[]): PrometheusExporter {
  return new PrometheusExporter({ preventServerStart: true, metricProducers: producers });
}
