// Integration tests for upstream failures on LLM routes, seen through the real `openai` and
// `@anthropic-ai/sdk` clients: upstream down, too slow, idle or reset mid-stream, and
// answering provider errors (429, 500). The agent's SDK must get an error it understands
// (the provider's own error format, or the provider's own error body unchanged), never a
// silently shortened stream, and tapwire must record what went wrong.
//
// The down/slow/idle/reset upstreams are small node:http servers written here, because aimock
// cannot produce them: it always answers (no way to hold a request without answering, nor
// to stall between two SSE events), and its truncation options end the response cleanly
// instead of cutting the TCP connection. The 429/500 cases use aimock's nextRequestError,
// which answers with each provider's real error body shape.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { LLMock } from '@copilotkit/aimock';
import OpenAI, { APIError as OpenAiApiError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { Exchange } from '../../core/exchange.js';
import { rejectionOf, startRoutes } from '../support/routes.js';
import { onlyExchange } from '../support/sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';
import { closedPortUrl, sseEvent, startEventStream, type UpstreamHandler, upstreamFor } from '../support/upstream.js';

const OPENAI_MODEL = 'gpt-4o-mini';
const ANTHROPIC_MODEL = 'claude-haiku-4-5';

function openai(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: 'sk-test-failures', maxRetries: 0 });
}

function anthropic(baseURL: string): Anthropic {
  return new Anthropic({ baseURL, apiKey: 'sk-ant-test-failures', maxRetries: 0 });
}

const chatRequest = { model: OPENAI_MODEL, messages: [{ role: 'user' as const, content: 'Say hello' }] };
const messagesRequest = { model: ANTHROPIC_MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'Say hello' }] };

function openaiError(err: unknown): OpenAiApiError {
  if (!(err instanceof OpenAiApiError)) throw new assert.AssertionError({ message: `expected an OpenAI APIError, got ${String(err)}` });
  return err as OpenAiApiError;
}

function anthropicError(err: unknown): AnthropicApiError {
  if (!(err instanceof AnthropicApiError)) throw new assert.AssertionError({ message: `expected an Anthropic APIError, got ${String(err)}` });
  return err as AnthropicApiError;
}

/** The recorded facts of a failed call that a user reads first. */
function failure(e: Exchange): Pick<Exchange, 'status' | 'error_code' | 'http_status' | 'provider' | 'model'> {
  return { status: e.status, error_code: e.error_code, http_status: e.http_status, provider: e.provider, model: e.model };
}

/** Streamed OpenAI chunks as a real upstream sends them once include_usage is on. */
function openaiChunk(content: string | null, finish: string | null = null): string {
  const delta = content === null ? {} : { content };
  return sseEvent({
    id: 'chatcmpl-CUt0failure',
    object: 'chat.completion.chunk',
    created: 1763190001,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null,
  });
}

const ANTHROPIC_STREAM_HEAD = [
  sseEvent(
    {
      type: 'message_start',
      message: {
        id: 'msg_01FailureStreamAbc',
        type: 'message',
        role: 'assistant',
        model: 'claude-haiku-4-5-20251001',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
      },
    },
    'message_start',
  ),
  sseEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
  sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } }, 'content_block_delta'),
  sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' there' } }, 'content_block_delta'),
];

/** Writes `events`, waits for `cut` (the agent has read them), then kills the TCP connection. */
function streamThenReset(events: readonly string[], cut: Promise<void>): UpstreamHandler {
  return async (_req, res) => {
    startEventStream(res);
    for (const event of events) res.write(event);
    await cut;
    res.socket?.destroy();
  };
}

