// The policy engine on its own: CEL environment fixes, the load-time checks with positions,
// decisions (first match, monitor mode, errors), limits, redaction, the context builder and
// hot reload of watched files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../../config/config.js';
import { blankExchange, type ExchangeRecord } from '../../core/exchange.js';
import { compileExpression } from '../../policies/cel.js';
import { PROTOCOL_CONTEXTS } from '../../protocols/registry.js';
import { buildContext } from '../../protocols/cel-context.js';
import { PolicySet } from '../../policies/engine.js';
import { stamp } from '../../policies/decision.js';
import { parsePolicyFile } from '../../policies/file.js';
import { PolicyError } from '../../policies/policy-error.js';
import { loadPolicyFiles } from '../../policies/load.js';
import { runInlineTests, testContext } from '../../policies/testing.js';
import { PolicyWatcher, type ReloadOutcome } from '../../policies/watch.js';

function policy(yaml: string): PolicySet {
  return new PolicySet([parsePolicyFile(yaml, 'p.yaml')]);
}

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

const mcpCall = (tool: string) => testContext({ protocol: 'mcp', mcp: { method: 'tools/call', tool } }, PROTOCOL_CONTEXTS);

describe('CEL environment', () => {
  test('timestamp(int) reads seconds since the epoch', () => {
    const expr = compileExpression('timestamp(1700000000) == timestamp("2023-11-14T22:13:20Z")');
    assert.equal(expr.evaluate({}), true);
  });
  test('the strings extension is there', () => {
    assert.equal(compileExpression('"A,B".lowerAscii().split(",") == ["a", "b"]').evaluate({}), true);
  });
  test('RE2 matches() runs in linear time on a pathological pattern', () => {
    assert.equal(compileExpression('"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!".matches("^(a+)+$")').evaluate({}), false);
  });
});

