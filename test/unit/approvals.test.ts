// Approvals on their own: how an approve rule decides beside other files (a refusal elsewhere
// wins, monitor mode only notes it), the inline tests' `expect: approve`, and the registry of
// held calls: settled once, remembered only for the rule's `remember`, for the same rule,
// policy version, route, target and arguments, at most MAX_REMEMBERED of them, and all
// denied when the sidecar stops.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Approvals, type HeldCall } from '../../policies/approvals.js';
import { PolicySet } from '../../policies/engine.js';
import { parsePolicyFile } from '../../policies/file.js';
import { runInlineTests, testContext } from '../../policies/testing.js';
import { PROTOCOL_CONTEXTS } from '../../protocols/registry.js';
import { classify } from '../../core/jsonrpc.js';
import type { ExchangeRecord } from '../../core/exchange.js';
import { admitMessage } from '../../protocols/mcp/gate.js';
import { PolicyGate } from '../../protocols/policy-gate.js';

const mcpCall = (tool: string) => testContext({ protocol: 'mcp', mcp: { method: 'tools/call', tool } }, PROTOCOL_CONTEXTS);

const APPROVE = 'rules:\n  - name: ask\n    when: mcp.tool == "rm"\n    action: approve\n    approve: { timeout: 2m, remember: 10m }\n';

describe('approve rules', () => {
  test('an approve rule holds the call with its timeout and remember; a later file that denies wins', () => {
    const alone = new PolicySet([parsePolicyFile(APPROVE, 'a.yaml')]).decide('request', mcpCall('rm'), 0);
    assert.deepEqual([alone.outcome, alone.rule, alone.reason, alone.approve], ['approve', 'ask', "rule ask needs a person's approval", { timeoutMs: 120_000, rememberMs: 600_000 }]);
    const denied = new PolicySet([parsePolicyFile(APPROVE, 'a.yaml'), parsePolicyFile('rules:\n  - name: never-rm\n    when: mcp.tool == "rm"\n    action: deny\n', 'b.yaml')]).decide('request', mcpCall('rm'), 0);
    assert.deepEqual([denied.outcome, denied.rule], ['deny', 'never-rm']);
    assert.equal(new PolicySet([parsePolicyFile(APPROVE, 'a.yaml')]).decide('request', mcpCall('ls'), 0).outcome, 'allow');
  });

  test('over stdio a call cannot be held: the approve rule refuses it (fail closed), saying why, and the refusal is recorded', () => {
    const records: ExchangeRecord[] = [];
    const gate = new PolicyGate(() => new PolicySet([parsePolicyFile(APPROVE, 'a.yaml')]), { agentLabels: {}, identity: null, redact: () => ({}), sink: (r) => void records.push(r), protocols: PROTOCOL_CONTEXTS, approvals: new Approvals() });
    const message = { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'rm', arguments: { path: '/' } } };
    const request = classify(message);
    assert.equal(request.kind, 'request');
    if (request.kind !== 'request') return;
    const admission = admitMessage(gate, { agent: 'a', route: 'r', sessionId: null, request, body: Buffer.from(JSON.stringify(message)), headers: {}, httpStatus: null });
    assert.deepEqual(admission, {
      refusal: {
        jsonrpc: '2.0',
        id: 7,
        result: { content: [{ type: 'text', text: "tapwire policy ask: rule ask needs a person's approval; tapwire cannot hold a call for approval on a stdio server (tapwire wrap, command and federated routes), so it is refused" }], isError: true },
      },
    });
    assert.deepEqual(records.map((r) => [r.exchange.status, r.exchange.policy_rule, r.exchange.policy_action]), [['denied', 'ask', 'deny']]);
  });

  test('in monitor mode an approve rule is noted (would_approve), the call is not held', () => {
    const decision = new PolicySet([parsePolicyFile(`mode: monitor\n${APPROVE}`, 'a.yaml')]).decide('request', mcpCall('rm'), 0);
    assert.equal(decision.outcome, 'allow');
    assert.deepEqual(decision.findings, [{ rule: 'ask', action: 'would_approve', reason: "rule ask needs a person's approval" }]);
  });

  test('inline tests can expect approve', () => {
    const file = parsePolicyFile(`${APPROVE}tests:\n  - name: rm is asked about\n    exchange: { protocol: mcp, mcp: { method: tools/call, tool: rm } }\n    expect: approve\n`, 'a.yaml');
    assert.deepEqual(runInlineTests(file, PROTOCOL_CONTEXTS).map((r) => r.passed), [true]);
  });
});

