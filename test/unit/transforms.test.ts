// Transform rules on their own: `policy check` problems with their positions (bad body
// paths, CEL type errors, headers tapwire sets itself, unknown keys, fields on the wrong
// action), the run on a call (rule order, each rule seeing the call as the ones before left
// it, values converted to JSON, failures), inline tests expecting transform, and redact
// rules masking what the record's list of changes shows, and the TUI's Policy tab listing them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blankExchange, type ExchangeRecord } from '../../core/exchange.js';
import { PolicySet } from '../../policies/engine.js';
import { parsePolicyFile } from '../../policies/file.js';
import { PolicyError } from '../../policies/policy-error.js';
import { runInlineTests } from '../../policies/testing.js';
import { transformRequest, type TransformInput } from '../../policies/transform.js';
import { recordTransform, rewrittenBody } from '../../policies/rewrite.js';
import { PROTOCOL_CONTEXTS } from '../../protocols/registry.js';
import { buildContext } from '../../protocols/cel-context.js';
import { tabText } from '../../tui/detail.js';

/** Every problem of the file, each with its pointer into the expression, as `policy check` prints them. */
function problemsOf(yaml: string): string {
  try {
    parsePolicyFile(yaml, 'p.yaml');
  } catch (err) {
    assert.ok(err instanceof PolicyError);
    return err.explained.join('\n');
  }
  assert.fail('expected the file to be refused');
}

/** An LLM call with `body`, as the transforms find it. */
function llmCall(body: unknown, headers: Record<string, string> = {}): TransformInput {
  const exchange = { ...blankExchange({ agent: 'a', route: 'openai', protocol: 'llm' }), provider: 'openai' };
  return {
    protocol: 'llm',
    headers,
    body: Buffer.from(JSON.stringify(body)),
    context: (h, b) => buildContext({ exchange, request: { headers: h, body: b }, agentLabels: { team: 'payments' } }),
    recorded: (name, value) => (name === 'authorization' ? '[redacted]' : value),
  };
}

