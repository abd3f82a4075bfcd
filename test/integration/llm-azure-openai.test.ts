// Integration tests for Azure OpenAI: the real `openai` SDK's AzureOpenAI client calls a real
// mock LLM server (aimock, which serves Azure's deployment paths) once directly and once
// through tapwire, plain and streamed. The agent gets what it got directly; the record holds
// the deployment as `model`, the model Azure answered with as `response_model`, exact usage
// and the cost at that model's price; the `api-key` header reaches aimock and is redacted in
// the record; a policy refusal is the SDK's own PermissionDeniedError.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AzureOpenAI, PermissionDeniedError } from 'openai';
import { REDACTED } from '../../core/headers.js';
import { collect, llmColumns, startAimock, startTapwire, withJournal, type LLMock } from '../support/aimock.js';
import { onlyExchange, type TestSidecar } from '../support/sidecar.js';
import { BUILT_IN_PRICES } from '../../protocols/llm/providers.js';
import { startTapwireWithPolicy } from '../support/llm-policy.js';

const KEY = 'azure-test-api-key-31415';
const DEPLOYMENT = 'team-gpt4o-mini';
const MODEL = 'gpt-4o-mini-2024-07-18';
const API_VERSION = '2024-10-21';

function client(endpoint: string): AzureOpenAI {
  return new AzureOpenAI({ endpoint, apiKey: KEY, apiVersion: API_VERSION, deployment: DEPLOYMENT, maxRetries: 0 });
}

function viaTapwire(tapwire: TestSidecar): AzureOpenAI {
  return client(`${tapwire.url}/azure`);
}

/** The cost at Azure's price of the model the answer names (gpt-4o-mini, by prefix). */
function azureCost(input: number, output: number): number {
  const price = BUILT_IN_PRICES.azure_openai['gpt-4o-mini']!;
  return (input * price.input + output * price.output) / 1_000_000;
}

describe('Azure OpenAI through tapwire against aimock', () => {
  let mock: LLMock;
  let direct: AzureOpenAI;

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^azure plain$/, { content: 'Plain answer from the mock Azure deployment.', model: MODEL, usage: { prompt_tokens: 301, completion_tokens: 19 }, id: 'chatcmpl-azure-plain', created: 1700000101 });
      m.onMessage(/^azure stream$/, { content: 'A streamed answer from the mock Azure deployment, in chunks.', model: MODEL, usage: { prompt_tokens: 402, completion_tokens: 27 }, id: 'chatcmpl-azure-stream', created: 1700000102 });
    });
    direct = client(mock.url);
  });

  after(async () => {
    await mock.stop();
  });

  test('a deployment chat call: the same completion; deployment, response model, usage and cost recorded; api-key redacted', async (t) => {
    const tapwire = await startTapwire(t, { azure: { upstream: mock.url } });
    const call = (c: AzureOpenAI) => c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'azure plain' }] });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.equal(upstream[0]?.response.status, 200, 'aimock accepted the api-key');
    assert.equal(upstream[0]?.path, `/openai/deployments/${DEPLOYMENT}/chat/completions?api-version=${API_VERSION}`);
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'azure',
      method: `POST /openai/deployments/${DEPLOYMENT}/chat/completions`,
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'azure_openai',
      operation: 'chat',
      model: DEPLOYMENT,
      response_model: MODEL,
      response_id: 'chatcmpl-azure-plain',
      finish_reasons: '["stop"]',
      streamed: 0,
      input_tokens: 301,
      output_tokens: 19,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: azureCost(301, 19),
    });
    const stored = tapwire.record(row.id).request;
    assert.equal(stored?.headers['api-key'], REDACTED);
    assert.ok(!JSON.stringify(stored).includes(KEY));
  });

  test('a streamed deployment call: the same chunks; usage asked for upstream and taken back out', async (t) => {
    const tapwire = await startTapwire(t, { azure: { upstream: mock.url, extra: 'provider: azure_openai' } });
    const call = async (c: AzureOpenAI) => collect(await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'azure stream' }], stream: true }));

    const expected = await call(direct);
    const result = await call(viaTapwire(tapwire));

    assert.ok(result.length > 1);
    assert.deepEqual(result, expected, 'no usage chunk the agent did not ask for');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.provider, row.model, row.response_model, row.streamed, row.input_tokens, row.output_tokens, row.tokens_estimated, row.cost_usd],
      ['azure_openai', DEPLOYMENT, MODEL, 1, 402, 27, 0, azureCost(402, 27)],
    );
  });

  test('a policy on llm.provider refuses: the SDK raises its PermissionDeniedError; nothing reaches Azure', async (t) => {
    const tapwire = await startTapwireWithPolicy(
      t,
      { azure: { upstream: mock.url } },
      'rules:\n  - name: no-azure\n    when: llm.provider == "azure_openai" && llm.model == "team-gpt4o-mini"\n    action: deny\n',
    );
    const { result: error, upstream } = await withJournal(mock, () =>
      viaTapwire(tapwire).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'azure plain' }] }).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    assert.ok(error instanceof PermissionDeniedError, `got ${String(error)}`);
    assert.match(error.message, /no-azure/);
    assert.equal(upstream.length, 0);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.status, row.provider, row.model, row.policy_rule], ['denied', 'azure_openai', DEPLOYMENT, 'no-azure']);
  });
});
