// Transform rules on the live flows, through real SDK clients and real upstreams: an OpenAI
// SDK call whose model is pinned, max_tokens capped, metadata added and headers set and
// removed, as aimock's journal shows the upstream received it (a stream keeps the usage
// request tapwire adds; a gzip body goes out decoded); an MCP SDK server running a tool with the arguments and headers a
// rule changed; an A2A SDK agent answering the message a rule rewrote. The record keeps what the agent sent and lists what changed, with a
// credential set by a rule masked; `policy test --db` lists the same changes. A rule that
// cannot be applied refuses the call (on_error: skip passes it on unchanged), a
// monitor-mode file's changes are recorded, not made, and a command route (which passes
// messages on as they came) refuses a message a rule would change.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import OpenAI from 'openai';
import { z } from 'zod';
import { sendRequest, startA2aAgent, v1Client } from '../support/a2a.js';
import { collect, startAimock, withJournal, type LLMock } from '../support/aimock.js';
import { bodyJson, connectClient, one, startStreamableServer, type McpHttpServer } from '../support/mcp.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { policyTest } from '../../cli/commands/policy-test.js';

const KEY = 'sk-transform-test-2718';

/** A sidecar with `routes` (YAML lines) and one policy file per entry of `policies`; stopped when `t` ends. */
async function startWithPolicies(t: TestContext, routes: string, policies: string[], more = ''): Promise<{ tapwire: TestSidecar; files: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-transform-'));
  const files = policies.map((text, i) => {
    const file = join(dir, `policy-${i}.yaml`);
    writeFileSync(file, text);
    return file;
  });
  const tapwire = await startTestSidecar(`policies: ${JSON.stringify(files)}\n${more}routes:\n${routes}`, process.env, { dir });
  t.after(async () => {
    await tapwire.stop();
    tapwire.cleanup();
  });
  return { tapwire, files };
}

const PIN_AND_CAP = `rules:
  - name: cap-tokens
    when: llm.max_tokens > 1024
    action: transform
    set:
      body.max_tokens: "1024"
  - name: pin-model
    when: protocol == "llm"
    action: transform
    message: every agent uses the small model
    set:
      body.model: "'gpt-4o-mini'"
      body.metadata.team: agent.labels.team
    set_headers:
      x-team: agent.labels.team
      x-upstream-token: "'tok-' + agent.labels.team + '-31415'"
    remove_headers: [x-debug]
`;

interface Change {
  rule: string;
  set?: string;
  set_header?: string;
  remove_header?: string;
  from?: unknown;
  to?: unknown;
  would?: boolean;
}