describe('policy check', () => {
  test('an unknown variable is reported at its line and column, with a pointer into the expression', () => {
    const message = problemsOf('rules:\n  - name: r\n    when: mcp.tool == "x" && mcpp.method == "y"\n    action: deny\n');
    assert.match(message, /^p\.yaml:3:30: rules\[0\] \(r\): when: column 20 of the expression: unknown variable "mcpp"/);
    assert.match(message, /\n {4}mcp\.tool == "x" && mcpp\.method == "y"\n {23}\^/);
  });
  test('an unknown field of the vocabulary, inside a block scalar', () => {
    const message = problemsOf('rules:\n  - name: r\n    when: |\n      llm.model == "a" &&\n        llm.nope > 3\n    action: deny\n');
    assert.match(message, /^p\.yaml:5:13: .*column 27 of the expression: llm has no field "nope"/);
  });
  test('an unknown function, a syntax error, a response field in the request phase, a bad limit', () => {
    assert.match(problemsOf('rules:\n  - { name: r, when: "foo(1)", action: deny }\n'), /unknown function "foo"/);
    assert.match(problemsOf('rules:\n  - { name: r, when: "a ==", action: deny }\n'), /syntax error/);
    assert.match(problemsOf('rules:\n  - { name: r, when: "usage.output_tokens > 1", phase: request, action: deny }\n'), /only the response phase knows/);
    assert.match(problemsOf('rules:\n  - { name: r, when: "true", action: limit, limit: { per: 1m } }\n'), /exactly one of requests or tokens/);
    assert.match(problemsOf('rules:\n  - { name: r, when: "true", action: deny, colour: red }\n'), /rules\[0\]\.colour: unknown key/);
  });
  test('wire data (bodies, arguments, headers, claims) may be read at any depth', () => {
    assert.doesNotThrow(() => parsePolicyFile('rules:\n  - { name: r, when: "mcp.arguments.path.startsWith(\'/etc\') || jwt.claims.sub == \'x\' || request.headers[\'x-a\'] == \'1\'", action: deny }\n', 'p.yaml'));
  });
  test('a type error is reported at the operator, with what the field is: not left to refuse every call at run time', () => {
    const message = problemsOf('rules:\n  - name: big-answers\n    when: protocol == "llm" && usage.output_tokens > "1000"\n    action: deny\n');
    assert.match(message, /^p\.yaml:3:52: rules\[0\] \(big-answers\): when: column 42 of the expression: no matching overload for '_>_' applied to '\(int, string\)': usage\.output_tokens \(an int\)$/m);
    assert.match(message, /\n {4}protocol == "llm" && usage\.output_tokens > "1000"\n {45}\^/);
  });
  test('operators and functions no overload can serve are refused; what CEL runs is not', () => {
    const refused: [string, RegExp][] = [
      ['mcp.tool + 1 == "x1"', /'_\+_' applied to '\(string, int\)'/],
      ['size(usage.input_tokens) > 0', /'size' applied to '\(int\)'/],
      ['mcp.tool.matches(3)', /'matches' applied to 'string\.\(int\)'/],
      ['usage.cost_usd.matches("1")', /'matches' applied to 'double\.\(string\)'/],
      ['llm.stream && mcp.tool', /'_&&_' applied to '\(bool, string\)': mcp\.tool \(a string\)/],
      ['now - exchange.started_at > 3600', /'_>_' applied to '\(duration, int\)'/],
      ['mcp.tool[0] == "r"', /'_\[_\]' applied to '\(string, int\)'/],
      ['usage.input_tokens.exists(t, t > 1)', /usage\.input_tokens \(an int\) cannot be walked/],
      ['mcp.tool.name == "x"', /mcp\.tool \(a string\) has no fields/],
    ];
    for (const [when, expected] of refused) assert.match(problemsOf(`rules:\n  - { name: r, when: '${when}', action: deny }\n`), expected, when);
    for (const when of [
      'exchange.duration_ms > 500 && usage.output_tokens >= 20000 && usage.cost_usd < 1',
      'mcp.arguments.path.size() > 3 && request.body.messages[0].role == "user"',
      'int(mcp.tool) > 3 && 3 == 3.0 && mcp.tool == 1',
      'llm.messages.exists(m, m.role == "system") && llm.tools.map(t, t.name).size() < 10',
      'now - exchange.started_at < duration("1h") && now.getHours("Europe/Paris") > 8',
      'has(mcp.arguments.path) ? mcp.arguments.path.startsWith("/etc") : false',
      'mcp.tool in ["rm"] && "x" in request.headers && dyn(usage.input_tokens) + 1.5 > 0.0',
    ]) {
      assert.doesNotThrow(() => parsePolicyFile(`rules:\n  - { name: r, when: '${when}', action: deny }\n`, 'p.yaml'), when);
    }
  });
  test('every schema problem and every expression problem of a file, in one pass, in file order', () => {
    const message = problemsOf('rules:\n  - { name: a, when: "mcp.tol == 1", action: deny }\n  - { name: b, when: "x ==", action: nope }\n  - { name: c, when: "mcp.tool", action: deny, colour: red }\n');
    const lines = message.split('\n').filter((line) => line.startsWith('p.yaml:'));
    assert.equal(lines.length, 4, message);
    assert.match(lines[0]!, /^p\.yaml:2:.*mcp has no field "tol"/);
    assert.match(lines[1]!, /^p\.yaml:3:.*rules\[1\] \(b\): when: .*syntax error/);
    assert.match(lines[2]!, /^p\.yaml:3:.*rules\[1\]\.action: /);
    assert.match(lines[3]!, /^p\.yaml:4:.*rules\[2\]\.colour: unknown key/);
  });
  test('when: true, a YAML boolean, gets a hint to quote it', () => {
    assert.match(problemsOf('rules:\n  - name: r\n    when: true\n    action: audit\n'), /^p\.yaml:3:11: rules\[0\]\.when: .*expected string, received boolean; YAML reads true as a boolean: quote it: when: "true"$/);
    assert.doesNotThrow(() => parsePolicyFile('rules:\n  - name: r\n    when: "true"\n    action: audit\n', 'p.yaml'));
  });
  test('an unclosed ( is reported as such, at the paren', () => {
    const message = problemsOf('rules:\n  - name: r\n    when: mcp.tool == "a" || (mcp.tool == "b" && protocol == "mcp"\n    action: deny\n');
    assert.match(message, /^p\.yaml:3:30: rules\[0\] \(r\): when: column 20 of the expression: syntax error: unclosed '\('$/m);
    assert.match(problemsOf('rules:\n  - { name: r, when: \'mcp.tool == ")" && (size(")(") > 0))\', action: deny }\n'), /column 36 of the expression: syntax error: '\)' without a matching '\('/);
  });
  test('the shipped examples load and their inline tests pass', () => {
    const files = loadPolicyFiles(['policies/examples/*.yaml']);
    assert.ok(files.length >= 3);
    for (const file of files) for (const result of runInlineTests(file, PROTOCOL_CONTEXTS)) assert.ok(result.passed, `${file.path}: ${result.test.name}: ${JSON.stringify(result.got)}`);
  });
});

