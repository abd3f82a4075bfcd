// Integration tests for OpenAI-compatible servers named by a route's `provider:` (Groq,
// Mistral, DeepSeek, OpenRouter, Together, Fireworks, vLLM): the real `openai` SDK calls a
// real mock (aimock) through tapwire and gets what it gets directly; the record carries the
// provider's name and the cost at its own prices (vLLM, self-hosted, has none: null, not $0);
// a policy on `llm.provider` refuses with the SDK's own PermissionDeniedError; and spans name
// the provider as the GenAI conventions list it (gen_ai.provider.name).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI, { PermissionDeniedError } from 'openai';
import { blankExchange } from '../../core/exchange.js';
import { BUILT_IN_PRICES, type ProviderName } from '../../protocols/llm/providers.js';
import { llmTelemetry } from '../../protocols/llm/telemetry.js';
import { collect, startAimock, startTapwire, type LLMock } from '../support/aimock.js';
import { startTapwireWithPolicy } from '../support/llm-policy.js';
import { onlyExchange, startTestSidecarFor } from '../support/sidecar.js';

const KEY = 'sk-compatible-test-key-1414';

/** Each provider with a model its table prices, and the usage its fixture reports. */
const CASES: ReadonlyArray<{ provider: ProviderName; model: string; input: number; output: number }> = [
  { provider: 'groq', model: 'llama-3.3-70b-versatile', input: 1201, output: 33 },
  { provider: 'mistral', model: 'mistral-large-latest', input: 1302, output: 44 },
  { provider: 'deepseek', model: 'deepseek-chat', input: 1403, output: 55 },
  { provider: 'openrouter', model: 'anthropic/claude-sonnet-4.5', input: 1504, output: 66 },
  { provider: 'together', model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', input: 1605, output: 77 },
  { provider: 'fireworks', model: 'accounts/fireworks/models/llama-v3p3-70b-instruct', input: 1706, output: 88 },
  { provider: 'vllm', model: 'Qwen/Qwen2.5-7B-Instruct', input: 1807, output: 99 },
];

function client(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0 });
}

function expectedCost(provider: ProviderName, model: string, input: number, output: number): number | null {
  const price = BUILT_IN_PRICES[provider][model];
  return price ? (input * price.input + output * price.output) / 1_000_000 : null;
}

