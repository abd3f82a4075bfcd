// Integration tests for the Anthropic adapter: the real `@anthropic-ai/sdk` calls a real mock
// LLM server (aimock) once directly and once through tapwire, for Messages (plain, streamed,
// tool use) and count_tokens. The agent must get exactly what it would have got without
// tapwire, and tapwire must record the call's model, tokens, cost and timings, with the
// x-api-key redacted in the record but intact upstream.
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { REDACTED } from '../../core/headers.js';
import { collect, llmColumns, startAimock, startTapwire, tableCost, withJournal, type JournalEntry, type LLMock } from '../support/aimock.js';
import { onlyExchange } from '../support/sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';

const KEY = 'sk-ant-test-real-key-2718';
const CONFIGURED_KEY = 'sk-ant-configured-from-env-3141';
// Not a deprecated model: the SDK warns on the console for claude-sonnet-4-5.
const MODEL = 'claude-haiku-4-5';
const COUNT_TOKENS_ANSWER = { input_tokens: 1511 };

/**
 * How the agent sends its key: this SDK sends `apiKey` as `Authorization: Bearer`; agents
 * following Anthropic's HTTP docs send `x-api-key`; some rely on tapwire to add one.
 */
type Auth = { bearer: string } | { xApiKey: string } | 'none';

function client(baseURL: string, auth: Auth = { bearer: KEY }): Anthropic {
  if (auth !== 'none' && 'bearer' in auth) return new Anthropic({ baseURL, apiKey: auth.bearer, maxRetries: 0 });
  // No credential from the SDK or the environment; at most the agent's own x-api-key header.
  const defaultHeaders = auth === 'none' ? { authorization: null } : { 'x-api-key': auth.xApiKey };
  return new Anthropic({ baseURL, apiKey: null, authToken: null, defaultHeaders, maxRetries: 0 });
}

/** The SDK pointed at tapwire's `anthropic` route. */
function viaTapwire(tapwire: TestSidecar, auth?: Auth): Anthropic {
  return client(`${tapwire.url}/anthropic`, auth);
}

function streamText(events: RawMessageStreamEvent[]): string {
  return events.map((e) => (e.type === 'content_block_delta' && e.delta.type === 'text_delta' ? e.delta.text : '')).join('');
}

/**
 * The upstream got the agent's real key: aimock accepts only KEY (and CONFIGURED_KEY) and
 * answered 200 to the one request tapwire sent. The stored request has it redacted.
 */
function assertKeyHandling(tapwire: TestSidecar, exchangeId: string, upstream: JournalEntry[], header = 'authorization'): void {
  assert.equal(upstream.length, 1, 'one request upstream');
  assert.equal(upstream[0]?.response.status, 200, 'upstream accepted the key');
  assert.ok(upstream[0]?.headers[header], `upstream got the ${header} header`);
  const stored = tapwire.record(exchangeId).request;
  assert.ok(stored, 'the request payload was recorded');
  assert.equal(stored.headers[header], REDACTED);
  assert.ok(!JSON.stringify(stored.headers).includes(KEY), 'the key appears nowhere in the record');
}