describe('decisions', () => {
  test('first allow or deny wins; audits are noted on the way', () => {
    const set = policy(`rules:
  - { name: flag, when: 'mcp.method == "tools/call"', action: audit }
  - { name: ok-read, when: 'mcp.tool == "read"', action: allow }
  - { name: no-tools, when: 'mcp.method == "tools/call"', action: deny, message: no tools today }
`);
    const read = set.decide('request', mcpCall('read'), 0);
    assert.equal(read.outcome, 'allow');
    assert.deepEqual(read.findings.map((f) => f.rule), ['flag']);
    const write = set.decide('request', mcpCall('write'), 0);
    assert.deepEqual([write.outcome, write.rule, write.reason], ['deny', 'no-tools', 'no tools today']);
  });
  test('a rule naming llm fields does not apply to MCP calls, so a missing model never errors', () => {
    const set = policy('rules:\n  - { name: big, when: \'llm.model.startsWith("gpt-5")\', action: deny }\n');
    assert.equal(set.decide('request', mcpCall('x'), 0).outcome, 'allow');
    assert.equal(set.decide('request', testContext({ protocol: 'llm', llm: { model: 'gpt-5' } }, PROTOCOL_CONTEXTS), 0).outcome, 'deny');
  });
  test('an evaluation error denies by default and is skipped (and reported) with on_error: skip', () => {
    const rule = "rules:\n  - { name: odd, when: 'int(mcp.tool) > 3', action: deny }\n";
    const denied = policy(rule).decide('request', mcpCall('not-a-number'), 0);
    assert.equal(denied.outcome, 'deny');
    assert.match(denied.reason, /rule odd could not be evaluated/);
    const skipped = policy(`on_error: skip\n${rule}`).decide('request', mcpCall('not-a-number'), 0);
    assert.equal(skipped.outcome, 'allow');
    assert.equal(skipped.findings[0]?.action, 'error');
  });
  test('a non-boolean result never matches', () => {
    assert.equal(policy("rules:\n  - { name: r, when: 'mcp.tool', action: deny }\n").decide('request', mcpCall('x'), 0).outcome, 'allow');
  });
  test('default deny refuses what no rule allows; monitor mode only records it', () => {
    const file = "default: deny\nrules:\n  - { name: reads, when: 'mcp.tool == \"read\"', action: allow }\n";
    assert.equal(policy(file).decide('request', mcpCall('read'), 0).outcome, 'allow');
    assert.equal(policy(file).decide('request', mcpCall('write'), 0).rule, 'p.yaml#default');
    const monitored = policy(`mode: monitor\n${file}`).decide('request', mcpCall('write'), 0);
    assert.equal(monitored.outcome, 'allow');
    const exchange = blankExchange({ agent: 'a', route: 'r', protocol: 'mcp' });
    stamp(exchange, monitored);
    assert.deepEqual([exchange.status, exchange.policy_action], ['ok', 'would_deny']);
  });
  test('a request rate is limited per key over a sliding window, with a retry-after', () => {
    const set = policy("rules:\n  - { name: rate, when: 'mcp.method == \"tools/call\"', action: limit, limit: { requests: 2, per: 1m, key: mcp.tool } }\n");
    assert.equal(set.decide('request', mcpCall('a'), 0).outcome, 'allow');
    assert.equal(set.decide('request', mcpCall('a'), 10_000).outcome, 'allow');
    const third = set.decide('request', mcpCall('a'), 20_000);
    assert.deepEqual([third.outcome, third.retryAfterSeconds], ['limit', 40]);
    assert.equal(set.decide('request', mcpCall('b'), 20_000).outcome, 'allow');
    assert.equal(set.decide('request', mcpCall('a'), 60_001).outcome, 'allow');
  });
  test('a token budget is charged with the real usage: the call that crosses it completes, the next is refused', () => {
    const set = policy("rules:\n  - { name: budget, when: 'protocol == \"llm\"', action: limit, limit: { tokens: 100, per: 1h, key: agent.name } }\n");
    const call = (at: number, tokens: number): string => {
      const exchange = { ...blankExchange({ agent: 'bot', route: 'openai', protocol: 'llm', started_at: at }), input_tokens: tokens, output_tokens: 0, ended_at: at };
      const decision = set.decide('request', buildContext({ exchange }), at);
      if (decision.outcome === 'allow') set.review({ exchange, request: null, response: null, events: [] }, { protocols: PROTOCOL_CONTEXTS });
      return decision.outcome;
    };
    assert.equal(call(0, 60), 'allow');
    assert.equal(call(1000, 60), 'allow'); // 120 used: this one crossed the budget
    assert.equal(call(2000, 1), 'limit');
    assert.equal(call(3_600_001, 1), 'allow');
  });
  test('redact rules mask fields and patterns in the record', () => {
    const set = policy(`rules:
  - name: mask
    when: protocol == "llm"
    action: redact
    redact: { fields: [request.body.api_secret], patterns: ['sk-[a-z0-9]+'] }
`);
    const record: ExchangeRecord = {
      exchange: blankExchange({ agent: 'a', route: 'r', protocol: 'llm' }),
      request: { headers: {}, body: Buffer.from('{"api_secret":"s3","prompt":"key sk-abc123"}'), body_size: 0, truncated: false },
      response: null,
      events: [{ offset_ms: 1, event: null, event_id: null, data: 'echo sk-zzz' }],
    };
    set.review(record, { protocols: PROTOCOL_CONTEXTS });
    assert.deepEqual(JSON.parse(record.request!.body!.toString()), { api_secret: '[redacted]', prompt: 'key [redacted]' });
    assert.equal(record.events[0]!.data, 'echo [redacted]');
  });
});