/** Writes `events` and then never sends another byte. */
function streamThenStall(events: readonly string[]): UpstreamHandler {
  return (_req, res) => {
    startEventStream(res);
    for (const event of events) res.write(event);
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('upstream down', () => {
  test('openai: the SDK gets a 502 in OpenAI error format; recorded as upstream_unreachable', async (t) => {
    const down = await closedPortUrl();
    const tapwire = await startRoutes(t, { openai: { upstream: down, provider: 'openai' } });
    const err = openaiError(await rejectionOf(openai(`${tapwire.url}/openai/v1`).chat.completions.create(chatRequest)));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_unreachable');
    assert.equal(err.type, 'tapwire_gateway_error');
    assert.match(err.message, new RegExp(`^502 cannot reach upstream ${down}`));
    assert.deepEqual(Object.keys(err.error as object).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(err.headers?.get('x-tapwire-error'), 'upstream_unreachable');

    const e = await onlyExchange(tapwire);
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_unreachable', http_status: 502, provider: 'openai', model: OPENAI_MODEL });
    assert.ok(e.error_message?.includes(down), `error_message names the upstream: ${e.error_message}`);
  });

  test('anthropic: the SDK gets a 502 in Anthropic error format; recorded as upstream_unreachable', async (t) => {
    const down = await closedPortUrl();
    const tapwire = await startRoutes(t, { anthropic: { upstream: down, provider: 'anthropic' } });
    const err = anthropicError(await rejectionOf(anthropic(`${tapwire.url}/anthropic`).messages.create(messagesRequest)));
    assert.equal(err.status, 502);
    const body = err.error as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'api_error');
    assert.match(body.error.message, new RegExp(`^cannot reach upstream ${down}`));
    assert.equal(err.type, 'api_error');

    const e = await onlyExchange(tapwire);
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_unreachable', http_status: 502, provider: 'anthropic', model: ANTHROPIC_MODEL });
    assert.ok(e.error_message?.includes(down), `error_message names the upstream: ${e.error_message}`);
  });
});

describe('upstream slower than the route timeouts', () => {
  test('openai: no response within response_ms -> 504 upstream_timeout', async (t) => {
    const silent = await upstreamFor(t, () => undefined); // reads the request, never answers
    const tapwire = await startRoutes(t, { openai: { upstream: silent.url, provider: 'openai', timeouts: { response_ms: 200 } } });
    const err = openaiError(await rejectionOf(openai(`${tapwire.url}/openai/v1`).chat.completions.create(chatRequest)));
    assert.equal(err.status, 504);
    assert.equal(err.code, 'upstream_timeout');
    assert.match(err.message, /sent no response within 200 ms/);

    const e = await onlyExchange(tapwire);
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_timeout', http_status: 504, provider: 'openai', model: OPENAI_MODEL });
    assert.ok(e.error_message?.includes(silent.url));
  });

  test('anthropic: no response within response_ms -> 504 in Anthropic format', async (t) => {
    const silent = await upstreamFor(t, () => undefined);
    const tapwire = await startRoutes(t, { anthropic: { upstream: silent.url, provider: 'anthropic', timeouts: { response_ms: 200 } } });
    const err = anthropicError(await rejectionOf(anthropic(`${tapwire.url}/anthropic`).messages.create(messagesRequest)));
    assert.equal(err.status, 504);
    const body = err.error as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.match(body.error.message, /sent no response within 200 ms/);

    const e = await onlyExchange(tapwire);
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_timeout', http_status: 504, provider: 'anthropic', model: ANTHROPIC_MODEL });
  });

  test('openai: a stream that stalls for idle_ms breaks the agent\'s stream; recorded as upstream_timeout', async (t) => {
    const first = openaiChunk('Hel');
    const stalling = await upstreamFor(t, streamThenStall([first]));
    const tapwire = await startRoutes(t, { openai: { upstream: stalling.url, provider: 'openai', timeouts: { idle_ms: 200 } } });
    const stream = await openai(`${tapwire.url}/openai/v1`).chat.completions.create({ ...chatRequest, stream: true });
    const got: ChatCompletionChunk[] = [];
    await rejectionOf((async () => {
      for await (const chunk of stream) got.push(chunk);
    })());
    assert.deepEqual(got.map((c) => c.choices[0]?.delta.content), ['Hel'], 'the agent got what arrived, then an error');

    const e = await onlyExchange(tapwire);
    // The status line (200) had already been sent when the stream stalled.
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_timeout', http_status: 200, provider: 'openai', model: OPENAI_MODEL });
    assert.match(e.error_message ?? '', /sent nothing for 200 ms mid-response/);
    assert.equal(tapwire.record(e.id).events.length, 1, 'the event that arrived is kept');
  });
});

describe('upstream resetting the connection', () => {
  test('openai: closed before any response -> 502 upstream_reset in OpenAI format', async (t) => {
    const closing = await upstreamFor(t, (_req, res) => {
      res.socket?.destroy();
    });
    const tapwire = await startRoutes(t, { openai: { upstream: closing.url, provider: 'openai' } });
    const err = openaiError(await rejectionOf(openai(`${tapwire.url}/openai/v1`).chat.completions.create({ ...chatRequest, stream: true })));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_reset');

    const e = await onlyExchange(tapwire);
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_reset', http_status: 502, provider: 'openai', model: OPENAI_MODEL });
    assert.equal(closing.requests.length, 1, 'a POST is not retried behind the agent\'s back');
  });


  test('openai: the SDK stream throws after the chunks that arrived; recorded as upstream_reset with its events', async (t) => {
    const cut = deferred();
    const sent = [openaiChunk('Hel'), openaiChunk('lo')];
    const resetting = await upstreamFor(t, streamThenReset(sent, cut.promise));
    const tapwire = await startRoutes(t, { openai: { upstream: resetting.url, provider: 'openai' } });
    const stream = await openai(`${tapwire.url}/openai/v1`).chat.completions.create({ ...chatRequest, stream: true });
    const got: ChatCompletionChunk[] = [];
    const err = await rejectionOf((async () => {
      for await (const chunk of stream) {
        got.push(chunk);
        if (got.length === sent.length) cut.resolve();
      }
    })());
    assert.ok(err instanceof Error);
    assert.deepEqual(got.map((c) => c.choices[0]?.delta.content), ['Hel', 'lo']);

    const e = await onlyExchange(tapwire);
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_reset', http_status: 200, provider: 'openai', model: OPENAI_MODEL });
    assert.ok(e.error_message?.includes(resetting.url), `error_message names the upstream: ${e.error_message}`);
    const record = tapwire.record(e.id);
    assert.deepEqual(record.events.map((ev) => ev.data), sent.map((s) => s.slice('data: '.length).trimEnd()));
    assert.equal(e.streamed, 1);
  });

  test('anthropic: the SDK stream throws after the events that arrived; recorded as upstream_reset with its events', async (t) => {
    const cut = deferred();
    const resetting = await upstreamFor(t, streamThenReset(ANTHROPIC_STREAM_HEAD, cut.promise));
    const tapwire = await startRoutes(t, { anthropic: { upstream: resetting.url, provider: 'anthropic' } });
    const stream = await anthropic(`${tapwire.url}/anthropic`).messages.create({ ...messagesRequest, stream: true });
    const got: RawMessageStreamEvent[] = [];
    const err = await rejectionOf((async () => {
      for await (const event of stream) {
        got.push(event);
        if (got.length === ANTHROPIC_STREAM_HEAD.length) cut.resolve();
      }
    })());
    assert.ok(err instanceof Error);
    assert.deepEqual(got.map((ev) => ev.type), ['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta']);

    const e = await onlyExchange(tapwire);
    assert.deepEqual(failure(e), { status: 'error', error_code: 'upstream_reset', http_status: 200, provider: 'anthropic', model: ANTHROPIC_MODEL });
    const record = tapwire.record(e.id);
    assert.deepEqual(record.events.map((ev) => ev.event), ['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta']);
    assert.equal(e.response_id, 'msg_01FailureStreamAbc', 'what the events said is kept too');
  });
});

interface ProviderErrorCase {
  name: string;
  provider: 'openai' | 'anthropic';
  status: 429 | 500;
  stream: boolean;
  /** What aimock's nextRequestError takes: the provider's error fields. */
  error: { message: string; type: string; code?: string };
  /** The error code tapwire must record: the provider's code, else its type. */
  recordedCode: string;
}

// Bodies as the providers send them (OpenAI 429 type "tokens", code "rate_limit_exceeded";
// OpenAI 500 "server_error" with code null; Anthropic "rate_limit_error" and "api_error").
const PROVIDER_ERRORS: ProviderErrorCase[] = [
  {
    name: 'openai 429',
    provider: 'openai',
    status: 429,
    stream: false,
    error: {
      message: 'Rate limit reached for gpt-4o-mini in organization org-test on tokens per min (TPM): Limit 200000, Used 199500, Requested 900. Please try again in 120ms.',
      type: 'tokens',
      code: 'rate_limit_exceeded',
    },
    recordedCode: 'rate_limit_exceeded',
  },
  {
    name: 'openai 500 (streamed request)',
    provider: 'openai',
    status: 500,
    stream: true,
    error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' },
    recordedCode: 'server_error',
  },
  {
    name: 'anthropic 429',
    provider: 'anthropic',
    status: 429,
    stream: false,
    error: { message: 'This request would exceed the rate limit for your organization of 50,000 input tokens per minute.', type: 'rate_limit_error' },
    recordedCode: 'rate_limit_error',
  },
  {
    name: 'anthropic 500 (streamed request)',
    provider: 'anthropic',
    status: 500,
    stream: true,
    error: { message: 'Internal server error', type: 'api_error' },
    recordedCode: 'api_error',
  },
];

describe('upstream answering a provider error', () => {
  for (const c of PROVIDER_ERRORS) {
    test(`${c.name}: the SDK gets the same error as directly; recorded with the provider's code and message`, async (t) => {
      const mock = new LLMock({ host: '127.0.0.1', port: 0, logLevel: 'silent' });
      mock.onMessage('Say hello', { content: 'Hello!', usage: { prompt_tokens: 9, completion_tokens: 3 } });
      await mock.start();
      t.after(() => mock.stop());
      const tapwire: TestSidecar = await startRoutes(t, { [c.provider]: { upstream: mock.url, provider: c.provider } });

      const call = (base: string): Promise<unknown> => {
        mock.nextRequestError(c.status, c.error);
        if (c.provider === 'openai') {
          const client = openai(`${base}/v1`);
          return c.stream ? client.chat.completions.create({ ...chatRequest, stream: true }) : client.chat.completions.create(chatRequest);
        }
        const client = anthropic(base);
        return c.stream ? client.messages.create({ ...messagesRequest, stream: true }) : client.messages.create(messagesRequest);
      };
      const direct = await rejectionOf(call(mock.url));
      const proxied = await rejectionOf(call(`${tapwire.url}/${c.provider}`));
      const [d, p] =
        c.provider === 'openai' ? [openaiError(direct), openaiError(proxied)] : [anthropicError(direct), anthropicError(proxied)];
      assert.equal(p.status, c.status);
      assert.equal(p.constructor, d.constructor, 'the same SDK error class');
      assert.equal(p.status, d.status);
      assert.deepEqual(p.error, d.error, 'the same error body');
      assert.equal(p.message, d.message);
      assert.equal(p.headers?.get('retry-after'), d.headers?.get('retry-after'), 'Retry-After reaches the SDK');
      assert.ok(p.message.includes(c.error.message));

      const e = await onlyExchange(tapwire);
      assert.deepEqual(failure(e), { status: 'error', error_code: c.recordedCode, http_status: c.status, provider: c.provider, model: c.provider === 'openai' ? OPENAI_MODEL : ANTHROPIC_MODEL });
      assert.equal(e.error_message, c.error.message);
      assert.equal(e.input_tokens, null, 'a refused call used no tokens, and none are estimated');
      assert.equal(e.cost_usd, null);
    });
  }
});
