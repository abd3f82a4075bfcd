// Policies on a command route (a stdio MCP server served as Streamable HTTP), through the v1
// SDK's StreamableHTTPClientTransport: a denied tool call is a tool error naming the rule and
// never reaches the server, the denied tool is missing from tools/list, and the record has
// the refusal as denied.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { assertStdioPolicies, one } from '../support/mcp.js';
import { startWithPolicy } from '../support/policy-sidecar.js';

const TEST_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));

describe('policies on MCP command routes', () => {
  test('a denied call never reaches the stdio server, tools/list is filtered, and the refusal is recorded', async (t) => {
    const tapwire = await startWithPolicy(
      t,
      ['routes:', '  tiny:', '    protocol: mcp', `    command: ${JSON.stringify(process.execPath)}`, `    args: [${JSON.stringify(TEST_SERVER)}]`].join('\n'),
      [
        'rules:',
        '  - name: no-writes',
        '    when: mcp.method == "tools/call" && mcp.tool == "write_file"',
        '    action: deny',
        '    message: writes need a human',
        '  - { name: no-pings, when: \'mcp.method == "ping"\', action: deny }',
        '',
      ].join('\n'),
    );
    const target = join(tapwire.dir, 'written.txt');
    const client = new Client({ name: 'stdio-policy-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${tapwire.url}/tiny/mcp`)));
    try {
      await assertStdioPolicies(client, target);
    } finally {
      await client.close();
    }
    assert.equal(existsSync(target), false, 'the server never ran the denied tool');
    const exchanges = await tapwire.stop();
    const refused = one(exchanges, { method: 'tools/call', target: 'write_file' });
    assert.deepEqual([refused.status, refused.policy_rule, refused.policy_action, refused.policy_reason, refused.http_status], ['denied', 'no-writes', 'deny', 'writes need a human', 200]);
    assert.equal(one(exchanges, { method: 'ping' }).status, 'denied');
    const echo = one(exchanges, { method: 'tools/call', target: 'echo' });
    assert.equal(echo.status, 'ok');
    assert.equal(refused.session_id, echo.session_id);
    assert.match(String(tapwire.record(one(exchanges, { method: 'tools/list' }).id).response?.body), /write_file/, 'the record keeps what the server answered');
  });
});