describe('transforms on LLM calls', () => {
  let mock: LLMock;
  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^hello$/, { content: 'hi there', usage: { prompt_tokens: 8, completion_tokens: 5 } });
    });
  });
  after(() => mock.stop());
  const routes = (): string => `  openai:\n    protocol: llm\n    upstream: ${mock.url}\n    provider: openai\n`;

  test('the upstream gets the model pinned, max_tokens capped, metadata added and headers changed; the record keeps what the agent sent', async (t) => {
    const { tapwire, files } = await startWithPolicies(t, routes(), [PIN_AND_CAP], 'agent:\n  name: billing-agent\n  labels:\n    team: payments\n');
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0, defaultHeaders: { 'x-debug': 'verbose' } });
    const { result, upstream } = await withJournal(mock, () =>
      openai.chat.completions.create({ model: 'gpt-5', max_tokens: 4096, messages: [{ role: 'user', content: 'hello' }] }),
    );
    assert.equal(result.choices[0]?.message.content, 'hi there');
    assert.equal(upstream.length, 1);
    const sent = upstream[0]!.body as Record<string, unknown>;
    assert.equal(sent.model, 'gpt-4o-mini');
    assert.equal(sent.max_tokens, 1024);
    assert.deepEqual(sent.metadata, { team: 'payments' });
    assert.deepEqual(sent.messages, [{ role: 'user', content: 'hello' }], 'what no rule names is forwarded as sent');
    assert.equal(upstream[0]!.headers['x-team'], 'payments');
    assert.equal(upstream[0]!.headers['x-debug'], undefined);

    // A stream: the rewrite goes on top of the usage request tapwire adds to OpenAI streams.
    const streamed = await withJournal(mock, async () =>
      collect(await openai.chat.completions.create({ model: 'gpt-5', stream: true, messages: [{ role: 'user', content: 'hello' }] })),
    );
    assert.equal(streamed.result.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'hi there');
    const streamedBody = streamed.upstream[0]!.body as Record<string, unknown>;
    assert.equal(streamedBody.model, 'gpt-4o-mini');
    assert.equal(streamedBody.max_tokens, undefined, 'cap-tokens matched nothing: no max_tokens was sent');
    assert.deepEqual(streamedBody.stream_options, { include_usage: true });

    const exchanges = await tapwire.stop();
    assert.equal(exchanges.length, 2);
    const [plain, stream] = exchanges.map((e) => tapwire.record(e.id));
    assert.deepEqual([plain!.exchange.policy_rule, plain!.exchange.policy_action], ['cap-tokens', 'transform']);
    assert.deepEqual([stream!.exchange.policy_rule, stream!.exchange.policy_action, stream!.exchange.policy_reason], ['pin-model', 'transform', 'every agent uses the small model']);
    const asSent = JSON.parse(plain!.request!.body!.toString()) as Record<string, unknown>;
    assert.deepEqual([asSent.model, asSent.max_tokens, asSent.metadata], ['gpt-5', 4096, undefined], 'the record keeps what the agent sent');
    assert.equal(plain!.request!.headers['x-debug'], 'verbose');
    assert.equal(plain!.exchange.model, 'gpt-5');
    assert.equal(plain!.exchange.response_model, 'gpt-4o-mini');
    const changes = JSON.parse(plain!.exchange.transform!) as Change[];
    assert.deepEqual(changes, [
      { rule: 'cap-tokens', set: 'body.max_tokens', from: 4096, to: 1024 },
      { rule: 'pin-model', set_header: 'x-team', to: 'payments' },
      { rule: 'pin-model', set_header: 'x-upstream-token', to: '[redacted]' },
      { rule: 'pin-model', remove_header: 'x-debug' },
      { rule: 'pin-model', set: 'body.model', from: 'gpt-5', to: 'gpt-4o-mini' },
      { rule: 'pin-model', set: 'body.metadata.team', to: 'payments' },
    ]);
    assert.ok(!readFileSync(tapwire.dbPath).includes('tok-payments-31415'), 'a credential a rule sets is never stored');

    // policy test --db: what each transformation would have changed, with example ids.
    const out = new PassThrough();
    const code = await policyTest(files, { db: tapwire.dbPath, agentLabels: { team: 'payments' } }, out, new PassThrough());
    const report = String(out.read());
    assert.equal(code, 0);
    assert.match(report, /cap-tokens: would have transformed 1 \(e\.g\. /);
    assert.match(report, /pin-model: would have transformed 2 \(e\.g\. /);
    assert.ok(report.includes(`${plain!.exchange.id}: body.max_tokens: 4096 → 1024`), report);
    assert.ok(report.includes(`${stream!.exchange.id}: header x-team: payments; header x-upstream-token: [redacted]; header x-debug removed; body.model: "gpt-5" → "gpt-4o-mini"; body.metadata.team: (none) → "payments"`), report);
  });

  test('a gzip-compressed request is forwarded changed and decoded', async (t) => {
    const { tapwire } = await startWithPolicies(t, routes(), [PIN_AND_CAP], 'agent:\n  labels:\n    team: payments\n');
    const body = gzipSync(JSON.stringify({ model: 'gpt-5', max_tokens: 2048, messages: [{ role: 'user', content: 'hello' }] }));
    const { result, upstream } = await withJournal(mock, async () => {
      const response = await fetch(`${tapwire.url}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${KEY}` },
        body,
      });
      return { status: response.status, json: (await response.json()) as { choices: { message: { content: string } }[] } };
    });
    assert.equal(result.status, 200);
    assert.equal(result.json.choices[0]?.message.content, 'hi there');
    const sent = upstream[0]!;
    assert.deepEqual([(sent.body as { model: string }).model, (sent.body as { max_tokens: number }).max_tokens], ['gpt-4o-mini', 1024]);
    // aimock read the JSON whole: the body went out decoded, under its own length.
    assert.equal(sent.headers['content-encoding'], undefined);
  });

  test('a rule that cannot be applied refuses the call (fail closed); with on_error: skip it is recorded and the call goes on unchanged', async (t) => {
    const strict = `rules:\n  - name: tag-messages\n    when: protocol == "llm"\n    action: transform\n    set:\n      body.messages.first: "'x'"\n`;
    const { tapwire } = await startWithPolicies(t, routes(), [strict]);
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const { result: refused, upstream } = await withJournal(mock, () =>
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    assert.ok(refused instanceof OpenAI.PermissionDeniedError);
    assert.match(refused.message, /tag-messages could not transform this call: body\.messages\.first: messages is a list of 1, and "first" is not an index in it/);
    assert.equal(upstream.length, 0, 'the call never reached the upstream');
    const [denied] = await tapwire.stop();
    assert.deepEqual([denied!.status, denied!.policy_rule, denied!.policy_action, denied!.transform], ['denied', 'tag-messages', 'deny', null]);

    const { tapwire: lenient } = await startWithPolicies(t, routes(), [`on_error: skip\n${strict}`]);
    const passed = await withJournal(mock, () =>
      new OpenAI({ baseURL: `${lenient.url}/openai/v1`, apiKey: KEY, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
    );
    assert.equal(passed.result.choices[0]?.message.content, 'hi there');
    assert.deepEqual((passed.upstream[0]!.body as { messages: unknown }).messages, [{ role: 'user', content: 'hello' }]);
    const [skipped] = await lenient.stop();
    assert.deepEqual([skipped!.status, skipped!.policy_rule, skipped!.policy_action, skipped!.transform], ['ok', 'tag-messages', 'error', null]);
  });

  test('a monitor-mode file records what it would have changed and forwards the call as sent', async (t) => {
    const { tapwire } = await startWithPolicies(t, routes(), [`mode: monitor\n${PIN_AND_CAP}`], 'agent:\n  labels:\n    team: payments\n');
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    const { upstream } = await withJournal(mock, () => openai.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: 'hello' }] }));
    assert.equal((upstream[0]!.body as { model: string }).model, 'gpt-5');
    assert.equal(upstream[0]!.headers['x-team'], undefined);
    const [e] = await tapwire.stop();
    assert.deepEqual([e!.policy_rule, e!.policy_action], ['pin-model', 'would_transform']);
    const changes = JSON.parse(e!.transform!) as Change[];
    assert.ok(changes.length === 4 && changes.every((c) => c.would === true && c.rule === 'pin-model'), e!.transform!);
  });
});

