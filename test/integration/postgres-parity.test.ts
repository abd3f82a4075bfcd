// The readers over PostgreSQL give what they give over SQLite for the same traffic: real SDK
// traffic (LLM, MCP, A2A) recorded into SQLite by a sidecar, shipped to a private PostgreSQL by
// the shipper (in small batches), then every row and record, `tapwire export` (all and
// filtered), `tapwire policy test`, `tapwire mock` and `tapwire replay` run over the file and
// over the URL. The sidecar has an agent name and labels, which both backends filter on.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { openRecordReader } from '../../store/open.js';
import { eachRow, type Condition, type RecordReader } from '../../store/record-store.js';
import { Shipper } from '../../store/shipper.js';
import { startMock } from '../../tools/mock.js';
import { DEFAULT_LLM_IGNORED } from '../../tools/replay-match.js';
import { runReplay } from '../../tools/replay-run.js';
import { llmScenario, mcpScenario, recordTraffic, type Recorded } from '../support/recorded-traffic.js';
import { PostgresServer } from '../support/postgres.js';
import { CLI } from '../support/cli.js';

const run = promisify(execFile);

async function all(reader: RecordReader, where: Condition | null = null): Promise<string[]> {
  const ids: string[] = [];
  for await (const row of eachRow(reader, where)) ids.push(row.id);
  return ids;
}

