// Calls held for a person's approval (`action: approve`), as real clients see them: the MCP
// SDK client's tool call waits while other calls go on, then gets the server's answer once
// approved (through `tapwire approvals`, the CLI) or the policy refusal once denied, timed out
// or stopped; an OpenAI SDK call waits and then gets the upstream's answer; a long hold keeps
// the MCP client alive with progress notifications; `remember:` lets the same call through
// again. What each record keeps: who decided, when, the note, the wait.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Exchange } from '../../core/exchange.js';
import type { ApprovalVerdict } from '../../policies/decision.js';
import type { PendingApproval } from '../../policies/approvals.js';
import { ApprovalsClient } from '../../proxy/approvals-client.js';
import { startAimock, type LLMock } from '../support/aimock.js';
import { upstreamFor } from '../support/upstream.js';
import { CLI } from '../support/cli.js';
import { connectClient, startStreamableServer, type Connected, type McpHttpServer, type StreamableOptions } from '../support/mcp.js';
import { spanOfExchange, startOtlpCollector } from '../support/otlp.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';

const POLICY = (approve: string): string =>
  [
    'rules:',
    '  - name: files-need-a-human',
    '    when: mcp.method == "tools/call" && mcp.tool == "delete_file"',
    '    action: approve',
    '    message: deleting a file needs a human',
    ...approve.split('\n').map((line) => `    ${line}`),
    '  - name: big-model-needs-a-human',
    '    when: llm.model == "gpt-4o"',
    '    action: approve',
    '  - name: deletes-need-a-human',
    '    when: protocol == "http" && request.method == "DELETE"',
    '    action: approve',
    '',
  ].join('\n');

