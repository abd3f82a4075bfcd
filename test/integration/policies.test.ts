// CEL policies enforced on the live flows, through real SDK clients: a denied MCP tool call
// (a tool error the model sees) and a filtered tools/list; a denied model with the OpenAI and
// Anthropic SDKs (their own 403 errors); a denied A2A send (a JSON-RPC error); a token budget
// crossed by one call and refusing the next; a request rate refused with retry-after. Every
// refusal never reaches the upstream, names the rule, and is recorded as denied. Token
// budgets with the SDKs' default retries: a day's window fails at once, a short one is
// retried. Also: an identity token verified against a JWKS, and response-phase rules on
// plain and streamed LLM answers, recorded (and mocked) as the agent received them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import OpenAI from 'openai';
import { z } from 'zod';
import { failure, sendRequest, startA2aAgent, v1Client, type A2aAgent } from '../support/a2a.js';
import { startAimock, withJournal, type LLMock } from '../support/aimock.js';
import { connectClient, one, startStreamableServer, type McpHttpServer } from '../support/mcp.js';
import { databaseText } from '../support/database-text.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';
import { until } from '../support/upstream.js';
import type { Exchange } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';
import { startMock } from '../../tools/mock.js';

const KEY = 'sk-policy-test-1618';

/** What the database holds right now, read while tapwire runs. */
function committed(tapwire: TestSidecar): Exchange[] {
  const db = openDatabase(tapwire.dbPath, { readonly: true });
  try {
    return listExchanges(db);
  } finally {
    db.close();
  }
}

