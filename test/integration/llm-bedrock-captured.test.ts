// Bedrock answers aimock does not give, served by a scripted upstream in the shapes AWS
// documents, to the real @aws-sdk/client-bedrock-runtime directly and through tapwire: cache
// tokens (Converse, and an Anthropic InvokeModel stream in Bedrock's own `{bytes: base64}`
// frames with its invocation metrics), Amazon Nova and Mistral InvokeModel bodies (usage from
// the body, or from Bedrock's token-count headers), an exception frame mid-stream, an error
// answer with `x-amzn-errortype`, a response rule over an event stream (refused whole), and a
// route with AWS credentials, whose re-signed calls must verify against those credentials.
// aimock checks no signature, so the test signs again with the same signer and compares.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, test, type TestContext } from 'node:test';
import {
  AccessDeniedException,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
  ValidationException,
  type BedrockRuntimeClient,
} from '@aws-sdk/client-bedrock-runtime';
import { encodeEventFrame } from '../../core/eventstream.js';
import { BUILT_IN_PRICES } from '../../protocols/llm/providers.js';
import { collect } from '../support/aimock.js';
import { AGENT_KEY_ID, AGENT_SECRET, bedrockClient, errorTypeHeader, expectedAuthorization, invokeStreamFrames } from '../support/bedrock.js';
import { databaseText } from '../support/database-text.js';
import { writePolicyFile } from '../support/policy-sidecar.js';
import { onlyExchange, startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { upstreamFor, type ReceivedRequest, type ScriptedUpstream } from '../support/upstream.js';
import { startMock } from '../../tools/mock.js';
import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';

const SONNET = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

/** A Converse answer with a prompt-cache write, in the shape of the Bedrock user guide's prompt-caching example. */
const CACHED_CONVERSE = {
  output: { message: { role: 'assistant', content: [{ text: 'The document describes three phases of the migration.' }] } },
  stopReason: 'end_turn',
  usage: { inputTokens: 11, outputTokens: 141, totalTokens: 2188, cacheReadInputTokens: 0, cacheWriteInputTokens: 2036 },
  metrics: { latencyMs: 3842 },
};

/** An Anthropic stream on Bedrock: cache read in message_start, Bedrock's invocation metrics on the last chunk. */
const ANTHROPIC_CHUNKS = [
  {
    type: 'message_start',
    message: {
      id: 'msg_bdrk_01Xf7',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 2036, output_tokens: 1 },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Three phases: ' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'plan, move, verify.' } },
  { type: 'content_block_stop', index: 0 },
  { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 42 } },
  { type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: 12, outputTokenCount: 42, invocationLatency: 1211, firstByteLatency: 402 } },
];

const AWS_KEY = 'AKIAABCDEFGHIJKLMNOP';
/** An Anthropic stream whose answer carries an AWS key. */
const LEAKY_CHUNKS = [
  ANTHROPIC_CHUNKS[0],
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `Use the key ${AWS_KEY} for it.` } },
  ...ANTHROPIC_CHUNKS.slice(5),
];

/** Amazon Nova's InvokeModel answer (Nova user guide, "Invoke API" response). */
const NOVA_ANSWER = {
  output: { message: { content: [{ text: 'Hello! How can I help you today?' }], role: 'assistant' } },
  stopReason: 'end_turn',
  usage: { inputTokens: 18, outputTokens: 12, totalTokens: 30, cacheReadInputTokenCount: 0, cacheWriteInputTokenCount: 0 },
};

/** Mistral's InvokeModel answer: no usage in the body; Bedrock's headers count it. */
const MISTRAL_ANSWER = { outputs: [{ text: ' Bonjour, je suis un assistant.', stop_reason: 'stop' }] };

function costOf(key: string, usage: { uncached: number; cacheRead?: number; cacheWrite?: number; output: number }): number {
  const price = BUILT_IN_PRICES['bedrock'][key]!;
  const micros =
    usage.uncached * price.input + (usage.cacheRead ?? 0) * (price.cache_read ?? price.input) + (usage.cacheWrite ?? 0) * (price.cache_write ?? price.input) + usage.output * price.output;
  return micros / 1_000_000;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': 'a4b5c6d7-0000-4000-8000-000000000001', ...headers });
  res.end(JSON.stringify(body));
}

