// `tapwire replay` and `tapwire mock` for every provider beyond OpenAI and Anthropic: each
// provider's official SDK calls aimock through tapwire (plain and streamed: Gemini's SSE,
// Vertex AI's Gemini, Azure OpenAI's deployments, Bedrock's Converse and its binary event
// stream, Ollama's JSON lines), then the recorded calls are served back by the mock (the SDK
// must get what it got live) and replayed through a sidecar started from the config (the
// replay must report the same answer and be recorded with the same model, usage and cost).
// Vertex AI's Anthropic models are called with Anthropic's own Vertex client.
// One aimock without API keys serves every provider: Bedrock's SDK signs with SigV4, which
// aimock refuses once it checks keys; each provider's own test checks its credentials.
// Vertex AI's Anthropic calls (Anthropic's own Vertex client) go to a scripted upstream
// answering in Anthropic's documented shapes: aimock does not serve rawPredict.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test, type TestContext } from 'node:test';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import { OAuth2Client } from 'google-auth-library';
import { Ollama } from 'ollama';
import { AzureOpenAI } from 'openai';
import { collect, llmColumns, LLMock, startTapwire } from '../support/aimock.js';
import { bedrockClient } from '../support/bedrock.js';
import { sseEvent, startEventStream, upstreamFor } from '../support/upstream.js';
import { startMock } from '../../tools/mock.js';
import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';
import { runReplay } from '../../tools/replay-run.js';

/** What an agent sees of an answer, as plain JSON (SDK classes and their HTTP metadata left out). */
function seen(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'sdkHttpResponse' || key === '$metadata' ? undefined : v))) as unknown;
}

function gemini(base: string): GoogleGenAI {
  return new GoogleGenAI({ apiKey: 'AIzaSy-replay-mock-key', httpOptions: { baseUrl: base, apiVersion: 'v1beta' } });
}

function vertex(base: string): GoogleGenAI {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'ya29.replay-mock-token', expiry_date: Date.now() + 3_600_000 });
  return new GoogleGenAI({ vertexai: true, project: 'tapwire-test', location: 'us-central1', googleAuthOptions: { authClient: auth }, httpOptions: { baseUrl: base, apiVersion: 'v1' } });
}

function azure(base: string): AzureOpenAI {
  return new AzureOpenAI({ endpoint: base, apiKey: 'azure-replay-mock-key', apiVersion: '2024-10-21', deployment: 'team-gpt4o-mini', maxRetries: 0 });
}

function ollama(base: string): Ollama {
  return new Ollama({ host: base });
}

function vertexClaude(base: string): AnthropicVertex {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: 'ya29.replay-mock-token', expiry_date: Date.now() + 3_600_000 });
  return new AnthropicVertex({ region: 'us-central1', projectId: 'tapwire-test', authClient: auth, baseURL: `${base}/v1`, maxRetries: 0 });
}

const CLAUDE_ASK = { model: 'claude-sonnet-4-5@20250929', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Hello' }] };

/** Vertex's Anthropic answers as Anthropic documents them: rawPredict a message, streamRawPredict its stream. */
async function scriptedClaude(t: TestContext): Promise<string> {
  const message = { id: 'msg_vrtx_01', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5-20250929', content: [{ type: 'text', text: 'Hi!' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 12, output_tokens: 3 } };
  const stream = [
    sseEvent({ type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } } }, 'message_start'),
    sseEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
    sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }, 'content_block_delta'),
    sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '!' } }, 'content_block_delta'),
    sseEvent({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
    sseEvent({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }, 'message_delta'),
    sseEvent({ type: 'message_stop' }, 'message_stop'),
  ].join('');
  const upstream = await upstreamFor(t, (req, res) => {
    if (req.url.endsWith(':streamRawPredict')) {
      startEventStream(res);
      res.end(stream);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message));
  });
  return upstream.url;
}

const BEDROCK_MODEL = 'anthropic.claude-haiku-4-5-20251001-v1:0';

interface ProviderCase {
  route: string;
  /** The route's YAML lines besides protocol and upstream. */
  extra: string;
  /** The upstream's URL when it is not aimock. */
  upstream?: (t: TestContext) => Promise<string>;
  /** A query parameter the SDK sends that the replay must send again (the record keeps it in `details`). */
  query?: string;
  /** Each call as its SDK makes it at a route URL, returning what the agent saw. */
  calls: Record<string, (base: string) => Promise<unknown>>;
}