describe('policies on MCP', () => {
  let server: McpHttpServer;
  let deleted = 0;
  before(async () => {
    server = await startStreamableServer(() => {
      const mcp = new McpServer({ name: 'policy-fixture', version: '1.0.0' });
      mcp.registerTool('echo', { description: 'Echoes', inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
      mcp.registerTool('delete_file', { description: 'Deletes a file', inputSchema: { path: z.string() } }, () => {
        deleted++;
        return { content: [{ type: 'text', text: 'deleted' }] };
      });
      return mcp;
    });
  });
  after(() => server.close());

  test('a denied tool is missing from tools/list, and calling it anyway is a tool error naming the rule', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  fs:\n    protocol: mcp\n    upstream: ${server.origin}\n`,
      `rules:\n  - name: no-destructive-tools\n    when: mcp.method == "tools/call" && mcp.tool in ["delete_file"]\n    action: deny\n    message: destructive tools need a human\n`,
    );
    const connected = await connectClient('streamable', `${tapwire.url}/fs/mcp`);
    const { client } = connected;
    const tools = await client.listTools();
    assert.deepEqual(tools.tools.map((tool) => tool.name), ['echo']);
    const result = await client.callTool({ name: 'delete_file', arguments: { path: '/etc/passwd' } });
    assert.equal(result.isError, true);
    assert.deepEqual(result.content, [{ type: 'text', text: 'tapwire policy no-destructive-tools: destructive tools need a human' }]);
    const echoed = await client.callTool({ name: 'echo', arguments: { msg: 'still works' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'still works' }]);
    await connected.close();
    assert.equal(deleted, 0, 'the server never ran the denied tool');
    const exchanges = await tapwire.stop();
    const denied = one(exchanges, { method: 'tools/call', target: 'delete_file' });
    assert.equal(denied.status, 'denied');
    assert.deepEqual([denied.policy_rule, denied.policy_action, denied.policy_reason], ['no-destructive-tools', 'deny', 'destructive tools need a human']);
    assert.equal(one(exchanges, { method: 'tools/call', target: 'echo' }).status, 'ok');
  });

  test('a denied call hidden in a JSON-RPC batch: no part of the batch reaches the server', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  fs:\n    protocol: mcp\n    upstream: ${server.origin}\n`,
      `rules:\n  - name: no-destructive-tools\n    when: mcp.method == "tools/call" && mcp.tool == "delete_file"\n    action: deny\n`,
    );
    const connected = await connectClient('streamable', `${tapwire.url}/fs/mcp`);
    const batch = [
      { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'echo', arguments: { msg: 'first' } } },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'delete_file', arguments: { path: '/etc/passwd' } } },
    ];
    const response = await fetch(`${tapwire.url}/fs/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': connected.sessionId() ?? '',
        'mcp-protocol-version': '2025-03-26',
      },
      body: JSON.stringify(batch),
    });
    const answers = (await response.json()) as { id: string; result?: { isError?: boolean }; error?: { code: number; message: string } }[];
    await connected.close();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-tapwire-policy'), 'no-destructive-tools');
    assert.deepEqual(answers.map((a) => a.id), ['a', 'b']);
    assert.equal(answers[0]?.error?.code, -32040);
    assert.match(answers[0]?.error?.message ?? '', /not sent, because its batch was refused/);
    assert.equal(answers[1]?.result?.isError, true);
    assert.equal(deleted, 0, 'the server never ran the denied tool');
    assert.ok(!server.seen.some((r) => r.method === 'POST' && r.headers['mcp-protocol-version'] === '2025-03-26'), 'the batch never reached the server');
    const exchanges = await tapwire.stop();
    const refused = one(exchanges, { status: 'denied' });
    assert.deepEqual([refused.method, refused.policy_rule], ['tools/call', 'no-destructive-tools']);
  });
  test('calls let through carry their decision in the record: a monitor-mode finding and a request-phase audit', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  fs:\n    protocol: mcp\n    upstream: ${server.origin}\n`,
      [
        'mode: monitor',
        'rules:',
        '  - { name: no-destructive-tools, when: \'mcp.method == "tools/call" && mcp.tool == "delete_file"\', action: deny, message: destructive tools need a human }',
        '  - { name: echo-watched, when: \'mcp.tool == "echo"\', action: audit, message: echo is watched }',
        '',
      ].join('\n'),
    );
    const before = deleted;
    const connected = await connectClient('streamable', `${tapwire.url}/fs/mcp`);
    // Two sessions calling with the same JSON-RPC ids: each record gets its own call's decision.
    const other = await connectClient('streamable', `${tapwire.url}/fs/mcp`);
    const [removed, echoed] = await Promise.all([
      connected.client.callTool({ name: 'delete_file', arguments: { path: '/tmp/x' } }),
      other.client.callTool({ name: 'echo', arguments: { msg: 'watched' } }),
    ]);
    assert.deepEqual(removed.content, [{ type: 'text', text: 'deleted' }], 'monitor mode lets the call through');
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'watched' }]);
    await connected.close();
    await other.close();
    assert.equal(deleted, before + 1);
    const exchanges = await tapwire.stop();
    const flagged = one(exchanges, { method: 'tools/call', target: 'delete_file' });
    assert.deepEqual([flagged.status, flagged.policy_rule, flagged.policy_action], ['ok', 'no-destructive-tools', 'would_deny']);
    const audited = one(exchanges, { method: 'tools/call', target: 'echo' });
    assert.deepEqual([audited.status, audited.policy_rule, audited.policy_action, audited.policy_reason], ['ok', 'echo-watched', 'audit', 'echo is watched']);
    assert.ok(exchanges.filter((e) => e.method === 'initialize').every((e) => e.policy_rule === null), 'no rule matched initialize');
  });
});

