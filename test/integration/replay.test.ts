// `tapwire replay` on traffic recorded from real SDK clients: LLM calls (openai and
// @anthropic-ai/sdk against aimock), an MCP session (v1 SDK) and A2A calls (A2A SDK) are
// sent again through a sidecar started from the config, which supplies the upstream
// credentials (aimock accepts only the configured keys; the record holds them redacted). The
// comparison printed for each exchange, and the replay records, are checked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { recordTraffic, type Recorded } from '../support/recorded-traffic.js';
import { runReplay, type ReplayCliOptions } from '../../tools/replay-run.js';
import type { ReplayResult } from '../../tools/replay.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { getExchangeRecord } from '../../store/sqlite/queries.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig } from '../../config/config.js';
import { createLogger } from '../../core/log.js';
import { startSidecar } from '../../proxy/sidecar.js';
import { CLI } from '../support/cli.js';

const run = promisify(execFile);

describe('tapwire replay', () => {
  let recorded: Recorded;
  let configPath: string;
  const savedEnv = { ...process.env };

  before(async () => {
    recorded = await recordTraffic();
    configPath = join(recorded.sidecar.dir, 'tapwire.yaml');
    writeFileSync(configPath, recorded.peers.yaml);
    // The config interpolates the upstream keys from the environment, as a user's would.
    Object.assign(process.env, { REPLAY_OPENAI_KEY: recorded.peers.env.REPLAY_OPENAI_KEY, REPLAY_ANTHROPIC_KEY: recorded.peers.env.REPLAY_ANTHROPIC_KEY });
  });
  after(async () => {
    process.env = savedEnv;
    await recorded?.close();
  });

  async function replay(options: Partial<ReplayCliOptions>): Promise<{ results: ReplayResult[]; output: string }> {
    const out = new PassThrough();
    let output = '';
    out.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const results = await runReplay({ db: recorded.dbPath, ids: [], config: configPath, concurrency: 1, path: ['tools=/mcp'], ignore: [], ...options }, out);
    return { results, output };
  }

  function idsWhere(where: string): string[] {
    const db = openDatabase(recorded.dbPath, { readonly: true });
    try {
      return db.prepare(`SELECT id FROM exchanges WHERE ${where} ORDER BY id`).pluck().all() as string[];
    } finally {
      db.close();
    }
  }

  function block(output: string, id: string): string {
    const start = output.indexOf(id);
    assert.notEqual(start, -1, `the output names ${id}`);
    const lineEnd = output.indexOf('\n', start) + 1;
    const next = output.slice(lineEnd).search(/^\S/m);
    return next === -1 ? output.slice(start) : output.slice(start, lineEnd + next);
  }

  test('LLM calls: same status, tokens and body through the live route, recorded as replays with fresh credentials', async () => {
    const { results, output } = await replay({ filter: 'protocol == "llm" && exchange.replay_of == ""' });
    assert.equal(results.length, 4);
    for (const r of results) {
      assert.equal(r.error, null);
      assert.equal(r.status, 200, 'aimock accepted the key the config supplied');
      assert.ok(r.replay, 'the replay was recorded');
      assert.equal(r.replay.replay_of, r.original.id);
      assert.equal(r.replay.input_tokens, r.original.input_tokens);
      const text = block(output, r.original.id);
      assert.match(text, new RegExp(`${r.original.id} → ${r.replay.id}  llm ${r.original.route} POST /v1/`));
      assert.match(text, /status {3}200 → 200\n/);
      assert.match(text, new RegExp(`tokens {3}${r.original.input_tokens} in / ${r.original.output_tokens} out → ${r.original.input_tokens} in / ${r.original.output_tokens} out`));
      assert.match(text, /latency {2}[\d.]+ ms → [\d.]+ ms/);
      assert.match(text, /body {5}same \(ids and timestamps ignored\)/);
    }
    const db = openDatabase(recorded.dbPath, { readonly: true });
    try {
      const stored = getExchangeRecord(db, results[0]!.replay!.id)!;
      // The replay carried no credential of its own: aimock's 200 came with the config's key.
      assert.equal(stored.request?.headers.authorization, undefined);
      assert.equal(stored.request?.headers['x-tapwire-replay-of'], results[0]!.original.id);
    } finally {
      db.close();
    }
  });

  test('MCP: the session is replayed in a fresh one, results compared, server messages skipped', async () => {
    const { results, output } = await replay({ filter: 'protocol == "mcp" && exchange.replay_of == ""' });
    const replayed = results.filter((r) => r.status !== null);
    assert.deepEqual(replayed.map((r) => r.original.method), ['initialize', 'tools/list', 'tools/call', 'tools/call']);
    const skipped = results.filter((r) => r.skipped).map((r) => r.original.method);
    assert.deepEqual(skipped.sort(), ['DELETE', 'notifications/initialized', 'notifications/progress', 'notifications/progress']);
    for (const r of replayed) {
      assert.ok(r.replay, `${r.original.method} replay recorded`);
      assert.equal(r.replay.replay_of, r.original.id);
      assert.ok(r.replay.session_id && r.replay.session_id !== r.original.session_id, 'a fresh session');
      assert.match(block(output, r.original.id), /status {3}200 → 200\n[\s\S]*body {5}same/);
    }
    assert.match(output, /skipped: sent by the server: replayed only as part of the call it belongs to/);
  });

  test('A2A: the card, messages, a stream and a task lookup, with the new task id mapped', async () => {
    const { results, output } = await replay({ filter: 'protocol == "a2a" && exchange.replay_of == ""' });
    assert.deepEqual(results.map((r) => r.original.method), ['GetAgentCard', 'SendMessage', 'SendStreamingMessage', 'GetTask']);
    for (const r of results) {
      assert.equal(r.error, null);
      assert.equal(r.replay?.replay_of, r.original.id);
      assert.match(block(output, r.original.id), /status {3}200 → 200\n[\s\S]*body {5}same/, `${r.original.method} compares the same`);
    }
    const [, send, , getTask] = results;
    // The agent made a new task; GetTask asked for it (the recorded id would be unknown to it).
    assert.notEqual(send!.replay!.task_id, send!.original.task_id);
    assert.equal(getTask!.replay!.task_id, send!.replay!.task_id);
    assert.equal(getTask!.replay!.task_state, 'completed');
  });

  test('--to sends through a running sidecar, which records the replay in its database', async () => {
    const config = loadConfig(configPath);
    config.listen = '127.0.0.1:0';
    config.store.path = recorded.dbPath;
    config.store.flush_interval_ms = 20;
    const running = await startSidecar(config, createLogger('silent'));
    try {
      const original = recorded.sidecar.record(idsWhere("method = 'tools/list' AND replay_of IS NULL")[0]!).exchange;
      const { results, output } = await replay({ ids: [original.id], to: running.url });
      assert.equal(results.length, 1);
      assert.equal(results[0]!.replay?.replay_of, original.id);
      assert.match(block(output, original.id), new RegExp(`${original.id} → ${results[0]!.replay.id}  mcp tools tools/list`));
    } finally {
      await running.close();
    }
  });

  test('the tapwire replay command, by id', async () => {
    const [id] = idsWhere("method = 'POST /v1/messages' AND streamed = 1 AND replay_of IS NULL");
    const { stdout } = await run(process.execPath, [CLI, 'replay', '--db', recorded.dbPath, '-c', configPath, id!], { env: process.env });
    assert.match(stdout, new RegExp(`^${id} → \\w{26}  llm anthropic POST /v1/messages claude-haiku-4-5\n  status   200 → 200\n  tokens   23 in / 5 out → 23 in / 5 out\n`));
    assert.match(stdout, /body {5}same/);
    const bad = await run(process.execPath, [CLI, 'replay', '--db', recorded.dbPath, '-c', configPath]).then(
      () => assert.fail('expected exit 2'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /name the exchanges to replay: ids, or --filter CEL/);
  });

  test('everything at once with --concurrency 3', async () => {
    const { results } = await replay({ filter: 'exchange.replay_of == ""', concurrency: 3 });
    assert.ok(results.length >= 20);
    assert.deepEqual(results.filter((r) => r.error), []);
    assert.ok(results.filter((r) => r.status !== null).every((r) => r.replay?.replay_of === r.original.id));
  });

  // Last: it changes the upstream's fixtures.
  test('a changed answer shows in tokens and in the body diff', async () => {
    recorded.peers.llm.clearFixtures();
    recorded.peers.llm.onMessage(/^chat plain$/, { content: 'A different answer.', usage: { prompt_tokens: 12, completion_tokens: 4 } });
    const { results, output } = await replay({ filter: 'llm.model == "gpt-4o-mini" && !llm.stream && exchange.replay_of == ""' });
    assert.equal(results.length, 1);
    const text = block(output, results[0]!.original.id);
    assert.match(text, /tokens {3}11 in \/ 3 out → 12 in \/ 4 out/);
    assert.match(text, /body {5}differs:\n {4}choices\[0\]\.message\.content: "Plain answer\." → "A different answer\."\n/);
    assert.match(text, /usage\.prompt_tokens: 11 → 12/);
  });
});
