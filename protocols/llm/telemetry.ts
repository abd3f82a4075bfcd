// An LLM call's OpenTelemetry, per the GenAI semantic conventions (v1.41 names, or the newer
// ones when opted in): its span (`chat gpt-4o`, the gen_ai.request.*, gen_ai.response.* and
// gen_ai.usage.* attributes, and the message content when captured) and its metrics (token
// usage, operation duration, time to first chunk, and tapwire.cost), read from the finished
// record. Telemetry picks it from its table (protocols/telemetry-table.ts).
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { unpricedLlmCall, type ExchangeRecord } from '../../core/exchange.js';
import { parseJson } from '../../core/json-body.js';
import { bodyJson, setAttribute, withTarget, type RouteTarget, type SpanOptions } from '../../telemetry/attributes.js';
import type { InstrumentFactory, MetricOptions, ProtocolMetrics, ProtocolTelemetry } from '../../telemetry/protocol-telemetry.js';
import { llmContent } from './telemetry-content.js';
import { genAiProviderName } from './providers.js';

/** gen_ai.client.token.usage buckets (GenAI semantic conventions). */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
/** gen_ai.client.operation.duration and time_to_first_chunk buckets, in seconds (GenAI conventions). */
const GEN_AI_SECONDS_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

function finishReasons(text: string | null): string[] | null {
  if (!text) return null;
  try {
    const parsed = parseJson(text);
    return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === 'string') : null;
  } catch {
    return null;
  }
}

function numberIn(body: Record<string, unknown>, ...keys: string[]): number | null {
  for (const key of keys) if (typeof body[key] === 'number' && Number.isFinite(body[key])) return body[key];
  return null;
}

/**
 * gen_ai.request.* parameters from an LLM request body: OpenAI Chat Completions and
 * Responses (`max_completion_tokens`, `max_output_tokens`, `stop`, `n`) and Anthropic
 * Messages (`top_k`, `stop_sequences`). Only what the request set is reported.
 */
function requestParameters(body: Record<string, unknown>, attributes: Attributes): void {
  setAttribute(attributes, 'gen_ai.request.max_tokens', numberIn(body, 'max_tokens', 'max_completion_tokens', 'max_output_tokens'));
  setAttribute(attributes, 'gen_ai.request.temperature', numberIn(body, 'temperature'));
  setAttribute(attributes, 'gen_ai.request.top_p', numberIn(body, 'top_p'));
  setAttribute(attributes, 'gen_ai.request.top_k', numberIn(body, 'top_k'));
  setAttribute(attributes, 'gen_ai.request.frequency_penalty', numberIn(body, 'frequency_penalty'));
  setAttribute(attributes, 'gen_ai.request.presence_penalty', numberIn(body, 'presence_penalty'));
  setAttribute(attributes, 'gen_ai.request.seed', numberIn(body, 'seed'));
  const n = numberIn(body, 'n');
  if (n !== null && n !== 1) setAttribute(attributes, 'gen_ai.request.choice.count', n);
  const stop = body.stop_sequences ?? body.stop;
  if (typeof stop === 'string') setAttribute(attributes, 'gen_ai.request.stop_sequences', [stop]);
  else if (Array.isArray(stop)) setAttribute(attributes, 'gen_ai.request.stop_sequences', stop.filter((s): s is string => typeof s === 'string'));
}

/** The GenAI operation of an LLM exchange (`chat` unless the adapter named another). */
function llmOperation(record: ExchangeRecord): string {
  return record.exchange.operation ?? 'chat';
}