describe('audits, redactions and rate limits on MCP', () => {
  let server: McpHttpServer;
  before(async () => {
    server = await startStreamableServer(() => {
      const mcp = new McpServer({ name: 'policy-fixture', version: '1.0.0' });
      mcp.registerTool('lookup', { description: 'Looks up a user', inputSchema: { who: z.string() } }, ({ who }) => ({
        content: [{ type: 'text', text: `${who} <${who}@example.com> has a very long record`.repeat(20) }],
      }));
      return mcp;
    });
  });
  after(() => server.close());

  test('a big result is flagged, e-mail addresses are masked in the record, and the third call in a minute is refused', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  people:\n    protocol: mcp\n    upstream: ${server.origin}\n`,
      [
        'rules:',
        '  - { name: big-results, when: \'mcp.method == "tools/call" && usage.output_tokens > 100\', action: audit }',
        "  - name: mask-emails",
        "    when: protocol == \"mcp\"",
        "    action: redact",
        "    redact: { patterns: ['[a-z]+@example\\.com'] }",
        '  - { name: two-lookups-a-minute, when: \'mcp.tool == "lookup"\', action: limit, limit: { requests: 2, per: 1m, key: mcp.tool } }',
        '',
      ].join('\n'),
    );
    const connected = await connectClient('streamable', `${tapwire.url}/people/mcp`);
    const first = await connected.client.callTool({ name: 'lookup', arguments: { who: 'ada' } });
    assert.match(JSON.stringify(first.content), /ada@example\.com/, 'the agent gets the real answer');
    await connected.client.callTool({ name: 'lookup', arguments: { who: 'bob' } });
    const third = await connected.client.callTool({ name: 'lookup', arguments: { who: 'cy' } });
    assert.equal(third.isError, true);
    assert.match(JSON.stringify(third.content), /two-lookups-a-minute: .*retry in \d+s/);
    await connected.close();
    const exchanges = await tapwire.stop();
    const calls = exchanges.filter((e) => e.method === 'tools/call');
    assert.deepEqual(calls.map((e) => [e.status, e.policy_rule, e.policy_action]), [
      ['ok', 'big-results', 'audit'],
      ['ok', 'big-results', 'audit'],
      ['denied', 'two-lookups-a-minute', 'limit'],
    ]);
    const recorded = tapwire.record(calls[0]!.id);
    const stored = recorded.response!.body!.toString();
    assert.ok(!stored.includes('ada@example.com') && stored.includes('ada <[redacted]>'), stored.slice(0, 200));
  });
});

describe('policies on LLM calls', () => {
  let mock: LLMock;
  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^hello$/, { content: 'hi there', usage: { prompt_tokens: 8, completion_tokens: 5 } });
    });
  });
  after(() => mock.stop());

  const routes = (): string =>
    `routes:\n  openai:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: openai\n  anthropic:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: anthropic\n`;

  test('a denied model: the OpenAI and Anthropic SDKs raise their own permission errors naming the rule', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      routes(),
      `rules:\n  - name: big-models-for-the-planner-only\n    when: llm.model.startsWith("gpt-5") || llm.model.startsWith("claude-opus")\n    action: deny\n`,
    );
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const { result: openaiError, upstream } = await withJournal(mock, () =>
      openai.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hello' }] }).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    assert.ok(openaiError instanceof OpenAI.PermissionDeniedError);
    assert.equal(openaiError.status, 403);
    assert.match(openaiError.message, /big-models-for-the-planner-only/);
    assert.equal(upstream.length, 0, 'the call never reached the upstream');

    const anthropic = new Anthropic({ baseURL: `${tapwire.url}/anthropic`, apiKey: KEY, maxRetries: 0 });
    const anthropicError = await anthropic.messages.create({ model: 'claude-opus-4-1', max_tokens: 10, messages: [{ role: 'user', content: 'hello' }] }).then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(anthropicError instanceof Anthropic.PermissionDeniedError);
    assert.match(anthropicError.message, /big-models-for-the-planner-only/);

    const allowed = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(allowed.choices[0]?.message.content, 'hi there');
    const exchanges = await tapwire.stop();
    const deniedRows = exchanges.filter((e) => e.status === 'denied');
    assert.deepEqual(deniedRows.map((e) => [e.model, e.http_status, e.policy_rule, e.policy_action]), [
      ['gpt-5', 403, 'big-models-for-the-planner-only', 'deny'],
      ['claude-opus-4-1', 403, 'big-models-for-the-planner-only', 'deny'],
    ]);
  });

  test('a token budget: the call that crosses it completes, the next is refused with 429 and retry-after', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      routes(),
      `rules:\n  - name: hourly-token-budget\n    when: protocol == "llm"\n    action: limit\n    limit: { tokens: 20, per: 1h, key: agent.name }\n`,
    );
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const ask = () => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    await ask(); // 13 tokens
    await ask(); // 26 tokens: crosses the budget, and completes
    // The budget is charged when the record is written, just after the response.
    let refused: unknown = null;
    for (let i = 0; i < 50 && refused === null; i++) {
      refused = await ask().then(
        () => null,
        (err: unknown) => err,
      );
      if (refused === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(refused instanceof OpenAI.RateLimitError);
    assert.match(refused.message, /hourly-token-budget/);
    assert.ok(Number(refused.headers?.get('retry-after')) > 0);
    const exchanges = await tapwire.stop();
    const limited = exchanges.filter((e) => e.policy_action === 'limit');
    assert.ok(limited.length >= 1);
    assert.deepEqual([limited[0]!.status, limited[0]!.http_status], ['denied', 429]);
    assert.equal(exchanges.filter((e) => e.status === 'ok').length >= 2, true);
  });

  test('a request rate: the call over it gets 429 with retry-after from the Anthropic SDK', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      routes(),
      `rules:\n  - name: two-calls-a-minute\n    when: llm.provider == "anthropic"\n    action: limit\n    limit: { requests: 2, per: 1m }\n`,
    );
    const anthropic = new Anthropic({ baseURL: `${tapwire.url}/anthropic`, apiKey: KEY, maxRetries: 0 });
    const ask = () => anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hello' }] });
    await ask();
    await ask();
    const refused = await ask().then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof Anthropic.RateLimitError);
    assert.match(refused.message, /two-calls-a-minute/);
    const retryAfter = Number(refused.headers?.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 60, `retry-after ${retryAfter}`);
  });

  /** A sidecar with both routes and one token budget per provider of `tokens` per `per`. */
  async function startWithBudget(t: TestContext, per: string): Promise<TestSidecar> {
    return startWithPolicy(t, routes(), `rules:\n  - name: token-budget\n    when: protocol == "llm"\n    action: limit\n    limit: { tokens: 10, per: ${per}, key: llm.provider }\n`);
  }

  /** One call of 13 tokens per provider, each charged to its budget once its record is written. */
  async function spendBudgets(tapwire: TestSidecar, openai: OpenAI, anthropic: Anthropic): Promise<void> {
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hello' }] });
    await until(() => committed(tapwire).length === 2, 'both calls recorded, so their tokens are charged');
  }

  // A hang fails by this timeout: before x-should-retry, the SDKs slept the day's retry-after.
  test('a day-long token budget: both SDKs at their default retries raise RateLimitError at once, after one request', { timeout: 30_000 }, async (t) => {
    const tapwire = await startWithBudget(t, '1d');
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY });
    const anthropic = new Anthropic({ baseURL: `${tapwire.url}/anthropic`, apiKey: KEY });
    await spendBudgets(tapwire, openai, anthropic);
    const { result: refusals, upstream } = await withJournal(mock, () =>
      Promise.all([
        openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }).then(() => null, (err: unknown) => err),
        anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hello' }] }).then(() => null, (err: unknown) => err),
      ]),
    );
    const [openaiRefusal, anthropicRefusal] = refusals;
    assert.ok(openaiRefusal instanceof OpenAI.RateLimitError, `got ${String(openaiRefusal)}`);
    assert.ok(anthropicRefusal instanceof Anthropic.RateLimitError, `got ${String(anthropicRefusal)}`);
    for (const refusal of [openaiRefusal, anthropicRefusal]) {
      assert.match(refusal.message, /token-budget/);
      assert.ok(Number(refusal.headers?.get('retry-after')) > 60, 'the agent is still told when the budget frees up');
      assert.equal(refusal.headers?.get('x-should-retry'), 'false');
    }
    assert.equal(upstream.length, 0);
    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.map((e) => [e.provider, e.status, e.http_status]).sort(), [
      ['anthropic', 'denied', 429],
      ['anthropic', 'ok', 200],
      ['openai', 'denied', 429],
      ['openai', 'ok', 200],
    ], 'each SDK sent its refused call once');
  });

  test('a token budget of a few seconds: both SDKs at their default retries wait for retry-after and get through', { timeout: 30_000 }, async (t) => {
    const tapwire = await startWithBudget(t, '3s');
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY });
    const anthropic = new Anthropic({ baseURL: `${tapwire.url}/anthropic`, apiKey: KEY });
    await spendBudgets(tapwire, openai, anthropic);
    const [chat, message] = await Promise.all([
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
      anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hello' }] }),
    ]);
    assert.equal(chat.choices[0]?.message.content, 'hi there');
    assert.deepEqual(message.content, [{ type: 'text', text: 'hi there' }]);
    const exchanges = await tapwire.stop();
    for (const provider of ['openai', 'anthropic']) {
      assert.deepEqual(
        exchanges.filter((e) => e.provider === provider).map((e) => [e.status, e.http_status]),
        [
          ['ok', 200],
          ['denied', 429],
          ['ok', 200],
        ],
        `${provider}: refused once, then retried by the SDK`,
      );
    }
  });
});

describe('identity', () => {
  let mock: LLMock;
  before(async () => {
    mock = await startAimock([KEY], (m) => m.onMessage(/^hello$/, { content: 'hi there', usage: { prompt_tokens: 8, completion_tokens: 5 } }));
  });
  after(() => mock.stop());

  test('a route requiring an identity refuses a missing or expired token; rules read the claims', async (t) => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwksDir = mkdtempSync(join(tmpdir(), 'tapwire-jwks-'));
    t.after(() => rmSync(jwksDir, { recursive: true, force: true }));
    const jwksFile = join(jwksDir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'k1' }] }));
    const token = (role: string, expires = '5m') =>
      new SignJWT({ role }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://id.example').setAudience('tapwire').setSubject('agent-7').setIssuedAt().setExpirationTime(expires).sign(privateKey);
    const tapwire = await startWithPolicy(
      t,
      `identity:\n  jwt: { jwks: ${JSON.stringify(jwksFile)}, issuer: "https://id.example", audience: tapwire, header: x-agent-token, clock_skew_s: 0 }\nroutes:\n  openai:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: openai\n    require_identity: true\n`,
      `rules:\n  - name: gpt-5-for-planners\n    when: llm.model == "gpt-5" && jwt.claims.role != "planner"\n    action: deny\n`,
    );
    const as = (identity: string | null) =>
      new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0, defaultHeaders: identity ? { 'x-agent-token': `Bearer ${identity}` } : {} });
    const ask = (client: OpenAI, model: string) =>
      client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] }).then(
        (r) => r.choices[0]?.message.content,
        (err: unknown) => err,
      );
    const anonymous = await ask(as(null), 'gpt-4o-mini');
    assert.ok(anonymous instanceof OpenAI.AuthenticationError);
    assert.match(anonymous.message, /no identity token/);
    const expired = await ask(as(await token('planner', '-1m')), 'gpt-4o-mini');
    assert.ok(expired instanceof OpenAI.AuthenticationError);
    assert.match(expired.message, /invalid identity token: "exp" claim/);
    const { result: planner, upstream } = await withJournal(mock, async () => ask(as(await token('planner')), 'gpt-5'));
    assert.equal(planner, 'hi there');
    assert.equal(upstream[0]?.headers['content-type'], 'application/json');
    assert.equal(upstream[0]?.headers['x-agent-token'], undefined, 'the identity token is not forwarded');
    const coder = await ask(as(await token('coder')), 'gpt-5');
    assert.ok(coder instanceof OpenAI.PermissionDeniedError);
    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.map((e) => [e.http_status, e.policy_rule]), [
      [401, 'identity'],
      [401, 'identity'],
      [200, null],
      [403, 'gpt-5-for-planners'],
    ]);
  });
});

describe('response-phase policies on LLM calls', () => {
  let mock: LLMock;
  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^leak$/, { content: 'the key is AKIAABCDEFGHIJKLMNOP, keep it safe', usage: { prompt_tokens: 3, completion_tokens: 12 } });
      m.onMessage(/^ramble$/, { content: 'on and on', usage: { prompt_tokens: 3, completion_tokens: 5000 } });
    });
  });
  after(() => mock.stop());

  test('a response carrying a cloud key or too many tokens: a 403 instead of the body, and a stream ended by an error event', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  openai:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: openai\n`,
      `rules:\n  - name: no-cloud-keys\n    phase: response\n    when: response.text.matches("AKIA[0-9A-Z]{16}")\n    action: deny\n    message: the answer carries an AWS key\n  - name: no-rambling\n    when: usage.output_tokens > 4000\n    action: deny\n`,
    );
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const plain = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'leak' }] }).then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(plain instanceof OpenAI.PermissionDeniedError);
    assert.match(plain.message, /no-cloud-keys: the answer carries an AWS key/);
    const long = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ramble' }] }).then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(long instanceof OpenAI.PermissionDeniedError, 'live response rules see the provider usage');
    assert.match(long.message, /no-rambling/);
    let streamedText = '';
    const streamed = await (async () => {
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'leak' }] });
      for await (const chunk of stream) streamedText += chunk.choices[0]?.delta.content ?? '';
    })().then(
      () => null,
      (err: unknown) => err,
    );
    assert.ok(streamed instanceof OpenAI.APIError, `got ${String(streamed)}`);
    assert.match(streamed.message, /no-cloud-keys/);
    assert.ok(!streamedText.includes('AKIAABCDEFGHIJKLMNOP'), 'the key never reached the agent');
    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.map((e) => [e.streamed, e.policy_rule, e.policy_action]), [
      [0, 'no-cloud-keys', 'deny'],
      [0, 'no-rambling', 'deny'],
      [1, 'no-cloud-keys', 'deny'],
    ]);
  });
});

