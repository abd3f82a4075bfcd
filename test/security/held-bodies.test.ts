// A response body that rules must review but that is longer than tapwire holds (16 MiB) is
// not sent empty or cut (issue 25): with response-phase rules it is refused as unreadable in
// the protocol's format and recorded so; in monitor mode it is forwarded whole and recorded
// would_deny. LLM (openai) and MCP (a JSON answer to tools/call) routes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { request } from 'undici';
import { OBSERVED_BODY_LIMIT } from '../../proxy/forward.js';
import { bodyJson } from '../support/mcp.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';
import { startUpstream } from '../support/upstream.js';

const NO_KEYS = ['rules:', '  - name: no-cloud-keys', '    phase: response', '    when: response.text.matches("AKIA[0-9A-Z]{16}")', '    action: deny', '    message: the answer carries an AWS key'];
const MODES = ['enforce', 'monitor'] as const;

/** A text longer than tapwire holds for review. */
const LONG_TEXT = 'x'.repeat(OBSERVED_BODY_LIMIT + 1024);

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

function tapwireWith(t: TestContext, routes: string, mode: (typeof MODES)[number]): Promise<TestSidecar> {
  return startWithPolicy(t, `routes:\n${routes}`, [...(mode === 'monitor' ? ['mode: monitor'] : []), ...NO_KEYS, ''].join('\n'));
}

async function serving(t: TestContext, body: Buffer): Promise<string> {
  const server = await startUpstream((_req, res) => void res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body));
  t.after(() => server.close());
  return server.url;
}

describe('a reviewed body longer than tapwire holds', () => {
  test('LLM: refused as unreadable (the provider error, recorded denied); monitor mode: forwarded whole, recorded would_deny', async (t) => {
    const completion = Buffer.from(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: LONG_TEXT }, finish_reason: 'stop' }] }));
    const upstream = await serving(t, completion);
    for (const mode of MODES) {
      const tapwire = await tapwireWith(t, `  openai: { protocol: llm, upstream: "${upstream}", provider: openai }\n`, mode);
      const answer = await request(`${tapwire.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
      const bytes = Buffer.from(await answer.body.arrayBuffer());
      const exchanges = await tapwire.stop();
      assert.equal(exchanges.length, 1);
      const [exchange] = exchanges;
      if (mode === 'enforce') {
        assert.equal(answer.statusCode, 403);
        const error = JSON.parse(bytes.toString()) as { error: { code: string; message: string } };
        assert.equal(error.error.code, 'policy_denied');
        assert.match(error.error.message, /tapwire cannot read this answer.*longer than the \d+ bytes tapwire holds/);
        assert.deepEqual([exchange!.status, exchange!.policy_rule, exchange!.policy_action], ['denied', 'unreadable', 'deny']);
        assert.deepEqual(tapwire.record(exchange!.id).response?.body, bytes, 'the record holds the refusal the agent got');
      } else {
        assert.equal(answer.statusCode, 200);
        assert.equal(sha(bytes), sha(completion), 'monitor mode: the whole body, byte-exact');
        assert.deepEqual([exchange!.status, exchange!.policy_rule, exchange!.policy_action], ['ok', 'unreadable', 'would_deny']);
      }
    }
  });

  test('MCP: a tools/call answer is refused as a tool error (recorded denied); monitor mode: forwarded whole, recorded would_deny', async (t) => {
    const result = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: LONG_TEXT }] } }));
    const upstream = await serving(t, result);
    for (const mode of MODES) {
      const tapwire = await tapwireWith(t, `  tools: { protocol: mcp, upstream: "${upstream}" }\n`, mode);
      const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'big', arguments: {} } });
      const answer = await request(`${tapwire.url}/tools/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: call });
      const bytes = Buffer.from(await answer.body.arrayBuffer());
      assert.equal(answer.statusCode, 200);
      const exchanges = await tapwire.stop();
      const recorded = exchanges.find((e) => e.method === 'tools/call')!;
      if (mode === 'enforce') {
        const refusal = JSON.parse(bytes.toString()) as { id: number; result: { isError: boolean; content: { text: string }[] } };
        assert.equal(refusal.id, 1);
        assert.equal(refusal.result.isError, true);
        assert.match(refusal.result.content[0]!.text, /tapwire cannot read this answer.*longer than the \d+ bytes tapwire holds/);
        assert.deepEqual([recorded.status, recorded.policy_rule, recorded.policy_action], ['denied', 'unreadable', 'deny']);
        assert.deepEqual(bodyJson(tapwire.record(recorded.id).response), refusal, 'the record holds the refusal the agent got');
      } else {
        assert.equal(sha(bytes), sha(result), 'monitor mode: the whole body, byte-exact');
        assert.deepEqual([recorded.policy_rule, recorded.policy_action], ['unreadable', 'would_deny']);
      }
    }
  });
});
