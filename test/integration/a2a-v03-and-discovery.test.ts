// Integration test of the A2A route for v0.3 agents and card discovery: the @a2a-js/sdk
// 0.3.14 client (no A2A-Version header, hybrid card) over JSON-RPC and REST against the
// dual-version 1.3.0 server, directly and through tapwire with the same results; a raw
// v0.3 resubscribe whose error comes as an SSE event (and whose target tapwire learns by
// fetching the card itself); the root card with several a2a routes; and the pre-0.3
// agent.json path.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { Exchange } from '../../core/exchange.js';
import { one } from '../support/mcp.js';
import { AGENT_NAME, collect, failure, normalised, startA2aAgent, startA2aTapwire, v03Client, type Binding } from '../support/a2a.js';

function v03Message(text: string) {
  return { kind: 'message' as const, messageId: crypto.randomUUID(), role: 'user' as const, parts: [{ kind: 'text' as const, text }] };
}

async function scenario(baseUrl: string, binding: Binding) {
  const client = await v03Client(baseUrl, binding);
  const sent = await client.sendMessage({ message: v03Message('hello'), configuration: { blocking: true } });
  assert.equal(sent.kind, 'task');
  const streamed = await collect(client.sendMessageStream({ message: v03Message('stream me') }));
  const got = await client.getTask({ id: sent.id, historyLength: 1 });
  const unknownTask = await failure(client.getTask({ id: 'no-such-task' }));
  const slow = await client.sendMessage({ message: v03Message('slow walk'), configuration: { blocking: false } });
  assert.equal(slow.kind, 'task');
  const canceled = await client.cancelTask({ id: slow.id });
  return { observed: normalised({ sent, streamed, got, unknownTask, slow, canceled }), taskId: sent.id, contextId: sent.contextId, slowId: slow.id };
}

function details(e: Exchange): Record<string, unknown> {
  return JSON.parse(e.details ?? '{}') as Record<string, unknown>;
}

describe('A2A v0.3 client through tapwire (@a2a-js/sdk 0.3.14 against a dual-version server)', () => {
  for (const binding of ['JSONRPC', 'HTTP+JSON'] as const) {
    test(`${binding}: same results direct and through tapwire; recorded with v1.0 method names`, async (t) => {
      const agent = await startA2aAgent();
      t.after(() => agent.close());
      const direct = await scenario(`${agent.origin}/`, binding);
      const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin } });
      const through = await scenario(`${tapwire.url}/planner/`, binding);
      assert.deepEqual(through.observed, direct.observed);

      const exchanges = await tapwire.stop();
      const card = one(exchanges, { method: 'GetAgentCard' });
      // The hybrid card: url, additionalInterfaces[] and the embedded v1.0 supportedInterfaces[].
      assert.deepEqual(details(card).card, { action: 'rewritten', interfaces_rewritten: 6, signed: false });
      assert.equal(details(card).version, '0.3');
      const wire = binding === 'JSONRPC' ? ['message/send', 'message/stream', 'tasks/get', 'tasks/cancel'] : ['POST /a2a/rest/v1/message:send', 'POST /a2a/rest/v1/message:stream'];
      const calls = exchanges.filter((e) => e !== card);
      for (const e of calls) assert.deepEqual([details(e).binding, details(e).version], [binding, '0.3']);
      for (const w of wire) assert.ok(calls.some((e) => details(e).wire_method === w), w);

      const hello = one(calls, { method: 'SendMessage', task_id: through.taskId });
      assert.deepEqual(
        [hello.target, hello.session_id, hello.task_state, hello.input_tokens, hello.output_tokens],
        [AGENT_NAME, through.contextId, 'completed', countTokens('hello'), countTokens('echo: hello')],
      );
      const stream = one(calls, { method: 'SendStreamingMessage' });
      assert.deepEqual([stream.streamed, stream.task_state], [1, 'completed']);
      assert.ok(stream.ttft_ms !== null);
      assert.equal(one(calls, { method: 'GetTask', task_id: through.taskId }).task_state, 'completed');
      const unknown = one(calls, { method: 'GetTask', task_id: 'no-such-task' });
      assert.deepEqual([unknown.status, unknown.error_code], ['error', '-32001']);
      // v0.3 REST spells it TASK_STATE_CANCELLED; JSON-RPC "canceled": one state either way.
      assert.equal(one(calls, { method: 'CancelTask', task_id: through.slowId }).task_state, 'canceled');
    });
  }

  test('a v0.3 resubscribe to an unknown task: the SSE error event reaches the agent unchanged and is recorded', async (t) => {
    const agent = await startA2aAgent();
    t.after(() => agent.close());
    const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin } });
    const resubscribe = async (url: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tasks/resubscribe', params: { id: 'no-such-task' } }),
      });
      return { type: res.headers.get('content-type'), text: await res.text() };
    };
    const direct = await resubscribe(`${agent.origin}/a2a/jsonrpc`);
    const through = await resubscribe(`${tapwire.url}/planner/a2a/jsonrpc`);
    assert.deepEqual(through, direct);
    assert.match(direct.text, /^event: error\n/);
    const [e] = await tapwire.stop();
    assert.deepEqual([e!.method, e!.jsonrpc_id, e!.streamed, e!.status, e!.error_code], ['SubscribeToTask', '7', 1, 'error', '-32001']);
    assert.equal(e!.task_id, 'no-such-task');
    // No card passed through tapwire: it fetched the agent's card itself to name the target.
    assert.equal(e!.target, AGENT_NAME);
  });
});

describe('A2A card discovery through tapwire', () => {
  test('with several a2a routes, the root card answers 404 naming each route URL with its trailing slash', async (t) => {
    const agent = await startA2aAgent();
    t.after(() => agent.close());
    const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin }, critic: { upstream: agent.origin } });
    const res = await fetch(`${tapwire.url}/.well-known/agent-card.json`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { message: string; a2a_routes: string[] } };
    assert.deepEqual(body.error.a2a_routes, [`${tapwire.url}/planner/`, `${tapwire.url}/critic/`]);
    assert.match(body.error.message, /trailing slash/);
    // Each route's own card works.
    const card = (await (await fetch(`${tapwire.url}/critic/.well-known/agent-card.json`, { headers: { 'A2A-Version': '1.0' } })).json()) as {
      supportedInterfaces: { url: string }[];
    };
    assert.ok(card.supportedInterfaces.every((i) => i.url.startsWith(`${tapwire.url}/critic/`)));
  });

  test('agent.json (the pre-0.3 path) serves the upstream agent-card.json, rewritten, without ETag; Vary kept', async (t) => {
    const agent = await startA2aAgent();
    t.after(() => agent.close());
    const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin } });
    const direct = await fetch(`${agent.origin}/.well-known/agent.json`);
    assert.equal(direct.status, 404, 'the SDK server has no agent.json');
    await direct.body?.cancel();
    const res = await fetch(`${tapwire.url}/planner/.well-known/agent.json`, { headers: { 'A2A-Version': '1.0' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), null);
    assert.equal(res.headers.get('vary'), 'A2A-Version');
    const card = (await res.json()) as { name: string; supportedInterfaces: { url: string }[] };
    assert.equal(card.name, AGENT_NAME);
    assert.ok(card.supportedInterfaces.every((i) => i.url.startsWith(`${tapwire.url}/planner/a2a/`)));
    const [e] = await tapwire.stop();
    assert.equal(e!.method, 'GetAgentCard');
    assert.equal(details(e!).card_path_served, '/.well-known/agent-card.json');
  });
});