describe('transforms on MCP calls', () => {
  let server: McpHttpServer;
  before(async () => {
    server = await startStreamableServer(() => {
      const mcp = new McpServer({ name: 'transform-fixture', version: '1.0.0' });
      mcp.registerTool('write_file', { description: 'Writes a file', inputSchema: { path: z.string(), text: z.string() } }, ({ path, text }) => ({
        content: [{ type: 'text', text: `wrote ${text.length} bytes to ${path}` }],
      }));
      return mcp;
    });
  });
  after(() => server.close());

  test('the MCP server runs the tool with the arguments a rule changed, and gets the headers it set', async (t) => {
    const policy = `rules:
  - name: sandbox-writes
    when: mcp.tool == "write_file" && !mcp.arguments.path.startsWith("/sandbox/")
    action: transform
    set:
      body.params.arguments.path: "'/sandbox' + mcp.arguments.path"
    set_headers:
      x-tenant: "'acme'"
`;
    const { tapwire } = await startWithPolicies(t, `  fs:\n    protocol: mcp\n    upstream: ${server.origin}\n`, [policy]);
    const connected = await connectClient('streamable', `${tapwire.url}/fs/mcp`);
    const seenBefore = server.seen.length;
    const result = await connected.client.callTool({ name: 'write_file', arguments: { path: '/etc/hosts', text: 'hello' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'wrote 5 bytes to /sandbox/etc/hosts' }]);
    const already = await connected.client.callTool({ name: 'write_file', arguments: { path: '/sandbox/a', text: 'hi' } });
    assert.deepEqual(already.content, [{ type: 'text', text: 'wrote 2 bytes to /sandbox/a' }]);
    await connected.close();
    const posts = server.seen.slice(seenBefore).filter((r) => r.method === 'POST');
    assert.equal(posts[0]!.headers['x-tenant'], 'acme');
    assert.equal(posts[1]!.headers['x-tenant'], undefined, 'the rule did not match the second call');

    const exchanges = await tapwire.stop();
    const changed = one(exchanges, { method: 'tools/call', transform: JSON.stringify([
      { rule: 'sandbox-writes', set_header: 'x-tenant', to: 'acme' },
      { rule: 'sandbox-writes', set: 'body.params.arguments.path', from: '/etc/hosts', to: '/sandbox/etc/hosts' },
    ]) });
    assert.deepEqual([changed.policy_rule, changed.policy_action, changed.status], ['sandbox-writes', 'transform', 'ok']);
    const asSent = bodyJson(tapwire.record(changed.id).request) as { params: { arguments: unknown } };
    assert.deepEqual(asSent.params.arguments, { path: '/etc/hosts', text: 'hello' }, 'the record keeps what the agent sent');
    assert.equal(exchanges.filter((e) => e.method === 'tools/call' && e.transform === null).length, 1);
  });
});

