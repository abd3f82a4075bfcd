// Integration tests for Vertex AI. Gemini models: the real `@google/genai` client in Vertex
// mode (its OAuth token from google-auth-library's OAuth2Client holding a fixed access token,
// so no Google credentials are needed) calls a real mock (aimock, which serves Vertex's
// publishers/google paths) once directly and once through tapwire, plain and streamed.
// Anthropic models: aimock does not serve rawPredict, so a scripted upstream answers with the
// bodies Vertex sends (the Messages response and SSE stream of Anthropic's documentation);
// the agent is Anthropic's own Vertex client (@anthropic-ai/vertex-sdk, its OAuth token from
// the same fixed-token OAuth2Client), and plain fetch for the wire-level checks.
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { OAuth2Client } from 'google-auth-library';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { PermissionDeniedError, RateLimitError } from '@anthropic-ai/sdk';
import { REDACTED } from '../../core/headers.js';
import { BUILT_IN_PRICES } from '../../protocols/llm/providers.js';
import { collect, startAimock, startTapwire, withJournal, type LLMock } from '../support/aimock.js';
import { startTapwireWithPolicy } from '../support/llm-policy.js';
import { onlyExchange } from '../support/sidecar.js';
import { databaseText } from '../support/database-text.js';
import { sseEvent, startEventStream, upstreamFor } from '../support/upstream.js';

const TOKEN = 'ya29.vertex-test-access-token-1618';
const PROJECT = 'tapwire-test';
const LOCATION = 'us-central1';
const MODEL = 'gemini-2.5-flash';
const CLAUDE = 'claude-sonnet-4-5@20250929';
const PREFIX = `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers`;

/** An OAuth client holding a fixed access token: what a Google client library gets from Google's credentials. */
function tokenClient(): OAuth2Client {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: TOKEN, expiry_date: Date.now() + 3_600_000 });
  return auth;
}

function client(baseUrl: string): GoogleGenAI {
  const auth = tokenClient();
  return new GoogleGenAI({ vertexai: true, project: PROJECT, location: LOCATION, googleAuthOptions: { authClient: auth }, httpOptions: { baseUrl, apiVersion: 'v1' } });
}

function answer(response: GenerateContentResponse): unknown {
  return JSON.parse(JSON.stringify({ ...response, sdkHttpResponse: undefined })) as unknown;
}

function vertexCost(model: string, input: number, output: number): number {
  const price = BUILT_IN_PRICES.vertex_ai[model]!;
  return (input * price.input + output * price.output) / 1_000_000;
}

