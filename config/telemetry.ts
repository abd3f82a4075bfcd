// The `telemetry:` section of tapwire.yaml and the standard OTEL_* environment variables
// that fill in what it leaves unset. Export is off when no OTLP endpoint is given either way.
import { z } from 'zod';

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export type SamplerName = (typeof SAMPLERS)[number];

export const telemetrySchema = z.strictObject({
  /** OTLP/HTTP base URL, e.g. http://127.0.0.1:4318 (traces go to /v1/traces, metrics to /v1/metrics). */
  endpoint: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://127.0.0.1:4318' }).optional(),
  /** Full URL for traces only, overriding endpoint + /v1/traces. */
  traces_endpoint: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
  /** Full URL for metrics only, overriding endpoint + /v1/metrics. */
  metrics_endpoint: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  service_name: z.string().min(1).optional(),
  resource_attributes: z.record(z.string(), z.string()).optional(),
  sampler: z.enum(SAMPLERS).optional(),
  sampler_arg: z.number().min(0).max(1).optional(),
  /** Longest an export request may take before it is abandoned. */
  export_timeout_ms: z.number().int().positive().optional(),
  /** How often metrics are pushed over OTLP. */
  metrics_interval_ms: z.number().int().positive().optional(),
  /** Spans waiting for export beyond this many are dropped, never the traffic. */
  max_queue_size: z.number().int().positive().optional(),
  /** GET /_tapwire/metrics serves the metrics in Prometheus text format. */
  prometheus: z.boolean().optional(),
  /** Spans carry message content (prompts, answers, tool arguments and results), redacted by the policies' redact rules. */
  capture_content: z.boolean().optional(),
});

export type TelemetryConfig = z.infer<typeof telemetrySchema>;

/** The telemetry settings in force, once the config file and the environment are merged. */
export interface TelemetrySettings {
  /** Where spans are posted; null when trace export is off. */
  tracesUrl: string | null;
  /** Where metrics are posted; null when metric export is off. */
  metricsUrl: string | null;
  headers: Record<string, string>;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampler: SamplerName;
  samplerArg: number;
  exportTimeoutMs: number;
  metricsIntervalMs: number;
  maxQueueSize: number;
  prometheus: boolean;
  captureContent: boolean;
  /**
   * OTEL_SEMCONV_STABILITY_OPT_IN names `gen_ai_latest_experimental`: spans and metrics use the
   * newer GenAI names (docs/telemetry.md lists them) instead of the v1.41 ones.
   */
  latestGenAiConventions: boolean;
}

/** True when OTEL_SEMCONV_STABILITY_OPT_IN (a comma-separated list) opts into the latest GenAI conventions. */
export function optsIntoLatestGenAi(value: string | undefined): boolean {
  return (value ?? '').split(',').some((item) => item.trim().toLowerCase() === 'gen_ai_latest_experimental');
}

/** Parses OTEL_EXPORTER_OTLP_HEADERS / OTEL_RESOURCE_ATTRIBUTES: `key=value,key=value`, values percent-encoded. */
export function parseKeyValueList(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (text ?? '').split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq).trim();
    const raw = item.slice(eq + 1).trim();
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // a value that is not percent-encoded is taken as it is
    }
    if (key) out[key] = value;
  }
  return out;
}

function positiveInt(text: string | undefined): number | undefined {
  const n = Number(text);
  return text && Number.isInteger(n) && n > 0 ? n : undefined;
}

function signalUrl(base: string | undefined, signal: 'traces' | 'metrics'): string | undefined {
  return base ? `${base.replace(/\/+$/, '')}/v1/${signal}` : undefined;
}

/**
 * Merges the config file's `telemetry:` section with the OTEL_* environment: the file wins,
 * the environment fills in the rest. OTEL_SDK_DISABLED=true turns export off;
 * OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER=none turn off that signal.
 */
export function telemetrySettings(config: TelemetryConfig, env: NodeJS.ProcessEnv): TelemetrySettings {
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const endpoint = config.endpoint ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined);
  const tracesUrl = config.traces_endpoint ?? (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || undefined) ?? signalUrl(endpoint, 'traces');
  const metricsUrl = config.metrics_endpoint ?? (env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT || undefined) ?? signalUrl(endpoint, 'metrics');
  const envSampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  const envSamplerArg = env.OTEL_TRACES_SAMPLER_ARG === undefined ? NaN : Number(env.OTEL_TRACES_SAMPLER_ARG);
  const resourceFromEnv = parseKeyValueList(env.OTEL_RESOURCE_ATTRIBUTES);
  return {
    tracesUrl: disabled || env.OTEL_TRACES_EXPORTER?.trim() === 'none' ? null : (tracesUrl ?? null),
    metricsUrl: disabled || env.OTEL_METRICS_EXPORTER?.trim() === 'none' ? null : (metricsUrl ?? null),
    headers: { ...parseKeyValueList(env.OTEL_EXPORTER_OTLP_HEADERS), ...config.headers },
    serviceName: config.service_name ?? (env.OTEL_SERVICE_NAME || resourceFromEnv['service.name'] || 'tapwire'),
    resourceAttributes: { ...resourceFromEnv, ...config.resource_attributes },
    sampler: config.sampler ?? (SAMPLERS.find((s) => s === envSampler) ?? 'parentbased_always_on'),
    samplerArg: config.sampler_arg ?? (envSamplerArg >= 0 && envSamplerArg <= 1 ? envSamplerArg : 1),
    exportTimeoutMs: config.export_timeout_ms ?? positiveInt(env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? 10_000,
    metricsIntervalMs: config.metrics_interval_ms ?? positiveInt(env.OTEL_METRIC_EXPORT_INTERVAL) ?? 60_000,
    maxQueueSize: config.max_queue_size ?? positiveInt(env.OTEL_BSP_MAX_QUEUE_SIZE) ?? 2048,
    prometheus: config.prometheus ?? true,
    captureContent: config.capture_content ?? env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.trim().toLowerCase() === 'true',
    latestGenAiConventions: optsIntoLatestGenAi(env.OTEL_SEMCONV_STABILITY_OPT_IN),
  };
}
