// Integration tests for wire details of real providers that the mock LLM cannot produce,
// replayed verbatim from captured responses: Anthropic prompt-cache usage (non-streamed and
// streamed, old and new message_delta shapes, a mid-stream error event), OpenAI chunks with
// `"usage":null` once include_usage is on, OpenAI cached and reasoning tokens, and an
// OpenAI-compatible server that sends no usage at all. The agent's SDK must see exactly what
// it asked for, and tapwire must record normalised tokens (input includes cached reads and
// writes) and the cost the price table gives.
//
// Why a replay server and not aimock: aimock's streams carry no cache_* usage, put the final
// output_tokens in message_start, never add `"usage":null` to chunks, and always report usage
// on chat streams that ask for it; these bodies are what the real APIs send instead. Also an
// OpenAI-compatible server that sends usage unasked.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI from 'openai';
import type { Exchange } from '../../core/exchange.js';
import { BUILT_IN_PRICES } from '../../protocols/llm/providers.js';
import type { Price } from '../../protocols/llm/pricing.js';
import { rejectionOf, startRoutes } from '../support/routes.js';
import { onlyExchange } from '../support/sidecar.js';
import { sseEvent, startUpstream, type ScriptedUpstream } from '../support/upstream.js';

interface Capture {
  status: number;
  headers: Record<string, string>;
  /** The body as written, chunk by chunk (chunks may split an event, as TCP does). */
  chunks: string[];
}

/** A replay upstream that answers every request with `capture`, byte for byte. */
async function replay(t: { after(fn: () => Promise<void>): void }, capture: Capture): Promise<ScriptedUpstream> {
  const server = await startUpstream(async (_req, res) => {
    res.writeHead(capture.status, capture.headers);
    for (const chunk of capture.chunks) {
      await new Promise<void>((resolve) => res.write(chunk, () => resolve()));
    }
    res.end();
  });
  t.after(() => server.close());
  return server;
}

/** Splits the middle event of a stream in two, so one event arrives in two reads. */
function splitMiddle(events: string[]): string[] {
  const mid = Math.floor(events.length / 2);
  const e = events[mid]!;
  const cut = Math.floor(e.length / 2);
  return [...events.slice(0, mid), e.slice(0, cut), e.slice(cut), ...events.slice(mid + 1)];
}

function json(value: unknown): Capture {
  const body = JSON.stringify(value);
  return { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }, chunks: [body] };
}

function sse(events: string[], headers: Record<string, string>): Capture {
  return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers }, chunks: splitMiddle(events) };
}

function price(provider: 'openai' | 'anthropic', model: string): Price {
  const p = BUILT_IN_PRICES[provider][model];
  if (!p) throw new Error(`no built-in price for ${model}`);
  return p;
}

/** USD for the given (GenAI-normalised) usage, per the price table's per-million prices. */
function expectedCost(p: Price, u: { input: number; cacheRead: number; cacheWrite: number; output: number }): number {
  const uncached = u.input - u.cacheRead - u.cacheWrite;
  return (uncached * p.input + u.cacheRead * (p.cache_read ?? p.input) + u.cacheWrite * (p.cache_write ?? p.input) + u.output * p.output) / 1_000_000;
}

function assertCost(actual: number | null, expected: number): void {
  assert.ok(actual !== null, 'a cost was recorded');
  assert.ok(Math.abs(actual - expected) < 1e-12, `cost ${actual} != ${expected}`);
}

type Tokens = Pick<Exchange, 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens' | 'reasoning_tokens' | 'tokens_estimated'>;

function tokens(e: Exchange): Tokens {
  return {
    input_tokens: e.input_tokens,
    output_tokens: e.output_tokens,
    cache_read_tokens: e.cache_read_tokens,
    cache_write_tokens: e.cache_write_tokens,
    reasoning_tokens: e.reasoning_tokens,
    tokens_estimated: e.tokens_estimated,
  };
}

// ---------------------------------------------------------------- Anthropic captures

const ANTHROPIC_HEADERS = { 'request-id': 'req_011CV5bJk2uMrSTf3a8NqWxY', 'anthropic-organization-id': '5c2f4c1e-0000-4000-8000-000000000000' };
const CLAUDE = 'claude-haiku-4-5';
const CLAUDE_SNAPSHOT = 'claude-haiku-4-5-20251001';
const SYSTEM_PROMPT = 'You are the tapwire docs assistant. '.repeat(4);

