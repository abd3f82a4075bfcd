// The metrics charted from exchanges: an exchange count and policy decisions for every
// protocol, and each protocol's own (GenAI token usage, durations and cost for LLM calls,
// MCP operation durations: ProtocolTelemetry.metrics, protocols/*/telemetry.ts), with the
// conventions' bucket boundaries and low-cardinality attributes only. Pushed over
// OTLP/HTTP when an endpoint is set, and served in Prometheus text format at
// GET /_tapwire/metrics. The store's health (failed writes, dropped and buffered records) is
// observed from the recorder, the shared limits' Redis from its client (limits.redis), and
// failed OTLP exports (of spans and of these metrics) are counted.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter } from '@opentelemetry/api';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, type IMetricReader } from '@opentelemetry/sdk-metrics';
import type { ExchangeRecord, Protocol } from '../core/exchange.js';
import { setAttribute, type RouteTarget } from './attributes.js';
import { LocalInstruments } from './local-instruments.js';
import type { ProtocolMetrics, ProtocolTelemetry, ProtocolTelemetryTable } from './protocol-telemetry.js';
import type { TelemetrySettings } from '../config/telemetry.js';
import type { ExportFailures } from './export-failures.js';

/**
 * The exchange counter's `method` for a JSON-RPC protocol (MCP, A2A): the method, or the HTTP
 * verb of an exchange recorded as "VERB path" (an A2A card fetch, an MCP DELETE).
 */
export function countedRpcMethod(record: ExchangeRecord): string {
  const method = record.exchange.method;
  if (method?.includes(' ')) return method.split(' ', 1)[0]!;
  return method ?? 'unknown';
}

/** What the store metrics read from the recorder. */
export interface StoreStats {
  writeFailures: number;
  dropped: number;
  buffered: number;
}

/** What the shipping metrics read from the shipper (store/shipper.ts). */
export interface ShippingStats {
  shipped: number;
  backlog: number;
  lagMs: number;
  failures: number;
}

/** What the shared-limit metrics read (limits.redis): Redis in use now, and how many times it stopped being. */
export interface SharedLimitStats {
  available: boolean;
  outages: number;
}

/** An instrument observed at collection: a counter (monotonic) or a gauge, read from a stats snapshot. */
interface ObservedInstrument<Stats> {
  kind: 'counter' | 'gauge';
  name: string;
  unit: string;
  description: string;
  read: (stats: Stats) => number;
}

export class ExchangeMetrics {
  private readonly provider: MeterProvider;
  private readonly prometheus: PrometheusExporter | null;
  /** Each protocol's own instruments (GenAI for LLM calls, MCP's), for the protocols that chart any. */
  private readonly protocolMetrics: Partial<Record<Protocol, ProtocolMetrics>> = {};
  private readonly policyDecisions: Counter;
  private readonly exchanges: Counter;

  /** The metrics `settings` ask for, their exporters loaded only when used (OTLP push, the Prometheus endpoint). */
  static async start(
    settings: TelemetrySettings,
    resource: Resource,
    routeTarget: (route: string) => RouteTarget,
    failures: ExportFailures,
    protocols: ProtocolTelemetryTable,
  ): Promise<ExchangeMetrics> {
    const readers: IMetricReader[] = [];
    // The instruments fed per exchange aggregate in tapwire's own maps, collected by every reader.
    const local = new LocalInstruments(resource, 'tapwire');
    const metricsUrl = settings.metricsUrl;
    if (metricsUrl) readers.push((await import('./otlp-metric-reader.js')).otlpMetricReader({ ...settings, metricsUrl }, failures, [local]));
    const prometheus = settings.prometheus ? (await import('./prometheus-reader.js')).prometheusReader([local]) : null;
    if (prometheus) readers.push(prometheus);
    return new ExchangeMetrics(settings, resource, routeTarget, failures, protocols, readers, prometheus, local);
  }

  private constructor(
    settings: TelemetrySettings,
    resource: Resource,
    private readonly routeTarget: (route: string) => RouteTarget,
    failures: ExportFailures,
    private readonly protocols: ProtocolTelemetryTable,
    readers: IMetricReader[],
    prometheus: PrometheusExporter | null,
    local: LocalInstruments,
  ) {
    this.prometheus = prometheus;
    this.provider = new MeterProvider({ resource, readers });
    const meter = this.provider.getMeter('tapwire');
    const metricOptions = { latestConventions: settings.latestGenAiConventions };
    for (const [protocol, telemetry] of Object.entries(protocols) as [Protocol, ProtocolTelemetry][]) {
      if (telemetry.metrics) this.protocolMetrics[protocol] = telemetry.metrics(local, metricOptions);
    }
    this.policyDecisions = local.createCounter('tapwire.policy.decisions', { unit: '{decision}', description: 'Policy decisions taken on exchanges' });
    this.exchanges = local.createCounter('tapwire.exchanges', { unit: '{exchange}', description: 'Exchanges recorded' });
    if (settings.tracesUrl || settings.metricsUrl) {
      const exportFailures = meter.createObservableCounter('tapwire.otlp.export_failures', {
        unit: '{failure}',
        description: 'OTLP exports that failed (endpoint refused, timed out or answered with an error), by signal',
      });
      exportFailures.addCallback((observer) => {
        if (settings.tracesUrl) observer.observe(failures.count('traces'), { signal: 'traces' });
        if (settings.metricsUrl) observer.observe(failures.count('metrics'), { signal: 'metrics' });
      });
    }
  }