const CASES: ProviderCase[] = [
  {
    route: 'gemini',
    extra: 'provider: gemini',
    query: 'alt=sse',
    calls: {
      generateContent: async (base) => seen(await gemini(base).models.generateContent({ model: 'gemini-2.5-flash', contents: 'gemini plain' })),
      'streamGenerateContent (alt=sse)': async (base) => seen(await collect(await gemini(base).models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'gemini stream' }))),
    },
  },
  {
    route: 'vertex',
    extra: 'provider: vertex_ai',
    query: 'alt=sse',
    calls: {
      generateContent: async (base) => seen(await vertex(base).models.generateContent({ model: 'gemini-2.5-flash', contents: 'vertex plain' })),
      'streamGenerateContent (alt=sse)': async (base) => seen(await collect(await vertex(base).models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'vertex stream' }))),
    },
  },
  {
    route: 'vertex-claude',
    extra: 'provider: vertex_ai',
    upstream: scriptedClaude,
    calls: {
      rawPredict: async (base) => seen(await vertexClaude(base).messages.create(CLAUDE_ASK)),
      streamRawPredict: async (base) => seen(await collect(await vertexClaude(base).messages.create({ ...CLAUDE_ASK, stream: true }))),
    },
  },
  {
    route: 'azure',
    extra: 'provider: azure_openai',
    query: 'api-version=2024-10-21',
    calls: {
      'chat completion': async (base) => seen(await azure(base).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'azure plain' }] })),
      'chat stream': async (base) => seen(await collect(await azure(base).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'azure stream' }], stream: true }))),
    },
  },
  {
    route: 'bedrock',
    extra: 'provider: bedrock',
    calls: {
      Converse: async (base) => seen(await bedrockClient(base).send(new ConverseCommand({ modelId: BEDROCK_MODEL, messages: [{ role: 'user', content: [{ text: 'bedrock plain' }] }] }))),
      ConverseStream: async (base) =>
        seen(await collect((await bedrockClient(base).send(new ConverseStreamCommand({ modelId: BEDROCK_MODEL, messages: [{ role: 'user', content: [{ text: 'bedrock stream' }] }] }))).stream!)),
    },
  },
  {
    route: 'ollama',
    extra: 'provider: ollama',
    calls: {
      '/api/chat': async (base) => seen(await ollama(base).chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'ollama plain' }], stream: false })),
      '/api/chat streamed (JSON lines)': async (base) => seen(await collect(await ollama(base).chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'ollama stream' }], stream: true }))),
      '/api/generate streamed (JSON lines)': async (base) => seen(await collect(await ollama(base).generate({ model: 'llama3.2', prompt: 'ollama generate', stream: true }))),
    },
  },
];

describe('tapwire mock and replay for each provider, with its own SDK', () => {
  let upstream: LLMock;

  before(async () => {
    upstream = new LLMock({ host: '127.0.0.1', port: 0, logLevel: 'silent' });
    for (const provider of ['gemini', 'vertex', 'azure', 'bedrock', 'ollama']) {
      upstream.onMessage(new RegExp(`^${provider} plain$`), { content: `A plain answer for ${provider}.`, model: 'gpt-4o-mini-2024-07-18', usage: { input_tokens: 211, output_tokens: 13, prompt_tokens: 211, completion_tokens: 13, promptTokenCount: 211, candidatesTokenCount: 13 } });
      upstream.onMessage(new RegExp(`^${provider} stream$`), { content: `A streamed answer for ${provider}, in several pieces of text.`, model: 'gpt-4o-mini-2024-07-18', usage: { input_tokens: 307, output_tokens: 21, prompt_tokens: 307, completion_tokens: 21, promptTokenCount: 307, candidatesTokenCount: 21 } });
    }
    upstream.onMessage(/^ollama generate$/, { content: 'Generated text for ollama.' });
    await upstream.start();
  });

  after(async () => {
    await upstream.stop();
  });

  for (const provider of CASES) {
    test(`${provider.route}: the mock serves what the SDK got live; replay finds the same answers and records the same usage`, async (t) => {
      const upstreamUrl = provider.upstream ? await provider.upstream(t) : upstream.url;
      const tapwire = await startTapwire(t, { [provider.route]: { upstream: upstreamUrl, extra: provider.extra } });
      const live: Record<string, unknown> = {};
      for (const [name, call] of Object.entries(provider.calls)) live[name] = await call(`${tapwire.url}/${provider.route}`);
      const originals = await tapwire.stop();
      assert.equal(originals.length, Object.keys(provider.calls).length);
      if (provider.query) assert.ok(originals.some((e) => (JSON.parse(e.details ?? '{}') as { query?: string }).query === provider.query), `a call recorded with ${provider.query}`);

      const served = await startMock({ db: tapwire.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'instant', ignore: DEFAULT_LLM_IGNORED.map((p) => [p]) });
      t.after(() => served.close());
      assert.equal(served.loaded, originals.length);
      for (const [name, call] of Object.entries(provider.calls)) assert.deepEqual(await call(`${served.url}/${provider.route}`), live[name], `${name} from the mock`);

      const config = join(tapwire.dir, 'tapwire.yaml');
      writeFileSync(config, `routes:\n  ${provider.route}:\n    protocol: llm\n    upstream: ${upstreamUrl}\n    ${provider.extra}\n`);
      const out = new PassThrough();
      let output = '';
      out.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const results = await runReplay({ db: tapwire.dbPath, ids: [], filter: 'exchange.replay_of == ""', config, concurrency: 1, path: [], ignore: [] }, out);
      assert.equal(results.length, originals.length);
      for (const r of results) {
        assert.equal(r.error, null, output);
        assert.equal(r.status, 200, output);
        assert.ok(r.replay, 'the replay was recorded');
        assert.equal(r.replay.replay_of, r.original.id);
        const { cost_usd, ...replayed } = llmColumns(r.replay);
        const { cost_usd: originalCost, ...original } = llmColumns(r.original);
        assert.deepEqual(replayed, { ...original, response_id: replayed.response_id }, `${r.original.method} recorded alike`);
        assert.equal(cost_usd, originalCost);
        // The query went again (Gemini's alt=sse, Azure's api-version): the replay recorded the same.
        assert.equal(r.replay.details, r.original.details);
        if (r.original.streamed === 1) assert.ok(r.replay.ttft_ms !== null, `${r.original.method}: time to first token on the replay`);
      }
      assert.equal((output.match(/body {5}same/g) ?? []).length, results.length, output);
    });
  }
});
