// OpenTelemetry for LLM calls: the real `openai` SDK calls aimock through two chained
// sidecars (agent → sidecar A → sidecar B → aimock), each exporting over OTLP/HTTP to a real
// endpoint the test runs. The spans must form one trace under the agent's own span, carry the
// GenAI attributes, and match the trace and span ids the exchange rows store; the metrics
// must be served in Prometheus text format with their labels.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { collect, startAimock, type LLMock } from '../support/aimock.js';
import { spanOfExchange, startOtlpCollector, SPAN_KIND_CLIENT, STATUS_ERROR, type OtlpCollector } from '../support/otlp.js';
import { writePolicyFile } from '../support/policy-sidecar.js';
import { startTestSidecarFor } from '../support/sidecar.js';

const KEY = 'sk-test-telemetry-key';
const MODEL = 'gpt-4o-mini';
const AGENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const AGENT_SPAN = '00f067aa0ba902b7';

function telemetryYaml(agent: string, upstream: string, collector: OtlpCollector, extra: string[] = []): string {
  return [
    ...extra,
    `agent: { name: ${agent} }`,
    'routes:',
    '  openai:',
    '    protocol: llm',
    `    upstream: ${upstream}`,
    'telemetry:',
    `  endpoint: ${collector.url}`,
    '  service_name: tapwire-test',
    '  resource_attributes: { deployment.environment: test }',
    ...(extra.length > 0 ? ['  capture_content: true'] : []),
  ].join('\n');
}

