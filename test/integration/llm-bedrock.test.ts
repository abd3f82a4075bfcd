// Integration tests for the AWS Bedrock adapter: the real @aws-sdk/client-bedrock-runtime
// calls a real mock LLM server (aimock) once directly and once through tapwire, for Converse,
// ConverseStream, InvokeModel and InvokeModelWithResponseStream (Anthropic bodies). The agent
// must get what it would have got without tapwire; the record holds provider, model, exact
// usage and cost; a policy refusal is an error the SDK raises as its own (AccessDeniedException,
// ThrottlingException); `tapwire replay` and `tapwire mock` serve the recorded calls again.
// aimock checks no SigV4 signature (and rejects a SigV4 Authorization when given API keys), so
// it runs without keys here, and the re-signing test signs again in the test and compares.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test, type TestContext } from 'node:test';
import {
  AccessDeniedException,
  type BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
  ValidationException,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { REDACTED } from '../../core/headers.js';
import { collect, llmColumns, LLMock, tableCost, withJournal } from '../support/aimock.js';
import { onlyExchange, startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { AGENT_KEY_ID, bedrockClient, errorTypeHeader } from '../support/bedrock.js';
import { databaseText } from '../support/database-text.js';
import { startTapwireWithPolicy } from '../support/llm-policy.js';
import { startMock } from '../../tools/mock.js';
import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';
import { runReplay } from '../../tools/replay-run.js';

const MODEL = 'anthropic.claude-haiku-4-5-20251001-v1:0';
function user(text: string): { role: 'user'; content: { text: string }[] } {
  return { role: 'user', content: [{ text }] };
}

/** An Anthropic Messages body as InvokeModel takes it. */
function anthropicBody(text: string): string {
  return JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 200, messages: [{ role: 'user', content: text }] });
}

/** What the agent sees of an answer, without the request metadata (its ids differ per call). */
function answer(output: object): unknown {
  return JSON.parse(JSON.stringify({ ...output, $metadata: undefined })) as unknown;
}