/** A non-streamed answer that wrote 2048 prompt tokens to the cache. */
const ANTHROPIC_CACHE_WRITE = {
  id: 'msg_01Qm2cJ7wW3vTqKcFz9YbD1s',
  type: 'message',
  role: 'assistant',
  model: CLAUDE_SNAPSHOT,
  content: [{ type: 'text', text: 'tapwire records every call into SQLite, with tokens and cost.' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: {
    input_tokens: 21,
    cache_creation_input_tokens: 2048,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 2048, ephemeral_1h_input_tokens: 0 },
    output_tokens: 57,
    service_tier: 'standard',
  },
};

/**
 * A streamed answer that read 2048 prompt tokens from the cache. Real Anthropic streams put
 * output_tokens 1 in message_start and the cumulative count in message_delta; since 2025
 * message_delta may also repeat the (cumulative) input and cache counts.
 */
function anthropicStream(deltaUsage: Record<string, number>): string[] {
  return [
    sseEvent(
      {
        type: 'message_start',
        message: {
          model: CLAUDE_SNAPSHOT,
          id: 'msg_01HZt4nC7yL2ePqRkVw8XaGm',
          type: 'message',
          role: 'assistant',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: {
            input_tokens: 23,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 2048,
            cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
            output_tokens: 1,
            service_tier: 'standard',
          },
        },
      },
      'message_start',
    ),
    sseEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
    sseEvent('{"type": "ping"}', 'ping'),
    sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Cached prompts ' } }, 'content_block_delta'),
    sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'cost a tenth of fresh input.' } }, 'content_block_delta'),
    sseEvent({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
    sseEvent({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: deltaUsage }, 'message_delta'),
    sseEvent({ type: 'message_stop' }, 'message_stop'),
  ];
}

const anthropicRequest = {
  model: CLAUDE,
  max_tokens: 256,
  system: [{ type: 'text' as const, text: SYSTEM_PROMPT, cache_control: { type: 'ephemeral' as const } }],
  messages: [{ role: 'user' as const, content: 'What does tapwire record?' }],
};

function anthropicClient(base: string): Anthropic {
  return new Anthropic({ baseURL: base, apiKey: 'sk-ant-test-captured', maxRetries: 0 });
}

