// OpenTelemetry for A2A: an @a2a-js/sdk v1.0 client calls an A2A agent through two chained
// sidecars (the calling agent's and the called agent's), both exporting over OTLP/HTTP to a
// real endpoint the test runs. The SendMessage spans must form one trace (the called side's
// span the child of the caller's) and carry the A2A attributes: method, task id and state,
// protocol version and the called agent's name.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task } from '@a2a-js/sdk';
import { AGENT_NAME, sendRequest, startA2aAgent, v1Client, type A2aAgent } from '../support/a2a.js';
import { spanOfExchange, startOtlpCollector, SPAN_KIND_CLIENT, type OtlpCollector } from '../support/otlp.js';
import { startTestSidecarFor } from '../support/sidecar.js';

function yaml(agent: string, upstream: string, collector: OtlpCollector): string {
  return [`agent: { name: ${agent} }`, 'routes:', '  planner:', '    protocol: a2a', `    upstream: ${upstream}`, 'telemetry:', `  endpoint: ${collector.url}`].join('\n');
}

describe('OpenTelemetry for A2A calls', () => {
  let agent: A2aAgent;
  let collector: OtlpCollector;

  before(async () => {
    agent = await startA2aAgent();
    collector = await startOtlpCollector();
  });

  after(async () => {
    await agent.close();
    await collector.close();
  });

  test('two chained sidecars: SendMessage spans form one trace with the A2A attributes', async (t) => {
    const callee = await startTestSidecarFor(t, yaml('planner-side', agent.origin, collector));
    const caller = await startTestSidecarFor(t, yaml('caller-side', `${callee.url}/planner`, collector));
    const client = await v1Client(`${caller.url}/planner/`, 'JSONRPC');
    const task = (await client.sendMessage(sendRequest('hello', undefined, { skill: 'plan' }))) as Task;
    assert.ok(task.id, 'the agent answered with a task');

    const send = (rows: Awaited<ReturnType<typeof caller.stop>>) => {
      const found = rows.filter((e) => e.method === 'SendMessage');
      assert.equal(found.length, 1, 'one SendMessage');
      return found[0]!;
    };
    const callerRow = send(await caller.stop());
    const calleeRow = send(await callee.stop());
    const spans = collector.spans();
    const a = spanOfExchange(spans, callerRow.id);
    const b = spanOfExchange(spans, calleeRow.id);

    assert.equal(b.traceId, a.traceId, 'one trace');
    assert.equal(b.parentSpanId, a.spanId, "the called side's span is the child of the caller's");
    assert.equal(a.kind, SPAN_KIND_CLIENT);
    assert.equal(a.name, `SendMessage ${callerRow.target}`);
    assert.deepEqual(
      Object.fromEntries(['a2a.method.name', 'a2a.task.id', 'a2a.task.state', 'a2a.protocol.version', 'gen_ai.agent.name', 'jsonrpc.request.id'].map((k) => [k, a.attributes[k]])),
      {
        'a2a.method.name': 'SendMessage',
        'a2a.task.id': task.id,
        'a2a.task.state': callerRow.task_state,
        'a2a.protocol.version': '1.0',
        'gen_ai.agent.name': AGENT_NAME,
        'jsonrpc.request.id': callerRow.jsonrpc_id,
      },
    );
    assert.equal(a.resource['gen_ai.agent.name'], 'caller-side');
    assert.equal(b.resource['gen_ai.agent.name'], 'planner-side');
  });
});