describe('Bedrock through tapwire against aimock', () => {
  let mock: LLMock;
  let direct: BedrockRuntimeClient;

  before(async () => {
    mock = new LLMock({ host: '127.0.0.1', port: 0, logLevel: 'silent' });
    mock.onMessage(/^bedrock plain$/, { content: 'Plain answer from the mock Bedrock.', usage: { input_tokens: 1103, output_tokens: 53 } });
    mock.onMessage(/^bedrock stream$/, { content: 'A streamed answer from the mock Bedrock, in several frames of text.', usage: { input_tokens: 1201, output_tokens: 59 } });
    mock.onMessage(/^bedrock invoke$/, { content: 'Invoked the Anthropic way.', model: MODEL, usage: { input_tokens: 311, output_tokens: 17 } });
    await mock.start();
    direct = bedrockClient(mock.url);
  });

  after(async () => {
    await mock.stop();
  });

  async function startBedrock(t: TestContext, extra = ''): Promise<TestSidecar> {
    return startTestSidecarFor(t, `${extra}routes:\n  bedrock:\n    protocol: llm\n    provider: bedrock\n    upstream: ${mock.url}\n`);
  }

  function startWithPolicy(t: TestContext, rules: string): Promise<TestSidecar> {
    return startTapwireWithPolicy(t, { bedrock: { upstream: mock.url, extra: 'provider: bedrock' } }, rules);
  }

  test('Converse: the same answer as direct; provider, model, usage and cost recorded; the signature redacted', async (t) => {
    const tapwire = await startBedrock(t);
    const call = (c: BedrockRuntimeClient) => c.send(new ConverseCommand({ modelId: MODEL, messages: [user('bedrock plain')] }));

    const expected = await call(direct);
    const { result, upstream } = await withJournal(mock, () => call(bedrockClient(`${tapwire.url}/bedrock`)));

    assert.deepEqual(answer(result), answer(expected));
    assert.equal(result.output?.message?.content?.[0]?.text, 'Plain answer from the mock Bedrock.');
    assert.equal(upstream.length, 1);
    const row = await onlyExchange(tapwire);
    assert.deepEqual(llmColumns(row), {
      route: 'bedrock',
      method: 'POST /model/anthropic.claude-haiku-4-5-20251001-v1%3A0/converse',
      status: 'ok',
      http_status: 200,
      error_code: null,
      provider: 'bedrock',
      operation: 'chat',
      model: MODEL,
      response_model: null,
      response_id: null,
      finish_reasons: '["end_turn"]',
      streamed: 0,
      input_tokens: 1103,
      output_tokens: 53,
      cache_read_tokens: null,
      cache_write_tokens: null,
      reasoning_tokens: null,
      tokens_estimated: 0,
      cost_usd: tableCost('bedrock', 'anthropic.claude-haiku-4-5', 1103, 53),
    });
    assert.equal(tapwire.record(row.id).request?.headers.authorization, REDACTED);
    assert.ok(!databaseText(tapwire.dbPath).includes(AGENT_KEY_ID), "the agent's key id is nowhere in the database");
  });

  test('ConverseStream: the same events as direct, read from the binary frames as they pass; usage from the metadata event', async (t) => {
    const tapwire = await startBedrock(t);
    const call = async (c: BedrockRuntimeClient) => {
      const out = await c.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('bedrock stream')] }));
      return collect(out.stream!);
    };

    const expected = await call(direct);
    const result = await call(bedrockClient(`${tapwire.url}/bedrock`));

    assert.ok(result.length > 4, 'several events');
    assert.deepEqual(result, expected);
    const text = result.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');
    assert.equal(text, 'A streamed answer from the mock Bedrock, in several frames of text.');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.provider, row.operation, row.model, row.streamed, row.input_tokens, row.output_tokens, row.tokens_estimated, row.finish_reasons],
      ['bedrock', 'chat', MODEL, 1, 1201, 59, 0, '["end_turn"]'],
    );
    assert.equal(row.cost_usd, tableCost('bedrock', 'anthropic.claude-haiku-4-5', 1201, 59));
    assert.equal(row.event_count, result.length, 'one recorded event per frame');
    assert.ok(row.ttft_ms !== null, 'time to first token measured on the event stream');
    const events = tapwire.record(row.id).events;
    assert.deepEqual(events.at(-1) && [events.at(-1)!.event, JSON.parse(events.at(-1)!.data)], ['metadata', { usage: { inputTokens: 1201, outputTokens: 59, totalTokens: 1260 }, metrics: { latencyMs: 0 } }]);
  });

  test('InvokeModel with an Anthropic body: the same bytes as direct; usage and cost from the Anthropic answer', async (t) => {
    const tapwire = await startBedrock(t);
    const call = async (c: BedrockRuntimeClient) => {
      const out = await c.send(new InvokeModelCommand({ modelId: MODEL, contentType: 'application/json', body: anthropicBody('bedrock invoke') }));
      return JSON.parse(Buffer.from(out.body).toString('utf8')) as Record<string, unknown>;
    };

    const expected = await call(direct);
    const result = await call(bedrockClient(`${tapwire.url}/bedrock`));

    assert.deepEqual({ ...result, id: null }, { ...expected, id: null });
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.method, row.provider, row.operation, row.model, row.response_model, row.streamed, row.input_tokens, row.output_tokens, row.tokens_estimated],
      ['POST /model/anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke', 'bedrock', 'chat', MODEL, MODEL, 0, 311, 17, 0],
    );
    assert.equal(row.response_id, result.id);
    assert.equal(row.cost_usd, tableCost('bedrock', 'anthropic.claude-haiku-4-5', 311, 17));
  });

  test('InvokeModelWithResponseStream with an Anthropic body: the same chunks as direct; usage from the message events', async (t) => {
    const tapwire = await startBedrock(t);
    const call = async (c: BedrockRuntimeClient) => {
      const out = await c.send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, contentType: 'application/json', body: anthropicBody('bedrock invoke') }));
      return collect(out.body!);
    };

    const expected = await call(direct);
    const result = await call(bedrockClient(`${tapwire.url}/bedrock`));

    assert.equal(result.length, expected.length);
    assert.deepEqual(result, expected);
    const row = await onlyExchange(tapwire);
    // aimock's message_delta says output_tokens 0 whatever it streamed: the record holds what the
    // upstream counted (the captured stream below has real counts).
    assert.deepEqual(
      [row.provider, row.operation, row.model, row.streamed, row.input_tokens, row.output_tokens, row.tokens_estimated, row.finish_reasons],
      ['bedrock', 'chat', MODEL, 1, 311, 0, 0, '["end_turn"]'],
    );
    assert.equal(row.event_count, result.length);
    assert.equal(row.cost_usd, tableCost('bedrock', 'anthropic.claude-haiku-4-5', 311, 0));
  });

  test('a policy on llm.provider and llm.model refuses with a 403 the SDK raises as AccessDeniedException, recorded denied', async (t) => {
    const tapwire = await startWithPolicy(t, 'rules:\n  - name: no-claude-on-bedrock\n    when: llm.provider == "bedrock" && llm.model.contains("claude")\n    action: deny\n');
    const { result: error, upstream } = await withJournal(mock, () =>
      bedrockClient(`${tapwire.url}/bedrock`)
        .send(new ConverseCommand({ modelId: MODEL, messages: [user('bedrock plain')] }))
        .then(
          () => null,
          (err: unknown) => err,
        ),
    );
    assert.ok(error instanceof AccessDeniedException, `got ${String(error)}`);
    assert.equal(error.name, 'AccessDeniedException');
    assert.equal(error.$metadata.httpStatusCode, 403);
    assert.match(error.message, /no-claude-on-bedrock/);
    assert.equal(errorTypeHeader(error), 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/', 'the type in the header, as AWS sends it');
    assert.equal(upstream.length, 0, 'the call never reached the upstream');
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.status, row.http_status, row.provider, row.model, row.policy_rule, row.policy_action],
      ['denied', 403, 'bedrock', MODEL, 'no-claude-on-bedrock', 'deny'],
    );
  });

  test('a token budget: the call that crosses it completes, the next is a 429 the SDK raises as ThrottlingException', async (t) => {
    const tapwire = await startWithPolicy(t, 'rules:\n  - name: bedrock-budget\n    when: llm.provider == "bedrock"\n    action: limit\n    limit: { tokens: 1000, per: 1h, key: llm.provider }\n');
    // One attempt: the SDK retries throttling (after retry-after), which would only repeat the refusal.
    const client = bedrockClient(`${tapwire.url}/bedrock`, 1);
    const first: ConverseCommandOutput = await client.send(new ConverseCommand({ modelId: MODEL, messages: [user('bedrock plain')] }));
    assert.equal(first.usage?.inputTokens, 1103);
    const { result: error, upstream } = await withJournal(mock, () =>
      client.send(new ConverseCommand({ modelId: MODEL, messages: [user('bedrock plain')] })).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    assert.ok(error instanceof ThrottlingException, `got ${String(error)}`);
    assert.equal(error.name, 'ThrottlingException');
    assert.equal(error.$metadata.httpStatusCode, 429);
    assert.equal(errorTypeHeader(error), 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/');
    assert.match(error.message, /bedrock-budget/);
    assert.equal(upstream.length, 0);
    const rows = await tapwire.stop();
    assert.deepEqual(
      rows.map((r) => [r.status, r.http_status, r.input_tokens, r.policy_action]),
      [
        ['ok', 200, 1103, null],
        ['denied', 429, null, 'limit'],
      ],
    );
  });

  test("tapwire's other refusals carry x-amzn-errortype too: an unreadable body (AccessDeniedException), one over limits.max_request_bytes (ValidationException)", async (t) => {
    const guarded = await startWithPolicy(t, 'rules:\n  - name: no-nova\n    when: llm.model.startsWith("amazon.nova")\n    action: deny\n');
    const unreadable = await bedrockClient(`${guarded.url}/bedrock`, 1)
      .send(new InvokeModelCommand({ modelId: MODEL, contentType: 'application/json', body: 'not JSON: no rule can read it' }))
      .then(() => null, (err: unknown) => err);
    assert.ok(unreadable instanceof AccessDeniedException, `got ${String(unreadable)}`);
    assert.equal(errorTypeHeader(unreadable), 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/');
    assert.equal((await onlyExchange(guarded)).policy_rule, 'unreadable');

    const small = await startBedrock(t, 'limits: { max_request_bytes: 64 }\n');
    const tooLarge = await bedrockClient(`${small.url}/bedrock`, 1)
      .send(new ConverseCommand({ modelId: MODEL, messages: [user('a question longer than the sixty-four bytes this route reads')] }))
      .then(() => null, (err: unknown) => err);
    assert.ok(tooLarge instanceof ValidationException, `got ${String(tooLarge)}`);
    assert.equal(tooLarge.$metadata.httpStatusCode, 413);
    assert.equal(errorTypeHeader(tooLarge), 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/');
  });

  test('tapwire replay sends the recorded calls again through a route that signs them, and finds the same answers', async (t) => {
    const tapwire = await startBedrock(t);
    const via = bedrockClient(`${tapwire.url}/bedrock`);
    await via.send(new ConverseCommand({ modelId: MODEL, messages: [user('bedrock plain')] }));
    await collect((await via.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('bedrock stream')] }))).stream!);
    await tapwire.stop();

    const dir = mkdtempSync(join(tmpdir(), 'tapwire-bedrock-replay-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'tapwire.yaml');
    // The record holds no signature (authorization is redacted): the route signs the replays.
    writeFileSync(config, `routes:\n  bedrock:\n    protocol: llm\n    provider: bedrock\n    upstream: ${mock.url}\n    aws: { region: us-east-1, access_key_id: AKIAREPLAYKEY0000001, secret_access_key: replay-secret }\n`);
    const out = new PassThrough();
    let output = '';
    out.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const { result: results, upstream } = await withJournal(mock, () =>
      runReplay({ db: tapwire.dbPath, ids: [], filter: 'exchange.replay_of == ""', config, concurrency: 1, path: [], ignore: [] }, out),
    );
    assert.equal(results.length, 2);
    for (const r of results) {
      assert.equal(r.error, null);
      assert.equal(r.status, 200);
      assert.equal(r.replay?.replay_of, r.original.id);
      assert.deepEqual([r.replay?.input_tokens, r.replay?.output_tokens], [r.original.input_tokens, r.original.output_tokens]);
    }
    assert.equal((output.match(/body {5}same/g) ?? []).length, 2, output);
    assert.ok(upstream.every((entry) => String(entry.headers.authorization ?? '').length > 0), 'every replay went upstream signed');
  });

  // aimock frames InvokeModel stream chunks without Bedrock's base64 `bytes`, which the mock
  // serves in Bedrock's own framing: that stream's mock test is llm-bedrock-captured's.
  test('tapwire mock serves the recorded Converse answer and event stream back to the SDK, as they were live', async (t) => {
    const tapwire = await startBedrock(t);
    const via = bedrockClient(`${tapwire.url}/bedrock`);
    const converse = () => via.send(new ConverseCommand({ modelId: MODEL, messages: [user('bedrock plain')] }));
    const converseStream = async (c: BedrockRuntimeClient) => collect((await c.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('bedrock stream')] }))).stream!);
    const live = { converse: answer(await converse()), stream: await converseStream(via) };
    await tapwire.stop();

    const served = await startMock({ db: tapwire.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'instant', ignore: DEFAULT_LLM_IGNORED.map((p) => [p]) });
    t.after(() => served.close());
    const fromMock = bedrockClient(`${served.url}/bedrock`);
    assert.deepEqual(answer(await fromMock.send(new ConverseCommand({ modelId: MODEL, messages: [user('bedrock plain')] }))), live.converse);
    assert.deepEqual(await converseStream(fromMock), live.stream);
  });
});
