// Integration tests for Ollama: the real `ollama` client calls a real mock Ollama server
// (aimock) once directly and once through tapwire, /api/chat plain and streamed (JSON lines,
// with a time to first token) and /api/generate streamed; Ollama's /v1 API through the
// `openai` SDK on the same route.
// The agent gets what it got directly (apart from `created_at`, a timestamp aimock stamps on
// each answer); the record holds provider, model, usage as Ollama reported it (aimock reports
// 0 and 0: the counts of a real answer are read in the unit test from Ollama's documented
// example) and no cost (a local model has no list price: null, never $0); a policy refusal
// is the client's own ResponseError.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { ollamaAdapter } from '../../protocols/llm/ollama.js';
import { PriceBook } from '../../protocols/llm/pricing.js';
import { responseValue } from '../../protocols/llm/adapter.js';
import { emptyFacts } from '../../protocols/llm/usage.js';
import { collect, startAimock, startTapwire, withJournal, type LLMock } from '../support/aimock.js';
import { startTapwireWithPolicy } from '../support/llm-policy.js';
import { onlyExchange, type TestSidecar } from '../support/sidecar.js';
import { startMock } from '../../tools/mock.js';
import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';

const KEY = 'ollama-test-key-27182';
const MODEL = 'llama3.2';

function client(host: string): Ollama {
  return new Ollama({ host, headers: { authorization: `Bearer ${KEY}` } });
}

function viaTapwire(tapwire: TestSidecar): Ollama {
  return client(`${tapwire.url}/ollama`);
}

/** The client's ResponseError (the package does not export its class): its name, HTTP status and message. */
function responseError(err: unknown): { status_code: number; error: string } | null {
  if (!(err instanceof Error) || err.name !== 'ResponseError') return null;
  const { status_code, error } = err as Error & { status_code?: unknown; error?: unknown };
  return typeof status_code === 'number' && typeof error === 'string' ? { status_code, error } : null;
}

/** An answer without `created_at`, which aimock sets to the time of each answer. */
function timeless(value: object): unknown {
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'created_at'));
}