describe('policy check of transform rules', () => {
  test('a bad body path, a CEL type error and a value JSON cannot hold are reported at their lines, the type error at its column', () => {
    const message = problemsOf(
      [
        'rules:',
        '  - name: t',
        '    when: protocol == "llm"',
        '    action: transform',
        '    set:',
        '      body..model: "\'x\'"',
        '      request.body.model: "\'x\'"',
        '      body.max_tokens: "llm.max_tokens + \'a\'"',
        '      body.at: "now"',
        '',
      ].join('\n'),
    );
    const lines = message.split('\n');
    assert.match(lines[0]!, /^p\.yaml:6:20: rules\[0\] \(t\): set: "body\.\.model" is not a body path: write body, then field names joined by dots/);
    assert.match(lines[1]!, /^p\.yaml:7:27: rules\[0\] \(t\): set: "request\.body\.model" is not a body path/);
    assert.match(lines[2]!, /^p\.yaml:8:40: rules\[0\] \(t\): set\.body\.max_tokens: column 16 of the expression: no matching overload for '_\+_' applied to '\(int, string\)': llm\.max_tokens \(an int\)/);
    assert.equal(lines[3], '    llm.max_tokens + \'a\'');
    assert.equal(lines[4], `    ${' '.repeat(15)}^`);
    assert.match(lines[5]!, /^p\.yaml:9:16: rules\[0\] \(t\): set\.body\.at: this expression gives a timestamp, which a JSON body cannot hold: convert it with string\(\.\.\.\)/);
  });

  test('header values must be text; tapwire\'s own headers and bad names are refused; a header is set or removed, not both', () => {
    const message = problemsOf(
      [
        'rules:',
        '  - name: t',
        '    when: "true"',
        '    action: transform',
        '    set_headers:',
        '      x-count: llm.max_tokens',
        '      Content-Length: "\'3\'"',
        '      "bad name": "\'x\'"',
        '      x-gone: "\'y\'"',
        '    remove_headers: [host, x-gone]',
        '',
      ].join('\n'),
    );
    assert.match(message, /p\.yaml:6:16: rules\[0\] \(t\): set_headers\.x-count: a header's value is text, and this expression gives an int: wrap it in string\(\.\.\.\)/);
    assert.match(message, /p\.yaml:7:23: rules\[0\] \(t\): set_headers: Content-Length is set by tapwire itself for the next hop/);
    assert.match(message, /p\.yaml:8:19: rules\[0\] \(t\): set_headers: "bad name" is not an HTTP header name/);
    assert.match(message, /p\.yaml:10:22: rules\[0\] \(t\): remove_headers\[0\]: host is set by tapwire itself/);
    assert.match(message, /p\.yaml:10:28: rules\[0\] \(t\): remove_headers\[1\]: x-gone is in set_headers too/);
  });

  test('unknown keys, transform fields on another action, a transform with nothing to do or naming the response', () => {
    const unknown = problemsOf('rules:\n  - name: t\n    when: "true"\n    action: transform\n    set:\n      body.a: "1 +"\n    sett: {}\n');
    assert.match(unknown, /p\.yaml:7:11: rules\[0\]\.sett: unknown key/);
    assert.match(unknown, /p\.yaml:6:\d+: rules\[0\] \(t\): set\.body\.a: column \d+ of the expression: syntax error/, 'expressions are checked even when the schema fails');
    const misplaced = problemsOf('rules:\n  - name: d\n    when: "true"\n    action: deny\n    set_headers: { x-a: "\'b\'" }\n  - name: e\n    when: "true"\n    action: transform\n');
    assert.match(misplaced, /p\.yaml:5:18: rules\[0\] \(d\): set_headers: only transform rules have set_headers/);
    assert.match(misplaced, /p\.yaml:8:13: rules\[1\] \(e\): a transform rule needs set_headers, remove_headers or set/);
    const late = problemsOf('rules:\n  - name: r\n    when: response.status == 200\n    action: transform\n    set: { body.a: "1" }\n');
    assert.match(late, /p\.yaml:3:11: rules\[0\] \(r\): when: names response or usage, which a transform rule cannot see/);
    assert.match(problemsOf('rules:\n  - name: r\n    when: "true"\n    action: transform\n    set: { body.a: "usage.input_tokens" }\n'), /set\.body\.a: names usage, which only the response phase knows: transforms run before the call is forwarded/);
  });
});

describe('running transform rules', () => {
  const file = parsePolicyFile(
    [
      'rules:',
      '  - name: cap',
      '    when: llm.max_tokens > 1024',
      '    action: transform',
      '    set: { body.max_tokens: "1024" }',
      '  - name: tag',
      '    when: llm.max_tokens <= 1024',
      '    action: transform',
      '    set:',
      '      body.metadata.team: agent.labels.team',
      '      body.metadata.tags: "[request.body.model, 2, {\'k\': true}]"',
      '    set_headers: { authorization: "\'Bearer \' + agent.labels.team", x-team: agent.labels.team }',
      '',
    ].join('\n'),
    'p.yaml',
  );

  test('rules apply in order, each seeing the call as the ones before left it; CEL values become JSON', () => {
    const outcome = transformRequest([file], llmCall({ model: 'm', max_tokens: 4096, messages: [] }));
    assert.ok('rewrite' in outcome && outcome.rewrite);
    const { rewrite } = outcome;
    assert.deepEqual(rewrite.changes, [
      { rule: 'cap', set: 'body.max_tokens', from: 4096, to: 1024 },
      { rule: 'tag', set_header: 'authorization', to: '[redacted]' },
      { rule: 'tag', set_header: 'x-team', to: 'payments' },
      { rule: 'tag', set: 'body.metadata.team', to: 'payments' },
      { rule: 'tag', set: 'body.metadata.tags', to: ['m', 2, { k: true }] },
    ]);
    assert.deepEqual([...rewrite.headers], [['authorization', 'Bearer payments'], ['x-team', 'payments']]);
    // Replayed on the body as forwarded (here with a field a protocol adds).
    const sent = JSON.parse(rewrittenBody(rewrite, Buffer.from('{"model":"m","max_tokens":4096,"messages":[],"stream_options":{"include_usage":true}}'))!.toString()) as unknown;
    assert.deepEqual(sent, { model: 'm', max_tokens: 1024, messages: [], stream_options: { include_usage: true }, metadata: { team: 'payments', tags: ['m', 2, { k: true }] } });
    const exchange = blankExchange({ agent: 'a', route: 'r', protocol: 'llm' });
    recordTransform(exchange, outcome);
    assert.deepEqual([exchange.policy_rule, exchange.policy_action, exchange.policy_reason], ['cap', 'transform', 'transformed by rule cap']);
    assert.ok(!exchange.transform!.includes('Bearer'));
  });

  test('a call no rule changes gets no rewrite; a path through a value with no fields refuses the call', () => {
    const unchanged = transformRequest([file], llmCall({ model: 'm', max_tokens: 10, metadata: { team: 'payments', tags: ['m', 2, { k: true }] } }, { authorization: 'Bearer payments', 'x-team': 'payments' }));
    assert.deepEqual(unchanged, { rewrite: null, findings: [] });
    const refused = transformRequest([file], llmCall({ model: 'm', max_tokens: 10, metadata: 'none' }));
    assert.ok('refused' in refused);
    assert.equal(refused.refused.rule, 'tag');
    assert.match(refused.refused.reason, /rule tag could not transform this call: body\.metadata\.team: body\.metadata is a string, which has no fields/);
  });

  test('inline tests may expect transform', () => {
    const tested = parsePolicyFile(
      'rules:\n  - name: pin\n    when: llm.model != "small"\n    action: transform\n    set: { body.model: "\'small\'" }\ntests:\n  - { name: pins, exchange: { protocol: llm, llm: { model: big } }, expect: transform, rule: pin }\n  - { name: leaves, exchange: { protocol: llm, llm: { model: small } }, expect: allow }\n',
      't.yaml',
    );
    assert.deepEqual(runInlineTests(tested, PROTOCOL_CONTEXTS).map((r) => [r.test.name, r.passed]), [['pins', true], ['leaves', true]]);
  });

  test('redact rules mask what the record lists of the values set, as they mask the body', () => {
    const set = new PolicySet([
      parsePolicyFile('rules:\n  - name: r\n    when: "true"\n    action: redact\n    redact: { fields: [request.body.metadata.secret, request.body.messages.*.content], patterns: ["sk-[a-z0-9]+"] }\n', 'r.yaml'),
    ]);
    const exchange = blankExchange({ agent: 'a', route: 'r', protocol: 'llm' });
    exchange.transform = JSON.stringify([
      { rule: 't', set: 'body.metadata', to: { secret: 'hunter2', team: 'a' } },
      { rule: 't', set: 'body.metadata.secret', from: 'old', to: 'hunter3' },
      { rule: 't', set: 'body.note', to: 'key sk-abc123' },
      { rule: 't', set: 'body.messages.0', to: { role: 'user', content: 'my password is hunter4' } },
      { rule: 't', set: 'body.messages.1.content', to: 'hunter5' },
    ]);
    const record: ExchangeRecord = { exchange, request: null, response: null, events: [] };
    set.review(record, { protocols: PROTOCOL_CONTEXTS });
    assert.deepEqual(JSON.parse(exchange.transform) as unknown, [
      { rule: 't', set: 'body.metadata', to: { secret: '[redacted]', team: 'a' } },
      { rule: 't', set: 'body.metadata.secret', from: '[redacted]', to: '[redacted]' },
      { rule: 't', set: 'body.note', to: 'key [redacted]' },
      { rule: 't', set: 'body.messages.0', to: { role: 'user', content: '[redacted]' } },
      { rule: 't', set: 'body.messages.1.content', to: '[redacted]' },
    ]);
  });
});

describe('the TUI detail view', () => {
  test('the Policy tab lists what transform rules changed, marking what monitor mode did not apply', () => {
    const exchange = { ...blankExchange({ agent: 'a', route: 'openai', protocol: 'llm' }), policy_rule: 'cap', policy_action: 'transform', policy_reason: 'transformed by rule cap' };
    exchange.transform = JSON.stringify([
      { rule: 'cap', set: 'body.max_tokens', from: 4096, to: 1024 },
      { rule: 'tag', set_header: 'x-team', to: 'payments' },
      { rule: 'tag', remove_header: 'x-debug', would: true },
    ]);
    const text = tabText('Policy', { exchange, request: null, response: null, events: [] }, []);
    assert.match(text, /action: {2}transform\n/);
    assert.match(text, /forwarded with these changes to what the agent sent:\n {2}cap {18}body\.max_tokens: 4096 → 1024\n {2}tag {18}header x-team: "payments"\n {2}tag {18}header x-debug removed {2}\(monitor mode: not applied\)$/);
  });
});
