// `tapwire mock` against real, unmodified SDK clients: traffic recorded through a sidecar
// from openai, @anthropic-ai/sdk (against aimock), the v1 MCP SDK and the A2A SDK is served
// back by the mock, with the upstream peers stopped, and each client must get what it got
// live, streamed and not. Requests that match no recording get an error naming the field.
// A stream recorded on a route with add_stream_usage: false is served as the upstream sent it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Task } from '@a2a-js/sdk';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connectClient } from '../support/mcp.js';
import { collect, startAimock } from '../support/aimock.js';
import { startTestSidecarFor } from '../support/sidecar.js';
import { parseConfig } from '../../config/config.js';
import { sendRequest, v1Client } from '../support/a2a.js';
import { a2aScenario, llmScenario, mcpScenario, OPENAI_KEY, OPENAI_MODEL, recordTraffic, type Recorded } from '../support/recorded-traffic.js';

import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';
import { startMock, type MockServer } from '../../tools/mock.js';
import { CLI } from '../support/cli.js';

describe('tapwire mock serves recorded traffic to unmodified SDK clients', () => {
  let recorded: Recorded;
  let mock: MockServer;

  before(async () => {
    recorded = await recordTraffic();
    // Offline: nothing the mock serves can come from the peers.
    await recorded.peers.close();
    mock = await startMock({ db: recorded.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'instant', ignore: DEFAULT_LLM_IGNORED.map((p) => [p]) });
  });
  after(async () => {
    await mock?.close();
    await recorded?.close();
  });

  test('every recorded client-to-server call is loaded', () => {
    // 4 LLM calls; MCP initialize, tools/list, 2 tools/call; A2A card, 2 sends, GetTask.
    assert.equal(mock.loaded, 12);
  });

  test('openai and anthropic SDKs get the same completions and streams as live', async () => {
    assert.deepEqual(await llmScenario(mock.url), recorded.live.llm);
  });

  test('the MCP SDK client gets the same tools, results and progress as live, in a fresh session', async () => {
    const got = await mcpScenario(`${mock.url}/tools/mcp`);
    assert.deepEqual(got, recorded.live.mcp);
    assert.equal(got.progress.length, 2);
  });

  test('the A2A SDK client gets the same tasks, stream and task lookup as live', async () => {
    const got = await a2aScenario(`${mock.url}/planner/`);
    assert.deepEqual(got, recorded.live.a2a);
  });

  test("A2A: a context id the client chooses is put in place of the recorded one", async () => {
    const client = await v1Client(`${mock.url}/planner/`, 'JSONRPC');
    const request = sendRequest('plan a trip');
    request.message!.contextId = 'ctx-chosen-by-the-client';
    const task = (await client.sendMessage(request)) as Task;
    assert.equal(task.contextId, 'ctx-chosen-by-the-client');
    assert.equal(task.id, recorded.live.a2a.task.id);
    assert.deepEqual(task.history.map((m) => m.contextId), recorded.live.a2a.task.history.map(() => 'ctx-chosen-by-the-client'));
  });

  test('recorded timing replays the stream with the same content', async () => {
    const timed = await startMock({ db: recorded.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'recorded', ignore: [] });
    try {
      const got = await llmScenario(timed.url);
      assert.deepEqual(got.chatStream, recorded.live.llm.chatStream);
      assert.deepEqual(got.messageStream, recorded.live.llm.messageStream);
    } finally {
      await timed.close();
    }
  });

  test('--on-miss forward sends an unrecorded call to the route upstream of the config, with its credentials', async () => {
    const upstream = await startAimock([OPENAI_KEY], (m) => m.onMessage(/^not recorded$/, { content: 'Fresh from upstream.' }));
    const yaml = ['routes:', '  openai:', '    protocol: llm', `    upstream: ${upstream.url}`, '    provider: openai', '    headers:', `      authorization: "Bearer ${OPENAI_KEY}"`].join('\n');
    const forwarding = await startMock({ db: recorded.dbPath, listen: '127.0.0.1:0', onMiss: 'forward', timing: 'instant', ignore: [], config: parseConfig(yaml, 'test.yaml') });
    try {
      const openai = new OpenAI({ baseURL: `${forwarding.url}/openai/v1`, apiKey: 'agent-has-no-key', maxRetries: 0 });
      const fresh = await openai.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'not recorded' }] });
      assert.equal(fresh.choices[0]?.message.content, 'Fresh from upstream.');
      const served = await openai.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'chat plain' }] });
      assert.deepEqual(served, recorded.live.llm.chat);
    } finally {
      await forwarding.close();
      await upstream.stop();
    }
  });

  test('the tapwire mock command serves the MCP client as the sidecar did', async (t) => {
    const child = spawn(process.execPath, [CLI, 'mock', '--db', recorded.dbPath, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => void child.kill('SIGTERM'));
    const [line] = (await once(child.stderr, 'data')) as [Buffer];
    const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(line.toString())?.[1];
    assert.ok(url, line.toString());
    assert.match(line.toString(), /serving 12 recorded exchanges/);
    assert.deepEqual(await mcpScenario(`${url}/tools/mcp`), recorded.live.mcp);
  });

  test('an LLM miss names the field that differs from the nearest recording', async () => {
    const openai = new OpenAI({ baseURL: `${mock.url}/openai/v1`, apiKey: 'x', maxRetries: 0 });
    const otherModel = await openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'chat plain' }] }).then(
      () => assert.fail('expected a miss'),
      (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
    );
    assert.equal(otherModel.status, 404);
    assert.match(otherModel.message, /model differs from the nearest recording \w+ \(request: "gpt-4\.1"; recorded: "gpt-4o-mini"\)/);

    const otherText = await openai.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'chat plainer' }] }).then(
      () => assert.fail('expected a miss'),
      (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
    );
    assert.match(otherText.message, /body\.messages\[0\]\.content differs .*request: "chat plainer"; recorded: "chat plain"/);
  });

  test('ignored body paths do not keep a request from matching', async () => {
    const openai = new OpenAI({ baseURL: `${mock.url}/openai/v1`, apiKey: 'x', maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: OPENAI_MODEL, user: 'someone-else', messages: [{ role: 'user', content: 'chat plain' }] });
    assert.deepEqual(chat, recorded.live.llm.chat);
  });

  test('an MCP miss is a JSON-RPC error naming the argument that differs', async () => {
    const connected = await connectClient('streamable', `${mock.url}/tools/mcp`);
    try {
      const err = await connected.client.callTool({ name: 'echo', arguments: { msg: 'bye' } }).then(
        () => assert.fail('expected a miss'),
        (e: unknown) => e as McpError,
      );
      assert.ok(err instanceof McpError);
      assert.match(err.message, /params\.arguments\.msg differs .*request: "bye"; recorded: "hi"/);
    } finally {
      await connected.close(true);
    }
  });
});