describe('context', () => {
  test('a recorded MCP exchange: fields from the request body, integers as BigInt, absent fields empty', () => {
    const exchange = { ...blankExchange({ agent: 'a', route: 'fs', protocol: 'mcp' }), method: 'tools/call', output_tokens: 7, http_status: 200 };
    const ctx = buildContext({
      exchange,
      request: { headers: {}, body: '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read","arguments":{"path":"/x"}}}' },
    });
    const mcp = ctx.mcp as Map<string, unknown>;
    assert.equal(mcp.get('tool'), 'read');
    assert.equal((mcp.get('arguments') as Map<string, unknown>).get('path'), '/x');
    assert.equal((ctx.usage as Map<string, unknown>).get('output_tokens'), 7n);
    assert.equal((ctx.llm as Map<string, unknown>).get('model'), '');
    assert.equal(compileExpression('mcp.tool == "read" && jsonrpc.id == "3" && response.status == 200 && llm.model == ""').evaluate(ctx), true);
  });
});

describe('hot reload', () => {
  test('a valid change applies, an invalid one is rejected and the policies in force are kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-watch-'));
    const file = join(dir, 'p.yaml');
    const denyTool = (tool: string) => `rules:\n  - { name: no-${tool}, when: 'mcp.tool == "${tool}"', action: deny }\n`;
    writeFileSync(file, denyTool('rm'));
    const outcomes: ReloadOutcome[] = [];
    let notify: () => void = () => undefined;
    const watcher = new PolicyWatcher([file], (outcome) => {
      outcomes.push(outcome);
      notify();
    });
    const reloaded = (count: number) => new Promise<void>((resolve) => (notify = () => outcomes.length >= count && resolve()));
    try {
      assert.equal(watcher.current.decide('request', mcpCall('rm'), 0).outcome, 'deny');
      let next = reloaded(1);
      writeFileSync(file, denyTool('curl'));
      await next;
      assert.equal(outcomes.at(-1)?.ok, true);
      assert.equal(watcher.current.decide('request', mcpCall('rm'), 0).outcome, 'allow');
      assert.equal(watcher.current.decide('request', mcpCall('curl'), 0).outcome, 'deny');
      next = reloaded(outcomes.length + 1);
      writeFileSync(file, "rules:\n  - { name: broken, when: 'mcp.tol == 1', action: deny }\n");
      await next;
      const rejected = outcomes.at(-1)!;
      assert.ok(!rejected.ok && /mcp has no field "tol"/.test(rejected.problems.join('\n')));
      assert.equal(watcher.current.decide('request', mcpCall('curl'), 0).outcome, 'deny');
    } finally {
      watcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('a reloaded file with a type error is rejected with its position, and the rules in force keep deciding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-watch-'));
    const file = join(dir, 'p.yaml');
    writeFileSync(file, "rules:\n  - { name: no-rm, when: 'mcp.tool == \"rm\"', action: deny }\n");
    const outcomes: ReloadOutcome[] = [];
    let notify: () => void = () => undefined;
    const watcher = new PolicyWatcher([file], (outcome) => {
      outcomes.push(outcome);
      notify();
    });
    try {
      const reloaded = new Promise<void>((resolve) => (notify = resolve));
      writeFileSync(file, "rules:\n  - { name: no-big, when: 'protocol == \"mcp\" && usage.output_tokens > \"1000\"', action: deny }\n");
      await reloaded;
      const rejected = outcomes.at(-1)!;
      assert.ok(!rejected.ok, 'rejected');
      assert.deepEqual(rejected.problems, [`${file}:2:69: rules[0] (no-big): when: column 42 of the expression: no matching overload for '_>_' applied to '(int, string)': usage.output_tokens (an int)`]);
      assert.equal(watcher.current.decide('request', mcpCall('rm'), 0).outcome, 'deny', 'the old rule still refuses rm');
      assert.equal(watcher.current.decide('response', mcpCall('ls'), 0).outcome, 'allow', 'and nothing else');
    } finally {
      watcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('other files in the policies\' directory (the database, its WAL, logs) do not reload them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-watch-'));
    const file = join(dir, 'p.yaml');
    writeFileSync(file, "rules:\n  - { name: no-rm, when: 'mcp.tool == \"rm\"', action: deny }\n");
    const outcomes: ReloadOutcome[] = [];
    let notify: () => void = () => undefined;
    const watcher = new PolicyWatcher([join(dir, '*.yaml')], (outcome) => {
      outcomes.push(outcome);
      notify();
    });
    try {
      for (const name of ['tapwire.db', 'tapwire.db-wal', 'tapwire.log']) writeFileSync(join(dir, name), 'x');
      await new Promise((resolve) => setTimeout(resolve, 300)); // six debounce periods: a reload they caused would have run
      const reloaded = new Promise<void>((resolve) => (notify = resolve));
      writeFileSync(file, "rules:\n  - { name: no-curl, when: 'mcp.tool == \"curl\"', action: deny }\n");
      await reloaded;
      assert.equal(outcomes.length, 1, 'one reload, for the policy file');
      assert.equal(watcher.current.decide('request', mcpCall('curl'), 0).outcome, 'deny');
    } finally {
      watcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('policy and identity config', () => {
  test('a route requiring an identity needs an identity section, and an upstream', () => {
    assert.throws(
      () => parseConfig('routes:\n  openai: { protocol: llm, upstream: "https://api.openai.com", require_identity: true }\n', 't.yaml'),
      /t\.yaml:2:\d+: routes\.openai\.require_identity: there is no identity section/,
    );
    const config = parseConfig('policies: [p/*.yaml]\nidentity:\n  jwt: { jwks: "https://id.example/jwks.json" }\nroutes:\n  openai: { protocol: llm, upstream: "https://api.openai.com", require_identity: true }\n', 't.yaml');
    assert.deepEqual([config.policies, config.identity?.jwt.header, config.identity?.jwt.clock_skew_s], [['p/*.yaml'], 'authorization', 30]);
  });
});