describe('readers over PostgreSQL and over SQLite agree', () => {
  let server: PostgresServer;
  let recorded: Recorded;
  let url: string;
  const savedEnv = { ...process.env };

  before(async () => {
    [server, recorded] = await Promise.all([PostgresServer.start(), recordTraffic('agent:\n  name: researcher\n  labels: { team: research, tier: "2" }\n')]);
    writeFileSync(join(recorded.sidecar.dir, 'tapwire.yaml'), recorded.peers.yaml);
    // The config interpolates the upstream keys from the environment, as a user's would.
    Object.assign(process.env, { REPLAY_OPENAI_KEY: recorded.peers.env.REPLAY_OPENAI_KEY, REPLAY_ANTHROPIC_KEY: recorded.peers.env.REPLAY_ANTHROPIC_KEY });
    url = server.createDatabase('parity');
    const shipper = Shipper.start({ path: recorded.dbPath, url, batchRecords: 7, intervalMs: 20, retryIntervalMs: 100 });
    const local = await openRecordReader(recorded.dbPath);
    const count = await local.count(null);
    await local.close();
    const deadline = Date.now() + 20_000;
    while (shipper.getStats().shipped < count || shipper.getStats().backlog > 0) {
      if (Date.now() > deadline) throw new Error(`shipping did not finish: ${JSON.stringify(shipper.getStats())}`);
      await sleep(50);
    }
    await shipper.close(5000);
  });
  after(async () => {
    process.env = savedEnv;
    await recorded?.close();
    server?.close();
  });

  test('every row, every record, pages, counts, totals and sessions are the same', async () => {
    const [sqlite, postgres] = await Promise.all([openRecordReader(recorded.dbPath), openRecordReader(url)]);
    try {
      const ids = await all(sqlite);
      assert.ok(ids.length >= 15, `recorded ${ids.length}`);
      assert.deepEqual(await all(postgres), ids);
      for (const id of ids) assert.deepEqual(await postgres.get(id), await sqlite.get(id), id);
      const conditions: Condition[] = [
        { op: '=', field: 'protocol', value: 'mcp' },
        { op: 'and', left: { op: '=', field: 'llm.model', value: 'gpt-4o-mini' }, right: { op: '=', field: 'exchange.streamed', value: 1 } },
        { op: 'startsWith', field: 'exchange.method', value: 'POST' },
        { op: 'endsWith', field: 'exchange.method', value: 'messages' },
        { op: 'contains', field: 'exchange.target', value: 'ech' },
        { op: 'in', field: 'route.name', values: ['planner', 'anthropic'] },
        { op: 'not', condition: { op: '>', field: 'usage.total_tokens', value: 20 } },
        { op: '>=', field: 'exchange.id', value: ids[5]! },
        { op: 'in', field: 'route.name', values: [] },
        { op: '=', field: 'agent.name', value: 'researcher' },
        { op: 'label', key: 'team', value: 'research' },
        { op: 'and', left: { op: 'label', key: 'tier', value: '2' }, right: { op: '=', field: 'protocol', value: 'llm' } },
        { op: 'label', key: 'team', value: 'other' },
        { op: 'label', key: 'nobody', value: '' },
      ];
      for (const where of conditions) {
        assert.deepEqual(await all(postgres, where), await all(sqlite, where), JSON.stringify(where));
        assert.equal(await postgres.count(where), await sqlite.count(where), JSON.stringify(where));
      }
      const rowOnly = { rowOnly: true, matches: (e: { protocol: string }) => e.protocol !== 'llm' };
      for (const direction of ['forward', 'backward'] as const) {
        const query = { rest: rowOnly, direction, from: ids[3]!, want: 4, budget: 6 };
        assert.deepEqual(await postgres.page(query), await sqlite.page(query), direction);
      }
      assert.deepEqual(await postgres.totalsAfter(ids[2]!, 10), await sqlite.totalsAfter(ids[2]!, 10));
      assert.deepEqual(await postgres.totalsAfter(''), await sqlite.totalsAfter(''));
      assert.equal(await postgres.newestId(), await sqlite.newestId());
      assert.equal(await postgres.newestStartedAt(), await sqlite.newestStartedAt());
      const newest = (await sqlite.newestStartedAt())!;
      assert.deepEqual(await postgres.perSecond(newest - 60_000, newest + 1), await sqlite.perSecond(newest - 60_000, newest + 1));
      assert.deepEqual(await postgres.sessions(10, 1000), await sqlite.sessions(10, 1000));
      for (const id of ids) {
        const exchange = (await sqlite.get(id))!.exchange;
        assert.deepEqual(await postgres.related(exchange, 10), await sqlite.related(exchange, 10));
      }
    } finally {
      await Promise.all([sqlite.close(), postgres.close()]);
    }
  });

  test('tapwire export gives the same JSON lines, all and filtered', async () => {
    for (const filter of [[], ['--filter', 'mcp.tool == "echo"'], ['--filter', 'protocol == "llm" && usage.output_tokens > 4']]) {
      const fromFile = await run(process.execPath, [CLI, 'export', '--db', recorded.dbPath, '--format', 'jsonl', ...filter]);
      const fromServer = await run(process.execPath, [CLI, 'export', '--db', url, '--format', 'jsonl', ...filter]);
      assert.ok(fromFile.stdout.length > 0);
      assert.equal(fromServer.stdout, fromFile.stdout, filter.join(' '));
    }
  });

  test('tapwire export filters by agent name and labels, over SQLite and over PostgreSQL', async () => {
    const exported = async (db: string, filter: string): Promise<string[]> =>
      (await run(process.execPath, [CLI, 'export', '--db', db, '--format', 'jsonl', '--filter', filter])).stdout.split('\n').filter(Boolean);
    const everything = await exported(recorded.dbPath, 'true');
    const llm = await exported(recorded.dbPath, 'protocol == "llm"');
    assert.ok(llm.length > 0 && llm.length < everything.length);
    const expected: [string, string[]][] = [
      ['agent.name == "researcher"', everything],
      ['agent.name == "someone-else"', []],
      ['agent.labels["team"] == "research"', everything],
      ['agent.labels.team == "research" && protocol == "llm"', llm],
      ['"2" == agent.labels["tier"] && protocol == "llm"', llm],
      ['agent.labels["team"] == "other"', []],
      ['agent.labels["missing"] == "research"', []],
      ['!(agent.labels["team"] == "other") && protocol == "llm"', llm],
    ];
    for (const [filter, lines] of expected) {
      assert.deepEqual(await exported(recorded.dbPath, filter), lines, `SQLite: ${filter}`);
      assert.deepEqual(await exported(url, filter), lines, `PostgreSQL: ${filter}`);
    }
  });

  test('tapwire policy test gives the same report', async () => {
    const policy = join(recorded.sidecar.dir, 'what-if.yaml');
    writeFileSync(
      policy,
      'rules:\n  - { name: no-claude, when: \'llm.model.startsWith("claude")\', action: deny }\n  - { name: flag-tools, when: \'mcp.method == "tools/call"\', action: audit }\n',
    );
    const fromFile = await run(process.execPath, [CLI, 'policy', 'test', policy, '--db', recorded.dbPath, '--since', '1h']);
    const fromServer = await run(process.execPath, [CLI, 'policy', 'test', policy, '--db', url, '--since', '1h']);
    assert.match(fromFile.stdout, /no-claude: would have denied 2/);
    // Only the header differs: the location, and "since" (the run's own time less 1h).
    const withoutHeader = (stdout: string): string => stdout.replace(/^(\d+) recorded exchanges since \S+ from \S+:$/m, '$1 recorded exchanges');
    assert.match(fromServer.stdout, new RegExp(`from ${url.replace(/[/.]/g, '\\$&')}:`));
    assert.equal(withoutHeader(fromServer.stdout), withoutHeader(fromFile.stdout));
  });

  test('tapwire mock serves the same answers from PostgreSQL: the SDKs get what they got live', async () => {
    const options = { listen: '127.0.0.1:0', onMiss: 'error' as const, timing: 'instant' as const, ignore: DEFAULT_LLM_IGNORED.map((p) => [p]) };
    const [fromFile, fromServer] = await Promise.all([startMock({ ...options, db: recorded.dbPath }), startMock({ ...options, db: url })]);
    try {
      assert.equal(fromServer.loaded, fromFile.loaded);
      assert.deepEqual(await llmScenario(fromServer.url), recorded.live.llm);
      assert.deepEqual(await mcpScenario(`${fromServer.url}/tools/mcp`), recorded.live.mcp);
    } finally {
      await Promise.all([fromFile.close(), fromServer.close()]);
    }
  });

  test('tapwire replay from PostgreSQL replays what it replays from SQLite, and ships the replays there', async () => {
    const options = { ids: [], filter: 'exchange.replay_of == ""', config: join(recorded.sidecar.dir, 'tapwire.yaml'), concurrency: 1, path: ['tools=/mcp'], ignore: [] };
    const sink = (): Writable => new Writable({ write: (_chunk, _encoding, done) => done() });
    const shape = (results: Awaited<ReturnType<typeof runReplay>>): unknown[] =>
      results.map((r) => [r.original.id, r.status, r.error, r.replay?.replay_of ?? null, r.replay?.http_status ?? null]);
    const fromServer = await runReplay({ ...options, db: url }, sink());
    const fromFile = await runReplay({ ...options, db: recorded.dbPath }, sink());
    assert.ok(fromServer.length >= 15);
    assert.deepEqual(shape(fromServer), shape(fromFile));
    const postgres = await openRecordReader(url);
    try {
      const replays = await all(postgres, { op: '!=', field: 'exchange.replay_of', value: '' });
      assert.deepEqual(replays.sort(), fromServer.flatMap((r) => (r.replay ? [r.replay.id] : [])).sort());
    } finally {
      await postgres.close();
    }
  });
});
