// Unit tests of telemetry configuration and trace context: the `telemetry:` section merged
// with the standard OTEL_* variables (the file wins), export off without an endpoint, and
// W3C traceparent values read and written as the spec says.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../config/config.js';
import { blankExchange } from '../../core/exchange.js';
import { telemetrySettings } from '../../config/telemetry.js';
import { formatTraceparent, parseTraceparent, TraceStarter } from '../../core/trace-context.js';
import { AlwaysOffSampler, ParentBasedSampler } from '@opentelemetry/sdk-trace';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('telemetry settings', () => {
  test('no endpoint in the file or the environment: nothing is exported, Prometheus is still served', () => {
    const settings = telemetrySettings(parseConfig('', 't.yaml', {}).telemetry, {});
    assert.equal(settings.tracesUrl, null);
    assert.equal(settings.metricsUrl, null);
    assert.equal(settings.prometheus, true);
    assert.equal(settings.serviceName, 'tapwire');
    assert.equal(settings.sampler, 'parentbased_always_on');
  });

  test('the OTEL_* variables fill in what the file leaves unset, and the file wins', () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=search,authorization=Bearer%20abc',
      OTEL_SERVICE_NAME: 'from-env',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=a',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    };
    const fromEnv = telemetrySettings(parseConfig('', 't.yaml', {}).telemetry, env);
    assert.deepEqual(
      { traces: fromEnv.tracesUrl, metrics: fromEnv.metricsUrl, headers: fromEnv.headers, service: fromEnv.serviceName, sampler: fromEnv.sampler, arg: fromEnv.samplerArg },
      {
        traces: 'http://collector:4318/v1/traces',
        metrics: 'http://collector:4318/v1/metrics',
        headers: { 'x-team': 'search', authorization: 'Bearer abc' },
        service: 'from-env',
        sampler: 'parentbased_traceidratio',
        arg: 0.25,
      },
    );
    const yaml = 'telemetry:\n  endpoint: http://file:4318\n  service_name: from-file\n  resource_attributes: { team: b }\n  headers: { x-team: other }';
    const fromFile = telemetrySettings(parseConfig(yaml, 't.yaml', {}).telemetry, env);
    assert.equal(fromFile.tracesUrl, 'http://file:4318/v1/traces');
    assert.equal(fromFile.serviceName, 'from-file');
    assert.deepEqual(fromFile.resourceAttributes, { 'deployment.environment': 'prod', team: 'b' });
    assert.deepEqual(fromFile.headers, { 'x-team': 'other', authorization: 'Bearer abc' });
  });

  test('message content is off by default; OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT turns it on, the file wins', () => {
    const none = parseConfig('', 't.yaml', {}).telemetry;
    assert.equal(telemetrySettings(none, {}).captureContent, false);
    assert.equal(telemetrySettings(none, { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }).captureContent, true);
    const off = parseConfig('telemetry:\n  capture_content: false', 't.yaml', {}).telemetry;
    assert.equal(telemetrySettings(off, { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' }).captureContent, false);
    const on = parseConfig('telemetry:\n  capture_content: true', 't.yaml', {}).telemetry;
    assert.equal(telemetrySettings(on, {}).captureContent, true);
  });

  test('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn export off', () => {
    const config = parseConfig('telemetry:\n  endpoint: http://file:4318', 't.yaml', {}).telemetry;
    assert.equal(telemetrySettings(config, { OTEL_SDK_DISABLED: 'true' }).tracesUrl, null);
    assert.equal(telemetrySettings(config, { OTEL_TRACES_EXPORTER: 'none' }).tracesUrl, null);
    assert.equal(telemetrySettings(config, { OTEL_TRACES_EXPORTER: 'none' }).metricsUrl, 'http://file:4318/v1/metrics');
  });

  test('an unknown telemetry key or a bad sampler is a config error naming the line', () => {
    assert.throws(() => parseConfig('telemetry:\n  endpiont: http://x:4318', 't.yaml', {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /t\.yaml:2:\d+: telemetry\.endpiont: unknown key/);
      return true;
    });
    assert.throws(() => parseConfig('telemetry:\n  sampler: sometimes', 't.yaml', {}), /telemetry\.sampler/);
  });
});

describe('trace context', () => {
  test('traceparent values are read as the W3C spec says', () => {
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-01`), { traceId: TRACE, spanId: SPAN, sampled: true });
    assert.deepEqual(parseTraceparent(`00-${TRACE}-${SPAN}-00`), { traceId: TRACE, spanId: SPAN, sampled: false });
    assert.equal(parseTraceparent(`00-${'0'.repeat(32)}-${SPAN}-01`), null, 'all-zero trace id');
    assert.equal(parseTraceparent(`ff-${TRACE}-${SPAN}-01`), null, 'version ff');
    assert.equal(parseTraceparent(`00-${TRACE}-${SPAN}-01-extra`), null, 'version 00 has nothing after the flags');
    assert.deepEqual(parseTraceparent(`01-${TRACE}-${SPAN}-01-future`)?.traceId, TRACE, 'later versions may add fields');
    assert.equal(parseTraceparent('garbage'), null);
    assert.equal(parseTraceparent(undefined), null);
  });

  test('an exchange continues its parent: same trace, new span, the parent\'s sampling decision', () => {
    const starter = new TraceStarter();
    const exchange = blankExchange({ agent: 'a', route: 'r', protocol: 'llm' });
    const span = starter.begin(exchange, parseTraceparent(`00-${TRACE}-${SPAN}-00`));
    assert.equal(exchange.trace_id, TRACE);
    assert.notEqual(exchange.span_id, SPAN);
    assert.equal(span.parentSpanId, SPAN);
    assert.equal(formatTraceparent(span), `00-${TRACE}-${exchange.span_id}-00`);
    const root = starter.begin(blankExchange({ agent: 'a', route: 'r', protocol: 'llm' }), null);
    assert.match(formatTraceparent(root), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const off = new TraceStarter(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    assert.equal(off.begin(blankExchange({ agent: 'a', route: 'r', protocol: 'llm' }), null).sampled, false);
  });
});
