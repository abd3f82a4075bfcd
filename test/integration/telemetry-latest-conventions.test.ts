// OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental switches spans and metrics to the
// newer GenAI token names and the A2A TaskState enum values; without it tapwire keeps the v1.41 names. The same real clients
// (@anthropic-ai/sdk with prompt-cache usage, an @a2a-js/sdk v0.3 client) go through two
// sidecars, one opted in and one not, and the test reads what each exported.
// Why a scripted upstream for Anthropic: aimock's answers carry no cache_* usage fields.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startA2aAgent, v03Client, type A2aAgent } from '../support/a2a.js';
import { spanOfExchange, startOtlpCollector, type OtlpCollector } from '../support/otlp.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { startUpstream, type ScriptedUpstream } from '../support/upstream.js';

const MODEL = 'claude-sonnet-4-5';
const USAGE = { input_tokens: 20, cache_creation_input_tokens: 1500, cache_read_input_tokens: 300, output_tokens: 12 };
const OPT_IN = { ...process.env, OTEL_SEMCONV_STABILITY_OPT_IN: 'http, gen_ai_latest_experimental' };
const DEFAULT = { ...process.env, OTEL_SEMCONV_STABILITY_OPT_IN: '' };

function yaml(anthropic: string, agent: string, collector: OtlpCollector): string {
  return [
    'routes:',
    '  anthropic:',
    '    protocol: llm',
    '    provider: anthropic',
    `    upstream: ${anthropic}`,
    '  planner:',
    '    protocol: a2a',
    `    upstream: ${agent}`,
    'telemetry:',
    `  endpoint: ${collector.url}`,
  ].join('\n');
}

async function traffic(sidecar: TestSidecar): Promise<void> {
  const client = new Anthropic({ baseURL: `${sidecar.url}/anthropic`, apiKey: 'sk-ant-test', maxRetries: 0 });
  const message = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'cached question' }] });
  assert.equal(message.usage.cache_creation_input_tokens, USAGE.cache_creation_input_tokens, 'the agent got the upstream usage');
  const a2a = await v03Client(`${sidecar.url}/planner/`, 'JSONRPC');
  const task = await a2a.sendMessage({
    message: { kind: 'message', messageId: crypto.randomUUID(), role: 'user', parts: [{ kind: 'text', text: 'hello' }] },
    configuration: { blocking: true },
  });
  assert.equal(task.kind, 'task');
}

async function metricsText(sidecar: TestSidecar): Promise<string> {
  const res = await fetch(`${sidecar.url}/_tapwire/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

describe('OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental', () => {
  let anthropic: ScriptedUpstream;
  let agent: A2aAgent;
  let collector: OtlpCollector;

  before(async () => {
    anthropic = await startUpstream((_req, res) => {
      const body = JSON.stringify({
        id: 'msg_cached',
        type: 'message',
        role: 'assistant',
        model: MODEL,
        content: [{ type: 'text', text: 'From the cache.' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: USAGE,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    agent = await startA2aAgent();
    collector = await startOtlpCollector();
  });

  after(async () => {
    await anthropic.close();
    await agent.close();
    await collector.close();
  });

  test('opted in: cache_write tokens and TASK_STATE_* on spans; token counters in the metrics', async (t) => {
    const sidecar = await startTestSidecarFor(t, yaml(anthropic.url, agent.origin, collector), OPT_IN);
    await traffic(sidecar);
    const metrics = await metricsText(sidecar);
    const rows = await sidecar.stop();

    const llm = spanOfExchange(collector.spans(), rows.find((e) => e.protocol === 'llm')!.id);
    // Input tokens are normalised to include the cached ones (GenAI conventions).
    assert.equal(llm.attributes['gen_ai.usage.input_tokens'], 1820);
    assert.equal(llm.attributes['gen_ai.usage.cache_write.input_tokens'], 1500);
    assert.equal(llm.attributes['gen_ai.usage.cache_read.input_tokens'], 300);
    assert.equal(llm.attributes['gen_ai.usage.cache_creation.input_tokens'], undefined, 'the v1.41 name is not sent as well');

    const sendRow = rows.find((e) => e.protocol === 'a2a' && e.method === 'SendMessage');
    assert.ok(sendRow, `a SendMessage row among ${rows.map((e) => e.method).join(', ')}`);
    assert.equal(sendRow.task_state, 'completed');
    const send = spanOfExchange(collector.spans(), sendRow.id);
    assert.equal(send.attributes['a2a.task.state'], 'TASK_STATE_COMPLETED');

    assert.match(metrics, /^gen_ai_client_inference_usage_cache_write_input_tokens_total\{[^}]*gen_ai_token_modality="unknown"[^}]*\} 1500$/m);
    assert.match(metrics, /^gen_ai_client_inference_usage_input_tokens_total\{[^}]*gen_ai_request_model="claude-sonnet-4-5"[^}]*\} 1820$/m);
    assert.match(metrics, /^# TYPE gen_ai_client_inference_operation_output_tokens histogram$/m);
    assert.doesNotMatch(metrics, /gen_ai_client_token_usage/, 'the v1.41 histogram is replaced');
  });

  test('not opted in: the v1.41 names', async (t) => {
    const sidecar = await startTestSidecarFor(t, yaml(anthropic.url, agent.origin, collector), DEFAULT);
    await traffic(sidecar);
    const metrics = await metricsText(sidecar);
    const rows = await sidecar.stop();

    const llm = spanOfExchange(collector.spans(), rows.find((e) => e.protocol === 'llm')!.id);
    assert.equal(llm.attributes['gen_ai.usage.cache_creation.input_tokens'], 1500);
    assert.equal(llm.attributes['gen_ai.usage.cache_write.input_tokens'], undefined);
    const sendRow = rows.find((e) => e.protocol === 'a2a' && e.method === 'SendMessage')!;
    const send = spanOfExchange(collector.spans(), sendRow.id);
    assert.equal(send.attributes['a2a.task.state'], 'completed');

    assert.match(metrics, /^# TYPE gen_ai_client_token_usage histogram$/m);
    assert.doesNotMatch(metrics, /gen_ai_client_inference_usage/);
  });
});