describe('Vertex AI Gemini through tapwire against aimock', () => {
  let mock: LLMock;

  before(async () => {
    mock = await startAimock([TOKEN], (m) => {
      m.onMessage(/^vertex plain$/, { content: 'Plain answer from the mock Vertex AI.', usage: { promptTokenCount: 211, candidatesTokenCount: 13 } });
      m.onMessage(/^vertex stream$/, { content: 'A streamed answer from the mock Vertex AI, in several chunks.', usage: { promptTokenCount: 307, candidatesTokenCount: 21 } });
    });
  });

  after(async () => {
    await mock.stop();
  });

  test('generateContent: the same answer; recorded as vertex_ai with usage and Vertex price; the bearer token redacted', async (t) => {
    const tapwire = await startTapwire(t, { vertex: { upstream: mock.url } });
    const call = (c: GoogleGenAI) => c.models.generateContent({ model: MODEL, contents: 'vertex plain' });

    const expected = await call(client(mock.url));
    const { result, upstream } = await withJournal(mock, () => call(client(`${tapwire.url}/vertex`)));

    assert.deepEqual(answer(result), answer(expected));
    assert.equal(upstream[0]?.path, `${PREFIX}/google/models/${MODEL}:generateContent`);
    assert.equal(upstream[0]?.response.status, 200, 'aimock accepted the token');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.provider, row.operation, row.model, row.streamed, row.input_tokens, row.output_tokens, row.tokens_estimated, row.cost_usd],
      ['vertex_ai', 'generate_content', MODEL, 0, 211, 13, 0, vertexCost(MODEL, 211, 13)],
    );
    const stored = tapwire.record(row.id).request;
    assert.equal(stored?.headers.authorization, REDACTED);
    assert.ok(!JSON.stringify(stored).includes(TOKEN));
  });

  test('streamGenerateContent: the same chunks, usage from the last', async (t) => {
    const tapwire = await startTapwire(t, { vertex: { upstream: mock.url, extra: 'provider: vertex_ai' } });
    const call = async (c: GoogleGenAI) => collect(await c.models.generateContentStream({ model: MODEL, contents: 'vertex stream' }));

    const expected = await call(client(mock.url));
    const result = await call(client(`${tapwire.url}/vertex`));

    assert.ok(result.length > 1);
    assert.deepEqual(result.map(answer), expected.map(answer));
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.provider, row.streamed, row.input_tokens, row.output_tokens, row.cost_usd], ['vertex_ai', 1, 307, 21, vertexCost(MODEL, 307, 21)]);
  });

  test('a budget-style rule on llm.model refuses with a 403 the client raises as its ApiError', async (t) => {
    const tapwire = await startTapwireWithPolicy(t, { vertex: { upstream: mock.url } }, 'rules:\n  - name: flash-only-elsewhere\n    when: llm.provider == "vertex_ai" && llm.model == "gemini-2.5-flash"\n    action: deny\n');
    const error = await client(`${tapwire.url}/vertex`).models.generateContent({ model: MODEL, contents: 'vertex plain' }).then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(error instanceof ApiError, `got ${String(error)}`);
    assert.equal(error.status, 403);
    assert.match(error.message, /PERMISSION_DENIED/);
    assert.match(error.message, /flash-only-elsewhere/);
  });

  test('a token budget: the call that crosses it completes, the next is a 429 the client raises as its ApiError', async (t) => {
    const tapwire = await startTapwireWithPolicy(
      t,
      { vertex: { upstream: mock.url } },
      'rules:\n  - name: vertex-budget\n    when: llm.provider == "vertex_ai"\n    action: limit\n    limit: { tokens: 100, per: 1h, key: agent.name }\n',
    );
    const ask = () => client(`${tapwire.url}/vertex`).models.generateContent({ model: MODEL, contents: 'vertex plain' });
    await ask(); // 224 tokens: crosses the budget, and completes
    const error = await ask().then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(error instanceof ApiError, `got ${String(error)}`);
    assert.equal(error.status, 429);
    assert.match(error.message, /RESOURCE_EXHAUSTED/);
    const rows = await tapwire.stop();
    assert.deepEqual(rows.map((r) => [r.status, r.policy_action, r.input_tokens]), [['ok', null, 211], ['denied', 'limit', null]]);
  });
});

// Anthropic's Messages response and stream, as the Claude docs show them (ids shortened).
const CLAUDE_ANSWER = {
  id: 'msg_vrtx_013Zva2CMHLNnXjNJJKqJ2EF',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [{ type: 'text', text: 'Hi! My name is Claude.' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 2095, output_tokens: 503, cache_creation_input_tokens: 0, cache_read_input_tokens: 1000 },
};

const CLAUDE_STREAM = [
  sseEvent({ type: 'message_start', message: { ...CLAUDE_ANSWER, content: [], stop_reason: null, usage: { input_tokens: 25, output_tokens: 1 } } }, 'message_start'),
  sseEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
  sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello' } }, 'content_block_delta'),
  sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '!' } }, 'content_block_delta'),
  sseEvent({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
  sseEvent({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } }, 'message_delta'),
  sseEvent({ type: 'message_stop' }, 'message_stop'),
].join('');

const VERTEX_BODY = { anthropic_version: 'vertex-2023-10-16', max_tokens: 256, messages: [{ role: 'user', content: 'Hello' }] };

