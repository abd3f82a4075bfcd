// Integration test of the A2A route with real, unmodified @a2a-js/sdk 1.3.0 peers: the v1.0
// client, built from the card URL of the tapwire route, over JSON-RPC and over HTTP+JSON
// (REST), against a server that serves v1.0 and v0.3. Each scenario runs directly and
// through tapwire; the client must see the same results, and each call must be recorded
// with its v1.0 method, task, context, final state, estimated tokens and A2A error codes.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { Task } from '@a2a-js/sdk';
import { normaliseState } from '../../protocols/a2a/facts.js';
import type { Exchange } from '../../core/exchange.js';
import { one } from '../support/mcp.js';
import { AGENT_NAME, collect, failure, normalised, sendRequest, startA2aAgent, startA2aTapwire, v1Client, type A2aAgent, type Binding } from '../support/a2a.js';

interface Run {
  observed: unknown;
  interfaceUrls: string[];
  ids: { sent: Task; slow: Task; replyContext: string };
}

async function scenario(baseUrl: string, binding: Binding): Promise<Run> {
  const client = await v1Client(baseUrl, binding);
  // The card has extendedAgentCard: the client fetches the extended card over its binding.
  const card = await client.getAgentCard();
  const sent = (await client.sendMessage(sendRequest('hello', undefined, { skill: 'plan' }))) as Task;
  const reply = await client.sendMessage(sendRequest('msg ping'));
  const streamed = await collect(client.sendMessageStream(sendRequest('stream me')));
  const got = await client.getTask({ tenant: '', id: sent.id, historyLength: 1 });
  const notCancelable = await failure(client.cancelTask({ tenant: '', id: sent.id, metadata: undefined }));
  const unknownTask = await failure(client.getTask({ tenant: '', id: 'no-such-task', historyLength: undefined }));
  const slow = (await client.sendMessage(sendRequest('slow walk', { returnImmediately: true }))) as Task;
  const canceled = await client.cancelTask({ tenant: '', id: slow.id, metadata: undefined });
  return {
    observed: normalised({ cardName: card.name, sent, reply, streamed, got, notCancelable, unknownTask, slow, canceled }),
    interfaceUrls: card.supportedInterfaces.map((i) => i.url),
    ids: { sent, slow, replyContext: reply.contextId },
  };
}

/** The columns a user filters an A2A call on, for one deepEqual. */
function a2aColumns(e: Exchange) {
  return {
    method: e.method,
    target: e.target,
    task_id: e.task_id,
    session_id: e.session_id,
    task_state: e.task_state,
    status: e.status,
    error_code: e.error_code,
    streamed: e.streamed,
  };
}

function details(e: Exchange): Record<string, unknown> {
  return JSON.parse(e.details ?? '{}') as Record<string, unknown>;
}

async function throughTapwire(t: TestContext, agent: A2aAgent, binding: Binding, baseUrl: (tapwireUrl: string) => string): Promise<void> {
  const direct = await scenario(`${agent.origin}/`, binding);
  const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin } });
  const through = await scenario(baseUrl(tapwire.url), binding);
  assert.deepEqual(through.observed, direct.observed);
  assert.ok(direct.interfaceUrls.every((u) => u.startsWith(agent.origin)));
  // The card the client built itself from points at the tapwire route, so every call went through it.
  assert.ok(through.interfaceUrls.length > 0);
  for (const url of through.interfaceUrls) assert.ok(url.startsWith(`${tapwire.url}/planner/a2a/`), url);

  const exchanges = await tapwire.stop();
  const { sent, slow, replyContext } = through.ids;
  const calls = exchanges.filter((e) => e.method !== 'GetAgentCard' && e.method !== 'GetExtendedAgentCard');
  const version = binding === 'JSONRPC' ? ['JSONRPC', '1.0'] : ['HTTP+JSON', '1.0'];
  for (const e of exchanges) assert.deepEqual([details(e).binding, details(e).version], e.method === 'GetAgentCard' ? ['card', '1.0'] : version);

  const card = one(exchanges, { method: 'GetAgentCard' });
  assert.equal(card.target, AGENT_NAME);
  assert.deepEqual(details(card).card, { action: 'rewritten', interfaces_rewritten: 4, signed: false });
  assert.equal(details(one(exchanges, { method: 'GetExtendedAgentCard' })).card !== undefined, true);

  const hello = one(calls, { method: 'SendMessage', task_id: sent.id });
  assert.deepEqual(a2aColumns(hello), {
    method: 'SendMessage',
    target: `${AGENT_NAME}:plan`,
    task_id: sent.id,
    session_id: sent.contextId,
    task_state: 'completed',
    status: 'ok',
    error_code: null,
    streamed: 0,
  });
  assert.deepEqual([hello.input_tokens, hello.output_tokens, hello.tokens_estimated], [countTokens('hello'), countTokens('echo: hello'), 1]);

  const pong = one(calls, { method: 'SendMessage', session_id: replyContext });
  assert.deepEqual([pong.task_id, pong.task_state, pong.output_tokens], [null, null, countTokens('pong msg ping')]);

  const stream = one(calls, { method: 'SendStreamingMessage' });
  assert.deepEqual([stream.streamed, stream.task_state, stream.status, stream.target], [1, 'completed', 'ok', AGENT_NAME]);
  assert.ok(stream.task_id && stream.session_id);
  assert.ok(stream.ttft_ms !== null && stream.duration_ms !== null && stream.ttft_ms <= stream.duration_ms);
  assert.equal(stream.output_tokens, countTokens('echo: stream me'));
  const events = tapwire.record(stream.id).events;
  assert.equal(events.length, 4, 'submitted, working, artifact, completed: each event recorded');
  assert.ok(events.every((ev, i) => i === 0 || ev.offset_ms >= events[i - 1]!.offset_ms));

  assert.deepEqual(a2aColumns(one(calls, { method: 'GetTask', task_id: sent.id })), { ...a2aColumns(hello), method: 'GetTask', target: AGENT_NAME, session_id: sent.contextId });
  const notCancelable = one(calls, { method: 'CancelTask', task_id: sent.id });
  assert.deepEqual([notCancelable.status, notCancelable.error_code], ['error', '-32002']);
  const unknown = one(calls, { method: 'GetTask', task_id: 'no-such-task' });
  assert.deepEqual([unknown.status, unknown.error_code, unknown.error_message], ['error', '-32001', 'Task not found: no-such-task']);
  assert.equal(details(unknown).error_reason, 'TASK_NOT_FOUND');
  assert.equal(one(calls, { method: 'SendMessage', task_id: slow.id }).task_state, normaliseState(slow.status?.state));
  assert.deepEqual(a2aColumns(one(calls, { method: 'CancelTask', task_id: slow.id })).task_state, 'canceled');
  if (binding === 'JSONRPC') assert.ok(calls.every((e) => e.jsonrpc_id !== null));
}

describe('A2A v1.0 client through tapwire (@a2a-js/sdk 1.3.0, dual-version server)', () => {
  test('JSON-RPC: same results direct and through the route URL with a trailing slash; every call recorded', async (t) => {
    const agent = await startA2aAgent();
    t.after(() => agent.close());
    await throughTapwire(t, agent, 'JSONRPC', (url) => `${url}/planner/`);
  });

  test('HTTP+JSON: same results through the route URL without a trailing slash (the card at the root)', async (t) => {
    const agent = await startA2aAgent();
    t.after(() => agent.close());
    await throughTapwire(t, agent, 'HTTP+JSON', (url) => `${url}/planner`);
  });
});
