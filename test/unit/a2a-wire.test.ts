// Unit tests of reading A2A calls off the wire: method names of both versions and bindings
// normalised to v1.0, and task facts, states and errors of both versions' shapes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorFacts, normaliseState, payloadFacts, requestFacts } from '../../protocols/a2a/facts.js';
import { describeCall } from '../../protocols/a2a/wire.js';

const rpc = (method: string, params: unknown = {}): Buffer => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));

describe('A2A calls on the wire', () => {
  test('JSON-RPC methods of both versions get their v1.0 names', () => {
    const cases: [string, string, string][] = [
      ['message/send', 'SendMessage', '0.3'],
      ['message/stream', 'SendStreamingMessage', '0.3'],
      ['tasks/resubscribe', 'SubscribeToTask', '0.3'],
      ['tasks/pushNotificationConfig/list', 'ListTaskPushNotificationConfigs', '0.3'],
      ['agent/getAuthenticatedExtendedCard', 'GetExtendedAgentCard', '0.3'],
      ['SendMessage', 'SendMessage', '1.0'],
      ['ListTasks', 'ListTasks', '1.0'],
    ];
    for (const [wire, method, version] of cases) {
      const call = describeCall({ httpMethod: 'POST', path: '/a2a/jsonrpc', a2aVersion: null, body: rpc(wire) });
      assert.deepEqual([call.binding, call.method, call.version, call.wireMethod], ['JSONRPC', method, version, wire]);
    }
  });

  test('REST paths: v0.3 under /v1 without a v1.0 header, tenants, task ids', () => {
    const rest = (httpMethod: string, path: string, a2aVersion: string | null = null) =>
      describeCall({ httpMethod, path, a2aVersion, body: null, restBases: ['/a2a/rest'] });
    assert.deepEqual(
      [rest('POST', '/a2a/rest/v1/message:send').method, rest('POST', '/a2a/rest/v1/message:send').version],
      ['SendMessage', '0.3'],
    );
    const tenant = rest('POST', '/a2a/rest/v1/message:send', '1.0');
    assert.deepEqual([tenant.version, tenant.tenant], ['1.0', 'v1']);
    assert.deepEqual([rest('POST', '/a2a/rest/acme/message:stream', '1.0').tenant], ['acme']);
    const cancel = rest('POST', '/a2a/rest/tasks/t%201:cancel', '1.0');
    assert.deepEqual([cancel.method, cancel.pathTaskId], ['CancelTask', 't 1']);
    assert.equal(rest('GET', '/a2a/rest/tasks/abc', '1.0').method, 'GetTask');
    assert.equal(rest('GET', '/a2a/rest/tasks', '1.0').method, 'ListTasks');
    assert.equal(rest('GET', '/a2a/rest/v1/card').method, 'GetExtendedAgentCard');
    assert.equal(rest('GET', '/a2a/rest/extendedAgentCard', '1.0').method, 'GetExtendedAgentCard');
    assert.equal(rest('DELETE', '/a2a/rest/tasks/t/pushNotificationConfigs/c', '1.0').method, 'DeleteTaskPushNotificationConfig');
    assert.equal(rest('GET', '/.well-known/agent-card.json').method, 'GetAgentCard');
    assert.equal(rest('GET', '/something/else').method, null);
  });
});

describe('A2A facts', () => {
  test('task states of every spelling', () => {
    assert.equal(normaliseState('TASK_STATE_INPUT_REQUIRED'), 'input-required');
    assert.equal(normaliseState('TASK_STATE_CANCELLED'), 'canceled');
    assert.equal(normaliseState('TASK_STATE_CANCELED'), 'canceled');
    assert.equal(normaliseState('auth-required'), 'auth-required');
    assert.equal(normaliseState('TASK_STATE_UNSPECIFIED'), 'unknown');
    assert.equal(normaliseState(3), 'completed');
  });

  test('results of both versions', () => {
    const v1 = payloadFacts({ statusUpdate: { taskId: 't', contextId: 'c', status: { state: 'TASK_STATE_COMPLETED', message: { parts: [{ text: 'done' }] } } } });
    assert.deepEqual(v1, { taskId: 't', contextId: 'c', state: 'completed', texts: ['done'] });
    const v03 = payloadFacts({ kind: 'artifact-update', taskId: 't', contextId: 'c', artifact: { parts: [{ kind: 'text', text: 'a' }, { kind: 'data', data: { n: 1 } }] } });
    assert.deepEqual(v03, { taskId: 't', contextId: 'c', state: null, texts: ['a', '{"n":1}'] });
    const bare = payloadFacts({ id: 't', contextId: 'c', status: { state: 'canceled' }, history: [{ parts: [{ text: 'not output' }] }] });
    assert.deepEqual(bare, { taskId: 't', contextId: 'c', state: 'canceled', texts: [] });
  });

  test('requests: message parts (v0.3 REST content), skill, task ids', () => {
    const sent = requestFacts('SendMessage', { message: { taskId: 't', contextId: 'c', content: [{ text: 'hi' }], metadata: { skillId: 'plan' } } }, null);
    assert.deepEqual(sent, { taskId: 't', contextId: 'c', texts: ['hi'], skill: 'plan' });
    assert.equal(requestFacts('GetTaskPushNotificationConfig', { id: 't', pushNotificationConfigId: 'cfg' }, null).taskId, 't');
    assert.equal(requestFacts('GetTaskPushNotificationConfig', { taskId: 't', id: 'cfg' }, null).taskId, 't');
  });

  test('errors of every binding map to the A2A code', () => {
    assert.deepEqual(errorFacts({ jsonrpc: '2.0', id: 1, error: { code: -32001, message: 'Task not found: x' } }), {
      code: '-32001',
      message: 'Task not found: x',
      reason: 'TASK_NOT_FOUND',
    });
    const rest = errorFacts({ error: { code: 404, status: 'NOT_FOUND', message: 'Task not found: x', details: [{ reason: 'TASK_NOT_FOUND' }] } });
    assert.deepEqual(rest, { code: '-32001', message: 'Task not found: x', reason: 'TASK_NOT_FOUND' });
    assert.deepEqual(errorFacts({ code: -32002, message: 'no' }), { code: '-32002', message: 'no', reason: 'TASK_NOT_CANCELABLE' });
  });
});
