// tapwire's own counters and histograms (telemetry/local-instruments.ts) against the
// OpenTelemetry SDK's: the same adds and records, collected by a reader, give the same series,
// sums and bucket counts (attributes given in another order merge; what the SDK drops is
// dropped), and past the cardinality limit the rest folds into the overflow series.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { CARDINALITY_LIMIT, LocalInstruments, type InstrumentFactory } from '../../telemetry/local-instruments.js';

/** A reader collected on demand. */
class CollectingReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const resource = resourceFromAttributes({ 'service.name': 'test' });

/** Runs `feed` against the SDK's instruments and against tapwire's, and returns each collection's metrics by name. */
async function both(feed: (factory: InstrumentFactory) => void): Promise<{ sdk: Map<string, MetricData>; local: Map<string, MetricData> }> {
  const sdkReader = new CollectingReader();
  const provider = new MeterProvider({ resource, readers: [sdkReader] });
  feed(provider.getMeter('tapwire'));
  const local = new LocalInstruments(resource, 'tapwire');
  const localReader = new CollectingReader({ metricProducers: [local] });
  new MeterProvider({ resource, readers: [localReader] });
  feed(local);
  const byName = async (reader: MetricReader): Promise<Map<string, MetricData>> => {
    const { resourceMetrics } = await reader.collect();
    return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.dataPoints.length > 0).map((m) => [m.descriptor.name, m]));
  };
  return { sdk: await byName(sdkReader), local: await byName(localReader) };
}

/** A metric's points without their times, sorted by attributes: what a reader of the export compares. */
function points(metric: MetricData | undefined): unknown[] {
  assert.ok(metric, 'the metric was collected');
  const sorted = (attributes: Attributes) => Object.fromEntries(Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b)));
  return metric.dataPoints
    .map((p) => ({ attributes: sorted(p.attributes), value: p.value }))
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
}

describe('local instruments', () => {
  test('counters: the same series and sums as the SDK, attributes in any order, negative adds dropped', async () => {
    const { sdk, local } = await both((factory) => {
      const counter: Counter = factory.createCounter('tapwire.exchanges', { unit: '{exchange}', description: 'Exchanges recorded' });
      counter.add(1, { 'tapwire.route': 'openai', 'tapwire.status': 'ok' });
      counter.add(2, { 'tapwire.status': 'ok', 'tapwire.route': 'openai' });
      counter.add(1, { 'tapwire.route': 'mcp', 'tapwire.status': 'error' });
      counter.add(-5, { 'tapwire.route': 'mcp', 'tapwire.status': 'error' });
      counter.add(0.25);
    });
    const mine = local.get('tapwire.exchanges')!;
    assert.deepEqual(points(mine), points(sdk.get('tapwire.exchanges')));
    assert.equal(points(mine).length, 3);
    assert.equal(mine.dataPointType, DataPointType.SUM);
    assert.equal(mine.aggregationTemporality, AggregationTemporality.CUMULATIVE);
    const { name, description, unit, valueType } = sdk.get('tapwire.exchanges')!.descriptor;
    assert.deepEqual(mine.descriptor, { name, description, unit, valueType }, 'what the exporters read of the descriptor');
  });

  test('histograms: the same buckets, sums, counts, min and max as the SDK, advised boundaries and the default ones', async () => {
    const values = [0, 0.004, 0.01, 0.011, 0.3, 2.5, 7, 120, 99_999, -1];
    const { sdk, local } = await both((factory) => {
      const advised: Histogram = factory.createHistogram('gen_ai.client.operation.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12] } });
      const plain: Histogram = factory.createHistogram('tapwire.plain');
      for (const [i, value] of values.entries()) {
        const attributes = i % 2 === 0 ? { 'gen_ai.request.model': 'gpt-4o', 'error.type': 'timeout' } : { 'error.type': 'timeout', 'gen_ai.request.model': 'gpt-4o' };
        advised.record(value, attributes);
        plain.record(value, { model: i % 3 === 0 ? 'a' : 'b' });
      }
    });
    for (const name of ['gen_ai.client.operation.duration', 'tapwire.plain']) {
      assert.equal(local.get(name)!.dataPointType, DataPointType.HISTOGRAM);
      assert.deepEqual(points(local.get(name)), points(sdk.get(name)), name);
    }
  });

  test('past the cardinality limit, further series fold into one marked otel.metric.overflow', async () => {
    const local = new LocalInstruments(resource, 'tapwire');
    const reader = new CollectingReader({ metricProducers: [local] });
    new MeterProvider({ resource, readers: [reader] });
    const counter = local.createCounter('tapwire.cost');
    for (let i = 0; i < CARDINALITY_LIMIT + 10; i++) counter.add(1, { model: `m${i}` });
    const { resourceMetrics } = await reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'tapwire.cost')!;
    assert.equal(metric.dataPoints.length, CARDINALITY_LIMIT);
    const overflow = metric.dataPoints.find((p) => p.attributes['otel.metric.overflow'] === true);
    assert.equal(overflow?.value, 11, 'the adds past the limit are counted, in the overflow series');
  });
});
