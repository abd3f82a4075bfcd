// The metrics charted from exchanges: GenAI token usage and durations, MCP operation
// durations, cost, policy decisions and an exchange count, with the conventions' bucket
// boundaries and low-cardinality attributes only. Token usage follows v1.41
// (gen_ai.client.token.usage) or, opted in, the newer per-kind token counters. Pushed over
// OTLP/HTTP when an endpoint is set, and served in Prometheus text format at
// GET /_tapwire/metrics. The store's health (failed writes, dropped and buffered records) is
// observed from the recorder, and failed OTLP exports (of spans and of these metrics) are counted.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import type { ExchangeRecord } from '../core/exchange.js';
import { isMcpClientRequest, llmOperation, type RouteTarget } from './attributes.js';
import type { TelemetrySettings } from '../config/telemetry.js';
import type { ExportFailures } from './export-failures.js';

/** gen_ai.client.token.usage buckets (GenAI semantic conventions). */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
/** gen_ai.client.operation.duration and time_to_first_chunk buckets, in seconds (GenAI conventions). */
const GEN_AI_SECONDS_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/** mcp.client.operation.duration buckets, in seconds (MCP conventions). */
const MCP_SECONDS_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

function put(attributes: Attributes, key: string, value: string | number | null | undefined): Attributes {
  if (value !== null && value !== undefined) attributes[key] = value;
  return attributes;
}

/** The exchange counter's `method`: the JSON-RPC method or GenAI operation; for plain HTTP only the verb (paths carry ids). */
function countedMethod(record: ExchangeRecord): string {
  const e = record.exchange;
  if (e.protocol === 'llm') return llmOperation(record);
  if (e.protocol === 'http') return e.method?.split(' ', 1)[0] ?? 'unknown';
  if (e.method?.includes(' ')) return e.method.split(' ', 1)[0]!; // an A2A card fetch or an MCP DELETE: the HTTP verb
  return e.method ?? 'unknown';
}

/** How an LLM exchange's token counts are charted: one of two generations of the conventions. */
interface TokenInstruments {
  record(record: ExchangeRecord, attributes: Attributes): void;
}

/** v1.41: one histogram, gen_ai.client.token.usage, split by gen_ai.token.type. */
class TokenUsageHistogram implements TokenInstruments {
  private readonly usage: Histogram;

  constructor(meter: Meter) {
    this.usage = meter.createHistogram('gen_ai.client.token.usage', {
      unit: '{token}',
      description: 'Number of input and output tokens used',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    });
  }

  record({ exchange: e }: ExchangeRecord, attributes: Attributes): void {
    if (e.input_tokens !== null) this.usage.record(e.input_tokens, { ...attributes, 'gen_ai.token.type': 'input' });
    if (e.output_tokens !== null) this.usage.record(e.output_tokens, { ...attributes, 'gen_ai.token.type': 'output' });
  }
}

/**
 * The GenAI conventions repository's newer token metrics: a counter per kind of token
 * (gen_ai.client.inference.usage.*) with gen_ai.token.modality, and per-operation histograms
 * of input and output tokens. Providers report no per-modality split on the routes tapwire
 * reads, so the modality is `unknown`, as the conventions say for a count not broken down.
 */
class LatestTokenInstruments implements TokenInstruments {
  private readonly counters: ReadonlyArray<[Counter, (e: ExchangeRecord['exchange']) => number | null]>;
  private readonly operationInput: Histogram;
  private readonly operationOutput: Histogram;

  constructor(meter: Meter) {
    const counter = (name: string, description: string): Counter => meter.createCounter(name, { unit: '{token}', description });
    this.counters = [
      [counter('gen_ai.client.inference.usage.input_tokens', 'Input tokens used, including cached tokens'), (e) => e.input_tokens],
      [counter('gen_ai.client.inference.usage.output_tokens', 'Output tokens used, including reasoning tokens'), (e) => e.output_tokens],
      [counter('gen_ai.client.inference.usage.cache_read.input_tokens', 'Input tokens served from a provider cache'), (e) => e.cache_read_tokens],
      [counter('gen_ai.client.inference.usage.cache_write.input_tokens', 'Input tokens written to a provider cache'), (e) => e.cache_write_tokens],
      [counter('gen_ai.client.inference.usage.reasoning.output_tokens', 'Output tokens used for reasoning'), (e) => e.reasoning_tokens],
    ];
    const histogram = (name: string, description: string): Histogram =>
      meter.createHistogram(name, { unit: '{token}', description, advice: { explicitBucketBoundaries: TOKEN_BUCKETS } });
    this.operationInput = histogram('gen_ai.client.inference.operation.input_tokens', 'Input tokens used per inference operation');
    this.operationOutput = histogram('gen_ai.client.inference.operation.output_tokens', 'Output tokens used per inference operation');
  }

  record({ exchange: e }: ExchangeRecord, attributes: Attributes): void {
    const withModality = { ...attributes, 'gen_ai.token.modality': 'unknown' };
    for (const [counter, count] of this.counters) {
      const value = count(e);
      if (value !== null) counter.add(value, withModality);
    }
    if (e.input_tokens !== null) this.operationInput.record(e.input_tokens, attributes);
    if (e.output_tokens !== null) this.operationOutput.record(e.output_tokens, attributes);
  }
}

/** What the store metrics read from the recorder. */
export interface StoreStats {
  writeFailures: number;
  dropped: number;
  buffered: number;
}