describe('transforms on MCP command routes', () => {
  test('a route that passes messages on as they came refuses a message a rule would change, rather than pass it unchanged', async (t) => {
    const policy = `rules:\n  - name: shout\n    when: mcp.tool == "echo" && mcp.arguments.text == "change me"\n    action: transform\n    set:\n      body.params.arguments.text: "'CHANGED'"\n`;
    const server = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));
    const { tapwire } = await startWithPolicies(t, `  tiny:\n    protocol: mcp\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(server)}]\n`, [policy]);
    const client = new Client({ name: 'transform-stdio-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${tapwire.url}/tiny/mcp`)));
    try {
      const refused = await client.callTool({ name: 'echo', arguments: { text: 'change me' } });
      assert.equal(refused.isError, true);
      assert.match(JSON.stringify(refused.content), /tapwire policy shout: rule shout would change this message, and tapwire passes messages on this route as they came/);
      const untouched = await client.callTool({ name: 'echo', arguments: { text: 'leave me' } });
      assert.deepEqual(untouched.content, [{ type: 'text', text: 'leave me' }]);
    } finally {
      await client.close();
    }
    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.filter((e) => e.method === 'tools/call').map((e) => [e.status, e.policy_rule]), [['denied', 'shout'], ['ok', null]]);
  });
});

describe('transforms on A2A calls', () => {
  test('the A2A agent answers the message a rule rewrote; the record keeps what the client sent', async (t) => {
    const agent = await startA2aAgent();
    t.after(() => agent.close());
    const policy = `rules:\n  - name: scrub-codename\n    when: a2a.method == "SendMessage" && a2a.text.contains("Project X")\n    action: transform\n    set:\n      body.params.message.parts.0.text: "a2a.text.replace('Project X', 'the project')"\n`;
    const { tapwire } = await startWithPolicies(t, `  planner:\n    protocol: a2a\n    upstream: ${agent.origin}\n`, [policy]);
    const client = await v1Client(`${tapwire.url}/planner/`, 'JSONRPC');
    const answer = await client.sendMessage(sendRequest('msg about Project X'));
    assert.match(JSON.stringify(answer), /pong msg about the project/);
    assert.doesNotMatch(JSON.stringify(answer), /Project X/);
    const exchanges = await tapwire.stop();
    const sent = one(exchanges, { method: 'SendMessage' });
    assert.deepEqual([sent.policy_rule, sent.policy_action], ['scrub-codename', 'transform']);
    assert.deepEqual(JSON.parse(sent.transform!), [{ rule: 'scrub-codename', set: 'body.params.message.parts.0.text', from: 'msg about Project X', to: 'msg about the project' }]);
    assert.match(tapwire.record(sent.id).request!.body!.toString(), /msg about Project X/, 'the record keeps what the client sent');
  });
});
