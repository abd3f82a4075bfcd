// An MCP answer a response-phase rule refuses is recorded as the agent received it (issue 16
// bug 7, issue 25): over Streamable HTTP (JSON and SSE answers), legacy HTTP+SSE (its GET
// stream gzipped too), a command route, a federated route (its per-server record too) and
// `tapwire wrap`, real v1 SDK clients get the refusal, the stored answer is that refusal,
// and the server's key is in no database file (-wal and -shm included).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { getExchangeRecord, listExchanges } from '../../store/sqlite/queries.js';
import type { Exchange, ExchangeRecord } from '../../core/exchange.js';
import { CLI } from '../support/cli.js';
import { isRunning } from '../support/mcp-everything.js';
import { bodyJson, connectClient, one, startLegacySseServer, startStreamableServer } from '../support/mcp.js';
import { databaseText } from '../support/database-text.js';
import { startWithPolicy, writePolicyFile } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';
import { until } from '../support/upstream.js';

const AWS_KEY = 'AKIAQWERTYUIOPASDFGH';
const TEST_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));
const POLICY = ['rules:', '  - name: no-cloud-keys', '    phase: response', '    when: response.text.matches("AKIA[0-9A-Z]{16}")', '    action: deny', '    message: the answer carries an AWS key', ''].join('\n');
const REFUSAL = [{ type: 'text', text: 'tapwire policy no-cloud-keys: the answer carries an AWS key' }];

/** A v1 server whose `leak` tool answers with AWS_KEY, which no request carries. */
function leakyServer(): McpServer {
  const mcp = new McpServer({ name: 'leaky', version: '1.0.0' });
  mcp.registerTool('leak', { inputSchema: {} }, () => ({ content: [{ type: 'text', text: `the key is ${AWS_KEY}` }] }));
  return mcp;
}

/** The client got the refusal; the record of the call stores that refusal as its answer, and the key is nowhere. */
function assertRecordedAsReceived(exchanges: Exchange[], record: (id: string) => ExchangeRecord, database: string): void {
  const call = one(exchanges, { method: 'tools/call', target: 'leak' });
  assert.deepEqual([call.status, call.policy_rule], ['denied', 'no-cloud-keys']);
  const stored = bodyJson(record(call.id).response) as { result: { content: unknown; isError: boolean } };
  assert.deepEqual(stored.result.content, REFUSAL);
  assert.equal(stored.result.isError, true);
  assert.ok(!database.includes(AWS_KEY), 'the refused key is in a database file');
}

async function callLeak(client: Client): Promise<void> {
  const refused = await client.callTool({ name: 'leak', arguments: {} }, undefined, { timeout: 5000 });
  assert.equal(refused.isError, true);
  assert.deepEqual(refused.content, REFUSAL);
}

function sidecarFor(t: TestContext, route: string): Promise<TestSidecar> {
  return startWithPolicy(t, `routes:\n  tools:\n${route}`, POLICY);
}

