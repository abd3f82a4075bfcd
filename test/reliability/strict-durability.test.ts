// store.durability strict with the real SDKs of each protocol: the moment a client has its
// answer (a chat completion, plain or streamed; an MCP tools/call; an A2A message), the
// exchange is already committed to the database, even with a flush interval of a minute.
// The MCP session's standing GET stream keeps working (strict holds back the last piece of
// a response, never the events of a stream that does not end).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task } from '@a2a-js/sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import OpenAI from 'openai';
import { z } from 'zod';
import type { Exchange } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import { sendRequest, startA2aAgent, v1Client, type A2aAgent } from '../support/a2a.js';
import { startAimock, type LLMock } from '../support/aimock.js';
import { connectClient, startStreamableServer, type McpHttpServer } from '../support/mcp.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';

const KEY = 'sk-test-strict';

describe('store.durability strict', () => {
  let mock: LLMock;
  let mcpServer: McpHttpServer;
  let agent: A2aAgent;
  let tapwire: TestSidecar;

  before(async () => {
    mock = await startAimock([KEY], (m) => m.onMessage(/^strict/, { content: 'Committed first.', usage: { prompt_tokens: 4, completion_tokens: 3 } }));
    mcpServer = await startStreamableServer(() => {
      const mcp = new McpServer({ name: 'strict-fixture', version: '1.0.0' });
      mcp.registerTool('echo', { description: 'Echoes', inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
      return mcp;
    });
    agent = await startA2aAgent();
    const yaml = [
      'store: { durability: strict }',
      'routes:',
      `  openai: { protocol: llm, upstream: ${mock.url} }`,
      `  mcp: { protocol: mcp, upstream: ${mcpServer.origin} }`,
      `  planner: { protocol: a2a, upstream: ${agent.origin} }`,
    ].join('\n');
    // A minute between flushes: only strict durability can have written a record by the time its answer arrives.
    tapwire = await startTestSidecar(yaml, process.env, { flushIntervalMs: 60_000 });
  });
  after(async () => {
    await tapwire.stop();
    tapwire.cleanup();
    await mock.stop();
    await mcpServer.close();
    await agent.close();
  });

  /** What the database holds right now, read while tapwire runs. */
  function committed(): Exchange[] {
    const db = openDatabase(tapwire.dbPath, { readonly: true });
    try {
      return listExchanges(db);
    } finally {
      db.close();
    }
  }

  test('a chat completion, plain and streamed, is committed before the SDK returns it', async () => {
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const plain = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'strict plain' }] });
    assert.ok(committed().some((e) => e.response_id === plain.id && e.status === 'ok'), 'the plain call is in the database');
    let id = '';
    let text = '';
    for await (const chunk of await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'strict stream' }], stream: true })) {
      id = chunk.id;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'Committed first.');
    assert.ok(committed().some((e) => e.response_id === id && e.streamed === 1), 'the streamed call is in the database');
  });

  test('an MCP tools/call is committed before the client gets its result; the session works throughout', async () => {
    const session = await connectClient('streamable', `${tapwire.url}/mcp/mcp`);
    try {
      for (const msg of ['one', 'two']) {
        const result = (await session.client.callTool({ name: 'echo', arguments: { msg } })) as { content: { text: string }[] };
        assert.equal(result.content[0]?.text, msg);
        const calls = committed().filter((e) => e.method === 'tools/call' && e.session_id === session.sessionId());
        assert.equal(calls.length, msg === 'one' ? 1 : 2, `tools/call "${msg}" is in the database`);
      }
      assert.equal((await session.client.listTools()).tools[0]?.name, 'echo');
    } finally {
      await session.close(true);
    }
  });

  test('an A2A message is committed before the client gets its task', async () => {
    const client = await v1Client(`${tapwire.url}/planner/`, 'JSONRPC');
    const task = (await client.sendMessage(sendRequest('strict hello'))) as Task;
    assert.equal(task.artifacts[0]?.parts[0]?.content?.$case, 'text');
    assert.ok(committed().some((e) => e.method === 'SendMessage' && e.task_id === task.id), 'the SendMessage exchange is in the database');
  });
});