const CALL: HeldCall = { route: 'fs', protocol: 'mcp', method: 'tools/call', target: 'rm', arguments: { path: '/tmp/a' }, rule: 'ask', reason: 'asks', policyVersion: 1 };
const SPEC = { timeoutMs: 60_000, rememberMs: 600_000 };

describe('the registry of held calls', () => {
  test('a call is settled once; its verdict says who, the note and the wait', async () => {
    let now = 1000;
    const approvals = new Approvals(10, () => now);
    const held = approvals.hold('id1', CALL, { timeoutMs: 60_000, rememberMs: null });
    assert.deepEqual(approvals.list().map((h) => [h.id, h.held_at, h.expires_at]), [['id1', 1000, 61_000]]);
    now = 4000;
    assert.ok('verdict' in approvals.settle('id1', { decision: 'deny', by: 'ann', note: 'no' }));
    assert.deepEqual(await held, { id: 'id1', decision: 'denied', by: 'ann', at: 4000, note: 'no', wait_ms: 3000, remembered: false });
    assert.deepEqual(approvals.settle('id1', { decision: 'approve', by: 'bob', note: null }), { problem: 'no call is held for approval under id id1 (it was settled, expired, or never held)' });
    assert.deepEqual(approvals.list(), []);
  });

  test('remember covers the same call under the same policies until it runs out; not other arguments, nor a reloaded policy', async () => {
    let now = 0;
    const approvals = new Approvals(10, () => now);
    const first = approvals.hold('a', CALL, SPEC);
    approvals.settle('a', { decision: 'approve', by: 'ann', note: null });
    assert.equal((await first).remembered, false);
    now = 599_999;
    assert.deepEqual(await approvals.hold('b', CALL, SPEC), { id: 'b', decision: 'approved', by: 'ann', at: 599_999, note: null, wait_ms: 0, remembered: true });
    for (const [id, call] of [['c', { ...CALL, arguments: { path: '/tmp/b' } }], ['d', { ...CALL, policyVersion: 2 }], ['e', { ...CALL, target: 'rmdir' }]] as const) {
      void approvals.hold(id, call, SPEC);
      assert.ok(approvals.list().some((h) => h.id === id), `${id} is held`);
    }
    now = 600_000;
    void approvals.hold('f', CALL, SPEC);
    assert.ok(approvals.list().some((h) => h.id === 'f'), 'held again once the remembered approval ran out');
    approvals.stop();
  });

  test('at most maxRemembered approvals are remembered: the oldest is forgotten first', async () => {
    const approvals = new Approvals(2, () => 0);
    for (const path of ['/1', '/2', '/3']) {
      const call = { ...CALL, arguments: { path } };
      const held = approvals.hold(path, call, SPEC);
      approvals.settle(path, { decision: 'approve', by: 'ann', note: null });
      await held;
    }
    assert.equal((await approvals.hold('again3', { ...CALL, arguments: { path: '/3' } }, SPEC)).remembered, true);
    assert.equal((await approvals.hold('again2', { ...CALL, arguments: { path: '/2' } }, SPEC)).remembered, true);
    void approvals.hold('again1', { ...CALL, arguments: { path: '/1' } }, SPEC);
    assert.deepEqual(approvals.list().map((h) => h.id), ['again1']);
    approvals.stop();
  });

  test('stop denies every held call as stopped, and holds none after', async () => {
    const approvals = new Approvals();
    const held = [approvals.hold('x', CALL, SPEC), approvals.hold('y', { ...CALL, target: 'mv' }, SPEC)];
    approvals.stop();
    assert.deepEqual((await Promise.all(held)).map((v) => [v.id, v.decision, v.by]), [['x', 'stopped', null], ['y', 'stopped', null]]);
    assert.equal((await approvals.hold('z', CALL, SPEC)).decision, 'stopped');
  });

  test('an agent going away settles its call as abandoned', async () => {
    const approvals = new Approvals();
    const gone = new AbortController();
    const held = approvals.hold('x', CALL, SPEC, gone.signal);
    gone.abort();
    assert.equal((await held).decision, 'abandoned');
    assert.deepEqual(approvals.list(), []);
  });
});