describe('response-phase refusals in the record', () => {
  const AWS_KEY = 'AKIAQWERTYUIOPASDFGH';
  let mock: LLMock;
  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^leak$/, { content: `here it is: ${AWS_KEY} and more text after it`, usage: { prompt_tokens: 3, completion_tokens: 12 } });
    });
  });
  after(() => mock.stop());

  /** What the agent gets, through `base`, for a plain and a streamed answer carrying the key, from each SDK. */
  async function agentView(base: string): Promise<unknown[]> {
    const openai = new OpenAI({ baseURL: `${base}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: `${base}/anthropic`, apiKey: KEY, maxRetries: 0 });
    const failure = (err: unknown): unknown => {
      if (!(err instanceof OpenAI.APIError || err instanceof Anthropic.APIError)) return err;
      const status: unknown = err.status;
      return { status, message: err.message };
    };
    const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'leak' }] };
    const anthropicRequest = { model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user' as const, content: 'leak' }] };
    const streamed = async (chunks: () => Promise<AsyncIterable<unknown>>, text: (chunk: unknown) => string): Promise<unknown> => {
      let received = '';
      const error = await (async () => {
        for await (const chunk of await chunks()) received += text(chunk);
      })().then(() => null, failure);
      return { received, error };
    };
    return [
      await openai.chat.completions.create(request).then(() => null, failure),
      await streamed(
        () => openai.chat.completions.create({ ...request, stream: true }),
        (chunk) => (chunk as OpenAI.ChatCompletionChunk).choices[0]?.delta.content ?? '',
      ),
      await anthropic.messages.create(anthropicRequest).then(() => null, failure),
      await streamed(
        () => anthropic.messages.create({ ...anthropicRequest, stream: true }),
        (chunk) => {
          const event = chunk as Anthropic.RawMessageStreamEvent;
          return event.type === 'content_block_delta' && event.delta.type === 'text_delta' ? event.delta.text : '';
        },
      ),
    ];
  }

  test('a refused answer is recorded as the agent received it, the key stored nowhere, and tapwire mock serves the same refusal', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  openai:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: openai\n  anthropic:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: anthropic\n`,
      `rules:\n  - name: no-cloud-keys\n    phase: response\n    when: response.text.matches("AKIA[0-9A-Z]{16}")\n    action: deny\n    message: the answer carries an AWS key\n`,
    );
    const live = await agentView(tapwire.url);
    const [openaiPlain, openaiStream, anthropicPlain, anthropicStream] = live as [{ status: number; message: string }, { received: string; error: { message: string } }, { status: number; message: string }, { received: string; error: { message: string } }];
    assert.equal(openaiPlain.status, 403);
    assert.equal(anthropicPlain.status, 403);
    for (const stream of [openaiStream, anthropicStream]) {
      assert.match(stream.error.message, /no-cloud-keys: the answer carries an AWS key/);
      assert.ok(!stream.received.includes(AWS_KEY), 'the key never reached the agent');
    }
    await until(() => committed(tapwire).length === 4, 'the four calls recorded');
    assert.ok(!databaseText(tapwire.dbPath).includes(AWS_KEY), 'the key is in no database file while tapwire runs');
    const exchanges = await tapwire.stop();
    assert.ok(!databaseText(tapwire.dbPath).includes(AWS_KEY), 'the key is in no database file after the stop');

    assert.deepEqual(exchanges.map((e) => [e.provider, e.streamed, e.status, e.http_status, e.policy_rule]), [
      ['openai', 0, 'denied', 403, 'no-cloud-keys'],
      ['openai', 1, 'denied', 200, 'no-cloud-keys'],
      ['anthropic', 0, 'denied', 403, 'no-cloud-keys'],
      ['anthropic', 1, 'denied', 200, 'no-cloud-keys'],
    ]);
    assert.ok(exchanges.every((e) => (e.output_tokens ?? 0) > 0), 'the tokens the upstream generated are still counted');
    const [plain, stream, anthropicPlainRecord, anthropicStreamRecord] = exchanges.map((e) => tapwire.record(e.id));
    assert.deepEqual(JSON.parse(plain!.response!.body!.toString()), {
      error: { message: 'tapwire policy no-cloud-keys: the answer carries an AWS key', type: 'policy_denied', param: null, code: 'policy_denied' },
    });
    assert.equal(plain!.response!.headers['x-tapwire-policy'], 'no-cloud-keys');
    assert.equal((JSON.parse(anthropicPlainRecord!.response!.body!.toString()) as { error: { type: string } }).error.type, 'permission_error');
    // A stream: the events that passed, then the error event that ended it; nothing after.
    const lastOpenai = stream!.events.at(-1)!;
    assert.equal((JSON.parse(lastOpenai.data) as { error: { code: string } }).error.code, 'policy_denied');
    assert.equal(anthropicStreamRecord!.events.at(-1)!.event, 'error');
    for (const record of [stream!, anthropicStreamRecord!]) {
      assert.equal(record.response!.body!.toString(), record.events.map((e) => `${e.event ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`).join(''), 'the stored body is the stream the agent got');
    }

    const mockServer = await startMock({ db: tapwire.dbPath, listen: '127.0.0.1:0', onMiss: 'error', timing: 'instant', ignore: DEFAULT_LLM_IGNORED.map((p) => [p]) });
    t.after(() => mockServer.close());
    assert.deepEqual(await agentView(mockServer.url), live, 'tapwire mock serves what the agent got');
  });
});