describe('Ollama through tapwire against aimock', () => {
  let mock: LLMock;
  let direct: Ollama;

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^ollama plain$/, { content: 'Plain answer from the mock Ollama.' });
      m.onMessage(/^ollama stream$/, { content: 'A streamed answer from the mock Ollama, in several lines.' });
      m.onMessage(/^ollama generate$/, { content: 'Generated text from the mock Ollama.' });
      m.onMessage(/^ollama v1$/, { content: 'An answer from Ollama /v1.', usage: { prompt_tokens: 41, completion_tokens: 9 } });
    });
    direct = client(mock.url);
  });

  after(async () => {
    await mock.stop();
  });

  test('/api/chat: the same answer; provider, model and usage recorded, the cost unknown (null)', async (t) => {
    const tapwire = await startTapwire(t, { ollama: { upstream: mock.url } });
    const call = (c: Ollama) => c.chat({ model: MODEL, messages: [{ role: 'user', content: 'ollama plain' }], stream: false });

    const expected = await call(direct);
    const result = await call(viaTapwire(tapwire));

    assert.deepEqual(timeless(result), timeless(expected));
    assert.equal(result.message.content, 'Plain answer from the mock Ollama.');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.method, row.provider, row.operation, row.model, row.response_model, row.streamed, row.finish_reasons, row.input_tokens, row.output_tokens, row.tokens_estimated, row.cost_usd],
      ['POST /api/chat', 'ollama', 'chat', MODEL, MODEL, 0, '["stop"]', 0, 0, 0, null],
    );
    assert.equal(row.ttft_ms, null, 'no stream, no time to first token');
  });

  test('/api/chat streamed: the same JSON lines, passed through; the last line read for usage', async (t) => {
    const tapwire = await startTapwire(t, { ollama: { upstream: mock.url, extra: 'provider: ollama' } });
    const call = async (c: Ollama) => collect(await c.chat({ model: MODEL, messages: [{ role: 'user', content: 'ollama stream' }], stream: true }));

    const expected = await call(direct);
    const result = await call(viaTapwire(tapwire));

    assert.ok(result.length > 2, 'several lines');
    assert.deepEqual(result.map(timeless), expected.map(timeless));
    assert.equal(result.map((r) => r.message.content).join(''), 'A streamed answer from the mock Ollama, in several lines.');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.provider, row.operation, row.streamed, row.finish_reasons, row.input_tokens, row.output_tokens, row.tokens_estimated, row.cost_usd],
      ['ollama', 'chat', 1, '["stop"]', 0, 0, 0, null],
    );
    assert.ok(row.ttft_ms !== null, 'time to first token: the first line with text, read as the lines pass');
  });

  test('/api/generate streamed: the same lines; recorded as a text completion', async (t) => {
    const tapwire = await startTapwire(t, { ollama: { upstream: mock.url } });
    const call = async (c: Ollama) => collect(await c.generate({ model: MODEL, prompt: 'ollama generate', stream: true }));

    const expected = await call(direct);
    const result = await call(viaTapwire(tapwire));

    assert.deepEqual(result.map(timeless), expected.map(timeless));
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.method, row.provider, row.operation, row.model, row.streamed], ['POST /api/generate', 'ollama', 'text_completion', MODEL, 1]);
    assert.ok(row.ttft_ms !== null, 'time to first token on the generate stream too');
  });

  test('a request budget: the call past it is a 429 the client raises as its ResponseError', async (t) => {
    const tapwire = await startTapwireWithPolicy(
      t,
      { ollama: { upstream: mock.url } },
      'rules:\n  - name: one-local-call\n    when: llm.provider == "ollama"\n    action: limit\n    limit: { requests: 1, per: 1h, key: agent.name }\n',
    );
    const ask = () => viaTapwire(tapwire).chat({ model: MODEL, messages: [{ role: 'user', content: 'ollama plain' }], stream: false });
    await ask();
    const raised = responseError(await ask().then(() => null, (err: unknown) => err));
    assert.ok(raised);
    assert.equal(raised.status_code, 429);
    assert.match(raised.error, /one-local-call/);
    assert.deepEqual((await tapwire.stop()).map((r) => [r.status, r.policy_action]), [['ok', null], ['denied', 'limit']]);
  });

  test('tapwire mock serves recorded Ollama calls offline: the same answer and the same JSON lines', async (t) => {
    const tapwire = await startTapwire(t, { ollama: { upstream: mock.url } });
    const plain = (c: Ollama) => c.chat({ model: MODEL, messages: [{ role: 'user', content: 'ollama plain' }], stream: false });
    const streamed = async (c: Ollama) => collect(await c.chat({ model: MODEL, messages: [{ role: 'user', content: 'ollama stream' }], stream: true }));
    const live = { plain: await plain(viaTapwire(tapwire)), streamed: await streamed(viaTapwire(tapwire)) };
    assert.equal((await tapwire.stop()).length, 2);

    const served = await startMock({ db: tapwire.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'instant', ignore: DEFAULT_LLM_IGNORED.map((p) => [p]) });
    t.after(() => served.close());
    const offline = client(`${served.url}/ollama`);
    assert.deepEqual(await plain(offline), live.plain);
    assert.deepEqual(await streamed(offline), live.streamed);
  });

  test('Ollama /v1 through the openai SDK on a `provider: ollama` route: recorded as ollama, usage exact', async (t) => {
    const tapwire = await startTapwire(t, { ollama: { upstream: mock.url, extra: 'provider: ollama' } });
    const openai = (base: string) => new OpenAI({ baseURL: `${base}/v1`, apiKey: KEY, maxRetries: 0 });
    const call = (c: OpenAI) => c.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'ollama v1' }] });

    const expected = await call(openai(mock.url));
    const result = await call(openai(`${tapwire.url}/ollama`));

    assert.deepEqual({ ...result, id: '', created: 0 }, { ...expected, id: '', created: 0 });
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.method, row.provider, row.operation, row.input_tokens, row.output_tokens, row.cost_usd], ['POST /v1/chat/completions', 'ollama', 'chat', 41, 9, null]);
  });

  test('a policy on llm.provider refuses: the client raises its ResponseError (403); nothing reaches Ollama', async (t) => {
    const tapwire = await startTapwireWithPolicy(t, { ollama: { upstream: mock.url } }, 'rules:\n  - name: no-local\n    when: llm.provider == "ollama"\n    action: deny\n');
    const { result: error, upstream } = await withJournal(mock, () =>
      viaTapwire(tapwire).chat({ model: MODEL, messages: [{ role: 'user', content: 'ollama plain' }], stream: true }).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    const raised = responseError(error);
    assert.ok(raised, `got ${String(error)}`);
    assert.equal(raised.status_code, 403);
    assert.match(raised.error, /no-local/);
    assert.equal(upstream.length, 0);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.status, row.provider, row.model, row.policy_rule], ['denied', 'ollama', MODEL, 'no-local']);
  });
});

describe('Ollama usage as the adapter reads it', () => {
  // The streamed /api/chat example of Ollama's API documentation (docs/api.md, "Chat request
  // (streaming)"): a line per token, then the final line with the counts.
  const captured = [
    '{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The","images":null},"done":false}',
    '{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}',
  ].join('\n');

  test('a JSON-lines stream: the final line counts prompt and output tokens; a pricing: entry prices the model', () => {
    const call = ollamaAdapter.describe('/api/chat', { model: 'llama3.2', messages: [{ role: 'user', content: 'why is the sky blue?' }] }, Buffer.from('{}'), { addStreamUsage: false });
    assert.ok(call);
    assert.equal(call.request.stream, true, 'Ollama streams unless told not to');
    const facts = emptyFacts();
    call.readBody(responseValue(call, Buffer.from(captured)), facts);
    assert.deepEqual(facts.usage, { input_tokens: 26, output_tokens: 282, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null });
    assert.deepEqual([facts.output_text, facts.finish_reasons, facts.response_model], ['The', ['stop'], 'llama3.2']);
    assert.equal(new PriceBook().cost('ollama', 'llama3.2', facts.usage), null, 'no built-in price: unknown, not $0');
    const book = new PriceBook([{ provider: 'ollama', model: 'llama3.2', input_per_mtok: 0.1, output_per_mtok: 0.2 }]);
    assert.equal(book.cost('ollama', 'llama3.2', facts.usage), (26 * 0.1 + 282 * 0.2) / 1_000_000);
  });

  test('an error line is the error', () => {
    const call = ollamaAdapter.describe('/api/generate', { model: 'nope', prompt: 'x', stream: false }, Buffer.from('{}'), { addStreamUsage: false });
    assert.ok(call);
    const facts = emptyFacts();
    call.readBody(responseValue(call, Buffer.from('{"error":"model \'nope\' not found"}')), facts);
    assert.deepEqual([facts.error_code, facts.error_message, facts.usage], ['ollama_error', "model 'nope' not found", null]);
  });
});