/** An MCP server with echo and delete_file; `deleted` lists what delete_file was really asked to delete. */
async function startFiles(t: TestContext, deleted: string[], options: StreamableOptions = {}): Promise<McpHttpServer> {
  const server = await startStreamableServer(() => {
    const mcp = new McpServer({ name: 'files', version: '1.0.0' });
    mcp.registerTool('echo', { inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
    mcp.registerTool('delete_file', { inputSchema: { path: z.string() } }, ({ path }) => {
      deleted.push(path);
      return { content: [{ type: 'text', text: `deleted ${path}` }] };
    });
    return mcp;
  }, options);
  t.after(() => server.close());
  return server;
}

function startWith(t: TestContext, routes: string, approve = 'approve: { timeout: 30s }', extra = ''): Promise<TestSidecar> {
  return startWithPolicy(t, `${extra}routes:\n${routes}`, POLICY(approve));
}

const mcpRoute = (upstream: string): string => `  files:\n    protocol: mcp\n    upstream: ${upstream}\n`;

/** Waits until `count` calls are held, and returns them. */
async function held(admin: ApprovalsClient, count = 1): Promise<PendingApproval[]> {
  for (let i = 0; i < 400; i++) {
    const list = await admin.list();
    if (list.length >= count) return list;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`fewer than ${count} calls were held`);
}

const runCli = promisify(execFile);

function approvalOf(e: Exchange): ApprovalVerdict {
  return (JSON.parse(e.details ?? '{}') as { approval: ApprovalVerdict }).approval;
}

/** The client, and a close that is not a method. */
function bound(connected: Connected): { client: Connected['client']; close: () => Promise<void> } {
  return { client: connected.client, close: () => connected.close() };
}

function toolCalls(exchanges: Exchange[], tool: string): Exchange[] {
  return exchanges.filter((e) => e.method === 'tools/call' && e.target === tool);
}

/** The files server behind a sidecar holding delete_file for approval, an admin client, and an MCP client through the sidecar. */
async function filesBehindTapwire(
  t: TestContext,
  approve?: string,
  extra?: string,
): Promise<{ deleted: string[]; tapwire: TestSidecar; admin: ApprovalsClient; client: Connected['client']; close: () => Promise<void> }> {
  const deleted: string[] = [];
  const server = await startFiles(t, deleted);
  const tapwire = await startWith(t, mcpRoute(`${server.origin}/mcp`), approve, extra);
  const admin = new ApprovalsClient({ url: tapwire.sidecar.adminUrl, token: null });
  const { client, close } = bound(await connectClient('streamable', `${tapwire.url}/files`));
  t.after(() => close());
  return { deleted, tapwire, admin, client, close };
}

describe('MCP tool calls held for approval', () => {
  test('held while other calls go on, approved with `tapwire approvals approve`: the client gets the server’s answer', async (t) => {
    const { deleted, tapwire, admin, client, close } = await filesBehindTapwire(t);

    const pending = client.callTool({ name: 'delete_file', arguments: { path: '/tmp/report.txt' } });
    const [call] = await held(admin);
    assert.deepEqual([call!.route, call!.protocol, call!.method, call!.target, call!.arguments, call!.rule, call!.reason], [
      'files',
      'mcp',
      'tools/call',
      'delete_file',
      { path: '/tmp/report.txt' },
      'files-need-a-human',
      'deleting a file needs a human',
    ]);
    // Held calls hold up nobody else, and the held one has not reached the server.
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { msg: 'meanwhile' } })).content, [{ type: 'text', text: 'meanwhile' }]);
    assert.deepEqual(deleted, []);

    const listed = await runCli(process.execPath, [CLI, 'approvals', 'list', '--url', tapwire.sidecar.adminUrl]);
    assert.match(listed.stdout, new RegExp(`^${call!.id}  waiting \\d+s, denied in \\d+s\\n  files \\(mcp\\)  tools/call  delete_file\\n  rule files-need-a-human: deleting a file needs a human\\n  arguments \\{"path":"/tmp/report.txt"\\}\\n$`));
    const approved = await runCli(process.execPath, [CLI, 'approvals', 'approve', call!.id, '--url', tapwire.sidecar.adminUrl, '--as', 'alice', '--note', 'cleanup is fine']);
    assert.match(approved.stdout, new RegExp(`^${call!.id}: approved by alice after \\d+s\\n$`));

    assert.deepEqual((await pending).content, [{ type: 'text', text: 'deleted /tmp/report.txt' }]);
    assert.deepEqual(deleted, ['/tmp/report.txt']);
    assert.deepEqual(await admin.list(), []);
    await close();

    const [record] = toolCalls(await tapwire.stop(), 'delete_file');
    assert.deepEqual([approvalOf(record!).id, record!.status, record!.policy_rule, record!.policy_action, record!.policy_reason], [call!.id, 'ok', 'files-need-a-human', 'approved', 'approved by alice: cleanup is fine']);
    const approval = approvalOf(record!);
    assert.deepEqual([approval.decision, approval.by, approval.note, approval.remembered], ['approved', 'alice', 'cleanup is fine', false]);
    assert.ok(approval.at >= call!.held_at && approval.wait_ms === approval.at - call!.held_at);
  });

  test('denied through the admin endpoint: the client gets the refusal as a tool error, the server never sees the call; the span says who denied it', async (t) => {
    const deleted: string[] = [];
    const server = await startFiles(t, deleted);
    const collector = await startOtlpCollector();
    t.after(() => collector.close());
    const tapwire = await startWith(t, mcpRoute(`${server.origin}/mcp`), undefined, `telemetry:\n  endpoint: ${collector.url}\n`);
    const admin = new ApprovalsClient({ url: tapwire.sidecar.adminUrl, token: null });
    const { client, close } = bound(await connectClient('streamable', `${tapwire.url}/files`));
    t.after(() => close());

    const pending = client.callTool({ name: 'delete_file', arguments: { path: '/etc/passwd' } });
    const [call] = await held(admin);
    const verdict = await admin.settle(call!.id, { decision: 'deny', by: 'bob', note: 'not that file' });
    assert.deepEqual([verdict.decision, verdict.by], ['denied', 'bob']);
    const refused = await pending;
    assert.equal(refused.isError, true);
    assert.deepEqual(refused.content, [{ type: 'text', text: 'tapwire policy files-need-a-human: denied by bob: not that file' }]);
    assert.deepEqual(deleted, []);
    // Settled once: a second decision on the same call is refused.
    await assert.rejects(admin.settle(call!.id, { decision: 'approve', by: 'mallory', note: null }), /no call is held for approval under id/);
    await close();

    const [record] = toolCalls(await tapwire.stop(), 'delete_file');
    assert.deepEqual([record!.status, record!.policy_action, record!.policy_reason], ['denied', 'denied', 'denied by bob: not that file']);
    assert.deepEqual([approvalOf(record!).by, approvalOf(record!).note], ['bob', 'not that file']);
    const span = spanOfExchange(collector.spans(), record!.id);
    assert.deepEqual(
      ['tapwire.policy.action', 'tapwire.approval.decision', 'tapwire.approval.decided_by', 'tapwire.approval.wait_ms', 'tapwire.approval.remembered'].map((k) => span.attributes[k]),
      ['denied', 'denied', 'bob', approvalOf(record!).wait_ms, false],
    );
  });

  test('nobody decides within the rule’s timeout: denied, recorded as expired', async (t) => {
    const { deleted, tapwire, client, close } = await filesBehindTapwire(t, 'approve: { timeout: 1s }');

    const refused = await client.callTool({ name: 'delete_file', arguments: { path: '/tmp/x' } });
    assert.deepEqual(refused.content, [{ type: 'text', text: 'tapwire policy files-need-a-human: nobody approved this call within 1s' }]);
    assert.deepEqual(deleted, []);
    await close();
    const [record] = toolCalls(await tapwire.stop(), 'delete_file');
    assert.deepEqual([record!.status, record!.policy_action, approvalOf(record!).by], ['denied', 'expired', null]);
  });

  test('the sidecar stopping denies the calls it holds, recorded as stopped', async (t) => {
    const { deleted, tapwire, admin, client } = await filesBehindTapwire(t);

    const pending = client.callTool({ name: 'delete_file', arguments: { path: '/tmp/y' } });
    await held(admin);
    const exchanges = await tapwire.stop();
    assert.deepEqual((await pending).content, [{ type: 'text', text: 'tapwire policy files-need-a-human: tapwire stopped while this call waited for approval' }]);
    assert.deepEqual(deleted, []);
    const [record] = toolCalls(exchanges, 'delete_file');
    assert.deepEqual([record!.status, record!.policy_action], ['denied', 'stopped']);
  });

  test('a long hold: the client that sent a progressToken gets progress notifications, so its request timeout never fires', async (t) => {
    const { tapwire, admin, client, close } = await filesBehindTapwire(t, 'approve: { timeout: 30s }', 'approval_keepalive_ms: 100\n');

    const progress: { progress: number; message?: string }[] = [];
    let enough: () => void;
    const fiveSeen = new Promise<void>((resolve) => (enough = resolve));
    // A 500 ms request timeout, reset by each progress notification: without them, the client would give up.
    const pending = client.callTool({ name: 'delete_file', arguments: { path: '/tmp/z' } }, undefined, {
      timeout: 500,
      resetTimeoutOnProgress: true,
      onprogress: (p) => {
        progress.push({ progress: p.progress, ...(p.message ? { message: p.message } : {}) });
        if (progress.length === 8) enough();
      },
    });
    const [call] = await held(admin);
    // Eight keep-alives 100 ms apart outlast the 500 ms timeout.
    await fiveSeen;
    await admin.settle(call!.id, { decision: 'approve', by: 'carol', note: null });
    assert.deepEqual((await pending).content, [{ type: 'text', text: 'deleted /tmp/z' }]);
    assert.deepEqual(
      progress.slice(0, 8),
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => ({ progress: n, message: 'waiting for a person to approve this call (tapwire rule files-need-a-human)' })),
    );
    await close();
    const [record] = toolCalls(await tapwire.stop(), 'delete_file');
    assert.deepEqual([record!.status, record!.policy_action, approvalOf(record!).by], ['ok', 'approved', 'carol']);
  });

  test('a long hold without a progressToken: SSE comments keep the answer open, and the server’s JSON answer follows on it as an event', async (t) => {
    const deleted: string[] = [];
    const server = await startFiles(t, deleted, { jsonResponse: true });
    const tapwire = await startWith(t, mcpRoute(`${server.origin}/mcp`), 'approve: { timeout: 30s }', 'approval_keepalive_ms: 100\n');
    const admin = new ApprovalsClient({ url: tapwire.sidecar.adminUrl, token: null });
    const connected = await connectClient('streamable', `${tapwire.url}/files`);
    t.after(() => connected.close());
    // The session the SDK client opened, used by a raw POST that sends no progressToken.
    const response = await fetch(`${tapwire.url}/files`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': connected.sessionId()!, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'raw-1', method: 'tools/call', params: { name: 'delete_file', arguments: { path: '/tmp/q' } } }),
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/^: waiting/gm) ?? []).length < 3) text += decoder.decode((await reader.read()).value, { stream: true });
    const [call] = await held(admin);
    await admin.settle(call!.id, { decision: 'approve', by: 'frank', note: null });
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
    const events = text.split('\n\n').filter((e) => e !== '');
    assert.ok(events.slice(0, 3).every((e) => e === ': waiting for a person to approve this call (tapwire rule files-need-a-human)'), text);
    const answer = events.at(-1)!;
    assert.match(answer, /^event: message\ndata: /);
    assert.deepEqual(JSON.parse(answer.slice('event: message\ndata: '.length)), { jsonrpc: '2.0', id: 'raw-1', result: { content: [{ type: 'text', text: 'deleted /tmp/q' }] } });
    assert.deepEqual(deleted, ['/tmp/q']);
  });

  test('remember: the same tool with the same arguments passes again without asking; other arguments are held', async (t) => {
    const { deleted, tapwire, admin, client, close } = await filesBehindTapwire(t, 'approve: { timeout: 30s, remember: 10m }');

    const first = client.callTool({ name: 'delete_file', arguments: { path: '/tmp/a' } });
    const [call] = await held(admin);
    await admin.settle(call!.id, { decision: 'approve', by: 'dave', note: 'temp files are fine' });
    await first;
    // The same call again: not held.
    assert.deepEqual((await client.callTool({ name: 'delete_file', arguments: { path: '/tmp/a' } })).content, [{ type: 'text', text: 'deleted /tmp/a' }]);
    // Other arguments: held again, and denied here.
    const other = client.callTool({ name: 'delete_file', arguments: { path: '/tmp/b' } });
    const [again] = await held(admin);
    assert.deepEqual(again!.arguments, { path: '/tmp/b' });
    await admin.settle(again!.id, { decision: 'deny', by: 'dave', note: null });
    assert.equal((await other).isError, true);
    assert.deepEqual(deleted, ['/tmp/a', '/tmp/a']);
    await close();

    const records = toolCalls(await tapwire.stop(), 'delete_file');
    assert.deepEqual(
      records.map((e) => [e.policy_action, approvalOf(e).by, approvalOf(e).remembered, e.policy_reason]),
      [
        ['approved', 'dave', false, 'approved by dave: temp files are fine'],
        ['approved', 'dave', true, 'approved earlier by dave (remembered by rule files-need-a-human)'],
        ['denied', 'dave', false, 'denied by dave'],
      ],
    );
  });
});

