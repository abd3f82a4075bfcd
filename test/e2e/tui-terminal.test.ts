// `tapwire tui` end to end, as a person sees it: the real CLI in a real terminal (tmux, 160x40)
// over a database a running sidecar fills with real traffic (the OpenAI SDK against aimock,
// the MCP SDK against an SDK server, one tool call denied by a policy). Each test types keys
// and waits for the screen to show the result: the list, filters narrowing it (CEL and
// shorthand, and an invalid one), detail tabs, copy and curl export, JSONL export and replay
// (with --config), follow mode picking up a call made while the TUI is open, and the message
// for a database it cannot open.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import OpenAI from 'openai';
import { z } from 'zod';
import { collect, startAimock, type LLMock } from '../support/aimock.js';
import { connectClient, startStreamableServer, type McpHttpServer } from '../support/mcp.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { Tmux } from '../support/tmux.js';
import { CLI } from '../support/cli.js';

const KEY = 'sk-tui-test-8080';
const PROMPT = /enter applies/;

/** Opens the filter prompt, waits for it, replaces its text with `text` and applies it. */
async function filter(tmux: Tmux, text: string): Promise<void> {
  tmux.keys('/');
  await tmux.waitFor(PROMPT, 'the filter prompt');
  tmux.keys('C-u');
  tmux.type(text);
  tmux.keys('Enter');
}

