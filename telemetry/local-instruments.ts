// The counters and histograms fed on every exchange, aggregated in tapwire's own maps and
// handed to the SDK's readers (OTLP push, the Prometheus endpoint) as a MetricProducer when
// they collect. Why not the SDK's synchronous instruments: they copy, validate, sort and
// stringify an add's attributes once per reader, on the request path; here an add costs one
// key built from the attributes as given and a map lookup, and the sorting happens once per
// series at collection. Points are cumulative (the OTLP exporter's default temporality and
// Prometheus's); an instrument keeps at most CARDINALITY_LIMIT series, as the SDK does, and
// folds the rest into one series marked otel.metric.overflow.
import { ValueType, type Attributes, type AttributeValue, type Counter, type Histogram, type HrTime, type MetricOptions } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';

/** The SDK's default cardinality limit per instrument. */
export const CARDINALITY_LIMIT = 2000;
const OVERFLOW_ATTRIBUTES: Attributes = { 'otel.metric.overflow': true };
/** The SDK's default explicit bucket boundaries, for a histogram that advises none. */
const DEFAULT_BOUNDARIES = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/** What a protocol's metrics create their instruments from (protocols/*\/telemetry.ts). */
export interface InstrumentFactory {
  createCounter(name: string, options?: MetricOptions): Counter;
  createHistogram(name: string, options?: MetricOptions): Histogram;
}

/** A key for the attributes as given: the same call site builds them in the same order. */
function attributeKey(attributes: Attributes): string {
  let key = '';
  for (const name in attributes) {
    const value = attributes[name];
    if (value === undefined || value === null) continue;
    key += `${name}\u0000${typeof value === 'string' ? 's' : typeof value === 'object' ? 'a' : 'n'}${typeof value === 'object' ? JSON.stringify(value) : String(value)}\u0001`;
  }
  return key;
}

/** The attributes with their keys sorted: series built in another order merge at collection. */
function canonical(attributes: Attributes): string {
  return JSON.stringify(Object.keys(attributes).sort().map((name) => [name, attributes[name]]));
}

function copied(attributes: Attributes): Attributes {
  const copy: Attributes = {};
  for (const name in attributes) {
    const value: AttributeValue | undefined = attributes[name];
    if (value !== undefined && value !== null) copy[name] = Array.isArray(value) ? [...(value as AttributeValue[])] as AttributeValue : value;
  }
  return copy;
}

/** One instrument's series by attribute key, capped at CARDINALITY_LIMIT. */
abstract class LocalInstrument<Series> {
  /** By the attributes' key as given; each series with its sorted key, for merging at collection. */
  private readonly series = new Map<string, { attributes: Attributes; sorted: string; state: Series }>();

  constructor(readonly descriptor: MetricDescriptor) {}

  protected abstract fresh(): Series;