describe('OpenAI-compatible providers through tapwire against aimock', () => {
  let mock: LLMock;

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      for (const c of CASES) {
        const usage = { prompt_tokens: c.input, completion_tokens: c.output };
        m.onMessage(new RegExp(`^${c.provider} plain$`), { content: `An answer from ${c.provider}.`, model: c.model, usage, id: `chatcmpl-${c.provider}`, created: 1700000200 });
      }
      m.onMessage(/^groq stream$/, { content: 'A streamed answer from Groq, in several chunks of text.', model: 'llama-3.3-70b-versatile', usage: { prompt_tokens: 77, completion_tokens: 12 }, id: 'chatcmpl-groq-stream', created: 1700000201 });
    });
  });

  after(async () => {
    await mock.stop();
  });

  for (const c of CASES) {
    test(`${c.provider}: the same answer; recorded under its name with its price`, async (t) => {
      const tapwire = await startTapwire(t, { [c.provider]: { upstream: mock.url, extra: `provider: ${c.provider}` } });
      const call = (o: OpenAI) => o.chat.completions.create({ model: c.model, messages: [{ role: 'user', content: `${c.provider} plain` }] });

      const expected = await call(client(`${mock.url}/v1`));
      const result = await call(client(`${tapwire.url}/${c.provider}/v1`));

      assert.deepEqual(result, expected);
      const row = await onlyExchange(tapwire);
      const cost = expectedCost(c.provider, c.model, c.input, c.output);
      assert.equal(cost === null, c.provider === 'vllm', 'every hosted provider here has a list price for the model');
      assert.deepEqual(
        [row.provider, row.operation, row.model, row.input_tokens, row.output_tokens, row.cache_read_tokens, row.tokens_estimated, row.cost_usd],
        [c.provider, 'chat', c.model, c.input, c.output, null, 0, cost],
      );
    });
  }

  test('groq streamed: the same chunks; usage asked for and taken back out', async (t) => {
    const tapwire = await startTapwire(t, { groq: { upstream: mock.url, extra: 'provider: groq' } });
    const call = async (o: OpenAI) => collect(await o.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'groq stream' }], stream: true }));

    const expected = await call(client(`${mock.url}/v1`));
    const result = await call(client(`${tapwire.url}/groq/v1`));

    assert.deepEqual(result, expected);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.provider, row.streamed, row.input_tokens, row.output_tokens, row.cost_usd], ['groq', 1, 77, 12, expectedCost('groq', 'llama-3.3-70b-versatile', 77, 12)]);
  });

  test('an unpriced call (vLLM) counts in tapwire_llm_unpriced_calls_total, not in tapwire_cost_total', async (t) => {
    const tapwire = await startTestSidecarFor(t, `routes:\n  vllm:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: vllm\ntelemetry:\n  prometheus: true\n`);
    await client(`${tapwire.url}/vllm/v1`).chat.completions.create({ model: 'Qwen/Qwen2.5-7B-Instruct', messages: [{ role: 'user', content: 'vllm plain' }] });
    const text = await (await fetch(`${tapwire.url}/_tapwire/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('tapwire_llm_unpriced_calls_total{'));
    assert.ok(line, text);
    assert.match(line, /gen_ai_provider_name="vllm"/);
    assert.match(line, /gen_ai_request_model="Qwen\/Qwen2.5-7B-Instruct"/);
    assert.match(line, / 1$/);
    assert.ok(!text.split('\n').some((l) => l.startsWith('tapwire_cost_total{')), 'no $0 cost sample');
  });

  test('a policy on llm.provider refuses: the SDK raises its PermissionDeniedError', async (t) => {
    const tapwire = await startTapwireWithPolicy(t, { deepseek: { upstream: mock.url, extra: 'provider: deepseek' } }, 'rules:\n  - name: no-deepseek\n    when: llm.provider == "deepseek"\n    action: deny\n');
    const error = await client(`${tapwire.url}/deepseek/v1`).chat.completions.create({ model: 'deepseek-chat', messages: [{ role: 'user', content: 'deepseek plain' }] }).then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(error instanceof PermissionDeniedError, `got ${String(error)}`);
    assert.match(error.message, /no-deepseek/);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.status, row.provider, row.policy_rule], ['denied', 'deepseek', 'no-deepseek']);
  });
});

describe('gen_ai.provider.name on LLM spans', () => {
  test('the GenAI conventions’ names where they list the provider, else tapwire’s', () => {
    const names = Object.fromEntries(
      ['openai', 'anthropic', 'gemini', 'vertex_ai', 'azure_openai', 'groq', 'mistral', 'deepseek', 'openrouter', 'ollama', 'vllm'].map((provider) => {
        const exchange = { ...blankExchange({ agent: 'a', route: 'r', protocol: 'llm' }), provider, model: 'm' };
        const attributes = {};
        llmTelemetry.span({ exchange, request: null, response: null, events: [] }, attributes, { address: null, port: null, pipe: false }, { captureContent: false, latestConventions: false });
        return [provider, (attributes as Record<string, unknown>)['gen_ai.provider.name']];
      }),
    );
    assert.deepEqual(names, {
      openai: 'openai',
      anthropic: 'anthropic',
      gemini: 'gcp.gemini',
      vertex_ai: 'gcp.vertex_ai',
      azure_openai: 'azure.ai.openai',
      groq: 'groq',
      mistral: 'mistral_ai',
      deepseek: 'deepseek',
      openrouter: 'openrouter',
      ollama: 'ollama',
      vllm: 'vllm',
    });
  });
});