/** Waits until the sidecar has written `count` exchanges (its writer flushes every 10 ms). */
async function recorded(tapwire: TestSidecar, count: number): Promise<void> {
  const { openDatabase } = await import('../../store/sqlite/db.js');
  const deadline = Date.now() + 10_000;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    const db = openDatabase(tapwire.dbPath, { readonly: true });
    seen = db.prepare("SELECT protocol || ' ' || COALESCE(method, '') || ' ' || COALESCE(target, '') FROM exchanges ORDER BY id").pluck().all() as string[];
    db.close();
    if (seen.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the sidecar recorded ${seen.length} exchanges, not ${count}: ${seen.join('; ')}`);
}

describe('tapwire tui in a terminal', () => {
  let mock: LLMock;
  let server: McpHttpServer;
  let tapwire: TestSidecar;
  let openai: OpenAI;
  let workDir: string;
  let total = 0;

  before(async () => {
    mock = await startAimock([KEY], (m) => {
      m.onMessage(/^plan a trip$/, { content: 'Lisbon, three days.', usage: { prompt_tokens: 120, completion_tokens: 9 } });
      m.onMessage(/^stream a poem$/, { content: 'Roses are red, tapwire records.', usage: { prompt_tokens: 80, completion_tokens: 12 } });
      m.onMessage(/^while you watch$/, { content: 'Seen live.', usage: { prompt_tokens: 7, completion_tokens: 3 } });
    });
    server = await startStreamableServer(() => {
      const mcp = new McpServer({ name: 'tui-fixture', version: '1.0.0' });
      mcp.registerTool('echo', { description: 'Echoes', inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
      mcp.registerTool('delete_file', { description: 'Deletes a file', inputSchema: { path: z.string() } }, () => ({ content: [{ type: 'text', text: 'deleted' }] }));
      return mcp;
    });
    workDir = mkdtempSync(join(tmpdir(), 'tapwire-tui-e2e-'));
    const policy = join(workDir, 'policy.yaml');
    writeFileSync(policy, 'rules:\n  - name: no-destructive-tools\n    when: mcp.method == "tools/call" && mcp.tool == "delete_file"\n    action: deny\n    message: destructive tools need a human\n');
    tapwire = await startTestSidecar(
      `policies: [${JSON.stringify(policy)}]\nroutes:\n  openai:\n    protocol: llm\n    upstream: ${mock.url}\n  fs:\n    protocol: mcp\n    upstream: ${server.origin}\n`,
      process.env,
      { dir: workDir },
    );
    openai = new OpenAI({ apiKey: KEY, baseURL: `${tapwire.url}/openai/v1` });
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'plan a trip' }] });
    await collect(await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'stream a poem' }] }));
    const connected = await connectClient('streamable', `${tapwire.url}/fs/mcp`);
    await connected.client.listTools();
    await connected.client.callTool({ name: 'echo', arguments: { msg: 'hello from the agent' } });
    const denied = await connected.client.callTool({ name: 'delete_file', arguments: { path: '/etc/passwd' } });
    assert.equal(denied.isError, true, 'the policy refused the call');
    await connected.close();
    // 2 LLM calls; initialize, notifications/initialized, tools/list and 2 tools/call.
    total = 7;
    await recorded(tapwire, total);
  });

  after(async () => {
    await tapwire.stop();
    await server.close();
    await mock.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  function startTui(t: { after: (fn: () => void) => void }, db = tapwire.dbPath, extra = ''): Tmux {
    const tmux = new Tmux(`node ${CLI} tui --db ${db}${extra}`, { cwd: workDir });
    t.after(() => tmux.kill());
    return tmux;
  }

  test('the list shows every recorded exchange with its protocol, target, status and policy', async (t) => {
    const tmux = startTui(t);
    await tmux.waitFor(/delete_file/, 'the list');
    const screen = await tmux.waitFor(new RegExp(`tapwire ${total} exchanges .*denied 1`), 'the totals in the stats bar');
    // The two LLM calls' usage (120 + 9, 80 + 12), and the MCP messages' estimates apart.
    assert.match(screen, /llm tokens 221 {2}mcp ~[1-9]\d* /);
    assert.match(screen, /llm\s+\S+\/openai\s+\/v1\/chat\/completions\s+gpt-4o-mini\s+ok/);
    assert.match(screen, /mcp\s+\S+\/fs\s+tools\/call\s+echo\s+ok/);
    assert.match(screen, /mcp\s+\S+\/fs\s+tools\/call\s+delete_file\s+denied\s+deny:no-destructive-tools/);
    assert.match(screen, /tools\/list/);
    tmux.keys('?');
    await tmux.waitFor(/export the exchange as a curl script/, 'the key help');
    assert.doesNotMatch(tmux.screen(), /replay the exchange/, 'no key for an action not wired');
    tmux.keys('q');
    await tmux.waitFor((s) => !/export the exchange as a curl script/.test(s), 'the help closed');
    tmux.keys('q');
    await tmux.waitFor(/\[exit 0\]/, 'q quitting cleanly');
  });

  test('filters narrow the list: CEL, shorthand, and an invalid one that leaves the list as it was', async (t) => {
    const tmux = startTui(t);
    await tmux.waitFor(/delete_file/, 'the list');
    await filter(tmux, 'protocol == "mcp" && mcp.tool == "echo"');
    let screen = await tmux.waitFor(/filter: protocol == "mcp" && mcp.tool == "echo"/, 'the CEL filter applied');
    assert.match(screen, /tools\/call\s+echo/);
    assert.doesNotMatch(screen, /delete_file|gpt-4o|tools\/list/);

    await filter(tmux, '~proto llm & !~model mini');
    screen = await tmux.waitFor(/→ CEL: protocol == "llm" && !\(llm\.model\.contains\("mini"\)\)/, 'the compiled shorthand');
    assert.match(screen, /\/v1\/chat\/completions\s+gpt-4o\s/);
    assert.doesNotMatch(screen, /gpt-4o-mini|tools\/call/);

    await filter(tmux, 'exchange.status == ');
    screen = await tmux.waitFor(/filter error at column/, 'the filter error');
    assert.match(screen, /filter error at column \d+: syntax error/);
    assert.match(screen, /\/v1\/chat\/completions\s+gpt-4o\s/, 'the list keeps the last good filter');

    // A type error is said as such, at its column, instead of a filter that matches nothing.
    await filter(tmux, 'protocol == "llm" && usage.output_tokens > "100"');
    screen = await tmux.waitFor(/filter error at column 42: no matching overload for '_>_' applied to '\(int, string\)'/, 'the type error');
    assert.match(screen, /\/v1\/chat\/completions\s+gpt-4o\s/, 'the list keeps the last good filter');
    assert.doesNotMatch(screen, /no exchange matches|no matches/);

    await filter(tmux, 'duration_ms > 0');
    screen = await tmux.waitFor(/did you mean exchange\.duration_ms/, 'the hint for a field of exchange');
  });

  test('detail tabs: the denied call\'s policy, a stream\'s events and text; copy id; curl export', async (t) => {
    const tmux = startTui(t);
    await tmux.waitFor(/delete_file/, 'the list');
    await filter(tmux, '~denied');
    await tmux.waitFor(/→ CEL: exchange\.status == "denied"/, 'the denied filter');
    tmux.keys('Enter');
    let screen = await tmux.waitFor(/ Request .* Meta /, 'the detail view');
    assert.match(screen, /"name": "delete_file"/);
    assert.match(screen, /"path": "\/etc\/passwd"/);
    for (let i = 0; i < 4; i++) tmux.keys('Tab');
    screen = await tmux.waitFor(/rule: +no-destructive-tools/, 'the Policy tab');
    assert.match(screen, /action: +deny\s+reason: +destructive tools need a human/);

    tmux.keys('y');
    screen = await tmux.waitFor(/copied id [0-9A-Z]{26}/, 'the copied id');
    const id = /copied id ([0-9A-Z]{26})/.exec(screen)![1]!;
    assert.match(screen, new RegExp(`tools/call delete_file +denied +${id}`), 'the id of the exchange shown');
    await tmux.waitFor(() => tmux.pasteBuffer() === id, 'the id in the clipboard (tmux buffer)', 5000);

    tmux.keys('q');
    await filter(tmux, 'llm.stream');
    await tmux.waitFor(/filter: llm\.stream/, 'the stream filter');
    tmux.keys('Enter');
    await tmux.waitFor(/ Request .* Meta /, 'the detail view');
    // The view keeps the last tab (Policy): two back is Stream.
    tmux.keys('BTab', 'BTab');
    screen = await tmux.waitFor(/reassembled text/, 'the Stream tab');
    assert.match(screen, /^\+\s+\d+\.\d ms {2}\{"id":"chatcmpl-/m);
    assert.match(screen, /--- reassembled text ---\s+Roses are red, tapwire records\./);

    tmux.keys('e');
    screen = await tmux.waitFor(/curl written to \S+/, 'the curl export');
    const file = readdirSync(workDir).find((f) => f.endsWith('.curl.sh'))!;
    const script = readFileSync(join(workDir, file), 'utf8');
    assert.match(script, /\/openai\/v1\/chat\/completions/);
    assert.match(script, /authorization: \[redacted\]/);
    assert.ok(!script.includes(KEY), 'the key is not in the export');
    assert.match(script, /"content":"stream a poem"/);
  });

  test('the sessions view lists the MCP session, and enter filters the list to it', async (t) => {
    const tmux = startTui(t);
    await tmux.waitFor(/delete_file/, 'the list');
    tmux.keys('S');
    const screen = await tmux.waitFor(/^mcp +fs +\S+ +\d+ ex/m, 'the sessions view');
    const [, sessionId, count] = /^mcp +fs +(\S+) +(\d+) ex +0 err +1 denied/m.exec(screen)!;
    tmux.keys('Enter');
    const list = await tmux.waitFor(new RegExp(`filter: exchange\\.session_id == "${sessionId!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the list filtered to the session');
    const rows = list.split('\n').filter((line) => /^\d\d:\d\d:\d\d\.\d{3} /.test(line));
    assert.equal(rows.length, Number(count));
    assert.ok(rows.every((row) => /^\S+ mcp /.test(row)), 'only the session\'s MCP exchanges');
  });

  test('follow mode picks up an exchange recorded while the TUI is open', async (t) => {
    const tmux = startTui(t);
    await tmux.waitFor(/delete_file/, 'the list');
    tmux.keys('F');
    await tmux.waitFor(/FOLLOW/, 'follow mode on');
    assert.doesNotMatch(tmux.screen(), /gpt-4\.1-nano/);
    await openai.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'while you watch' }] });
    const screen = await tmux.waitFor(/gpt-4\.1-nano/, 'the new exchange');
    assert.match(screen, new RegExp(`${total + 1} exchanges`));
    const lines = screen.split('\n').filter((line) => /^\d\d:\d\d:\d\d\.\d{3} /.test(line));
    assert.match(lines[lines.length - 1]!, /gpt-4\.1-nano\s+ok/, 'the newest row is last');
  });

  test('a database that does not exist, or is not tapwire\'s, is one clear message', async (t) => {
    const missing = startTui(t, join(workDir, 'nope.db'));
    await missing.waitFor(/tapwire: --db: database \S+nope\.db does not exist/, 'the missing-database message, naming the flag');
    const notes = join(workDir, 'notes.txt');
    writeFileSync(notes, 'not a database, just some notes about the agent');
    const other = startTui(t, notes);
    const screen = await other.waitFor(/is not a tapwire database/, 'the not-tapwire message');
    assert.doesNotMatch(screen, /at .*\.js:\d+/, 'no stack trace');
  });

  test('with --config: J exports the exchange as JSONL, r replays it through the config\'s route and says how it compared', async (t) => {
    const config = join(workDir, 'replay.yaml');
    writeFileSync(config, `routes:\n  openai:\n    protocol: llm\n    upstream: ${mock.url}\n    headers: { authorization: "Bearer ${KEY}" }\n`);
    const tmux = startTui(t, tapwire.dbPath, ` --config ${config}`);
    await tmux.waitFor(/delete_file/, 'the list');
    await filter(tmux, '~model gpt-4o-mini');
    await tmux.waitFor(/→ CEL: llm\.model\.contains\("gpt-4o-mini"\)/, 'the model filter');
    tmux.keys('J');
    const screen = await tmux.waitFor(/JSONL written to \S+/, 'the JSONL export');
    const file = /JSONL written to (\S+)/.exec(screen)![1]!;
    const line = JSON.parse(readFileSync(file, 'utf8')) as { exchange: { id: string; model: string }; request: { headers: Record<string, string> } };
    assert.equal(line.exchange.model, 'gpt-4o-mini');
    assert.equal(line.request.headers.authorization, '[redacted]');

    tmux.keys('r');
    const replayed = await tmux.waitFor(/replayed as [0-9A-Z]{26}: status 200 → 200, body same/, 'the replay comparison', 20_000);
    const replayId = /replayed as ([0-9A-Z]{26})/.exec(replayed)![1]!;
    const { openDatabase } = await import('../../store/sqlite/db.js');
    const db = openDatabase(tapwire.dbPath, { readonly: true });
    try {
      const row = db.prepare('SELECT replay_of, model, status FROM exchanges WHERE id = ?').get(replayId) as { replay_of: string; model: string; status: string };
      assert.deepEqual(row, { replay_of: line.exchange.id, model: 'gpt-4o-mini', status: 'ok' });
    } finally {
      db.close();
    }
  });
});
