// Integration tests for the OpenAI adapter: the real `openai` SDK calls a real mock LLM
// server (aimock) once directly and once through tapwire, for Chat Completions (plain,
// streamed with and without usage, tool calls, an OpenRouter-style upstream that sends usage
// unasked), Responses and Embeddings. The agent must get
// exactly what it would have got without tapwire, and tapwire must record the call's model,
// tokens, cost and timings, with the credential redacted in the record but intact upstream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { REDACTED } from '../../core/headers.js';
import {
  canonicalIds,
  collect,
  llmColumns,
  startAimock,
  startTapwire,
  tableCost,
  withJournal,
  type JournalEntry,
  type LLMock,
} from '../support/aimock.js';
import { onlyExchange } from '../support/sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';

const KEY = 'sk-test-openai-real-key-4711';
const CONFIGURED_KEY = 'sk-configured-from-env-0815';
const CHAT_MODEL = 'gpt-4o-mini';
const EMBEDDING_MODEL = 'text-embedding-3-small';
// Responses item ids (msg-…, fc-…) are random per call and no fixture field pins them.
const RESPONSES_ITEM_ID = /^(?:msg|fc)-[A-Za-z0-9_-]{16}$/;

function client(baseURL: string, apiKey = KEY): OpenAI {
  return new OpenAI({ baseURL, apiKey, maxRetries: 0 });
}

/** The SDK pointed at tapwire's `openai` route. */
function viaTapwire(tapwire: TestSidecar, apiKey = KEY): OpenAI {
  return client(`${tapwire.url}/openai/v1`, apiKey);
}

function chunkText(chunks: ChatCompletionChunk[]): string {
  return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}

/**
 * The upstream got the agent's real key: aimock accepts only KEY (and CONFIGURED_KEY) and
 * answered 200 to the one request tapwire sent. The stored request has the key redacted.
 */
function assertKeyHandling(tapwire: TestSidecar, exchangeId: string, upstream: JournalEntry[]): void {
  assert.equal(upstream.length, 1, 'one request upstream');
  assert.equal(upstream[0]?.response.status, 200, 'upstream accepted the key');
  assert.ok(upstream[0]?.headers.authorization, 'upstream got an authorization header');
  const stored = tapwire.record(exchangeId).request;
  assert.ok(stored, 'the request payload was recorded');
  assert.equal(stored.headers.authorization, REDACTED);
  assert.ok(!JSON.stringify(stored.headers).includes(KEY), 'the key appears nowhere in the record');
}