function llmSpan(record: ExchangeRecord, attributes: Attributes, _route: RouteTarget, options: SpanOptions): string {
  const e = record.exchange;
  const request = bodyJson(record.request);
  requestParameters(request, attributes);
  // A streamed answer is a series of events, not one document: its output is not captured.
  if (options.captureContent) llmContent(request, e.streamed === 1 ? {} : bodyJson(record.response), attributes);
  const operation = llmOperation(record);
  setAttribute(attributes, 'gen_ai.operation.name', operation);
  setAttribute(attributes, 'gen_ai.provider.name', genAiProviderName(e.provider));
  setAttribute(attributes, 'gen_ai.request.model', e.model);
  setAttribute(attributes, 'gen_ai.response.model', e.response_model);
  setAttribute(attributes, 'gen_ai.response.id', e.response_id);
  setAttribute(attributes, 'gen_ai.usage.input_tokens', e.input_tokens);
  setAttribute(attributes, 'gen_ai.usage.output_tokens', e.output_tokens);
  setAttribute(attributes, 'gen_ai.usage.cache_read.input_tokens', e.cache_read_tokens);
  // Renamed after v1.41 in the GenAI conventions repository.
  setAttribute(attributes, options.latestConventions ? 'gen_ai.usage.cache_write.input_tokens' : 'gen_ai.usage.cache_creation.input_tokens', e.cache_write_tokens);
  setAttribute(attributes, 'gen_ai.usage.reasoning.output_tokens', e.reasoning_tokens);
  setAttribute(attributes, 'gen_ai.response.finish_reasons', finishReasons(e.finish_reasons));
  setAttribute(attributes, 'gen_ai.request.stream', e.streamed === 1);
  if (e.ttft_ms !== null) setAttribute(attributes, 'gen_ai.response.time_to_first_chunk', e.ttft_ms / 1000);
  setAttribute(attributes, 'tapwire.cost_usd', e.cost_usd);
  setAttribute(attributes, 'tapwire.tokens_estimated', e.tokens_estimated === 1);
  return withTarget(operation, e.model);
}

/** How an LLM exchange's token counts are charted: one of two generations of the conventions. */
interface TokenInstruments {
  record(record: ExchangeRecord, attributes: Attributes): void;
}

/** v1.41: one histogram, gen_ai.client.token.usage, split by gen_ai.token.type. */
class TokenUsageHistogram implements TokenInstruments {
  private readonly usage: Histogram;

  constructor(meter: InstrumentFactory) {
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

  constructor(meter: InstrumentFactory) {
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

/** The GenAI client metrics of LLM calls, and their cost from the price table. */
class LlmMetrics implements ProtocolMetrics {
  private readonly tokens: TokenInstruments;
  private readonly duration: Histogram;
  private readonly timeToFirstChunk: Histogram;
  private readonly cost: Counter;
  private readonly unpriced: Counter;

  constructor(meter: InstrumentFactory, options: MetricOptions) {
    this.tokens = options.latestConventions ? new LatestTokenInstruments(meter) : new TokenUsageHistogram(meter);
    this.duration = meter.createHistogram('gen_ai.client.operation.duration', {
      unit: 's',
      description: 'GenAI operation duration',
      advice: { explicitBucketBoundaries: GEN_AI_SECONDS_BUCKETS },
    });
    this.timeToFirstChunk = meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
      unit: 's',
      description: 'Time until the first chunk of a streamed response',
      advice: { explicitBucketBoundaries: GEN_AI_SECONDS_BUCKETS },
    });
    this.cost = meter.createCounter('tapwire.cost', { unit: 'USD', description: 'Cost of LLM calls, from the price table' });
    this.unpriced = meter.createCounter('tapwire.llm.unpriced_calls', {
      unit: '{call}',
      description: 'LLM calls with usage but no price for their model: their cost is unknown, not counted in tapwire.cost',
    });
  }

  record(record: ExchangeRecord, target: RouteTarget, errorType: string | null): void {
    const e = record.exchange;
    const attributes: Attributes = { 'gen_ai.operation.name': llmOperation(record) };
    setAttribute(attributes, 'gen_ai.provider.name', genAiProviderName(e.provider));
    setAttribute(attributes, 'gen_ai.request.model', e.model);
    setAttribute(attributes, 'gen_ai.response.model', e.response_model);
    setAttribute(attributes, 'server.address', target.address);
    setAttribute(attributes, 'server.port', target.port);
    if (e.duration_ms !== null) this.duration.record(e.duration_ms / 1000, setAttribute({ ...attributes }, 'error.type', errorType));
    if (e.ttft_ms !== null) this.timeToFirstChunk.record(e.ttft_ms / 1000, attributes);
    this.tokens.record(record, attributes);
    const costAttributes = (): Attributes => setAttribute({ 'tapwire.route': e.route, 'gen_ai.request.model': e.model ?? 'unknown' }, 'gen_ai.provider.name', genAiProviderName(e.provider));
    if (e.cost_usd !== null && e.cost_usd > 0) this.cost.add(e.cost_usd, costAttributes());
    // Every call with usage adds to its model's series (0 when priced), so a priced model reads 0, not no data.
    if (e.input_tokens !== null || e.output_tokens !== null) this.unpriced.add(unpricedLlmCall(e) ? 1 : 0, costAttributes());
  }
}

export const llmTelemetry: ProtocolTelemetry = {
  span: llmSpan,
  countedMethod: llmOperation,
  metrics: (meter, options) => new LlmMetrics(meter, options),
};