describe('tapwire mock on a route with add_stream_usage: false', () => {
  test('an OpenRouter-style stream is served with the usage chunk the agent got live', async (t) => {
    // aimock on /api/v1 answers as OpenRouter: a usage chunk on every stream, asked or not.
    const upstream = await startAimock([OPENAI_KEY], (m) =>
      m.onMessage(/^openrouter stream$/, { content: 'Usage comes unasked.', usage: { prompt_tokens: 9, completion_tokens: 4 }, id: 'gen-pinned-mock', created: 1700000009 }),
    );
    const yaml = ['routes:', '  openrouter:', '    protocol: llm', `    upstream: ${upstream.url}`, '    add_stream_usage: false'].join('\n');
    const call = async (baseURL: string) =>
      collect(
        await new OpenAI({ baseURL, apiKey: OPENAI_KEY, maxRetries: 0 }).chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'openrouter stream' }], stream: true }),
      );
    const tapwire = await startTestSidecarFor(t, yaml);
    let live;
    try {
      live = await call(`${tapwire.url}/openrouter/api/v1`);
    } finally {
      await upstream.stop();
    }
    assert.deepEqual(live.at(-1)?.usage, { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });
    await tapwire.stop();

    const mock = await startMock({ db: tapwire.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'instant', ignore: [], config: parseConfig(yaml, 'test.yaml') });
    t.after(() => mock.close());
    assert.deepEqual(await call(`${mock.url}/openrouter/api/v1`), live);
  });
});