describe('OpenTelemetry for LLM calls', () => {
  let mock: LLMock;
  let collector: OtlpCollector;

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^traced chat$/, { content: 'Traced answer.', usage: { prompt_tokens: 120, completion_tokens: 8 }, id: 'chatcmpl-traced' });
      m.onMessage(/^my card is card-\d+$/, { content: 'Noted card-1234.', usage: { prompt_tokens: 9, completion_tokens: 4 } });
      m.onMessage(/^traced stream$/, { content: 'A traced streamed answer.', usage: { prompt_tokens: 60, completion_tokens: 6 }, id: 'chatcmpl-stream' });
    });
    collector = await startOtlpCollector();
  });

  after(async () => {
    await mock.stop();
    await collector.close();
  });

  test('two chained sidecars: one trace under the agent span, GenAI attributes, ids stored on the rows', async (t) => {
    const gateway = await startTestSidecarFor(t, telemetryYaml('gateway', mock.url, collector));
    const planner = await startTestSidecarFor(t, telemetryYaml('planner', `${gateway.url}/openai`, collector));
    const agent = new OpenAI({
      baseURL: `${planner.url}/openai/v1`,
      apiKey: KEY,
      maxRetries: 0,
      defaultHeaders: { traceparent: `00-${AGENT_TRACE}-${AGENT_SPAN}-01` },
    });

    const completion = await agent.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'traced chat' }],
      max_completion_tokens: 64,
      temperature: 0.25,
      top_p: 0.9,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      stop: ['END', 'STOP'],
      seed: 7,
      n: 2,
    });
    const chunks = await collect(
      await agent.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'traced stream' }], stream: true, stream_options: { include_usage: true } }),
    );
    assert.equal(completion.choices[0]?.message.content, 'Traced answer.');
    assert.ok(chunks.length > 1);

    const [plannerChat, plannerStream] = await planner.stop();
    const [gatewayChat, gatewayStream] = await gateway.stop();
    const spans = collector.spans();

    // Each row's ids are its span's; the planner's span is the agent's child, the gateway's the planner's.
    for (const [first, second] of [[plannerChat!, gatewayChat!], [plannerStream!, gatewayStream!]] as const) {
      const a = spanOfExchange(spans, first.id);
      const b = spanOfExchange(spans, second.id);
      assert.equal(a.traceId, AGENT_TRACE);
      assert.equal(b.traceId, AGENT_TRACE);
      assert.equal(first.trace_id, AGENT_TRACE);
      assert.equal(second.trace_id, AGENT_TRACE);
      assert.equal(a.spanId, first.span_id);
      assert.equal(b.spanId, second.span_id);
      assert.equal(a.parentSpanId, AGENT_SPAN);
      assert.equal(b.parentSpanId, a.spanId);
      assert.equal(a.kind, SPAN_KIND_CLIENT);
      assert.equal(a.resource['gen_ai.agent.name'], 'planner');
      assert.equal(b.resource['gen_ai.agent.name'], 'gateway');
      assert.equal(a.resource['service.name'], 'tapwire-test');
      assert.equal(a.resource['deployment.environment'], 'test');
      assert.equal(a.startMs, first.started_at);
      assert.ok(b.startMs >= a.startMs && b.endMs <= a.endMs + 1, 'the gateway span lies within the planner span');
    }

    const chat = spanOfExchange(spans, plannerChat!.id);
    assert.equal(chat.name, `chat ${MODEL}`);
    assert.deepEqual(
      {
        operation: chat.attributes['gen_ai.operation.name'],
        provider: chat.attributes['gen_ai.provider.name'],
        requestModel: chat.attributes['gen_ai.request.model'],
        responseId: chat.attributes['gen_ai.response.id'],
        input: chat.attributes['gen_ai.usage.input_tokens'],
        output: chat.attributes['gen_ai.usage.output_tokens'],
        finish: chat.attributes['gen_ai.response.finish_reasons'],
        stream: chat.attributes['gen_ai.request.stream'],
        server: chat.attributes['server.address'],
        port: chat.attributes['server.port'],
        route: chat.attributes['tapwire.route'],
      },
      {
        operation: 'chat',
        provider: 'openai',
        requestModel: MODEL,
        responseId: 'chatcmpl-traced',
        input: 120,
        output: 8,
        finish: ['stop'],
        stream: false,
        server: '127.0.0.1',
        port: Number(new URL(gateway.url).port),
        route: 'openai',
      },
    );
    // Request parameters, read from the recorded request body (GenAI gen_ai.request.*).
    assert.deepEqual(
      Object.fromEntries(Object.entries(chat.attributes).filter(([k]) => k.startsWith('gen_ai.request.') && k !== 'gen_ai.request.model' && k !== 'gen_ai.request.stream')),
      {
        'gen_ai.request.max_tokens': 64,
        'gen_ai.request.temperature': 0.25,
        'gen_ai.request.top_p': 0.9,
        'gen_ai.request.frequency_penalty': 0.5,
        'gen_ai.request.presence_penalty': -0.5,
        'gen_ai.request.stop_sequences': ['END', 'STOP'],
        'gen_ai.request.seed': 7,
        'gen_ai.request.choice.count': 2,
      },
    );
    const streamed = spanOfExchange(spans, plannerStream!.id);
    assert.equal(streamed.attributes['gen_ai.request.temperature'], undefined, 'a parameter the request did not set is absent');
    for (const key of ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions']) {
      assert.equal(chat.attributes[key], undefined, `no ${key} unless capture_content is on`);
    }
    assert.equal(streamed.attributes['gen_ai.request.stream'], true);
    assert.equal(typeof streamed.attributes['gen_ai.response.time_to_first_chunk'], 'number');
    assert.equal(streamed.attributes['gen_ai.usage.input_tokens'], 60);
  });

  test('capture_content: the messages are on the span as JSON, masked by the redact rules as in the record', async (t) => {
    const policy = writePolicyFile(t, ['rules:', '  - name: mask-cards', '    when: protocol == "llm"', '    action: redact', "    redact: { patterns: ['card-[0-9]+'] }", ''].join('\n'));
    const tapwire = await startTestSidecarFor(t, telemetryYaml('planner', mock.url, collector, [`policies: [${JSON.stringify(policy)}]`]));
    const agent = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const completion = await agent.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'my card is card-4242' },
      ],
    });
    assert.equal(completion.choices[0]?.message.content, 'Noted card-1234.', 'the agent gets the real answer');
    const [row] = await tapwire.stop();
    const span = spanOfExchange(collector.spans(), row!.id);
    assert.deepEqual(JSON.parse(String(span.attributes['gen_ai.input.messages'])), [
      { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'my card is [redacted]' }] },
    ]);
    assert.deepEqual(JSON.parse(String(span.attributes['gen_ai.output.messages'])), [
      { role: 'assistant', parts: [{ type: 'text', content: 'Noted [redacted].' }], finish_reason: 'stop' },
    ]);
    assert.ok(!JSON.stringify(span.attributes).includes('card-'), 'nothing the rule masks leaves in the span');
  });

  test('a failed call is an error span with error.type, and the agent still gets its answer', async (t) => {
    const tapwire = await startTestSidecarFor(t, telemetryYaml('planner', mock.url, collector));
    const agent = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: 'sk-wrong-key', maxRetries: 0 });
    await assert.rejects(agent.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'traced chat' }] }), { status: 401 });
    const [row] = await tapwire.stop();
    const span = spanOfExchange(collector.spans(), row!.id);
    assert.equal(span.statusCode, STATUS_ERROR);
    assert.equal(span.attributes['error.type'], row!.error_code, 'the provider\'s error code');
    assert.equal(span.attributes['http.response.status_code'], 401);
    assert.equal(span.parentSpanId, null, 'no traceparent from the agent: the span starts a trace');
    assert.equal(span.traceId, row!.trace_id);
  });

  test('GET /_tapwire/metrics serves the GenAI and tapwire metrics with their labels after traffic', async (t) => {
    const tapwire = await startTestSidecarFor(t, telemetryYaml('planner', mock.url, collector));
    const agent = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    await agent.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'traced chat' }] });
    await collect(await agent.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'traced stream' }], stream: true }));

    const res = await fetch(`${tapwire.url}/_tapwire/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`));
    for (const family of [
      'gen_ai_client_token_usage histogram',
      'gen_ai_client_operation_duration histogram',
      'gen_ai_client_operation_time_to_first_chunk histogram',
      'tapwire_exchanges_total counter',
      'tapwire_cost_total counter',
    ]) {
      assert.ok(families.has(family), `family ${family} in:\n${[...families].join('\n')}`);
    }
    const sample = (name: string, labels: Record<string, string>): boolean =>
      text.split('\n').some((line) => line.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)));
    assert.ok(sample('gen_ai_client_token_usage_count', { gen_ai_token_type: 'input', gen_ai_request_model: MODEL, gen_ai_provider_name: 'openai' }), text);
    assert.ok(sample('gen_ai_client_token_usage_sum', { gen_ai_token_type: 'output', gen_ai_operation_name: 'chat' }), text);
    assert.ok(sample('tapwire_exchanges_total', { tapwire_protocol: 'llm', tapwire_method: 'chat', tapwire_status: 'ok', tapwire_route: 'openai' }), text);
    assert.ok(sample('gen_ai_client_operation_duration_bucket', { le: '0.01', gen_ai_operation_name: 'chat' }), text);
    assert.ok(!/exchange_id|chatcmpl/.test(text), 'no per-call ids in the metric labels');
    await tapwire.stop();
    assert.ok(collector.metricNames().has('gen_ai.client.token.usage'), 'the metrics also reached the OTLP endpoint');
  });
});
