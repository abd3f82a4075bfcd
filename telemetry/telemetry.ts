// The sidecar's OpenTelemetry: the trace starter every exchange gets its span ids from, the
// span export and the metrics, fed from the record sink; what is particular to each protocol
// comes from the table its composition root hands in (telemetry/protocol-telemetry.ts).
// Built per sidecar (no global providers), so each sidecar's resource names its own agent.
// Nothing here may throw into the request path: a record telemetry cannot handle is logged
// and skipped. The span export and the metrics (with their exporters) are loaded only when
// the config uses them: a sidecar without an OTLP endpoint never loads the OTLP exporters.
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/config.js';
import type { ExchangeRecord } from '../core/exchange.js';
import type { Logger } from '../core/log.js';
import type { RouteTarget } from './attributes.js';
import type { ProtocolTelemetryTable } from './protocol-telemetry.js';
import { telemetrySettings, type TelemetrySettings } from '../config/telemetry.js';
import { TraceStarter } from '../core/trace-context.js';
import { ExportFailures } from './export-failures.js';
import type { ExchangeMetrics, SharedLimitStats, ShippingStats, StoreStats } from './metrics.js';
import type { SpanExport } from './spans.js';

/** The path on the sidecar's listener that serves the metrics in Prometheus text format. */
export const METRICS_PATH = '/_tapwire/metrics';

function samplerFor(settings: TelemetrySettings): Sampler {
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(settings.samplerArg);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplerArg) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** How a process other than the sidecar uses telemetry. */
export interface TelemetryOptions {
  /**
   * `tapwire wrap`: the route whose server it runs over stdio (network.transport = pipe,
   * whatever the route's config says). It has no listener, so no Prometheus endpoint.
   */
  wrapRoute?: string;
}

function routeTargets(config: Config, wrapRoute: string | undefined): (route: string) => RouteTarget {
  const targets = new Map<string, RouteTarget>();
  for (const [name, route] of Object.entries(config.routes)) {
    if (!route.upstream || name === wrapRoute) {
      targets.set(name, { address: null, port: null, pipe: true });
      continue;
    }
    const url = new URL(route.upstream);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    targets.set(name, { address: url.hostname.replace(/^\[|\]$/g, ''), port, pipe: false });
  }
  if (wrapRoute !== undefined) targets.set(wrapRoute, { address: null, port: null, pipe: true });
  const unknown: RouteTarget = { address: null, port: null, pipe: false };
  return (route) => targets.get(route) ?? unknown;
}

export class Telemetry {
  private failures = 0;

  private constructor(
    readonly traces: TraceStarter,
    private readonly log: Logger,
    private readonly spans: SpanExport | null,
    private readonly metrics: ExchangeMetrics | null,
  ) {}

  static async start(
    config: Config,
    env: NodeJS.ProcessEnv,
    log: Logger,
    /** Each protocol's span attributes, counted method and metrics (protocols/telemetry-table.ts). */
    protocols: ProtocolTelemetryTable,
    options: TelemetryOptions = {},
  ): Promise<Telemetry> {
    const settings = telemetrySettings(config.telemetry, env);
    if (options.wrapRoute !== undefined) settings.prometheus = false;
    const labels = Object.fromEntries(Object.entries(config.agent.labels).map(([k, v]) => [`tapwire.agent.label.${k}`, v]));
    const resource = resourceFromAttributes({
      ...labels,
      ...settings.resourceAttributes,
      'service.name': settings.serviceName,
      'gen_ai.agent.name': config.agent.name,
    });
    const targets = routeTargets(config, options.wrapRoute);
    const failures = new ExportFailures(log);
    const spans = settings.tracesUrl ? new (await import('./spans.js')).SpanExport({ ...settings, tracesUrl: settings.tracesUrl }, resource, targets, failures, protocols) : null;
    const metrics = settings.metricsUrl || settings.prometheus ? await (await import('./metrics.js')).ExchangeMetrics.start(settings, resource, targets, failures, protocols) : null;
    return new Telemetry(new TraceStarter(samplerFor(settings)), log, spans, metrics);
  }

  /** Turns a finished record into its span and metrics. Never throws. */
  record(record: ExchangeRecord): void {
    try {
      this.spans?.record(record);
      this.metrics?.record(record);
    } catch (err) {
      // Logged once in a while, not per record: a broken exporter must not flood the log.
      if (this.failures++ % 1000 === 0) this.log.warn({ err, failures: this.failures }, 'telemetry could not handle a record');
    }
  }

  /** Exposes the store's health (write failures, dropped and buffered records) as metrics. */
  watchStore(stats: () => StoreStats): void {
    this.metrics?.watchStore(stats);
  }

  watchShipping(stats: () => ShippingStats): void {
    this.metrics?.watchShipping(stats);
  }

  /** Exposes whether the fleet's Redis (limits.redis) is in use, and its outages, as metrics. */
  watchSharedLimits(stats: () => SharedLimitStats): void {
    this.metrics?.watchSharedLimits(stats);
  }

  /** Serves GET /_tapwire/metrics; false when the Prometheus endpoint is off. */
  serveMetrics(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.metrics?.servesPrometheus) return false;
    this.metrics.servePrometheus(req, res);
    return true;
  }

  /** Exports what is pending, waiting at most `deadlineMs` for an endpoint that is slow or down. */
  async close(deadlineMs: number): Promise<void> {
    await Promise.all([this.spans?.close(deadlineMs), this.metrics?.close(deadlineMs)]);
  }
}
