// Approving and denying held calls in `tapwire tui`, as a person does it: the real CLI in a
// real terminal (tmux), pointed at a running sidecar (--sidecar) whose policy holds
// delete_file for approval while an MCP SDK client waits on it. The stats bar counts the held
// calls, `A` lists them with route, tool, rule, reason and arguments, `a` approves and `d`
// denies with a note; the client gets the server's answer or the refusal, and the record
// names the TUI's user (the OS user name) and the note.
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ApprovalVerdict } from '../../policies/decision.js';
import { connectClient, startStreamableServer } from '../support/mcp.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import { Tmux } from '../support/tmux.js';
import { CLI } from '../support/cli.js';


test('tapwire tui: held calls counted in the stats bar, listed with `A`, approved with `a` and denied with `d`, each with a note', async (t) => {
  const deleted: string[] = [];
  const server = await startStreamableServer(() => {
    const mcp = new McpServer({ name: 'tui-approvals', version: '1.0.0' });
    mcp.registerTool('delete_file', { inputSchema: { path: z.string() } }, ({ path }) => {
      deleted.push(path);
      return { content: [{ type: 'text', text: `deleted ${path}` }] };
    });
    return mcp;
  });
  t.after(() => server.close());
  const tapwire = await startWithPolicy(
    t,
    `routes:\n  fs:\n    protocol: mcp\n    upstream: ${server.origin}/mcp\n`,
    'rules:\n  - name: files-need-a-human\n    when: mcp.tool == "delete_file"\n    action: approve\n    message: deleting needs a human\n    approve: { timeout: 60s }\n',
  );
  const connected = await connectClient('streamable', `${tapwire.url}/fs`);
  t.after(() => connected.close());

  const tmux = new Tmux(`node ${CLI} tui --db ${tapwire.dbPath} --sidecar ${tapwire.sidecar.adminUrl}`, { cwd: tapwire.dir });
  t.after(() => tmux.kill());
  await tmux.waitFor(/awaiting approval 0/, 'the stats bar with no held call');

  const first = connected.client.callTool({ name: 'delete_file', arguments: { path: '/tmp/old.log' } });
  await tmux.waitFor(/awaiting approval 1/, 'the held call counted');
  tmux.keys('A');
  let screen = await tmux.waitFor(/delete_file/, 'the held calls view');
  assert.match(screen, /fs tools\/call delete_file {2}rule files-need-a-human: deleting needs a human {2}args \{"path":"\/tmp\/old\.log"\} {2}\(denied in \d+s\)/);
  tmux.keys('a');
  await tmux.waitFor(/a note \(optional\) \| enter approves/, 'the note prompt');
  tmux.type('rotated logs are fine');
  tmux.keys('Enter');
  await tmux.waitFor(/approved delete_file/, 'the approval confirmed');
  assert.deepEqual((await first).content, [{ type: 'text', text: 'deleted /tmp/old.log' }]);

  const second = connected.client.callTool({ name: 'delete_file', arguments: { path: '/etc/hosts' } });
  screen = await tmux.waitFor(/\/etc\/hosts/, 'the second held call listed');
  assert.match(screen, /awaiting approval 1/);
  tmux.keys('d');
  await tmux.waitFor(/enter denies/, 'the note prompt');
  tmux.type('never');
  tmux.keys('Enter');
  await tmux.waitFor(/denied delete_file/, 'the denial confirmed');
  const refused = await second;
  assert.deepEqual(refused.content, [{ type: 'text', text: `tapwire policy files-need-a-human: denied by ${userInfo().username}: never` }]);
  assert.deepEqual(deleted, ['/tmp/old.log']);
  await connected.close();

  const calls = (await tapwire.stop()).filter((e) => e.method === 'tools/call');
  const approvals = calls.map((e) => (JSON.parse(e.details ?? '{}') as { approval: ApprovalVerdict }).approval);
  assert.deepEqual(
    calls.map((e, i) => [e.policy_action, approvals[i]!.by, approvals[i]!.note]),
    [
      ['approved', userInfo().username, 'rotated logs are fine'],
      ['denied', userInfo().username, 'never'],
    ],
  );
});