  /** Counts a finished exchange. */
  record(record: ExchangeRecord): void {
    const e = record.exchange;
    const errorType = e.status === 'ok' ? null : (e.error_code ?? e.status);
    const method = this.protocols[e.protocol].countedMethod(record);
    this.exchanges.add(1, { 'tapwire.protocol': e.protocol, 'tapwire.route': e.route, 'tapwire.method': method, 'tapwire.status': e.status });
    if (e.policy_action) this.policyDecisions.add(1, setAttribute({ 'tapwire.route': e.route, 'tapwire.policy.action': e.policy_action }, 'tapwire.policy.rule', e.policy_rule));
    this.protocolMetrics[e.protocol]?.record(record, this.routeTarget(e.route), errorType);
  }

  /** Store health, read when metrics are collected: failed writes, dropped and buffered records. */
  watchStore(stats: () => StoreStats): void {
    this.observe(stats, [
      { kind: 'counter', name: 'tapwire.store.write_failures', unit: '{failure}', description: 'Writes to the database that failed (each retried) and database files recreated after being deleted', read: (s) => s.writeFailures },
      { kind: 'counter', name: 'tapwire.store.dropped', unit: '{record}', description: 'Records dropped because the buffer was full while the database could not be written', read: (s) => s.dropped },
      { kind: 'gauge', name: 'tapwire.store.buffered', unit: '{record}', description: 'Records waiting to be written to the database', read: (s) => s.buffered },
    ]);
  }

  /** Shipping to the central record, read when metrics are collected: its backlog, lag, progress and failures. */
  watchShipping(stats: () => ShippingStats): void {
    this.observe(stats, [
      { kind: 'gauge', name: 'tapwire.store.central.backlog', unit: '{record}', description: 'Committed local records not yet stored in the central record', read: (s) => s.backlog },
      { kind: 'gauge', name: 'tapwire.store.central.lag', unit: 's', description: 'Age of the oldest record not yet stored in the central record (0 when none waits)', read: (s) => s.lagMs / 1000 },
      { kind: 'counter', name: 'tapwire.store.central.shipped', unit: '{record}', description: 'Records stored in the central record by this process', read: (s) => s.shipped },
      { kind: 'counter', name: 'tapwire.store.central.failures', unit: '{failure}', description: 'Batches the central record did not take (each retried)', read: (s) => s.failures },
    ]);
  }

  /** Shared limits' health, read when metrics are collected: Redis in use (1) or not (0), and its outages. */
  watchSharedLimits(stats: () => SharedLimitStats): void {
    this.observe(stats, [
      { kind: 'gauge', name: 'tapwire.limits.redis.available', unit: '1', description: 'Whether limits count in Redis (1) or follow limits.redis.on_unavailable (0)', read: (s) => (s.available ? 1 : 0) },
      { kind: 'counter', name: 'tapwire.limits.redis.outages', unit: '{outage}', description: 'Times Redis became unavailable to the shared limits (refused, closed or timed out)', read: (s) => s.outages },
    ]);
  }

  /** Observed instruments read together from one snapshot of `stats`, once per collection. */
  private observe<Stats>(stats: () => Stats, instruments: readonly ObservedInstrument<Stats>[]): void {
    const meter = this.provider.getMeter('tapwire');
    const created = instruments.map((spec) => {
      const options = { unit: spec.unit, description: spec.description };
      return { read: spec.read, instrument: spec.kind === 'counter' ? meter.createObservableCounter(spec.name, options) : meter.createObservableGauge(spec.name, options) };
    });
    meter.addBatchObservableCallback(
      (observer) => {
        const now = stats();
        for (const { read, instrument } of created) observer.observe(instrument, read(now));
      },
      created.map(({ instrument }) => instrument),
    );
  }

  /** True when GET /_tapwire/metrics is served. */
  get servesPrometheus(): boolean {
    return this.prometheus !== null;
  }

  /** Answers GET /_tapwire/metrics with the Prometheus text exposition. */
  servePrometheus(req: IncomingMessage, res: ServerResponse): void {
    this.prometheus?.getMetricsRequestHandler(req, res);
  }

  /** Pushes what is pending, waiting at most `deadlineMs`, and stops. */
  async close(deadlineMs: number): Promise<void> {
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref());
    await Promise.race([this.provider.shutdown().catch(() => undefined), deadline]);
  }
}