describe('Vertex AI Anthropic (rawPredict, streamRawPredict) through tapwire', () => {
  test('rawPredict: the answer passes unchanged; the model from the path, usage with cache reads, Claude price on Vertex', async (t) => {
    const upstream = await upstreamFor(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(CLAUDE_ANSWER));
    });
    const tapwire = await startTapwire(t, { vertex: { upstream: upstream.url } });
    const response = await fetch(`${tapwire.url}/vertex${PREFIX}/anthropic/models/${CLAUDE}:rawPredict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(VERTEX_BODY),
    });
    assert.deepEqual(await response.json(), CLAUDE_ANSWER);
    assert.equal(upstream.requests[0]?.headers.authorization, `Bearer ${TOKEN}`, 'the token reaches Vertex');
    const row = await onlyExchange(tapwire);
    const price = BUILT_IN_PRICES.vertex_ai['claude-sonnet-4-5']!;
    assert.deepEqual(
      [row.provider, row.operation, row.model, row.response_model, row.input_tokens, row.cache_read_tokens, row.output_tokens, row.cost_usd],
      ['vertex_ai', 'chat', CLAUDE, 'claude-sonnet-4-5-20250929', 3095, 1000, 503, (2095 * price.input + 1000 * price.cache_read! + 503 * price.output) / 1_000_000],
    );
  });

  test('streamRawPredict: the stream passes unchanged; usage from message_start and message_delta', async (t) => {
    const upstream = await upstreamFor(t, (_req, res) => {
      startEventStream(res);
      res.end(CLAUDE_STREAM);
    });
    const tapwire = await startTapwire(t, { vertex: { upstream: upstream.url, extra: 'provider: vertex_ai' } });
    const response = await fetch(`${tapwire.url}/vertex${PREFIX}/anthropic/models/${CLAUDE}:streamRawPredict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ ...VERTEX_BODY, stream: true }),
    });
    assert.equal(await response.text(), CLAUDE_STREAM);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.provider, row.model, row.streamed, row.input_tokens, row.output_tokens, row.finish_reasons], ['vertex_ai', CLAUDE, 1, 25, 15, '["end_turn"]']);
    assert.ok(row.ttft_ms !== null);
  });

  test("a refusal is Anthropic's error shape (what the Anthropic Vertex SDK raises as PermissionDeniedError)", async (t) => {
    const upstream = await upstreamFor(t, (_req, res) => {
      res.end('{}');
    });
    const tapwire = await startTapwireWithPolicy(t, { vertex: { upstream: upstream.url } }, 'rules:\n  - name: no-claude\n    when: llm.model.startsWith("claude")\n    action: deny\n');
    const response = await fetch(`${tapwire.url}/vertex${PREFIX}/anthropic/models/${CLAUDE}:rawPredict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(VERTEX_BODY),
    });
    assert.equal(response.status, 403);
    assert.deepEqual(await response.json(), { type: 'error', error: { type: 'permission_error', message: 'tapwire policy no-claude: denied by rule no-claude' } });
    assert.equal(upstream.requests.length, 0);
  });
});

describe("Vertex AI Anthropic through tapwire with Anthropic's own Vertex client", () => {
  /** The client as an agent configures it; `base` is the host (direct) or the route URL, under which the client adds /v1/projects/…. */
  function claude(base: string): AnthropicVertex {
    return new AnthropicVertex({ region: LOCATION, projectId: PROJECT, authClient: tokenClient(), baseURL: `${base}/v1`, maxRetries: 0 });
  }
  const ask = { model: CLAUDE, max_tokens: 256, messages: [{ role: 'user' as const, content: 'Hello' }] };

  /** The scripted Vertex: rawPredict answers the message, streamRawPredict its stream. */
  async function scriptedVertex(t: TestContext) {
    return upstreamFor(t, (req, res) => {
      if (req.url.endsWith(':streamRawPredict')) {
        startEventStream(res);
        res.end(CLAUDE_STREAM);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(CLAUDE_ANSWER));
    });
  }

  test('messages.create (rawPredict): the same message as direct; model, usage and cost recorded; the token nowhere in the record', async (t) => {
    const upstream = await scriptedVertex(t);
    const tapwire = await startTapwire(t, { vertex: { upstream: upstream.url } });
    const expected = await claude(upstream.url).messages.create(ask);
    const result = await claude(`${tapwire.url}/vertex`).messages.create(ask);

    assert.deepEqual(result, expected);
    assert.equal(result.content[0]?.type === 'text' && result.content[0].text, 'Hi! My name is Claude.');
    const sent = upstream.requests[1]!;
    assert.equal(sent.url, `${PREFIX}/anthropic/models/${CLAUDE}:rawPredict`);
    assert.equal(sent.headers.authorization, `Bearer ${TOKEN}`, 'the token reaches Vertex');
    const row = await onlyExchange(tapwire);
    const price = BUILT_IN_PRICES.vertex_ai['claude-sonnet-4-5']!;
    assert.deepEqual(
      [row.provider, row.operation, row.model, row.response_model, row.streamed, row.input_tokens, row.cache_read_tokens, row.output_tokens, row.cost_usd],
      ['vertex_ai', 'chat', CLAUDE, 'claude-sonnet-4-5-20250929', 0, 3095, 1000, 503, (2095 * price.input + 1000 * price.cache_read! + 503 * price.output) / 1_000_000],
    );
    assert.equal(tapwire.record(row.id).request?.headers.authorization, REDACTED);
    assert.ok(!databaseText(tapwire.dbPath).includes(TOKEN), 'the access token is nowhere in the database');
  });

  test('messages.create with stream (streamRawPredict): the same events as direct; usage from message_start and message_delta', async (t) => {
    const upstream = await scriptedVertex(t);
    const tapwire = await startTapwire(t, { vertex: { upstream: upstream.url } });
    const call = async (c: AnthropicVertex) => collect(await c.messages.create({ ...ask, stream: true }));
    const expected = await call(claude(upstream.url));
    const result = await call(claude(`${tapwire.url}/vertex`));

    assert.ok(result.length > 4, 'several events');
    assert.deepEqual(result, expected);
    assert.equal(upstream.requests[1]?.url, `${PREFIX}/anthropic/models/${CLAUDE}:streamRawPredict`);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.provider, row.model, row.streamed, row.input_tokens, row.output_tokens, row.finish_reasons], ['vertex_ai', CLAUDE, 1, 25, 15, '["end_turn"]']);
    assert.ok(row.cost_usd !== null && row.cost_usd > 0);
    assert.ok(row.ttft_ms !== null);
  });

  test('a policy refusal is PermissionDeniedError, a spent budget RateLimitError, raised by the client; nothing refused reaches Vertex', async (t) => {
    const upstream = await scriptedVertex(t);
    const tapwire = await startTapwireWithPolicy(
      t,
      { vertex: { upstream: upstream.url } },
      [
        'rules:',
        '  - name: no-opus',
        '    when: llm.provider == "vertex_ai" && llm.model.startsWith("claude-opus")',
        '    action: deny',
        '  - name: claude-budget',
        '    when: llm.provider == "vertex_ai"',
        '    action: limit',
        '    limit: { tokens: 100, per: 1h, key: agent.name }',
        '',
      ].join('\n'),
    );
    const via = claude(`${tapwire.url}/vertex`);
    const denied = await via.messages.create({ ...ask, model: 'claude-opus-4-1@20250805' }).then(() => null, (err: unknown) => err);
    assert.ok(denied instanceof PermissionDeniedError, `got ${String(denied)}`);
    assert.equal(denied.status, 403);
    assert.match(denied.message, /no-opus/);
    await via.messages.create(ask); // 3598 tokens: crosses the budget, and completes
    const limited = await via.messages.create(ask).then(() => null, (err: unknown) => err);
    assert.ok(limited instanceof RateLimitError, `got ${String(limited)}`);
    assert.equal(limited.status, 429);
    assert.equal(upstream.requests.length, 1, 'only the allowed call reached Vertex');
    const rows = await tapwire.stop();
    assert.deepEqual(rows.map((r) => [r.status, r.model, r.policy_rule]), [['denied', 'claude-opus-4-1@20250805', 'no-opus'], ['ok', CLAUDE, null], ['denied', CLAUDE, 'claude-budget']]);
  });
});