describe('Anthropic captured responses', () => {
  test('non-streamed with a cache write: input counts the cached tokens, cost uses the cache-write price', async (t) => {
    const upstream = await replay(t, { ...json(ANTHROPIC_CACHE_WRITE), headers: { ...json(ANTHROPIC_CACHE_WRITE).headers, ...ANTHROPIC_HEADERS } });
    const tapwire = await startRoutes(t, { anthropic: { upstream: upstream.url, provider: 'anthropic' } });
    const message = await anthropicClient(`${tapwire.url}/anthropic`).messages.create(anthropicRequest);
    assert.deepEqual(message.usage, ANTHROPIC_CACHE_WRITE.usage, 'the agent sees the usage Anthropic sent');

    const e = await onlyExchange(tapwire);
    assert.equal(e.status, 'ok');
    assert.equal(e.response_model, CLAUDE_SNAPSHOT);
    assert.equal(e.finish_reasons, '["end_turn"]');
    assert.deepEqual(tokens(e), {
      input_tokens: 21 + 0 + 2048,
      output_tokens: 57,
      cache_read_tokens: 0,
      cache_write_tokens: 2048,
      reasoning_tokens: null,
      tokens_estimated: 0,
    });
    assertCost(e.cost_usd, expectedCost(price('anthropic', CLAUDE), { input: 2069, cacheRead: 0, cacheWrite: 2048, output: 57 }));
  });

  for (const [shape, deltaUsage] of [
    ['message_delta with output_tokens only', { output_tokens: 64 }],
    ['message_delta with cumulative input and cache counts (2025 shape)', { input_tokens: 23, cache_creation_input_tokens: 0, cache_read_input_tokens: 2048, output_tokens: 64 }],
  ] as const) {
    test(`streamed with a cache read, ${shape}: output is message_delta's total, not a sum`, async (t) => {
      const events = anthropicStream(deltaUsage);
      const upstream = await replay(t, sse(events, ANTHROPIC_HEADERS));
      const tapwire = await startRoutes(t, { anthropic: { upstream: upstream.url, provider: 'anthropic' } });
      const final = await anthropicClient(`${tapwire.url}/anthropic`).messages.stream(anthropicRequest).finalMessage();
      assert.equal(final.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), 'Cached prompts cost a tenth of fresh input.');
      assert.equal(final.usage.output_tokens, 64);
      assert.equal(final.usage.cache_read_input_tokens, 2048);

      const e = await onlyExchange(tapwire);
      assert.equal(e.status, 'ok');
      assert.equal(e.streamed, 1);
      assert.equal(e.response_id, 'msg_01HZt4nC7yL2ePqRkVw8XaGm');
      assert.deepEqual(tokens(e), {
        input_tokens: 23 + 2048 + 0,
        output_tokens: 64,
        cache_read_tokens: 2048,
        cache_write_tokens: 0,
        reasoning_tokens: null,
        tokens_estimated: 0,
      });
      assertCost(e.cost_usd, expectedCost(price('anthropic', CLAUDE), { input: 2071, cacheRead: 2048, cacheWrite: 0, output: 64 }));
      // Every event is recorded as it came, the ping and the event split across reads included.
      assert.deepEqual(tapwire.record(e.id).events.map((ev) => ev.event), events.map((ev) => /^event: (\w+)/.exec(ev)![1]!));
    });
  }

  test('an error event mid-stream (HTTP 200): the SDK throws, tapwire records the provider error', async (t) => {
    const events = [
      ...anthropicStream({ output_tokens: 0 }).slice(0, 2),
      sseEvent({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error'),
    ];
    const upstream = await replay(t, sse(events, ANTHROPIC_HEADERS));
    const tapwire = await startRoutes(t, { anthropic: { upstream: upstream.url, provider: 'anthropic' } });
    const stream = await anthropicClient(`${tapwire.url}/anthropic`).messages.create({ ...anthropicRequest, stream: true });
    const got: RawMessageStreamEvent[] = [];
    const err = await rejectionOf((async () => {
      for await (const event of stream) got.push(event);
    })());
    assert.ok(err instanceof AnthropicApiError);
    assert.match(err.message, /Overloaded/);
    assert.deepEqual(got.map((ev) => ev.type), ['message_start', 'content_block_start']);

    const e = await onlyExchange(tapwire);
    assert.equal(e.status, 'error');
    assert.equal(e.http_status, 200);
    assert.equal(e.error_code, 'overloaded_error');
    assert.equal(e.error_message, 'Overloaded');
    assert.equal(e.tokens_estimated, 0, 'a failed call is not given estimated tokens');
  });
});

// ---------------------------------------------------------------- OpenAI captures

const OPENAI_HEADERS = { 'x-request-id': 'req_7c1e5d0f3a2b4c6d8e9f0a1b2c3d4e5f', 'openai-processing-ms': '212', 'openai-version': '2020-10-01' };
const GPT = 'gpt-4o-mini';
const GPT_SNAPSHOT = 'gpt-4o-mini-2024-07-18';

/** Chat chunks as OpenAI streams them once include_usage is on: `"usage":null` on each. */
function openaiChunks(): Record<string, unknown>[] {
  const base = { id: 'chatcmpl-CUtJ3xE9pQz', object: 'chat.completion.chunk', created: 1763190412, model: GPT_SNAPSHOT, service_tier: 'default', system_fingerprint: 'fp_51db84afab' };
  const choice = (delta: Record<string, unknown>, finish: string | null): Record<string, unknown> => ({ index: 0, delta, logprobs: null, finish_reason: finish });
  return [
    { ...base, choices: [choice({ role: 'assistant', content: '', refusal: null }, null)], usage: null, obfuscation: 'p3Q' },
    { ...base, choices: [choice({ content: 'Every call' }, null)], usage: null, obfuscation: 'zK8wq' },
    { ...base, choices: [choice({ content: ' is recorded.' }, null)], usage: null, obfuscation: 'T' },
    { ...base, choices: [choice({}, 'stop')], usage: null, obfuscation: 'a1b2c3' },
    {
      ...base,
      choices: [],
      usage: {
        prompt_tokens: 1210,
        completion_tokens: 7,
        total_tokens: 1217,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      obfuscation: 'Qe',
    },
  ];
}

function openaiStream(chunks: Record<string, unknown>[]): string[] {
  return [...chunks.map((c) => sseEvent(c)), sseEvent('[DONE]')];
}

function withoutUsage(chunk: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...chunk };
  delete copy.usage;
  return copy;
}

function openaiClient(base: string): OpenAI {
  return new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-test-captured', maxRetries: 0 });
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

const chatRequest = { model: GPT, messages: [{ role: 'user' as const, content: 'What does tapwire record?' }] };

describe('OpenAI captured responses', () => {
  test('stream without include_usage: tapwire asks for usage, the agent sees no usage key and no usage chunk', async (t) => {
    const chunks = openaiChunks();
    const upstream = await replay(t, sse(openaiStream(chunks), OPENAI_HEADERS));
    const tapwire = await startRoutes(t, { openai: { upstream: upstream.url, provider: 'openai' } });
    const got = await collect(await openaiClient(`${tapwire.url}/openai`).chat.completions.create({ ...chatRequest, stream: true }));

    const asked = JSON.parse(upstream.requests[0]!.body.toString('utf8')) as { stream_options?: { include_usage?: boolean } };
    assert.equal(asked.stream_options?.include_usage, true, 'upstream was asked for usage');
    assert.ok(got.every((c) => !('usage' in c)), 'no chunk carries a usage key');
    assert.deepEqual(got, chunks.slice(0, -1).map(withoutUsage), 'the agent gets the stream it would have got without asking');

    const e = await onlyExchange(tapwire);
    assert.equal(e.status, 'ok');
    assert.equal(e.response_model, GPT_SNAPSHOT);
    assert.equal(e.finish_reasons, '["stop"]');
    assert.deepEqual(tokens(e), { input_tokens: 1210, output_tokens: 7, cache_read_tokens: 1024, cache_write_tokens: null, reasoning_tokens: 0, tokens_estimated: 0 });
    assertCost(e.cost_usd, expectedCost(price('openai', GPT), { input: 1210, cacheRead: 1024, cacheWrite: 0, output: 7 }));
    // The record keeps what upstream sent, the usage chunk included.
    assert.equal(tapwire.record(e.id).events.length, chunks.length + 1);
  });

  test('stream with include_usage: the agent gets every chunk unchanged, `"usage":null` and usage chunk included', async (t) => {
    const chunks = openaiChunks();
    const upstream = await replay(t, sse(openaiStream(chunks), OPENAI_HEADERS));
    const tapwire = await startRoutes(t, { openai: { upstream: upstream.url, provider: 'openai' } });
    const got = await collect(
      await openaiClient(`${tapwire.url}/openai`).chat.completions.create({ ...chatRequest, stream: true, stream_options: { include_usage: true } }),
    );
    assert.deepEqual(got, chunks);
    const e = await onlyExchange(tapwire);
    assert.equal(e.input_tokens, 1210);
    assert.equal(e.cache_read_tokens, 1024);
  });

  // aimock cannot play this server: it sends a usage chunk only when asked (or, as OpenRouter,
  // exactly one whether asked or not: that one needs add_stream_usage: false, tested in
  // llm-openai.test.ts).
  test('a server that sends usage unasked: the agent gets the same chunks through tapwire as directly, and the record has the usage', async (t) => {
    const chunks = openaiChunks().slice(0, -1).map(withoutUsage);
    const usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 };
    const ownUsageChunk = { ...chunks[0], choices: [], usage };
    const streams: Record<string, (asked: boolean) => Record<string, unknown>[]> = {
      // Its own usage-only chunk always, and the one include_usage asks for besides.
      'a usage chunk of its own': (asked) => [...chunks, ownUsageChunk, ...(asked ? [ownUsageChunk] : [])],
      // Usage on the chunk that carries finish_reason always, and the usage-only chunk when asked.
      'usage on the finishing chunk': (asked) => [...chunks.slice(0, -1), { ...chunks.at(-1), usage }, ...(asked ? [ownUsageChunk] : [])],
    };
    for (const [server, stream] of Object.entries(streams)) {
      const upstream = await startUpstream((req, res) => {
        const asked = (JSON.parse(req.body.toString('utf8')) as { stream_options?: { include_usage?: boolean } }).stream_options?.include_usage === true;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(openaiStream(stream(asked)).join(''));
      });
      t.after(() => upstream.close());
      const tapwire = await startRoutes(t, { openai: { upstream: upstream.url, provider: 'openai' } });
      const direct = await collect(await openaiClient(upstream.url).chat.completions.create({ ...chatRequest, stream: true }));
      const through = await collect(await openaiClient(`${tapwire.url}/openai`).chat.completions.create({ ...chatRequest, stream: true }));
      assert.deepEqual(through, direct, server);
      const e = await onlyExchange(tapwire);
      assert.deepEqual([e.input_tokens, e.output_tokens, e.tokens_estimated], [12, 7, 0], server);
    }
  });

  test('non-streamed reasoning model with cached prompt: cached and reasoning tokens recorded, cost uses cache price', async (t) => {
    const body = {
      id: 'chatcmpl-CUtK9rEaS0n',
      object: 'chat.completion',
      created: 1763190502,
      model: 'o4-mini-2025-04-16',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Yes.', refusal: null, annotations: [] }, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: 3150,
        completion_tokens: 330,
        total_tokens: 3480,
        prompt_tokens_details: { cached_tokens: 2944, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 320, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: null,
    };
    const upstream = await replay(t, { ...json(body), headers: { ...json(body).headers, ...OPENAI_HEADERS } });
    const tapwire = await startRoutes(t, { openai: { upstream: upstream.url, provider: 'openai' } });
    const completion = await openaiClient(`${tapwire.url}/openai`).chat.completions.create({ ...chatRequest, model: 'o4-mini' });
    assert.deepEqual(completion.usage, body.usage);

    const e = await onlyExchange(tapwire);
    assert.deepEqual(tokens(e), { input_tokens: 3150, output_tokens: 330, cache_read_tokens: 2944, cache_write_tokens: null, reasoning_tokens: 320, tokens_estimated: 0 });
    assertCost(e.cost_usd, expectedCost(price('openai', 'o4-mini'), { input: 3150, cacheRead: 2944, cacheWrite: 0, output: 330 }));
  });

  test('OpenAI-compatible server that never sends usage: tokens estimated with o200k_base and priced', async (t) => {
    const model = 'llama-3.1-8b-instruct';
    const prompt = 'Write a haiku about SQLite write-ahead logs.';
    const pieces = ['Pages wait in the log,', '\ncheckpoint folds them into', '\nthe quiet main file.'];
    const base = { id: 'chatcmpl-9f2c41d7a0b84e5f', object: 'chat.completion.chunk', created: 1763190600, model };
    const chunks = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] },
      ...pieces.map((content) => ({ ...base, choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }] })),
      { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
    ];
    const upstream = await replay(t, sse(openaiStream(chunks), {}));
    const tapwire = await startRoutes(
      t,
      { local: { upstream: upstream.url, provider: 'openai' } },
      { yaml: ['pricing:', '  - provider: openai', `    model: ${model}`, '    input_per_mtok: 0.2', '    output_per_mtok: 0.6'].join('\n') },
    );
    const got = await collect(
      await openaiClient(`${tapwire.url}/local`).chat.completions.create({ model, messages: [{ role: 'user', content: prompt }], stream: true }),
    );
    assert.deepEqual(got, chunks, 'the agent gets the stream unchanged');
    assert.equal(got.map((c) => c.choices[0]?.delta.content ?? '').join(''), pieces.join(''));

    const e = await onlyExchange(tapwire);
    const input = countTokens(prompt);
    const output = countTokens(pieces.join(''));
    assert.equal(e.status, 'ok');
    assert.deepEqual(tokens(e), { input_tokens: input, output_tokens: output, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null, tokens_estimated: 1 });
    assertCost(e.cost_usd, (input * 0.2 + output * 0.6) / 1_000_000);
  });
});
