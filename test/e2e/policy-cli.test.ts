// `tapwire policy check` and `tapwire policy test` as a user runs them: the shipped examples
// pass, a broken rule is reported at its file, line and column with a pointer into the
// expression, inline tests pass and fail visibly, and a policy tried against a database
// recorded through tapwire names the rule and the exchanges it would have denied.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startAimock, type LLMock } from '../support/aimock.js';
import { startTestSidecar } from '../support/sidecar.js';
import { CLI } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('tapwire policy', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-policy-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('check: the shipped examples are valid', () => {
    const result = runCli(['policy', 'check', 'policies/examples/*.yaml']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^ok policies\/examples\/tool-safety\.yaml: 4 rules, 4 tests$/m);
  });

  test('check: a broken rule names the file, line and column, and points into the expression', () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'rules:\n  - name: typo\n    when: mcp.method == "tools/call" && mcp.tol == "rm"\n    action: deny\n');
    const result = runCli(['policy', 'check', file]);
    assert.equal(result.status, 2);
    assert.ok(result.stderr.includes(`${file}:3:45: rules[0] (typo): when: column 35 of the expression: mcp has no field "tol"`), result.stderr);
    assert.ok(result.stderr.includes(`    mcp.method == "tools/call" && mcp.tol == "rm"\n${' '.repeat(4 + 34)}^`), result.stderr);
  });

  test('check: a type error (an int compared with a string) fails the check at its position, exit code 2', () => {
    const file = join(dir, 'typed.yaml');
    writeFileSync(file, 'rules:\n  - name: big-answers\n    when: protocol == "llm" && usage.output_tokens > "1000"\n    action: deny\n');
    const result = runCli(['policy', 'check', file]);
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    assert.ok(result.stderr.startsWith(`${file}:3:52: rules[0] (big-answers): when: column 42 of the expression: no matching overload for '_>_' applied to '(int, string)': usage.output_tokens (an int)\n`), result.stderr);
  });

  test('run: a policy file with a type error stops the sidecar before it serves, exit code 2, one line', () => {
    const rules = join(dir, 'typed-rules');
    mkdirSync(rules);
    writeFileSync(join(rules, 'llm.yaml'), 'rules:\n  - name: big-answers\n    when: protocol == "llm" && usage.output_tokens > "1000"\n    action: deny\n');
    const config = join(dir, 'typed.tapwire.yaml');
    writeFileSync(config, 'policies: [typed-rules/*.yaml]\nroutes: {}\n');
    const result = runCli(['run', '--config', config, '--db', join(dir, 'never.db'), '--listen', '127.0.0.1:0']);
    assert.equal(result.status, 2);
    assert.equal(result.stderr, `tapwire: ${join(rules, 'llm.yaml')}:3:52: rules[0] (big-answers): when: column 42 of the expression: no matching overload for '_>_' applied to '(int, string)': usage.output_tokens (an int)\n`);
  });

  test('test: --since banana is refused, naming the flag, before any test runs', () => {
    const result = runCli(['policy', 'test', 'policies/examples/*.yaml', '--db', join(dir, 'never.db'), '--since', 'banana']);
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '', 'no test ran');
    assert.equal(result.stderr, 'tapwire: --since "banana": expected a duration such as 30m, 12h or 7d\n');
  });

  test('run: a config naming a broken policy file stops with exit code 2 and the problem', () => {
    mkdirSync(join(dir, 'rules'));
    writeFileSync(join(dir, 'rules', 'tools.yaml'), 'rules:\n  - { name: r, when: "mcp.tool == ", action: deny }\n');
    const config = join(dir, 'tapwire.yaml');
    writeFileSync(config, 'policies: [rules/*.yaml]\nroutes: {}\n');
    const result = runCli(['run', '--config', config, '--db', join(dir, 'never.db'), '--listen', '127.0.0.1:0']);
    assert.equal(result.status, 2);
    assert.ok(result.stderr.includes(`${join(dir, 'rules', 'tools.yaml')}:2:`) && result.stderr.includes('syntax error'), result.stderr);
  });

  test('test: inline tests pass, and a failing one is shown with what it got', () => {
    assert.match(runCli(['policy', 'test', 'policies/examples/*.yaml']).stdout, /^(\d+)\/\1 tests passed$/m);
    const file = join(dir, 'wrong-test.yaml');
    writeFileSync(
      file,
      'rules:\n  - { name: no-rm, when: \'mcp.tool == "rm"\', action: deny }\ntests:\n  - name: ls is denied\n    exchange: { protocol: mcp, mcp: { method: tools/call, tool: ls } }\n    expect: deny\n',
    );
    const result = runCli(['policy', 'test', file]);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /FAIL .*wrong-test\.yaml:4:\d+: ls is denied: expected deny, got allow/);
  });

  describe('against a recorded database', () => {
    let mock: LLMock;
    before(async () => {
      mock = await startAimock(['sk-cli'], (m) => m.onMessage(/^hi$/, { content: 'hello', usage: { prompt_tokens: 4, completion_tokens: 2 } }));
    });
    after(() => mock.stop());

    test('reports per rule what would have been denied, with example exchange ids', async () => {
      const tapwire = await startTestSidecar(`routes:\n  openai: { protocol: llm, upstream: "${mock.url}", provider: openai }\n`, process.env, { dir: mkdtempSync(join(dir, 'db-')) });
      const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: 'sk-cli', maxRetries: 0 });
      for (const model of ['gpt-4o-mini', 'gpt-5', 'gpt-5-mini']) await openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      const exchanges = await tapwire.stop();
      const policy = join(dir, 'models.yaml');
      writeFileSync(policy, 'rules:\n  - { name: no-gpt-5, when: \'llm.model.startsWith("gpt-5")\', action: deny }\n  - { name: flag-all, when: \'protocol == "llm"\', action: audit }\n');
      const result = runCli(['policy', 'test', policy, '--db', tapwire.dbPath, '--since', '1h']);
      assert.equal(result.status, 0, result.stderr);
      const gpt5 = exchanges.filter((e) => e.model?.startsWith('gpt-5')).map((e) => e.id);
      assert.match(result.stdout, /3 recorded exchanges since /);
      assert.ok(result.stdout.includes(`  no-gpt-5: would have denied 2 (e.g. ${gpt5.join(', ')})`), result.stdout);
      assert.ok(result.stdout.includes(`  flag-all: would have flagged 1 (e.g. ${exchanges.find((e) => e.model === 'gpt-4o-mini')!.id})`), result.stdout);
      tapwire.cleanup();
    });
  });
});