describe('policies on A2A', () => {
  let agent: A2aAgent;
  before(async () => {
    agent = await startA2aAgent();
  });
  after(() => agent.close());

  test('a denied send is a JSON-RPC error naming the rule (403 over HTTP+JSON), and is recorded', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  planner:\n    protocol: a2a\n    upstream: ${agent.origin}\n`,
      `rules:\n  - name: no-money-moves\n    when: a2a.text.contains("wire money")\n    action: deny\n    message: payments need a human\n`,
    );
    const client = await v1Client(`${tapwire.url}/planner/`, 'JSONRPC');
    const refused = await failure(client.sendMessage(sendRequest('please wire money to Bob')));
    assert.match(refused.message, /no-money-moves: payments need a human/);
    await client.sendMessage(sendRequest('hello'));
    const rest = await v1Client(`${tapwire.url}/planner/`, 'HTTP+JSON');
    const refusedRest = await failure(rest.sendMessage(sendRequest('wire money, quickly')));
    assert.match(refusedRest.message, /403|no-money-moves/);
    const exchanges = await tapwire.stop();
    const denied = exchanges.filter((e) => e.status === 'denied');
    assert.deepEqual(
      denied.map((e) => [e.method, e.http_status, e.policy_rule, e.policy_action]),
      [
        ['SendMessage', 200, 'no-money-moves', 'deny'],
        ['SendMessage', 403, 'no-money-moves', 'deny'],
      ],
    );
  });
});