describe('LLM calls held for approval', () => {
  test('an OpenAI SDK call waits, is approved, and gets the upstream’s answer; nothing reached the upstream before', async (t) => {
    const KEY = 'sk-test-approvals-key-0001';
    const mock: LLMock = await startAimock([KEY], (m) => {
      m.onMessage(/^may I$/, { content: 'Approved answer.', usage: { prompt_tokens: 3, completion_tokens: 2 } });
    });
    t.after(() => mock.stop());
    const tapwire = await startWith(t, `  openai:\n    protocol: llm\n    upstream: ${mock.url}\n`);
    const admin = new ApprovalsClient({ url: tapwire.sidecar.adminUrl, token: null });
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });

    const pending = openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'may I' }] });
    const [call] = await held(admin);
    assert.deepEqual([call!.protocol, call!.target, call!.rule], ['llm', 'gpt-4o', 'big-model-needs-a-human']);
    assert.deepEqual((call!.arguments as { messages: unknown }).messages, [{ role: 'user', content: 'may I' }]);
    assert.equal(mock.getRequests().length, 0);
    await admin.settle(call!.id, { decision: 'approve', by: 'erin', note: null });
    assert.equal((await pending).choices[0]?.message.content, 'Approved answer.');
    assert.equal(mock.getRequests().length, 1);

    const [record] = await tapwire.stop();
    assert.deepEqual([record!.model, record!.status, record!.policy_action, approvalOf(record!).by], ['gpt-4o', 'ok', 'approved', 'erin']);
    assert.ok(!JSON.stringify(approvalOf(record!)).includes(KEY));
  });
});