describe('MCP answers refused by a response-phase rule are recorded as the agent received them', () => {
  for (const jsonResponse of [true, false]) {
    test(`Streamable HTTP, answered as ${jsonResponse ? 'JSON' : 'SSE'}`, async (t) => {
      const server = await startStreamableServer(leakyServer, { jsonResponse });
      t.after(() => server.close());
      const tapwire = await sidecarFor(t, `    protocol: mcp\n    upstream: ${server.origin}\n`);
      const connected = await connectClient('streamable', `${tapwire.url}/tools/mcp`);
      await callLeak(connected.client);
      await connected.close(true);
      const exchanges = await tapwire.stop();
      assertRecordedAsReceived(exchanges, (id) => tapwire.record(id), databaseText(tapwire.dbPath));
    });
  }

  test('legacy HTTP+SSE: the refusal goes on the GET stream and is what is stored', async (t) => {
    const server = await startLegacySseServer(leakyServer);
    t.after(() => server.close());
    const tapwire = await sidecarFor(t, `    protocol: mcp\n    upstream: ${server.origin}\n`);
    const connected = await connectClient('sse', `${tapwire.url}/tools/sse`);
    await callLeak(connected.client);
    await connected.close();
    const exchanges = await tapwire.stop();
    assertRecordedAsReceived(exchanges, (id) => tapwire.record(id), databaseText(tapwire.dbPath));
  });

  test('legacy HTTP+SSE with a gzipped GET stream: decoded, reviewed, refused; the session goes on', async (t) => {
    // SSEServerTransport never compresses; a server behind a compressing proxy does, whatever tapwire's accept-encoding says.
    const server = await startLegacySseServer(() => {
      const mcp = leakyServer();
      mcp.registerTool('hello', { inputSchema: {} }, () => ({ content: [{ type: 'text', text: 'hello there' }] }));
      return mcp;
    }, { gzipStream: true });
    t.after(() => server.close());
    const tapwire = await sidecarFor(t, `    protocol: mcp\n    upstream: ${server.origin}\n`);
    const connected = await connectClient('sse', `${tapwire.url}/tools/sse`);
    await callLeak(connected.client);
    const allowed = await connected.client.callTool({ name: 'hello', arguments: {} }, undefined, { timeout: 5000 });
    assert.deepEqual(allowed.content, [{ type: 'text', text: 'hello there' }]);
    await connected.close();
    const exchanges = await tapwire.stop();
    assertRecordedAsReceived(exchanges, (id) => tapwire.record(id), databaseText(tapwire.dbPath));
    assert.equal(one(exchanges, { method: 'tools/call', target: 'hello' }).status, 'ok');
  });

  test('a federated route: the per-server record holds the refusal too', async (t) => {
    const server = await startStreamableServer(leakyServer, { jsonResponse: false });
    t.after(() => server.close());
    const yaml = ['routes:', '  leaky:', '    protocol: mcp', `    upstream: ${server.origin}/mcp`, '  tools:', '    protocol: mcp', '    servers: [leaky]', ''].join('\n');
    const tapwire = await startWithPolicy(t, yaml, POLICY);
    const connected = await connectClient('streamable', `${tapwire.url}/tools/mcp`);
    await callLeak(connected.client);
    await connected.close(true);
    const exchanges = await tapwire.stop();
    const database = databaseText(tapwire.dbPath);
    assertRecordedAsReceived(exchanges.filter((e) => e.route === 'tools'), (id) => tapwire.record(id), database);
    // The call the federated route made to the server (its child) is denied and stores the refusal, with the server's id.
    const child = one(exchanges, { route: 'leaky', method: 'tools/call' });
    assert.ok(child.parent_id, 'the server call has no parent');
    assert.deepEqual([child.status, child.policy_rule, child.error_code], ['denied', 'no-cloud-keys', null]);
    const stored = bodyJson(tapwire.record(child.id).response) as { id: unknown; result: { content: unknown; isError: boolean } };
    assert.deepEqual([stored.id, stored.result.content, stored.result.isError], [Number(child.jsonrpc_id), REFUSAL, true]);
  });

  test('a command route (stdio server behind HTTP)', async (t) => {
    const tapwire = await sidecarFor(t, `    protocol: mcp\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(TEST_SERVER)}]\n`);
    const connected = await connectClient('streamable', `${tapwire.url}/tools/mcp`);
    await callLeak(connected.client);
    await connected.close(true);
    const exchanges = await tapwire.stop();
    assertRecordedAsReceived(exchanges, (id) => tapwire.record(id), databaseText(tapwire.dbPath));
  });

  test('tapwire wrap', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-blocked-wrap-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const configPath = join(dir, 'tapwire.yaml');
    writeFileSync(configPath, `policies: [${JSON.stringify(writePolicyFile(t, POLICY))}]\nroutes:\n  tools: { protocol: mcp, command: ${JSON.stringify(process.execPath)} }\n`);
    const dbPath = join(dir, 'wrap.db');
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'wrap', '--route', 'tools', '--config', configPath, '--db', dbPath, '--', process.execPath, TEST_SERVER], stderr: 'pipe' });
    const client = new Client({ name: 'blocked-wrap-test', version: '1.0.0' });
    await client.connect(transport);
    const pid = transport.pid!;
    try {
      await callLeak(client);
    } finally {
      await client.close();
      await until(() => !isRunning(pid), 'tapwire wrap to exit', 15_000);
    }
    const db = openDatabase(dbPath, { readonly: true });
    try {
      assertRecordedAsReceived(listExchanges(db), (id) => getExchangeRecord(db, id)!, databaseText(dbPath));
    } finally {
      db.close();
    }
  });
});