function sendFrames(res: ServerResponse, frames: Buffer): void {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'a4b5c6d7-0000-4000-8000-000000000002' });
  // Cut into odd pieces, so frames straddle the chunks tapwire reads.
  for (let at = 0; at < frames.length; at += 37) res.write(frames.subarray(at, at + 37));
  res.end();
}

/** The scripted Bedrock: answers by the path's operation and model. */
function bedrockAnswer(req: ReceivedRequest, res: ServerResponse): void {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  if (path.endsWith('/bad-model/converse')) {
    sendJson(res, 400, { message: 'The provided model identifier is invalid.' }, { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' });
  } else if (path.endsWith('/converse')) {
    sendJson(res, 200, CACHED_CONVERSE);
  } else if (path.endsWith('/converse-stream')) {
    const events: [string, unknown][] = [
      ['messageStart', { role: 'assistant' }],
      ['contentBlockDelta', { delta: { text: 'Partial answer, then ' }, contentBlockIndex: 0 }],
      ['throttlingException', { message: 'Too many tokens, please wait before trying again.' }],
    ];
    sendFrames(res, Buffer.concat(events.map(([type, payload]) => encodeEventFrame(type, JSON.stringify(payload)))));
  } else if (path.includes('amazon.nova')) {
    sendJson(res, 200, NOVA_ANSWER);
  } else if (path.includes('mistral.')) {
    sendJson(res, 200, MISTRAL_ANSWER, { 'x-amzn-bedrock-input-token-count': '30', 'x-amzn-bedrock-output-token-count': '12', 'x-amzn-bedrock-invocation-latency': '312' });
  } else if (path.includes('leaky')) {
    sendFrames(res, invokeStreamFrames(LEAKY_CHUNKS));
  } else if (path.endsWith('/invoke-with-response-stream')) {
    sendFrames(res, invokeStreamFrames(ANTHROPIC_CHUNKS));
  } else {
    sendJson(res, 404, { message: `no such operation ${path}` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
  }
}

async function throughBoth<T>(upstream: ScriptedUpstream, tapwire: TestSidecar, call: (c: BedrockRuntimeClient) => Promise<T>): Promise<{ direct: T; via: T }> {
  const direct = await call(bedrockClient(upstream.url, 1));
  const via = await call(bedrockClient(`${tapwire.url}/bedrock`, 1));
  return { direct, via };
}

function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (err: unknown) => err,
  );
}

/** The route credentials a signing route re-signs with (from the environment, as a config names them). */
const route = { accessKeyId: 'AKIAROUTEKEY00000042', secretAccessKey: 'route/secret/Access+Key/0042', sessionToken: 'FwoGZXIvYXdzEROUTESESSIONTOKEN0042' };

/** tapwire with a Bedrock route to `upstream` that signs with `route`'s credentials in us-west-2; `extra` config before it. */
function startSigningRoute(t: TestContext, upstream: string, extra = ''): Promise<TestSidecar> {
  const env = { ...process.env, TW_AWS_KEY: route.accessKeyId, TW_AWS_SECRET: route.secretAccessKey, TW_AWS_TOKEN: route.sessionToken };
  const yaml = [
    'routes:',
    '  bedrock:',
    '    protocol: llm',
    '    provider: bedrock',
    `    upstream: ${upstream}`,
    '    aws:',
    '      region: us-west-2',
    '      access_key_id: ${TW_AWS_KEY}',
    '      secret_access_key: ${TW_AWS_SECRET}',
    '      session_token: ${TW_AWS_TOKEN}',
  ].join('\n');
  return startTestSidecarFor(t, `${extra}${yaml}`, env);
}

describe('Bedrock answers in the shapes AWS documents, through tapwire', () => {
  async function start(t: TestContext, extra = '', env: NodeJS.ProcessEnv = process.env): Promise<{ upstream: ScriptedUpstream; tapwire: TestSidecar }> {
    const upstream = await upstreamFor(t, bedrockAnswer);
    const tapwire = await startTestSidecarFor(t, `${extra}routes:\n  bedrock:\n    protocol: llm\n    provider: bedrock\n    upstream: ${upstream.url}\n`, env);
    return { upstream, tapwire };
  }

  test('Converse with a prompt-cache write: input counts the cached tokens, priced at the cache-write rate', async (t) => {
    const { upstream, tapwire } = await start(t);
    const { direct, via } = await throughBoth(upstream, tapwire, (c) => c.send(new ConverseCommand({ modelId: SONNET, messages: [{ role: 'user', content: [{ text: 'summarise' }] }] })));
    assert.deepEqual({ ...via, $metadata: null }, { ...direct, $metadata: null });
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.model, row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.tokens_estimated],
      [SONNET, 11 + 2036, 141, 0, 2036, 0],
    );
    assert.equal(row.cost_usd, costOf('anthropic.claude-sonnet-4-5', { uncached: 11, cacheWrite: 2036, output: 141 }));
  });

  test("an Anthropic InvokeModel stream in Bedrock's base64 frames: the same chunks as direct, cache reads counted", async (t) => {
    const { upstream, tapwire } = await start(t);
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'phases?' }] });
    const { direct, via } = await throughBoth(upstream, tapwire, async (c) =>
      (await collect((await c.send(new InvokeModelWithResponseStreamCommand({ modelId: SONNET, body }))).body!)).map((part) => Buffer.from(part.chunk?.bytes ?? []).toString('utf8')),
    );
    assert.equal(via.length, ANTHROPIC_CHUNKS.length);
    assert.deepEqual(via, direct);
    assert.deepEqual(JSON.parse(via[2]!), ANTHROPIC_CHUNKS[2]);
    const row = await onlyExchange(tapwire);
    assert.deepEqual(
      [row.model, row.response_model, row.response_id, row.streamed, row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.finish_reasons],
      [SONNET, 'claude-sonnet-4-5-20250929', 'msg_bdrk_01Xf7', 1, 12 + 2036, 42, 2036, 0, '["end_turn"]'],
    );
    assert.equal(row.cost_usd, costOf('anthropic.claude-sonnet-4-5', { uncached: 12, cacheRead: 2036, output: 42 }));
    assert.ok(row.ttft_ms !== null);
  });

  test("tapwire mock serves a recorded InvokeModel stream in Bedrock's framing, the SDK gets the same chunks as live", async (t) => {
    const { tapwire } = await start(t);
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'phases?' }] });
    const chunks = async (c: BedrockRuntimeClient) =>
      (await collect((await c.send(new InvokeModelWithResponseStreamCommand({ modelId: SONNET, body }))).body!)).map((part) => Buffer.from(part.chunk?.bytes ?? []).toString('utf8'));
    const live = await chunks(bedrockClient(`${tapwire.url}/bedrock`, 1));
    await tapwire.stop();
    const served = await startMock({ db: tapwire.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'instant', ignore: DEFAULT_LLM_IGNORED.map((p) => [p]) });
    t.after(() => served.close());
    assert.equal(live.length, ANTHROPIC_CHUNKS.length);
    assert.deepEqual(await chunks(bedrockClient(`${served.url}/bedrock`, 1)), live);
  });

  test('a redact rule masks an AWS key in an InvokeModel stream: the agent gets it intact, the record holds it neither plain nor base64', async (t) => {
    const policy = writePolicyFile(t, "rules:\n  - name: mask-aws-keys\n    when: \"true\"\n    action: redact\n    redact: { patterns: ['AKIA[0-9A-Z]{16}'] }\n");
    const { tapwire } = await start(t, `policies: [${JSON.stringify(policy)}]\n`);
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'key?' }] });
    const out = await bedrockClient(`${tapwire.url}/bedrock`, 1).send(new InvokeModelWithResponseStreamCommand({ modelId: 'anthropic.claude-leaky-v1:0', body }));
    const text = (await collect(out.body!)).map((part) => Buffer.from(part.chunk?.bytes ?? []).toString('utf8')).join('');
    assert.ok(text.includes(AWS_KEY), 'the agent got the answer as sent');
    const row = await onlyExchange(tapwire);
    const record = tapwire.record(row.id);
    assert.ok(record.events.some((e) => e.data.includes('[redacted]')), 'the recorded chunk is the text, masked');
    const stored = databaseText(tapwire.dbPath);
    const framed = JSON.stringify(LEAKY_CHUNKS[1]);
    for (const form of [AWS_KEY, Buffer.from(framed).toString('base64'), Buffer.from(AWS_KEY).toString('base64').slice(0, 16)]) {
      assert.ok(!stored.includes(form), `${form} is nowhere in the database`);
    }
  });

  test("InvokeModel bodies of other families: Nova's usage from its body, Mistral's from Bedrock's token-count headers", async (t) => {
    const { upstream, tapwire } = await start(t);
    const nova = 'amazon.nova-lite-v1:0';
    const mistral = 'mistral.mistral-7b-instruct-v0:2';
    const invoke = (modelId: string, request: unknown) => async (c: BedrockRuntimeClient) =>
      Buffer.from((await c.send(new InvokeModelCommand({ modelId, body: JSON.stringify(request) }))).body).toString('utf8');
    const novaCall = await throughBoth(upstream, tapwire, invoke(nova, { schemaVersion: 'messages-v1', messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
    const mistralCall = await throughBoth(upstream, tapwire, invoke(mistral, { prompt: '<s>[INST] Bonjour [/INST]', max_tokens: 50 }));
    assert.equal(novaCall.via, novaCall.direct);
    assert.equal(mistralCall.via, mistralCall.direct);
    const rows = await tapwire.stop();
    assert.deepEqual(
      rows.map((r) => [r.model, r.operation, r.input_tokens, r.output_tokens, r.tokens_estimated, r.finish_reasons]),
      [
        [nova, 'chat', 18, 12, 0, '["end_turn"]'],
        [mistral, 'chat', 30, 12, 0, '["stop"]'],
      ],
    );
    assert.equal(rows[0]!.cost_usd, costOf('amazon.nova-lite', { uncached: 18, output: 12 }));
    assert.equal(rows[1]!.cost_usd, costOf('mistral.mistral-7b-instruct', { uncached: 30, output: 12 }));
  });

  test('an exception frame mid-stream: the SDK raises ThrottlingException as direct; the record names it', async (t) => {
    const { upstream, tapwire } = await start(t);
    const stream = async (c: BedrockRuntimeClient) => {
      const out = await c.send(new ConverseStreamCommand({ modelId: SONNET, messages: [{ role: 'user', content: [{ text: 'go' }] }] }));
      return failure(collect(out.stream!));
    };
    const { direct, via } = await throughBoth(upstream, tapwire, stream);
    assert.ok(direct instanceof ThrottlingException);
    assert.ok(via instanceof ThrottlingException, `got ${String(via)}`);
    assert.equal(via.message, direct.message);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.status, row.http_status, row.error_code, row.error_message], ['error', 200, 'ThrottlingException', 'Too many tokens, please wait before trying again.']);
  });

  test("an error answer: the SDK raises ValidationException as direct; the record holds x-amzn-errortype's type", async (t) => {
    const { upstream, tapwire } = await start(t);
    const { direct, via } = await throughBoth(upstream, tapwire, (c) => failure(c.send(new ConverseCommand({ modelId: 'bad-model', messages: [{ role: 'user', content: [{ text: 'x' }] }] }))));
    assert.ok(direct instanceof ValidationException);
    assert.ok(via instanceof ValidationException);
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.status, row.http_status, row.error_code, row.error_message], ['error', 400, 'ValidationException', 'The provided model identifier is invalid.']);
  });

  test('a response rule over an event stream: tapwire cannot cut one short, so it is refused whole (fail closed), its usage still counted', async (t) => {
    const policy = writePolicyFile(t, 'rules:\n  - name: no-verify\n    phase: response\n    when: response.text.contains("verify")\n    action: deny\n');
    const { tapwire } = await start(t, `policies: [${JSON.stringify(policy)}]\n`);
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'phases?' }] });
    const error = await failure(bedrockClient(`${tapwire.url}/bedrock`, 1).send(new InvokeModelWithResponseStreamCommand({ modelId: SONNET, body })));
    assert.ok(error instanceof AccessDeniedException, `got ${String(error)}`);
    assert.match(error.message, /cannot end an AWS event stream/);
    assert.equal(errorTypeHeader(error), 'AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/');
    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.status, row.http_status, row.policy_rule, row.input_tokens, row.output_tokens], ['denied', 403, 'unreadable', 12 + 2036, 42]);
  });

  test("a route with AWS credentials re-signs each call for the upstream: the signature verifies with the route's credentials, the agent's is gone, none is stored", async (t) => {
    const upstream = await upstreamFor(t, bedrockAnswer);
    const tapwire = await startSigningRoute(t, upstream.url);
    const answer = await bedrockClient(`${tapwire.url}/bedrock`, 1).send(new ConverseCommand({ modelId: SONNET, messages: [{ role: 'user', content: [{ text: 'summarise' }] }] }));
    assert.equal(answer.usage?.cacheWriteInputTokens, 2036);

    const received = upstream.requests[0]!;
    const authorization = String(received.headers.authorization);
    assert.match(authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${route.accessKeyId}/\\d{8}/us-west-2/bedrock/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$`));
    assert.equal(received.headers.host, new URL(upstream.url).host);
    assert.equal(received.headers['x-amz-security-token'], route.sessionToken);
    assert.equal(authorization, await expectedAuthorization(received, upstream.url, route, 'us-west-2'), "the signature verifies with the route's credentials");
    assert.notEqual(authorization, await expectedAuthorization(received, upstream.url, { accessKeyId: route.accessKeyId, secretAccessKey: AGENT_SECRET }, 'us-west-2'));
    assert.ok(!JSON.stringify(received.headers).includes(AGENT_KEY_ID), "nothing of the agent's signature went upstream");

    const row = await onlyExchange(tapwire);
    assert.deepEqual([row.status, row.input_tokens, row.cache_write_tokens], ['ok', 11 + 2036, 2036]);
    const stored = databaseText(tapwire.dbPath);
    const signature = /Signature=([0-9a-f]{64})/.exec(authorization)![1]!;
    for (const secret of [route.accessKeyId, route.secretAccessKey, route.sessionToken, signature, AGENT_KEY_ID]) {
      assert.ok(!stored.includes(secret), `${secret.slice(0, 8)}… is nowhere in the database`);
    }
  });

  test('a transform rule on a signing route: the upstream gets the changed body, and the signature covers it', async (t) => {
    const upstream = await upstreamFor(t, bedrockAnswer);
    const policy = writePolicyFile(t, 'rules:\n  - name: cap\n    when: "true"\n    action: transform\n    set: { body.inferenceConfig.maxTokens: "64" }\n');
    const tapwire = await startSigningRoute(t, upstream.url, `policies: [${JSON.stringify(policy)}]\n`);
    await bedrockClient(`${tapwire.url}/bedrock`, 1).send(new ConverseCommand({ modelId: SONNET, messages: [{ role: 'user', content: [{ text: 'summarise' }] }], inferenceConfig: { maxTokens: 4096 } }));
    const received = upstream.requests[0]!;
    assert.equal((JSON.parse(received.body.toString('utf8')) as { inferenceConfig: { maxTokens: number } }).inferenceConfig.maxTokens, 64, 'the upstream got the changed body');
    assert.equal(String(received.headers.authorization), await expectedAuthorization(received, upstream.url, route, 'us-west-2'), 'the signature verifies over the body as sent');
  });
});
