// The reader that pushes metrics over OTLP/HTTP every metrics interval: a module of its own so
// the OTLP exporter loads only when telemetry has an endpoint (metrics.ts imports it on demand).
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PeriodicExportingMetricReader, type IMetricReader, type MetricProducer } from '@opentelemetry/sdk-metrics';
import type { TelemetrySettings } from '../config/telemetry.js';
import type { ExportFailures } from './export-failures.js';

export function otlpMetricReader(settings: TelemetrySettings & { metricsUrl: string }, failures: ExportFailures, producers: MetricProducer[]): IMetricReader {
  const exporter = new OTLPMetricExporter({ url: settings.metricsUrl, headers: settings.headers, timeoutMillis: settings.exportTimeoutMs });
  failures.watch('metrics', settings.metricsUrl, exporter);
  return new PeriodicExportingMetricReader({
    exporter,
    metricProducers: producers,
    exportIntervalMillis: settings.metricsIntervalMs,
    exportTimeoutMillis: Math.min(settings.exportTimeoutMs, settings.metricsIntervalMs),
  });
}