describe('Anthropic through tapwire against aimock', () => {
  let mock: LLMock;
  let direct: Anthropic;
  // What aimock's count_tokens stand-in received, most recent last.
  const countTokensRequests: { headers: IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    mock = await startAimock([KEY, CONFIGURED_KEY], (m) => {
      // Anchored patterns: aimock matches substrings and the first registered fixture wins.
      // Every fixture pins its ids and has its own usage numbers.
      m.onMessage(/^messages plain$/, {
        content: 'Plain answer from the mock Claude.',
        usage: { input_tokens: 1103, output_tokens: 53 },
        id: 'msg_pinned_plain',
      });
      m.onMessage(/^messages stream$/, {
        content: 'A streamed answer from the mock Claude, in several deltas.',
        usage: { input_tokens: 1201, output_tokens: 59 },
        id: 'msg_pinned_stream',
      });
      m.onMessage(/^messages tool$/, {
        toolCalls: [{ name: 'get_weather', arguments: '{"city":"Paris"}', id: 'toolu_pinned_paris' }],
        usage: { input_tokens: 1301, output_tokens: 61 },
        id: 'msg_pinned_tool',
      });
      m.onMessage(/^messages tool stream$/, {
        toolCalls: [{ name: 'get_weather', arguments: '{"city":"Oslo"}', id: 'toolu_pinned_oslo' }],
        usage: { input_tokens: 1409, output_tokens: 67 },
        id: 'msg_pinned_toolstream',
      });
      m.onMessage(/^configured key$/, { content: 'Answered with the configured key.', usage: { input_tokens: 7, output_tokens: 2 } });
      // aimock does not implement /v1/messages/count_tokens. mount() is its documented
      // extension point for serving extra paths from the same (authenticated) server, so this
      // is the real mock with one hand-written endpoint, not a stub of tapwire's upstream.
      m.mount('/v1/messages/count_tokens', {
        async handleRequest(req, res): Promise<boolean> {
          let body = '';
          for await (const chunk of req) body += String(chunk);
          countTokensRequests.push({ headers: req.headers, body });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(COUNT_TOKENS_ANSWER));
          return true;
        },
      });
    });
    direct = client(mock.url);
  });

  after(async () => {
    await mock.stop();
  });

  test('message: the agent gets the same message and tapwire records model, tokens and cost', async (t) => {
    const tapwire = await startTapwire(t, { anthropic: { upstream: mock.url } });
    const call = (c: Anthropic) => c.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'messages plain' }] });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.deepEqual(result.content, [{ type: 'text', text: 'Plain answer from the mock Claude.' }]);
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'anthropic',
      method: 'POST /v1/messages',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'anthropic',
      operation: 'chat',
      model: MODEL,
      response_model: MODEL,
      response_id: 'msg_pinned_plain',
      finish_reasons: '["end_turn"]',
      streamed: 0,
      input_tokens: 1103,
      output_tokens: 53,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('anthropic', MODEL, 1103, 53),
    });
    assert.equal(row.ttft_ms, null, 'no time to first token without a stream');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('message stream: the agent gets the same events and tapwire counts output tokens once', async (t) => {
    const tapwire = await startTapwire(t, { anthropic: { upstream: mock.url } });
    const call = async (c: Anthropic) =>
      collect(await c.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'messages stream' }], stream: true }));

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.deepEqual(
      result.map((e) => e.type).filter((type, i, all) => all.indexOf(type) === i),
      ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'],
    );
    assert.equal(streamText(result), 'A streamed answer from the mock Claude, in several deltas.');
    const row = await onlyExchange(tapwire);
    // aimock puts the full output count in message_start and again in message_delta: the
    // delta's count is cumulative, so it must not be added to the start's.
    assert.deepEqual(llmColumns(row), {
      route: 'anthropic',
      method: 'POST /v1/messages',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'anthropic',
      operation: 'chat',
      model: MODEL,
      response_model: MODEL,
      response_id: 'msg_pinned_stream',
      finish_reasons: '["end_turn"]',
      streamed: 1,
      input_tokens: 1201,
      output_tokens: 59,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('anthropic', MODEL, 1201, 59),
    });
    assert.equal(typeof row.ttft_ms, 'number');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('tool use: the agent gets the same tool_use block and tapwire records stop reason tool_use', async (t) => {
    const tapwire = await startTapwire(t, { anthropic: { upstream: mock.url } });
    const call = (c: Anthropic) =>
      c.messages.create({
        model: MODEL,
        max_tokens: 256,
        messages: [{ role: 'user', content: 'messages tool' }],
        tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    assert.deepEqual(result.content, [{ type: 'tool_use', id: 'toolu_pinned_paris', name: 'get_weather', input: { city: 'Paris' } }]);
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'anthropic',
      method: 'POST /v1/messages',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'anthropic',
      operation: 'chat',
      model: MODEL,
      response_model: MODEL,
      response_id: 'msg_pinned_tool',
      finish_reasons: '["tool_use"]',
      streamed: 0,
      input_tokens: 1301,
      output_tokens: 61,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('anthropic', MODEL, 1301, 61),
    });
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('tool use, streamed: the agent gets the same input_json deltas', async (t) => {
    const tapwire = await startTapwire(t, { anthropic: { upstream: mock.url } });
    const call = async (c: Anthropic) =>
      collect(await c.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'messages tool stream' }], stream: true }));

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(result, expected);
    const json = result.map((e) => (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta' ? e.delta.partial_json : '')).join('');
    assert.equal(json, '{"city":"Oslo"}');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'anthropic',
      method: 'POST /v1/messages',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'anthropic',
      operation: 'chat',
      model: MODEL,
      response_model: MODEL,
      response_id: 'msg_pinned_toolstream',
      finish_reasons: '["tool_use"]',
      streamed: 1,
      input_tokens: 1409,
      output_tokens: 67,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('anthropic', MODEL, 1409, 67),
    });
    assert.equal(typeof row.ttft_ms, 'number');
    assertKeyHandling(tapwire, row.id, upstream);
  });

  test('an agent that sends x-api-key: upstream gets it, the record has it redacted', async (t) => {
    const tapwire = await startTapwire(t, { anthropic: { upstream: mock.url } });
    const call = (c: Anthropic) => c.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'messages plain' }] });

    const expected = await call(client(mock.url, { xApiKey: KEY }));
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire, { xApiKey: KEY })));

    assert.deepEqual(result, expected);
    const row = await onlyExchange(tapwire);
    assert.equal(row.status, 'ok');
    assert.equal(row.input_tokens, 1103);
    assert.equal(row.output_tokens, 53);
    assertKeyHandling(tapwire, row.id, upstream, 'x-api-key');
  });

  test('count_tokens: the agent gets the same count and tapwire records a free call with no usage', async (t) => {
    const tapwire = await startTapwire(t, { anthropic: { upstream: mock.url } });
    const params = { model: MODEL, messages: [{ role: 'user' as const, content: 'how many tokens is this?' }] };

    const expected = await direct.messages.countTokens(params);
    countTokensRequests.length = 0;
    const result = await viaTapwire(tapwire).messages.countTokens(params);

    assert.deepEqual(result, expected);
    assert.deepEqual(result, COUNT_TOKENS_ANSWER);
    assert.equal(countTokensRequests.length, 1, 'one request upstream');
    assert.equal(countTokensRequests[0]?.headers.authorization, `Bearer ${KEY}`, 'upstream got the real key');
    assert.deepEqual(JSON.parse(countTokensRequests[0]?.body ?? ''), params);
    const row = await onlyExchange(tapwire);
    // A count is not usage: the call generates nothing and costs nothing.
    assert.deepEqual(llmColumns(row), {
      route: 'anthropic',
      method: 'POST /v1/messages/count_tokens',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'anthropic',
      operation: 'count_tokens',
      model: MODEL,
      response_model: null,
      response_id: null,
      finish_reasons: null,
      streamed: 0,
      input_tokens: 0,
      output_tokens: 0,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('anthropic', MODEL, 0, 0),
    });
    assert.equal(tapwire.record(row.id).request?.headers.authorization, REDACTED);
  });

  test('route headers with ${ENV}: the configured key goes upstream when the agent sends none', async (t) => {
    const tapwire = await startTapwire(
      t,
      { anthropic: { upstream: mock.url, extra: 'headers:\n  x-api-key: "${TAPWIRE_TEST_ANTHROPIC_KEY}"' } },
      { TAPWIRE_TEST_ANTHROPIC_KEY: CONFIGURED_KEY },
    );
    const call = (c: Anthropic) => c.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'configured key' }] });
    // Without a key the upstream refuses the call...
    await assert.rejects(call(client(mock.url, 'none')), { status: 401 });

    // ...but through tapwire it succeeds: the configured key was added.
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire, 'none')));

    assert.deepEqual(result.content, [{ type: 'text', text: 'Answered with the configured key.' }]);
    assert.equal(upstream.length, 1);
    assert.equal(upstream[0]?.response.status, 200);
    const row = await onlyExchange(tapwire);
    assert.equal(row.status, 'ok');
    assert.equal(row.http_status, 200);
    assert.equal(row.input_tokens, 7);
    assert.equal(row.output_tokens, 2);
    const stored = tapwire.record(row.id).request;
    assert.equal(stored?.headers['x-api-key'], undefined, 'the record shows what the agent sent: no key');
    assert.equal(stored?.headers.authorization, undefined);
    assert.ok(!JSON.stringify(stored?.headers).includes(CONFIGURED_KEY), 'the configured key is not in the record');
  });

  test('route headers are case-insensitive: a configured X-Api-Key replaces the agent\'s dummy x-api-key', async (t) => {
    const tapwire = await startTapwire(t, { anthropic: { upstream: mock.url, extra: `headers:\n  X-Api-Key: "${CONFIGURED_KEY}"` } });
    const call = (c: Anthropic) => c.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'configured key' }] });

    // aimock refuses a request carrying the dummy key, even alongside the configured one.
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire, { xApiKey: 'sk-ant-dummy' })));

    assert.deepEqual(result.content, [{ type: 'text', text: 'Answered with the configured key.' }]);
    assert.equal(upstream.length, 1);
    assert.equal(upstream[0]?.response.status, 200);
    const row = await onlyExchange(tapwire);
    assert.equal(row.status, 'ok');
    assert.equal(tapwire.record(row.id).request?.headers['x-api-key'], REDACTED);
  });
});
