// Integration tests for the Gemini API adapter: the real `@google/genai` client calls a real
// mock LLM server (aimock) once directly and once through tapwire, for generateContent plain
// and streamed (`alt=sse`). The agent must get what it would have got without tapwire; the
// record holds provider, model, exact usage and cost; a policy refusal is an error the SDK
// raises as its own; the API key (header or `?key=`) is nowhere in the database.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { geminiAdapter } from '../../protocols/llm/gemini.js';
import { emptyFacts } from '../../protocols/llm/usage.js';
import { REDACTED } from '../../core/headers.js';
import { collect, llmColumns, startAimock, startTapwire, tableCost, withJournal, type LLMock } from '../support/aimock.js';
import { databaseText } from '../support/database-text.js';
import { startTapwireWithPolicy } from '../support/llm-policy.js';
import { onlyExchange, type TestSidecar } from '../support/sidecar.js';

const KEY = 'AIzaSy-test-gemini-key-16180';
const MODEL = 'gemini-2.5-flash';
/** A key sent as `?key=`: aimock checks only header keys, so this one is free to travel in the query. */
const QUERY_KEY = 'AIzaSy-query-gemini-key-27182';

function client(baseUrl: string): GoogleGenAI {
  // This SDK defaults to /v1; aimock serves the Gemini API under /v1beta, as Google documents it.
  return new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl, apiVersion: 'v1beta' } });
}

function viaTapwire(tapwire: TestSidecar): GoogleGenAI {
  return client(`${tapwire.url}/gemini`);
}

/** What the agent sees of an answer: the response without the HTTP headers, which tapwire may change (date, length). */
function answer(response: GenerateContentResponse): unknown {
  return JSON.parse(JSON.stringify({ ...response, sdkHttpResponse: undefined })) as unknown;
}