describe('OpenAI through tapwire against aimock', () => {
  let mock: LLMock;
  let direct: OpenAI;

  before(async () => {
    mock = await startAimock([KEY, CONFIGURED_KEY], (m) => {
      // Anchored patterns: aimock matches substrings and the first registered fixture wins.
      // Every fixture pins what it can (id, created, tool call ids) and has its own usage.
      m.onMessage(/^chat plain$/, {
        content: 'Plain answer from the mock model.',
        usage: { prompt_tokens: 101, completion_tokens: 17 },
        id: 'chatcmpl-pinned-plain',
        created: 1700000001,
      });
      m.onMessage(/^chat stream quiet$/, {
        content: 'A streamed answer, long enough to arrive in several chunks.',
        usage: { prompt_tokens: 203, completion_tokens: 29 },
        id: 'chatcmpl-pinned-quiet',
        created: 1700000002,
      });
      m.onMessage(/^chat stream usage$/, {
        content: 'A streamed answer whose agent asked for usage.',
        usage: { prompt_tokens: 307, completion_tokens: 31 },
        id: 'chatcmpl-pinned-usage',
        created: 1700000003,
      });
      m.onMessage(/^chat tool$/, {
        toolCalls: [{ name: 'get_weather', arguments: '{"city":"Paris"}', id: 'call_pinned_weather' }],
        usage: { prompt_tokens: 409, completion_tokens: 37 },
        id: 'chatcmpl-pinned-tool',
        created: 1700000004,
      });
      m.onMessage(/^chat tool stream$/, {
        toolCalls: [{ name: 'get_weather', arguments: '{"city":"Oslo"}', id: 'call_pinned_oslo' }],
        usage: { prompt_tokens: 419, completion_tokens: 41 },
        id: 'chatcmpl-pinned-toolstream',
        created: 1700000005,
      });
      m.onMessage(/^responses plain$/, {
        content: 'Plain answer from the Responses API.',
        usage: { input_tokens: 511, output_tokens: 43 },
        id: 'resp-pinned-plain',
        created: 1700000006,
      });
      m.onMessage(/^responses stream$/, {
        content: 'A streamed answer from the Responses API, in several deltas.',
        usage: { input_tokens: 613, output_tokens: 47 },
        id: 'resp-pinned-stream',
        created: 1700000007,
      });
      m.onMessage(/^configured key$/, {
        content: 'Answered with the configured key.',
        usage: { prompt_tokens: 5, completion_tokens: 3 },
      });
      m.onMessage(/^openrouter stream$/, {
        content: 'An OpenRouter answer, which ends with usage whether asked or not.',
        usage: { prompt_tokens: 211, completion_tokens: 23 },
        id: 'gen-pinned-openrouter',
        created: 1700000008,
      });
      m.onEmbedding('embed this text', { embedding: [0.25, -0.5, 0.125] });
    });
    direct = client(`${mock.url}/v1`);
  });

  after(async () => {
    await mock.stop();
  });

  test('chat completion: the agent gets the same completion and tapwire records model, tokens and cost', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = (c: OpenAI) => c.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'chat plain' }] });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.equal(result.choices[0]?.message.content, 'Plain answer from the mock model.');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/chat/completions',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'chat',
      model: CHAT_MODEL,
      response_model: CHAT_MODEL,
      response_id: 'chatcmpl-pinned-plain',
      finish_reasons: '["stop"]',
      streamed: 0,
      input_tokens: 101,
      output_tokens: 17,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', CHAT_MODEL, 101, 17),
    });
    assert.equal(row.ttft_ms, null, 'no time to first token without a stream');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('chat stream without stream_options: usage is fetched upstream but the agent sees exactly its own stream', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = async (c: OpenAI) =>
      collect(await c.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'chat stream quiet' }], stream: true }));

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.ok(result.length > 3, 'several chunks');
    assert.equal(chunkText(result), 'A streamed answer, long enough to arrive in several chunks.');
    assert.ok(
      result.every((chunk) => chunk.usage === undefined && chunk.choices.length > 0),
      'no usage chunk reaches an agent that did not ask for one',
    );
    // tapwire asked upstream for the usage chunk; the agent's own request did not.
    assert.deepEqual((upstream[0]?.body as Record<string, unknown> | null)?.stream_options, { include_usage: true });
    const row = await onlyExchange(tapwire);
    const stored = tapwire.record(row.id);
    assert.equal((JSON.parse(stored.request!.body!.toString('utf8')) as Record<string, unknown>).stream_options, undefined, 'the record keeps the agent\'s request');
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/chat/completions',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'chat',
      model: CHAT_MODEL,
      response_model: CHAT_MODEL,
      response_id: 'chatcmpl-pinned-quiet',
      finish_reasons: '["stop"]',
      streamed: 1,
      input_tokens: 203,
      output_tokens: 29,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', CHAT_MODEL, 203, 29),
    });
    assert.equal(typeof row.ttft_ms, 'number');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('chat stream without stream_options: the agent receives byte for byte what upstream sends it directly', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = async (c: OpenAI) => {
      const response = await c.chat.completions
        .create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'chat stream quiet' }], stream: true })
        .asResponse();
      return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
    };

    const expected = await call(direct);
    const result = await call(viaTapwire(tapwire));

    assert.deepEqual(result, expected);
    assert.ok(!result.body.includes('"usage"'));
    const row = await onlyExchange(tapwire);
    assert.equal(row.input_tokens, 203);
    assert.equal(row.output_tokens, 29);
  });

  test('chat stream with include_usage: the usage chunk still reaches the agent', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = async (c: OpenAI) =>
      collect(
        await c.chat.completions.create({
          model: CHAT_MODEL,
          messages: [{ role: 'user', content: 'chat stream usage' }],
          stream: true,
          stream_options: { include_usage: true },
        }),
      );

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.equal(chunkText(result), 'A streamed answer whose agent asked for usage.');
    const last = result.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.deepEqual(last?.usage, { prompt_tokens: 307, completion_tokens: 31, total_tokens: 338 });
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/chat/completions',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'chat',
      model: CHAT_MODEL,
      response_model: CHAT_MODEL,
      response_id: 'chatcmpl-pinned-usage',
      finish_reasons: '["stop"]',
      streamed: 1,
      input_tokens: 307,
      output_tokens: 31,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', CHAT_MODEL, 307, 31),
    });
    assert.equal(typeof row.ttft_ms, 'number');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  // aimock answers on /api/v1 as OpenRouter does: one usage chunk on every stream, asked or
  // not. On the wire that is the stream include_usage asks for, so only the route can say it.
  test('OpenRouter-style upstream with add_stream_usage: false: the agent gets the usage chunk it gets directly, and the record has the usage', async (t) => {
    const tapwire = await startTapwire(t, { openrouter: { upstream: mock.url, extra: 'add_stream_usage: false' } });
    const call = async (c: OpenAI) =>
      collect(await c.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'openrouter stream' }], stream: true }));

    const expected = await call(client(`${mock.url}/api/v1`));
    const { result, upstream } = await withJournal(mock, () => call(client(`${tapwire.url}/openrouter/api/v1`)));

    assert.deepEqual(result, expected);
    assert.equal(chunkText(result), 'An OpenRouter answer, which ends with usage whether asked or not.');
    assert.deepEqual(result.at(-1)?.usage, { prompt_tokens: 211, completion_tokens: 23, total_tokens: 234 }, 'the unasked usage chunk reached the agent');
    assert.equal((upstream[0]?.body as Record<string, unknown> | null)?.stream_options, undefined, 'the request went upstream as the agent sent it');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.response_id, row.input_tokens, row.output_tokens, row.tokens_estimated, row.cost_usd],
      ['gen-pinned-openrouter', 211, 23, 0, tableCost('openai', CHAT_MODEL, 211, 23)],
    );
  });

  test('chat tool call: the agent gets the same tool call and tapwire records finish reason tool_calls', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = (c: OpenAI) =>
      c.chat.completions.create({
        model: CHAT_MODEL,
        messages: [{ role: 'user', content: 'chat tool' }],
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
          },
        ],
      });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.deepEqual(result.choices[0]?.message.tool_calls, [
      { id: 'call_pinned_weather', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ]);
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/chat/completions',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'chat',
      model: CHAT_MODEL,
      response_model: CHAT_MODEL,
      response_id: 'chatcmpl-pinned-tool',
      finish_reasons: '["tool_calls"]',
      streamed: 0,
      input_tokens: 409,
      output_tokens: 37,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', CHAT_MODEL, 409, 37),
    });
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('chat tool call, streamed: the agent gets the same tool call deltas', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = async (c: OpenAI) =>
      collect(await c.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'chat tool stream' }], stream: true }));

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    const args = result.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((tc) => tc.function?.arguments ?? '');
    assert.equal(args.join(''), '{"city":"Oslo"}');
    assert.ok(result.every((chunk) => chunk.usage === undefined && chunk.choices.length > 0), 'no usage chunk added');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/chat/completions',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'chat',
      model: CHAT_MODEL,
      response_model: CHAT_MODEL,
      response_id: 'chatcmpl-pinned-toolstream',
      finish_reasons: '["tool_calls"]',
      streamed: 1,
      input_tokens: 419,
      output_tokens: 41,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', CHAT_MODEL, 419, 41),
    });
    assert.equal(typeof row.ttft_ms, 'number');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('responses: the agent gets the same response and tapwire records it', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = (c: OpenAI) => c.responses.create({ model: CHAT_MODEL, input: 'responses plain' });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(canonicalIds(result, RESPONSES_ITEM_ID), canonicalIds(expected, RESPONSES_ITEM_ID));
    assert.equal(result.output_text, 'Plain answer from the Responses API.');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/responses',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'chat',
      model: CHAT_MODEL,
      response_model: CHAT_MODEL,
      response_id: 'resp-pinned-plain',
      finish_reasons: '["completed"]',
      streamed: 0,
      input_tokens: 511,
      output_tokens: 43,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', CHAT_MODEL, 511, 43),
    });
    assert.equal(row.ttft_ms, null);
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('responses stream: the agent gets the same events and tapwire records usage from response.completed', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    const call = async (c: OpenAI) => collect(await c.responses.create({ model: CHAT_MODEL, input: 'responses stream', stream: true }));

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(canonicalIds(result, RESPONSES_ITEM_ID), canonicalIds(expected, RESPONSES_ITEM_ID));
    assert.deepEqual(
      result.map((e) => e.type).filter((type, i, all) => all.indexOf(type) === i),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    const text = result.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join('');
    assert.equal(text, 'A streamed answer from the Responses API, in several deltas.');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/responses',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'chat',
      model: CHAT_MODEL,
      response_model: CHAT_MODEL,
      response_id: 'resp-pinned-stream',
      finish_reasons: '["completed"]',
      streamed: 1,
      input_tokens: 613,
      output_tokens: 47,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', CHAT_MODEL, 613, 47),
    });
    assert.equal(typeof row.ttft_ms, 'number');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('embeddings: the agent gets the same vectors and tapwire records the usage upstream reported', async (t) => {
    const tapwire = await startTapwire(t, { openai: { upstream: mock.url } });
    // Without encoding_format the SDK asks for base64, which aimock ignores (see the notes).
    const call = (c: OpenAI) => c.embeddings.create({ model: EMBEDDING_MODEL, input: 'embed this text', encoding_format: 'float' });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.deepEqual(result.data[0]?.embedding, [0.25, -0.5, 0.125]);
    const row = await onlyExchange(tapwire);
    // aimock always reports embedding usage as 0; tapwire must record what upstream said,
    // not replace it with an estimate.
    const reported = expected.usage.prompt_tokens;
    assert.deepEqual(llmColumns(row), {
      route: 'openai',
      method: 'POST /v1/embeddings',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'openai',
      operation: 'embeddings',
      model: EMBEDDING_MODEL,
      response_model: EMBEDDING_MODEL,
      response_id: null,
      finish_reasons: null,
      streamed: 0,
      input_tokens: reported,
      output_tokens: null,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('openai', EMBEDDING_MODEL, reported, 0),
    });
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('route headers with ${ENV}: the configured key goes upstream in place of the agent\'s dummy key', async (t) => {
    const tapwire = await startTapwire(
      t,
      { openai: { upstream: mock.url, extra: 'headers:\n  authorization: "Bearer ${TAPWIRE_TEST_OPENAI_KEY}"' } },
      { TAPWIRE_TEST_OPENAI_KEY: CONFIGURED_KEY },
    );
    const call = (c: OpenAI) => c.chat.completions.create({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'configured key' }] });
    // The dummy key alone is refused upstream...
    await assert.rejects(call(client(`${mock.url}/v1`, 'sk-dummy')), { status: 401 });

    // ...but through tapwire the call succeeds: the configured key replaced it.
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire, 'sk-dummy')));

    assert.equal(result.choices[0]?.message.content, 'Answered with the configured key.');
    assert.equal(upstream.length, 1);
    assert.equal(upstream[0]?.response.status, 200);
    const row = await onlyExchange(tapwire);
    assert.equal(row.status, 'ok');
    assert.equal(row.http_status, 200);
    assert.equal(row.input_tokens, 5);
    assert.equal(row.output_tokens, 3);
    const stored = tapwire.record(row.id).request;
    assert.equal(stored?.headers.authorization, REDACTED);
    assert.ok(!JSON.stringify(stored?.headers).includes(CONFIGURED_KEY), 'the configured key is not in the record');
  });
});