describe('plain HTTP calls held for approval', () => {
  test('an agent that gives up while its call is held is recorded as abandoned; an approved call reaches the API', async (t) => {
    const api = await upstreamFor(t, (req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ deleted: req.url })));
    const tapwire = await startWith(t, `  api:\n    protocol: http\n    upstream: ${api.url}\n`);
    const admin = new ApprovalsClient({ url: tapwire.sidecar.adminUrl, token: null });

    const giveUp = new AbortController();
    const abandoned = fetch(`${tapwire.url}/api/items/1`, { method: 'DELETE', signal: giveUp.signal }).catch((err: unknown) => err);
    const [first] = await held(admin);
    assert.deepEqual([first!.protocol, first!.method, first!.rule], ['http', 'DELETE /items/1', 'deletes-need-a-human']);
    giveUp.abort();
    await abandoned;
    for (let i = 0; i < 200 && (await admin.list()).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(await admin.list(), []);

    const approvedCall = fetch(`${tapwire.url}/api/items/2`, { method: 'DELETE' });
    const [second] = await held(admin);
    await admin.settle(second!.id, { decision: 'approve', by: 'gina', note: null });
    const answer = await approvedCall;
    assert.deepEqual([answer.status, await answer.json()], [200, { deleted: '/items/2' }]);
    assert.deepEqual(api.requests.map((r) => `${r.method} ${r.url}`), ['DELETE /items/2']);

    const records = await tapwire.stop();
    assert.deepEqual(
      records.map((e) => [e.method, e.status, e.policy_action, approvalOf(e).by]),
      [
        ['DELETE /items/1', 'denied', 'abandoned', null],
        ['DELETE /items/2', 'ok', 'approved', 'gina'],
      ],
    );
  });
});
