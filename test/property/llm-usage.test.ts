// Property-based tests of the LLM adapters (fast-check): for any request body an agent sends
// and any response body or stream event an upstream sends, on every path the adapters know,
// describing the call, reading usage from a body and from events, and rewriting events never
// throw, and what they report is what the record can hold (finite numbers, strings or null).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { anthropicAdapter } from '../../protocols/llm/anthropic.js';
import { bedrockAdapter } from '../../protocols/llm/bedrock.js';
import { openaiAdapter } from '../../protocols/llm/openai.js';
import { emptyFacts, type ResponseFacts } from '../../protocols/llm/usage.js';

const PATHS = ['/v1/chat/completions', '/v1/responses', '/v1/embeddings', '/v1/completions', '/v1/messages', '/v1/messages/count_tokens', '/v1/models', '/x'];

const anyJson = fc.jsonValue({ maxDepth: 4 });
/** A value where a field is expected: sometimes the right type, often not. */
const field = fc.oneof(anyJson, fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const part = fc.record({ type: fc.oneof(fc.constantFrom('text', 'image_url', 'tool_use', 'tool_result', 'input_text'), field), text: field, input: field, content: field }, { requiredKeys: [] });
const message = fc.record({ role: fc.oneof(fc.constantFrom('user', 'assistant', 'system'), field), content: fc.oneof(field, fc.array(part, { maxLength: 3 })) }, { requiredKeys: [] });

/** Request bodies shaped like the providers' (with wrong types anywhere), or any JSON at all. */
const requestBody = fc.oneof(
  anyJson,
  fc.record(
    {
      model: field,
      stream: fc.oneof(fc.boolean(), field),
      stream_options: fc.oneof(fc.record({ include_usage: field }, { requiredKeys: [] }), field),
      messages: fc.oneof(fc.array(message, { maxLength: 4 }), field),
      input: fc.oneof(fc.array(message, { maxLength: 3 }), field),
      prompt: fc.oneof(fc.array(field, { maxLength: 3 }), field),
      system: fc.oneof(fc.array(part, { maxLength: 2 }), field),
      max_tokens: field,
      tools: fc.oneof(fc.array(anyJson, { maxLength: 2 }), field),
    },
    { requiredKeys: [] },
  ),
);

const usage = fc.record(
  { prompt_tokens: field, completion_tokens: field, input_tokens: field, output_tokens: field, cache_read_input_tokens: field, cache_creation_input_tokens: field, prompt_tokens_details: fc.oneof(fc.record({ cached_tokens: field }), field), completion_tokens_details: fc.oneof(fc.record({ reasoning_tokens: field }), field) },
  { requiredKeys: [] },
);
/** Response bodies and event payloads shaped like the providers' (with wrong types anywhere), or any JSON. */
const responseJson = fc.oneof(
  anyJson,
  fc.record(
    {
      id: field,
      type: fc.oneof(fc.constantFrom('message', 'message_start', 'message_delta', 'content_block_delta', 'error', 'response.completed', 'response.output_text.delta'), field),
      model: field,
      usage: fc.oneof(usage, field),
      choices: fc.oneof(fc.array(fc.record({ delta: fc.oneof(message, field), message: fc.oneof(message, field), finish_reason: field, text: field }, { requiredKeys: [] }), { maxLength: 2 }), field),
      message: fc.oneof(fc.record({ id: field, model: field, usage: fc.oneof(usage, field) }, { requiredKeys: [] }), field),
      delta: fc.oneof(fc.record({ text: field, stop_reason: field }, { requiredKeys: [] }), field),
      response: fc.oneof(fc.record({ id: field, model: field, usage: fc.oneof(usage, field), output: field }, { requiredKeys: [] }), field),
      error: fc.oneof(fc.record({ type: field, code: field, message: field }, { requiredKeys: [] }), field),
      content: fc.oneof(fc.array(part, { maxLength: 2 }), field),
      stop_reason: field,
    },
    { requiredKeys: [] },
  ),
);
const eventData = fc.oneof(responseJson.map((v) => JSON.stringify(v)), fc.string(), fc.constant('[DONE]'));

function assertRecordable(facts: ResponseFacts): void {
  for (const value of Object.values(facts.usage ?? {})) assert.ok(value === null || (typeof value === 'number' && Number.isFinite(value)), `usage ${String(value)}`);
  for (const value of [facts.response_model, facts.response_id, facts.error_code, facts.error_message]) assert.ok(value === null || typeof value === 'string');
  assert.equal(typeof facts.output_text, 'string');
  assert.ok(Array.isArray(facts.finish_reasons));
}

describe('LLM adapter properties', () => {
  for (const adapter of [openaiAdapter, anthropicAdapter]) {
    test(`${adapter.provider}: any request, body and events are read without throwing into recordable facts`, () => {
      fc.assert(
        fc.property(fc.constantFrom(...PATHS), requestBody, fc.boolean(), responseJson, fc.array(fc.record({ event: fc.option(fc.string()), data: eventData }), { maxLength: 5 }), (path, body, addStreamUsage, response, events) => {
          const raw = Buffer.from(JSON.stringify(body) ?? '');
          const call = adapter.describe(path, body, raw, { addStreamUsage });
          if (!call) return;
          assert.equal(typeof call.request.inputText(), 'string');
          assert.ok(call.request.model === null || typeof call.request.model === 'string');
          if (call.upstreamBody) assert.doesNotThrow(() => JSON.parse(call.upstreamBody!.toString('utf8')) as unknown, 'a rewritten request is JSON');
          const streamed = emptyFacts();
          for (const { event, data } of events) {
            const sse = { event, data, id: null, retry: null, raw: `${event ? `event: ${event}\n` : ''}data: ${data}\n\n` };
            assert.equal(typeof call.observeEvent(sse, streamed), 'boolean');
            const rewritten = call.rewriteEvent?.(sse);
            assert.ok(rewritten === undefined || rewritten === null || typeof rewritten === 'string');
          }
          assertRecordable(streamed);
          const whole = emptyFacts();
          call.readBody(response, whole);
          assertRecordable(whole);
        }),
        // Found by a CI run: a legacy-completions prompt array holding an object whose toString is not a function.
        { numRuns: 1500, examples: [['/v1/completions', { prompt: [{ toString: false }] }, true, {}, []]] },
      );
    });
  }
});

const BEDROCK_PATHS = ['converse', 'converse-stream', 'invoke', 'invoke-with-response-stream'].flatMap((op) =>
  ['anthropic.claude-haiku-4-5-v1%3A0', 'amazon.nova-lite-v1:0', 'meta.llama3-1-8b-instruct-v1:0', 'amazon.titan-embed-text-v2:0', '%E0%A4%A'].map((model) => `/model/${model}/${op}`),
);
/** Bedrock's shapes: Converse and Nova usage names, a stream chunk's base64 `bytes` of any response, its headers. */
const bedrockJson = fc.oneof(
  responseJson,
  fc.record(
    {
      usage: fc.oneof(fc.record({ inputTokens: field, outputTokens: field, cacheReadInputTokens: field, cacheWriteInputTokenCount: field }, { requiredKeys: [] }), field),
      output: fc.oneof(fc.record({ message: fc.oneof(fc.record({ content: fc.oneof(fc.array(part, { maxLength: 2 }), field) }, { requiredKeys: [] }), field) }, { requiredKeys: [] }), field),
      stopReason: field,
      bytes: fc.oneof(responseJson.map((v) => Buffer.from(JSON.stringify(v) ?? '').toString('base64')), field),
      outputs: fc.oneof(fc.array(fc.record({ text: field, stop_reason: field }, { requiredKeys: [] }), { maxLength: 2 }), field),
      generation: field,
      prompt_token_count: field,
      'amazon-bedrock-invocationMetrics': fc.oneof(fc.record({ inputTokenCount: field, outputTokenCount: field }, { requiredKeys: [] }), field),
      contentBlockDelta: field,
      message: field,
      __type: field,
    },
    { requiredKeys: [] },
  ),
);
const bedrockHeaders = fc.dictionary(
  fc.constantFrom('x-amzn-errortype', 'x-amzn-bedrock-input-token-count', 'x-amzn-bedrock-output-token-count', 'x-amzn-bedrock-cache-read-input-token-count', 'content-type'),
  fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 2 })),
);

describe('Bedrock adapter properties', () => {
  test('aws.bedrock: any request, body, frames and headers are read without throwing into recordable facts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...BEDROCK_PATHS),
        requestBody,
        bedrockJson,
        fc.array(fc.record({ event: fc.option(fc.constantFrom('chunk', 'messageStart', 'contentBlockDelta', 'metadata', 'messageStop', 'throttlingException', 'error')), data: fc.oneof(bedrockJson.map((v) => JSON.stringify(v)), fc.string()) }), { maxLength: 5 }),
        bedrockHeaders,
        (path, body, response, events, headers) => {
          const call = bedrockAdapter.describe(path, body, Buffer.from(JSON.stringify(body) ?? ''), { addStreamUsage: true });
          if (!call) return;
          assert.equal(typeof call.request.inputText(), 'string');
          const streamed = emptyFacts();
          for (const { event, data } of events) assert.equal(typeof call.observeEvent({ event, data, id: null, retry: null, raw: '' }, streamed), 'boolean');
          call.readHead?.(headers, streamed);
          assertRecordable(streamed);
          const whole = emptyFacts();
          call.readBody(response, whole);
          call.readHead?.(headers, whole);
          assertRecordable(whole);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