export class ExchangeMetrics {
  private readonly provider: MeterProvider;
  private readonly prometheus: PrometheusExporter | null;
  private readonly tokens: TokenInstruments;
  private readonly genAiDuration: Histogram;
  private readonly timeToFirstChunk: Histogram;
  private readonly mcpDuration: Histogram;
  private readonly cost: Counter;
  private readonly policyDecisions: Counter;
  private readonly exchanges: Counter;

  constructor(
    settings: TelemetrySettings,
    resource: Resource,
    private readonly routeTarget: (route: string) => RouteTarget,
    failures: ExportFailures,
  ) {
    const readers: IMetricReader[] = [];
    if (settings.metricsUrl) {
      const exporter = new OTLPMetricExporter({ url: settings.metricsUrl, headers: settings.headers, timeoutMillis: settings.exportTimeoutMs });
      failures.watch('metrics', settings.metricsUrl, exporter);
      readers.push(
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: settings.metricsIntervalMs,
          exportTimeoutMillis: Math.min(settings.exportTimeoutMs, settings.metricsIntervalMs),
        }),
      );
    }
    this.prometheus = settings.prometheus ? new PrometheusExporter({ preventServerStart: true }) : null;
    if (this.prometheus) readers.push(this.prometheus);
    this.provider = new MeterProvider({ resource, readers });
    const meter = this.provider.getMeter('tapwire');
    this.tokens = settings.latestGenAiConventions ? new LatestTokenInstruments(meter) : new TokenUsageHistogram(meter);
    this.genAiDuration = meter.createHistogram('gen_ai.client.operation.duration', {
      unit: 's',
      description: 'GenAI operation duration',
      advice: { explicitBucketBoundaries: GEN_AI_SECONDS_BUCKETS },
    });
    this.timeToFirstChunk = meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
      unit: 's',
      description: 'Time until the first chunk of a streamed response',
      advice: { explicitBucketBoundaries: GEN_AI_SECONDS_BUCKETS },
    });
    this.mcpDuration = meter.createHistogram('mcp.client.operation.duration', {
      unit: 's',
      description: 'Duration of an MCP request as the client sees it',
      advice: { explicitBucketBoundaries: MCP_SECONDS_BUCKETS },
    });
    this.cost = meter.createCounter('tapwire.cost', { unit: 'USD', description: 'Cost of LLM calls, from the price table' });
    this.policyDecisions = meter.createCounter('tapwire.policy.decisions', { unit: '{decision}', description: 'Policy decisions taken on exchanges' });
    this.exchanges = meter.createCounter('tapwire.exchanges', { unit: '{exchange}', description: 'Exchanges recorded' });
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
    this.exchanges.add(1, { 'tapwire.protocol': e.protocol, 'tapwire.route': e.route, 'tapwire.method': countedMethod(record), 'tapwire.status': e.status });
    if (e.policy_action) this.policyDecisions.add(1, put({ 'tapwire.route': e.route, 'tapwire.policy.action': e.policy_action }, 'tapwire.policy.rule', e.policy_rule));
    if (e.protocol === 'llm') this.recordLlm(record, errorType);
    else if (e.protocol === 'mcp' && isMcpClientRequest(record) && e.duration_ms !== null) {
      const attributes: Attributes = { 'mcp.method.name': e.method!, 'network.transport': this.routeTarget(e.route).pipe ? 'pipe' : 'tcp' };
      if (e.method === 'tools/call') put(attributes, 'gen_ai.tool.name', e.target);
      this.mcpDuration.record(e.duration_ms / 1000, put(attributes, 'error.type', errorType));
    }
  }

  private recordLlm(record: ExchangeRecord, errorType: string | null): void {
    const e = record.exchange;
    const target = this.routeTarget(e.route);
    const attributes: Attributes = { 'gen_ai.operation.name': llmOperation(record) };
    put(attributes, 'gen_ai.provider.name', e.provider);
    put(attributes, 'gen_ai.request.model', e.model);
    put(attributes, 'gen_ai.response.model', e.response_model);
    put(attributes, 'server.address', target.address);
    put(attributes, 'server.port', target.port);
    if (e.duration_ms !== null) this.genAiDuration.record(e.duration_ms / 1000, put({ ...attributes }, 'error.type', errorType));
    if (e.ttft_ms !== null) this.timeToFirstChunk.record(e.ttft_ms / 1000, attributes);
    this.tokens.record(record, attributes);
    if (e.cost_usd !== null && e.cost_usd > 0) {
      this.cost.add(e.cost_usd, put({ 'tapwire.route': e.route, 'gen_ai.request.model': e.model ?? 'unknown' }, 'gen_ai.provider.name', e.provider));
    }
  }

  /** Store health, read when metrics are collected: failed writes, dropped and buffered records. */
  watchStore(stats: () => StoreStats): void {
    const meter = this.provider.getMeter('tapwire');
    const failures = meter.createObservableCounter('tapwire.store.write_failures', {
      unit: '{failure}',
      description: 'Writes to the database that failed (each retried) and database files recreated after being deleted',
    });
    const dropped = meter.createObservableCounter('tapwire.store.dropped', {
      unit: '{record}',
      description: 'Records dropped because the buffer was full while the database could not be written',
    });
    const buffered = meter.createObservableGauge('tapwire.store.buffered', { unit: '{record}', description: 'Records waiting to be written to the database' });
    meter.addBatchObservableCallback(
      (observer) => {
        const now = stats();
        observer.observe(failures, now.writeFailures);
        observer.observe(dropped, now.dropped);
        observer.observe(buffered, now.buffered);
      },
      [failures, dropped, buffered],
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
