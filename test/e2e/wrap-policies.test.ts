// Policies on `tapwire wrap`, through the v1 SDK's StdioClientTransport (and the v2 one in
// its 2026-07-28 mode, for the shape of the refusal): the config's rules
// refuse a tool call (a tool error naming the rule, and the server never runs it), remove
// the denied tool from tools/list, and audit what they let through; the record shows each
// decision, and keeps the server's own list answer.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { openDatabase } from '../../store/sqlite/db.js';
import { getExchangeRecord, listExchanges } from '../../store/sqlite/queries.js';
import { isRunning } from '../support/mcp-everything.js';
import { assertStdioPolicies, one } from '../support/mcp.js';
import { until } from '../support/upstream.js';
import { CLI } from '../support/cli.js';

const TEST_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));
const V2_TEST_SERVER = fileURLToPath(new URL('../support/mcp-v2-stdio-server.js', import.meta.url));

const POLICY = [
  'rules:',
  '  - name: no-writes',
  '    when: mcp.method == "tools/call" && mcp.tool == "write_file"',
  '    action: deny',
  '    message: writes need a human',
  '  - { name: no-pings, when: \'mcp.method == "ping"\', action: deny }',
  '  - { name: echo-watch, when: \'mcp.tool == "echo"\', action: audit }',
  '',
].join('\n');

describe('tapwire wrap with policies', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-wrap-policies-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a denied call is a tool error naming the rule and never reaches the server; tools/list is filtered; the record has the decisions', async () => {
    const policyPath = join(dir, 'policy.yaml');
    writeFileSync(policyPath, POLICY);
    const configPath = join(dir, 'tapwire.yaml');
    writeFileSync(configPath, `agent: { name: wrapped }\npolicies: [${JSON.stringify(policyPath)}]\nroutes:\n  files: { protocol: mcp, command: ${JSON.stringify(process.execPath)} }\n`);
    const dbPath = join(dir, 'policies.db');
    const target = join(dir, 'written.txt');

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'wrap', '--route', 'files', '--config', configPath, '--db', dbPath, '--', process.execPath, TEST_SERVER],
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'wrap-policy-test', version: '1.0.0' });
    await client.connect(transport);
    const pid = transport.pid!;
    try {
      await assertStdioPolicies(client, target);
    } finally {
      await client.close();
      await until(() => !isRunning(pid), 'tapwire wrap to exit', 15_000);
    }
    assert.equal(existsSync(target), false, 'the server never ran the denied tool');
    assert.doesNotMatch(stderr, /write_file/);

    const db = openDatabase(dbPath, { readonly: true });
    try {
      const exchanges = listExchanges(db);
      const refused = one(exchanges, { method: 'tools/call', target: 'write_file' });
      assert.deepEqual([refused.status, refused.policy_rule, refused.policy_action, refused.policy_reason, refused.agent, refused.route], ['denied', 'no-writes', 'deny', 'writes need a human', 'wrapped', 'files']);
      const refusedRecord = getExchangeRecord(db, refused.id)!;
      assert.match(String(refusedRecord.response?.body), /"isError":true/);
      assert.equal(one(exchanges, { method: 'ping' }).policy_rule, 'no-pings');
      const echo = one(exchanges, { method: 'tools/call', target: 'echo' });
      assert.deepEqual([echo.status, echo.policy_rule, echo.policy_action], ['ok', 'echo-watch', 'audit']);
      // The record keeps what the server answered; only the client's copy was filtered.
      const list = one(exchanges, { method: 'tools/list' });
      assert.match(String(getExchangeRecord(db, list.id)?.response?.body), /write_file/);
      assert.equal(refused.session_id, echo.session_id);
    } finally {
      db.close();
    }
  });

  test('a 2026-07-28 client (v2 SDK, pinned): the refusal is a tool error it accepts (with resultType) and its session goes on', async () => {
    // The issue was found with the Python SDK 2.3 client, which cannot be installed here (no
    // PyPI); the v2 Node client validates 2026-07-28 results the same way.
    const policyPath = join(dir, 'modern-policy.yaml');
    writeFileSync(policyPath, POLICY);
    const configPath = join(dir, 'modern.yaml');
    writeFileSync(configPath, `policies: [${JSON.stringify(policyPath)}]\nroutes:\n  files: { protocol: mcp, command: ${JSON.stringify(process.execPath)} }\n`);
    const transport = new V2StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'wrap', '--route', 'files', '--config', configPath, '--db', join(dir, 'modern.db'), '--', process.execPath, V2_TEST_SERVER],
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new V2Client({ name: 'wrap-modern-test', version: '2.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(transport);
    const pid = transport.pid!;
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name), ['echo']);
      const refused = await client.callTool({ name: 'write_file', arguments: { path: join(dir, 'modern.txt') } });
      assert.deepEqual(refused, { content: [{ type: 'text', text: 'tapwire policy no-writes: writes need a human' }], isError: true });
      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'still works' } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: 'still works' }]);
    } finally {
      await client.close();
      await until(() => !isRunning(pid), 'tapwire wrap to exit', 15_000);
    }
    assert.doesNotMatch(stderr, /write_file/);
  });

  test('a JSON-RPC batch line cannot slip a denied call past the rules: its requests are answered, the server never sees it', async () => {
    const policyPath = join(dir, 'batch-policy.yaml');
    writeFileSync(policyPath, POLICY);
    const configPath = join(dir, 'batch.yaml');
    writeFileSync(configPath, `policies: [${JSON.stringify(policyPath)}]\nroutes:\n  files: { protocol: mcp, command: ${JSON.stringify(process.execPath)} }\n`);
    const target = join(dir, 'batch-written.txt');
    const child = spawn(process.execPath, [CLI, 'wrap', '--route', 'files', '--config', configPath, '--db', join(dir, 'batch.db'), '--', process.execPath, TEST_SERVER], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    const send = (value: unknown): boolean => child.stdin.write(`${JSON.stringify(value)}\n`);
    send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'write_file', arguments: { path: target, text: 'x' } } },
    ]);
    await until(() => stdout.includes('"id":2'), 'the answers to the batch', 15_000);
    child.stdin.end();
    await exited;
    const answers = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { id?: number; error?: { code: number } });
    assert.deepEqual(answers.filter((a) => a.id === 1 || a.id === 2).map((a) => [a.id, a.error?.code]), [[1, -32600], [2, -32600]]);
    assert.equal(existsSync(target), false, 'the server never ran the batched call');
    assert.doesNotMatch(stderr, /write_file/);
  });
});