describe('Gemini through tapwire against aimock', () => {
  let mock: LLMock;
  let direct: GoogleGenAI;

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^gemini plain$/, { content: 'Plain answer from the mock Gemini.', usage: { promptTokenCount: 1103, candidatesTokenCount: 53 } });
      m.onMessage(/^gemini stream$/, {
        content: 'A streamed answer from the mock Gemini, in several chunks of text.',
        usage: { promptTokenCount: 1201, candidatesTokenCount: 59 },
      });
      m.onMessage(/^gemini leak$/, { content: 'Here is a key: AKIAABCDEFGHIJKLMNOP, keep it.', usage: { promptTokenCount: 5, candidatesTokenCount: 12 } });
      m.onMessage(/^gemini key in query$/, { content: 'Answered with the key in the query.', usage: { promptTokenCount: 7, candidatesTokenCount: 3 } });
    });
    direct = client(mock.url);
  });

  after(async () => {
    await mock.stop();
  });

  test('generateContent: the same answer as direct; provider, model, usage and cost recorded; the key redacted', async (t) => {
    const tapwire = await startTapwire(t, { gemini: { upstream: mock.url } });
    const call = (c: GoogleGenAI) => c.models.generateContent({ model: MODEL, contents: 'gemini plain' });

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(viaTapwire(tapwire)));

    assert.deepEqual(answer(result), answer(expected));
    assert.equal(result.text, 'Plain answer from the mock Gemini.');
    assert.equal(upstream.length, 1);
    assert.equal(upstream[0]?.response.status, 200, 'the upstream got and accepted the key');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'gemini',
      method: `POST /v1beta/models/${MODEL}:generateContent`,
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'gemini',
      operation: 'generate_content',
      model: MODEL,
      response_model: null,
      response_id: null,
      finish_reasons: '["STOP"]',
      streamed: 0,
      input_tokens: 1103,
      output_tokens: 53,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('gemini', MODEL, 1103, 53),
    });
    assert.equal(tapwire.record(row.id).request?.headers['x-goog-api-key'], REDACTED);
    assert.ok(!databaseText(tapwire.dbPath).includes(KEY), 'the key is nowhere in the database');
  });

  test('streamGenerateContent (alt=sse): the same chunks as direct, usage from the last chunk', async (t) => {
    const tapwire = await startTapwire(t, { gemini: { upstream: mock.url, extra: 'provider: gemini' } });
    const call = async (c: GoogleGenAI) => collect(await c.models.generateContentStream({ model: MODEL, contents: 'gemini stream' }));

    const expected = await call(direct);
    const result = await call(viaTapwire(tapwire));

    assert.ok(result.length > 1, 'several chunks');
    assert.deepEqual(result.map(answer), expected.map(answer));
    assert.equal(result.map((r) => r.text).join(''), 'A streamed answer from the mock Gemini, in several chunks of text.');
    const row = await onlyExchange(tapwire);
    assert.equal(row.method, `POST /v1beta/models/${MODEL}:streamGenerateContent`);
    assert.deepEqual(
      [row.provider, row.operation, row.model, row.streamed, row.input_tokens, row.output_tokens, row.tokens_estimated, row.cost_usd, row.finish_reasons],
      ['gemini', 'generate_content', MODEL, 1, 1201, 59, 0, tableCost('gemini', MODEL, 1201, 59), '["STOP"]'],
    );
    assert.ok(row.ttft_ms !== null, 'time to first token measured on the SSE stream');
    assert.ok(!databaseText(tapwire.dbPath).includes(KEY));
  });

  test('a key in the query string (?key=) reaches the upstream and is not stored', async (t) => {
    const tapwire = await startTapwire(t, { gemini: { upstream: mock.url } });
    const { result: response, upstream } = await withJournal(mock, () =>
      fetch(`${tapwire.url}/gemini/v1beta/models/${MODEL}:generateContent?key=${QUERY_KEY}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goog-api-key': KEY },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'gemini key in query' }] }] }),
      }),
    );
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    assert.equal(upstream[0]?.path, `/v1beta/models/${MODEL}:generateContent?key=${QUERY_KEY}`, 'the upstream got the query key');
    const row = await onlyExchange(tapwire);
    assert.equal(row.method, `POST /v1beta/models/${MODEL}:generateContent`);
    assert.deepEqual([row.provider, row.input_tokens, row.output_tokens], ['gemini', 7, 3]);
    const stored = databaseText(tapwire.dbPath);
    assert.ok(!stored.includes(QUERY_KEY) && !stored.includes(KEY), 'neither key is anywhere in the database');
  });

  test('a policy on llm.model refuses with a 403 that @google/genai raises as its ApiError, recorded denied', async (t) => {
    const tapwire = await startTapwireWithPolicy(t, { gemini: { upstream: mock.url } }, 'rules:\n  - name: no-pro-models\n    when: llm.model.startsWith("gemini-2.5-pro")\n    action: deny\n');
    const { result: error, upstream } = await withJournal(mock, () =>
      viaTapwire(tapwire).models.generateContent({ model: 'gemini-2.5-pro', contents: 'gemini plain' }).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    assert.ok(error instanceof ApiError, 'the SDK raised its own error');
    assert.equal(error.status, 403);
    assert.match(error.message, /PERMISSION_DENIED/);
    assert.match(error.message, /no-pro-models/);
    assert.equal(upstream.length, 0, 'the call never reached the upstream');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.status, row.http_status, row.provider, row.model, row.policy_rule, row.policy_action],
      ['denied', 403, 'gemini', 'gemini-2.5-pro', 'no-pro-models', 'deny'],
    );
    assert.ok(!databaseText(tapwire.dbPath).includes(KEY));
  });

  test('a response rule refusing a stream: it ends with an error chunk @google/genai raises as its ApiError', async (t) => {
    const tapwire = await startTapwireWithPolicy(
      t,
      { gemini: { upstream: mock.url } },
      'rules:\n  - name: no-cloud-keys\n    phase: response\n    when: response.text.matches("AKIA[0-9A-Z]{16}")\n    action: deny\n    message: the answer carries an AWS key\n',
    );
    let streamedText = '';
    const error = await (async () => {
      for await (const chunk of await viaTapwire(tapwire).models.generateContentStream({ model: MODEL, contents: 'gemini leak' })) streamedText += chunk.text ?? '';
    })().then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(error instanceof ApiError, `got ${String(error)}`);
    assert.equal(error.status, 403);
    assert.match(error.message, /PERMISSION_DENIED.*no-cloud-keys: the answer carries an AWS key/);
    assert.ok(!streamedText.includes('AKIAABCDEFGHIJKLMNOP'), 'the key never reached the agent');
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.provider, row.streamed, row.policy_rule, row.policy_action], ['gemini', 1, 'no-cloud-keys', 'deny']);
  });
});

describe('Gemini usage as the adapter reads it', () => {
  test('a JSON-array stream (no alt=sse): thoughts are output and reasoning, cached content is part of the input', () => {
    const call = geminiAdapter.describe(`/v1beta/models/${MODEL}:streamGenerateContent`, { contents: [{ parts: [{ text: 'hi' }] }] }, Buffer.from('{}'), { addStreamUsage: true });
    assert.ok(call);
    assert.equal(call.request.stream, true);
    const facts = emptyFacts();
    call.readBody(
      [
        { candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] }, index: 0 }], modelVersion: 'gemini-2.5-flash-001', responseId: 'r1' },
        {
          candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] }, index: 0, finishReason: 'STOP' }],
          usageMetadata: { promptTokenCount: 1000, cachedContentTokenCount: 600, candidatesTokenCount: 20, thoughtsTokenCount: 80, totalTokenCount: 1100 },
        },
      ],
      facts,
    );
    assert.deepEqual(facts.usage, { input_tokens: 1000, output_tokens: 100, cache_read_tokens: 600, cache_write_tokens: null, reasoning_tokens: 80 });
    assert.deepEqual([facts.output_text, facts.finish_reasons, facts.response_model, facts.response_id], ['Hello', ['STOP'], 'gemini-2.5-flash-001', 'r1']);
  });

  test("an error body's google.rpc status is the error code", () => {
    const call = geminiAdapter.describe(`/v1beta/models/${MODEL}:generateContent`, { contents: 'x' }, Buffer.from('{}'), { addStreamUsage: true });
    const facts = emptyFacts();
    call?.readBody({ error: { code: 429, message: 'Resource has been exhausted', status: 'RESOURCE_EXHAUSTED' } }, facts);
    assert.deepEqual([facts.error_code, facts.error_message, facts.usage], ['RESOURCE_EXHAUSTED', 'Resource has been exhausted', null]);
  });

  test('countTokens and embedContent are recognised by path; other paths are not', () => {
    assert.equal(geminiAdapter.describe(`/v1beta/models/${MODEL}:countTokens`, { contents: [] }, Buffer.from('{}'), { addStreamUsage: true })?.request.operation, 'count_tokens');
    assert.equal(geminiAdapter.describe('/v1beta/models/gemini-embedding-001:batchEmbedContents', { requests: [] }, Buffer.from('{}'), { addStreamUsage: true })?.request.model, 'gemini-embedding-001');
    assert.equal(geminiAdapter.recognises?.('/v1beta/models/gemini-2.5-pro:embedContent'), true);
    assert.equal(geminiAdapter.recognises?.('/v1/chat/completions'), false);
  });
});