  protected stateOf(attributes: Attributes | undefined): Series {
    const given = attributes ?? {};
    const key = attributeKey(given);
    let entry = this.series.get(key);
    if (!entry) {
      if (this.series.size >= CARDINALITY_LIMIT - 1) return this.overflow();
      const attributes = copied(given);
      entry = { attributes, sorted: canonical(attributes), state: this.fresh() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  private overflow(): Series {
    const key = attributeKey(OVERFLOW_ATTRIBUTES);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { attributes: OVERFLOW_ATTRIBUTES, sorted: canonical(OVERFLOW_ATTRIBUTES), state: this.fresh() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  /** The series merged by their sorted attributes, each as a data point. */
  protected points<T>(merge: (into: Series, from: Series) => void, value: (state: Series) => T, start: HrTime, end: HrTime): DataPoint<T>[] {
    const merged = new Map<string, { attributes: Attributes; state: Series }>();
    for (const entry of this.series.values()) {
      const into = merged.get(entry.sorted);
      if (into) merge(into.state, entry.state);
      else {
        const state = this.fresh();
        merge(state, entry.state);
        merged.set(entry.sorted, { attributes: entry.attributes, state });
      }
    }
    return [...merged.values()].map((entry) => ({ startTime: start, endTime: end, attributes: entry.attributes, value: value(entry.state) }));
  }

  abstract collect(start: HrTime, end: HrTime): MetricData | null;
}

class LocalCounter extends LocalInstrument<{ sum: number }> implements Counter {
  protected fresh(): { sum: number } {
    return { sum: 0 };
  }

  add(value: number, attributes?: Attributes): void {
    // As the SDK: a counter only goes up.
    if (!(value >= 0) || value === Infinity) return;
    this.stateOf(attributes).sum += value;
  }

  collect(start: HrTime, end: HrTime): MetricData | null {
    const dataPoints = this.points((into, from) => (into.sum += from.sum), (state) => state.sum, start, end);
    if (dataPoints.length === 0) return null;
    return { descriptor: this.descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints };
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
}

class LocalHistogram extends LocalInstrument<HistogramState> implements Histogram {
  constructor(
    descriptor: MetricDescriptor,
    private readonly boundaries: readonly number[],
  ) {
    super(descriptor);
  }

  protected fresh(): HistogramState {
    return { counts: new Array<number>(this.boundaries.length + 1).fill(0), sum: 0, count: 0, min: Infinity, max: -Infinity };
  }

  record(value: number, attributes?: Attributes): void {
    // As the SDK: a histogram takes no negative (or non-finite) value.
    if (!(value >= 0) || value === Infinity) return;
    const state = this.stateOf(attributes);
    // Buckets are (boundary[i-1], boundary[i]]; the last one is above every boundary.
    let bucket = 0;
    while (bucket < this.boundaries.length && value > this.boundaries[bucket]!) bucket++;
    state.counts[bucket]!++;
    state.sum += value;
    state.count++;
    if (value < state.min) state.min = value;
    if (value > state.max) state.max = value;
  }

  collect(start: HrTime, end: HrTime): MetricData | null {
    const merge = (into: HistogramState, from: HistogramState): void => {
      for (let i = 0; i < into.counts.length; i++) into.counts[i]! += from.counts[i]!;
      into.sum += from.sum;
      into.count += from.count;
      into.min = Math.min(into.min, from.min);
      into.max = Math.max(into.max, from.max);
    };
    const dataPoints = this.points(
      merge,
      (state) => ({ buckets: { boundaries: [...this.boundaries], counts: [...state.counts] }, sum: state.sum, count: state.count, min: state.min, max: state.max }),
      start,
      end,
    );
    if (dataPoints.length === 0) return null;
    return { descriptor: this.descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints };
  }
}

function describe(name: string, options: MetricOptions | undefined): MetricDescriptor {
  return { name, description: options?.description ?? '', unit: options?.unit ?? '', valueType: options?.valueType ?? ValueType.DOUBLE };
}

/** The instruments tapwire aggregates itself, and the producer the readers collect them from. */
export class LocalInstruments implements InstrumentFactory, MetricProducer {
  private readonly instruments: LocalInstrument<unknown>[] = [];
  private readonly start = hrTime();

  constructor(
    private readonly resource: Resource,
    private readonly scope: string,
  ) {}

  createCounter(name: string, options?: MetricOptions): Counter {
    const counter = new LocalCounter(describe(name, options));
    this.instruments.push(counter);
    return counter;
  }

  createHistogram(name: string, options?: MetricOptions): Histogram {
    const histogram = new LocalHistogram(describe(name, options), options?.advice?.explicitBucketBoundaries ?? DEFAULT_BOUNDARIES);
    this.instruments.push(histogram);
    return histogram;
  }

  collect(): Promise<CollectionResult> {
    const end = hrTime();
    const metrics = this.instruments.map((instrument) => instrument.collect(this.start, end)).filter((data): data is MetricData => data !== null);
    return Promise.resolve({ resourceMetrics: { resource: this.resource, scopeMetrics: metrics.length > 0 ? [{ scope: { name: this.scope }, metrics }] : [] }, errors: [] });
  }
}
