// Policies cannot stall or exhaust the sidecar: an expression's size, parts and comprehension
// nesting are bounded when the file is loaded (errors name the file, line and column), and
// regular expressions, in CEL's matches() and in redact patterns, run on RE2 in linear time:
// the textbook catastrophic pattern (a+)+$ against 100 000 characters is decided at once,
// while the proxy keeps forwarding. (No timing is asserted: a backtracking engine would not
// finish this test at all.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { EXPRESSION_LIMITS } from '../../policies/cel.js';
import { parsePolicyFile } from '../../policies/file.js';
import { PolicyError } from '../../policies/policy-error.js';
import { rejectionOf } from '../support/routes.js';
import { startTestSidecar } from '../support/sidecar.js';
import { startUpstream } from '../support/upstream.js';

function refusal(when: string): string {
  try {
    parsePolicyFile(`rules:\n  - name: r\n    when: '${when}'\n    action: deny\n`, 'bounds.yaml');
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    return err.message;
  }
  assert.fail(`accepted: ${when.slice(0, 80)}`);
}

describe('policy bounds', () => {
  test('expressions too long, too large or nested too deep are refused at load, naming where', () => {
    const long = `mcp.tool == "${'x'.repeat(EXPRESSION_LIMITS.chars)}"`;
    assert.match(refusal(long).split('\n')[0]!, /^bounds\.yaml:3:\d+: rules\[0\] \(r\): when: column 4097 of the expression: the expression is \d+ characters long; the limit is 4096$/);
    const large = `size([${Array(1100).fill('1').join(',')}]) > 0`;
    assert.ok(large.length < EXPRESSION_LIMITS.chars);
    assert.match(refusal(large), /more than 1000 parts/);
    const nested = 'llm.messages.exists(a, llm.messages.exists(b, llm.messages.exists(c, a == c)))';
    assert.match(refusal(nested), /nest more than 2 deep/);
    // Two levels, and chains of comprehensions side by side, are fine.
    assert.doesNotThrow(() => parsePolicyFile("rules:\n  - name: r\n    when: 'llm.messages.exists(a, llm.tools.exists(b, a == b)) && llm.messages.map(m, m).exists(x, x == 1)'\n    action: deny\n", 'ok.yaml'));
  });

  test('a catastrophic regex in a rule and in a redact pattern does not stall the proxy', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-regex-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'fine' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
    });
    t.after(() => upstream.close());
    writeFileSync(
      join(dir, 'regex.yaml'),
      [
        'rules:',
        '  - name: evil-regex',
        '    when: protocol == "llm" && llm.messages.exists(m, m.content.matches("(a+)+$"))',
        '    action: deny',
        '  - name: evil-redact',
        '    when: "true"',
        '    action: redact',
        "    redact: { patterns: ['(a+)+$', '(x+x+)+y'] }",
        '',
      ].join('\n'),
    );
    const tapwire = await startTestSidecar(`routes:\n  openai: { protocol: llm, provider: openai, upstream: "${upstream.url}" }\npolicies: ["${join(dir, 'regex.yaml')}"]\n`, process.env, { dir });
    t.after(() => tapwire.cleanup());
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const ask = (content: string) => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

    // The worst case for a backtracking engine: a long run that fails to match at the very end.
    const allowed = await ask(`${'a'.repeat(100_000)}!`);
    assert.equal(allowed.choices[0]!.message.content, 'fine');
    const denied = await rejectionOf(ask('a'.repeat(100_000)));
    assert.ok(denied instanceof OpenAI.PermissionDeniedError, 'the rule still matches what it should');
    const redacted = await ask(`${'x'.repeat(50_000)}y`);
    assert.equal(redacted.choices[0]!.message.content, 'fine');

    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.map((e) => e.status), ['ok', 'denied', 'ok']);
    const recorded = tapwire.record(exchanges[2]!.id).request!.body!.toString('utf8');
    assert.equal(recorded, '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"[redacted]"}]}', 'the (x+x+)+y pattern masked its match');
  });
});
