// `tapwire replay` of a federated route's per-server records: the exchanges tapwire itself
// had with each member (two v1 SDK servers on Streamable HTTP, server-everything and a small
// SDK server over stdio), replayed on the member routes by the real command as a child
// process. A stdio member's records carry no HTTP headers (there were none), yet each replay
// is a proper Streamable HTTP session; a member that went down and was initialized again
// within one agent session is replayed as two sessions; and any replay that fails makes the
// command exit 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import type { Exchange } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { CLI } from '../support/cli.js';
import { buildAlpha, buildBeta, federationYaml } from '../support/mcp-federation.js';
import { connectClient, startStreamableServer } from '../support/mcp.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';

const run = promisify(execFile);

interface Replayed {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tapwire replay` on the sidecar's database and config (asynchronously: the member servers live in this process). */
async function replay(tapwire: TestSidecar, filter: string): Promise<Replayed> {
  const args = [CLI, 'replay', '--db', tapwire.dbPath, '-c', join(tapwire.dir, 'tapwire.yaml'), '--filter', filter];
  return run(process.execPath, args).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

/** Records through a sidecar started from `yaml` (kept beside its database for the replay); stops it before returning. */
async function recorded(t: TestContext, yaml: string, agent: (url: string) => Promise<void>): Promise<TestSidecar> {
  const tapwire = await startTestSidecar(yaml);
  t.after(() => tapwire.cleanup());
  writeFileSync(join(tapwire.dir, 'tapwire.yaml'), yaml);
  await agent(`${tapwire.url}/tools`);
  await tapwire.stop();
  return tapwire;
}

function exchanges(tapwire: TestSidecar, where: string): Exchange[] {
  const db = openDatabase(tapwire.dbPath, { readonly: true });
  try {
    return db.prepare(`SELECT * FROM exchanges WHERE ${where} ORDER BY id`).all() as Exchange[];
  } finally {
    db.close();
  }
}

/** The lines `tapwire replay` printed for one exchange. */
function block(output: string, id: string): string {
  const start = output.indexOf(id);
  assert.notEqual(start, -1, `the output names ${id}:\n${output}`);
  const lineEnd = output.indexOf('\n', start) + 1;
  const next = output.slice(lineEnd).search(/^\S/m);
  return next === -1 ? output.slice(start) : output.slice(start, lineEnd + next);
}

const MEMBERS = 'route.name in ["alpha", "beta", "everything"]';

test('per-server records of a federated route replay on their member routes, stdio members included; a failed replay exits 1', async (t) => {
  const alpha = await startStreamableServer(buildAlpha);
  const beta = await startStreamableServer(buildBeta);
  t.after(() => alpha.close());
  const yaml = federationYaml({ alpha: `${alpha.origin}/mcp`, beta: `${beta.origin}/mcp` });
  const tapwire = await recorded(t, yaml, async (url) => {
    const connected = await connectClient('streamable', url);
    const { client } = connected;
    await client.listTools();
    await client.callTool({ name: 'alpha_search', arguments: { q: 'x' } });
    await client.callTool({ name: 'beta_lookup', arguments: { key: 'k' } });
    await client.callTool({ name: 'everything_echo', arguments: { message: 'hi' } });
    await connected.close();
  });
  const requests = exchanges(tapwire, "route IN ('alpha', 'beta', 'everything') AND direction = 'client_to_server' AND method IN ('initialize', 'tools/list', 'tools/call')");
  assert.deepEqual([...new Set(requests.map((e) => e.route))].sort(), ['alpha', 'beta', 'everything']);
  assert.ok(requests.filter((e) => e.route === 'everything').length >= 3, 'the stdio member\'s initialize, list and call were recorded');

  const all = await replay(tapwire, MEMBERS);
  assert.equal(all.code, 0, `every replay succeeded:\n${all.stdout}${all.stderr}`);
  for (const e of requests) {
    const text = block(all.stdout, e.id);
    assert.match(text, new RegExp(`^${e.id} → \\w{26}  mcp ${e.route} ${e.method}`), 'replayed, and recorded as a replay');
    // A stdio member's record has no HTTP status; the replay's 200 is no change from it.
    assert.match(text, e.http_status === null ? /status {3}- → 200\n/ : /status {3}200 → 200\n/);
    assert.match(text, /body {5}same/, `${e.route} ${e.method} answered as recorded:\n${text}`);
  }
  const replays = exchanges(tapwire, 'replay_of IS NOT NULL');
  assert.deepEqual(new Set(replays.map((e) => e.replay_of)), new Set(requests.map((e) => e.id)));

  // beta is gone: its replays are refused (HTTP 502 from the sidecar) where the record has 200.
  await beta.close();
  const refused = await replay(tapwire, 'route.name == "beta" && exchange.replay_of == ""');
  assert.equal(refused.code, 1, refused.stdout);
  for (const e of requests.filter((r) => r.route === 'beta')) assert.match(block(refused.stdout, e.id), /status {3}200 → 502 {2}\(failed\)|failed: the fresh session could not be started: its initialize was answered HTTP 502/);
  assert.match(refused.stderr, /^tapwire replay: \d+ of \d+ replays failed\n$/);
});

test('a member initialized again within one agent session (it had exited) is replayed as two sessions', async (t) => {
  const tiny = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));
  const yaml = ['routes:', '  tiny:', '    protocol: mcp', `    command: ${JSON.stringify(process.execPath)}`, `    args: [${JSON.stringify(tiny)}]`, '  tools:', '    protocol: mcp', '    servers: [tiny]'].join('\n');
  const tapwire = await recorded(t, yaml, async (url) => {
    const connected = await connectClient('streamable', url);
    const { client } = connected;
    await client.callTool({ name: 'echo', arguments: { text: 'first' } });
    await assert.rejects(client.callTool({ name: 'exit', arguments: { code: 3 } }));
    await client.listTools(); // initializes the member again
    await client.callTool({ name: 'echo', arguments: { text: 'second' } });
    await connected.close();
  });
  const initializes = exchanges(tapwire, "route = 'tiny' AND method = 'initialize'");
  assert.equal(initializes.length, 2, 'the member was initialized twice in the agent session');
  assert.equal(new Set(initializes.map((e) => e.session_id)).size, 1);

  // The call that made the server exit is left out: it would do it again.
  const result = await replay(tapwire, 'route.name == "tiny" && mcp.tool != "exit"');
  assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  const calls = exchanges(tapwire, "route = 'tiny' AND replay_of IS NULL AND method IN ('initialize', 'tools/list', 'tools/call') AND COALESCE(target, '') != 'exit'");
  assert.equal(calls.length, 5);
  for (const e of calls) assert.match(block(result.stdout, e.id), /status {3}- → 200\n[\s\S]*body {5}same/, `${e.method} ${e.target ?? ''}`);
  const replayed = exchanges(tapwire, "route = 'tiny' AND replay_of IS NOT NULL AND method = 'initialize'");
  assert.equal(new Set(replayed.map((e) => e.session_id)).size, 2, 'two fresh sessions');
});
