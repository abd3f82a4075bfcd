// `tapwire demo` as a user runs it (the built CLI): one run and a --forever run stopped by
// SIGTERM, each checked against the database it wrote; and the Grafana dashboards checked
// against what the demo produced: every Audit SQL query (macros expanded) returns rows from
// its database, every metric the Overview queries is in a scrape of /_tapwire/metrics, and
// every span attribute the Traces panels filter on is on the spans it exported over OTLP.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Exchange } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import { expandSqliteQuery, promqlMetricNames, promqlSelectors, readDashboards, REPO, scrapedSeries, targetsOf, traceqlAttributes } from '../support/grafana.js';
import { startOtlpCollector, type OtlpCollector } from '../support/otlp.js';
import { CLI } from '../support/cli.js';

/** The policy actions the summary counts as "flagged": let through, but marked for a reviewer. */
const FLAGGED = new Set(['audit', 'would_deny', 'would_limit', 'error']);

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts `tapwire demo` with `args`; `whileRunning` is called with the sidecar's URL once the
 * first round is done (and the child is then sent SIGTERM).
 */
async function runDemo(args: string[], cwd: string, whileRunning?: (url: string) => Promise<void>): Promise<Finished> {
  const child = spawn(process.execPath, [CLI, 'demo', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  if (whileRunning) {
    const deadline = Date.now() + 60_000; // a guard against a hang, generous for a loaded machine
    while (!/^\s+1 {2}round (done|failed)/m.test(stdout)) {
      if (child.exitCode !== null) break;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the first round did not finish:\n${stdout}\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const url = /sidecar on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
    assert.ok(url, `the demo names its sidecar's URL:\n${stdout}`);
    await whileRunning(url);
    child.kill('SIGTERM');
  }
  const [code] = await exited;
  return { code, stdout, stderr };
}

function readExchanges(dbPath: string): Exchange[] {
  const db = openDatabase(dbPath, { readonly: true });
  try {
    return listExchanges(db);
  } finally {
    db.close();
  }
}

/** The printed summary's table, the policy section's count, and the slowest calls, checked against the rows. */
function assertSummaryMatches(stdout: string, rows: Exchange[]): void {
  const printed = new Map<string, number[]>();
  const costs = new Map<string, string>();
  for (const match of stdout.matchAll(/^ {2}(\w+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) +\$(\d+\.\d{6})$/gm)) {
    printed.set(match[1]!, match.slice(2, 8).map(Number));
    costs.set(match[1]!, match[8]!);
  }
  const groups = new Map<string, Exchange[]>();
  for (const row of rows) groups.set(row.protocol, [...(groups.get(row.protocol) ?? []), row]);
  groups.set('total', rows);
  assert.deepEqual([...printed.keys()].sort(), [...groups.keys()].sort(), 'one summary line per protocol, and the total');
  for (const [protocol, group] of groups) {
    const sum = (pick: (e: Exchange) => number | null): number => group.reduce((n, e) => n + (pick(e) ?? 0), 0);
    const expected = [
      group.length,
      group.filter((e) => e.status === 'error').length,
      group.filter((e) => e.status === 'denied').length,
      group.filter((e) => e.policy_action !== null && FLAGGED.has(e.policy_action)).length,
      sum((e) => e.input_tokens),
      sum((e) => e.output_tokens),
    ];
    assert.deepEqual(printed.get(protocol), expected, `summary line for ${protocol}: exchanges, errors, denied, flagged, input and output tokens`);
    assert.equal(costs.get(protocol), sum((e) => e.cost_usd).toFixed(6), `cost for ${protocol}`);
  }
  const policySection = /Denied and flagged by policies:\n([\s\S]*?)\n\n/.exec(stdout)?.[1] ?? '';
  const listed = [...policySection.matchAll(/^ {2}(\d+) × (\S+) {2}(\S+) /gm)];
  const policyRows = rows.filter((e) => e.status === 'denied' || (e.policy_action !== null && FLAGGED.has(e.policy_action)));
  assert.equal(listed.reduce((n, m) => n + Number(m[1]), 0), policyRows.length, 'every denied or flagged exchange is counted once');
  for (const m of listed) assert.ok(policyRows.some((e) => e.policy_rule === m[3]), `rule ${m[3]} is in the record`);
  const slowest = [...stdout.matchAll(/^ +(\d+\.\d) ms +\w+ +.+? +([0-9A-Z]{26})$/gm)].map((m) => ({ id: m[2]!, ms: m[1]! }));
  const expectedSlowest = rows
    .filter((e) => e.duration_ms !== null)
    .sort((a, b) => b.duration_ms! - a.duration_ms! || a.id.localeCompare(b.id))
    .slice(0, 5)
    .map((e) => ({ id: e.id, ms: e.duration_ms!.toFixed(1) }));
  assert.deepEqual(slowest, expectedSlowest, 'the slowest calls, as recorded');
}

/** What one round of the scripted agent must leave in the record. */
function assertOneRoundRecorded(rows: Exchange[], rounds: number): void {
  const llm = rows.filter((e) => e.protocol === 'llm');
  assert.equal(llm.filter((e) => e.provider === 'openai' && e.streamed === 0).length, 4 * rounds, 'four OpenAI chat calls per round, not streamed');
  assert.equal(llm.filter((e) => e.provider === 'anthropic' && e.streamed === 1).length, 2 * rounds, 'two streamed Anthropic calls per round');
  for (const e of llm) {
    assert.equal(e.status, 'ok');
    assert.ok(e.input_tokens! > 0 && e.output_tokens! > 0 && e.tokens_estimated === 0, 'LLM calls carry the provider usage');
    assert.ok(e.cost_usd! > 0, 'and a cost');
  }
  const toolCalls = rows.filter((e) => e.protocol === 'mcp' && e.method === 'tools/call');
  assert.deepEqual([...new Set(toolCalls.map((e) => e.target))].sort(), ['delete_file', 'get_weather', 'read_file', 'search']);
  const refused = toolCalls.filter((e) => e.status === 'denied');
  assert.equal(refused.length, rounds, 'one refused tool call per round');
  for (const e of refused) {
    assert.equal(e.target, 'delete_file');
    assert.equal(e.policy_rule, 'no-destructive-tools');
  }
  const delegated = rows.filter((e) => e.protocol === 'a2a' && e.method === 'SendMessage');
  assert.equal(delegated.length, rounds);
  assert.ok(delegated.every((e) => e.status === 'ok' && e.task_state === 'completed'), 'each delegation completed its task');
}

describe('tapwire demo', () => {
  let dir: string;
  let collector: OtlpCollector;
  let forever: Finished;
  let foreverDb: string;
  let scrape = '';

  // Hooks and tests that run the CLI end after two minutes at most, instead of hanging.
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-demo-'));
    collector = await startOtlpCollector();
    foreverDb = join(dir, 'forever.db');
    forever = await runDemo(['--forever', '--db', foreverDb, '--listen', '127.0.0.1:0', '--otlp', collector.url], dir, async (url) => {
      const response = await fetch(`${url}/_tapwire/metrics`);
      assert.equal(response.status, 200);
      scrape = await response.text();
    });
  }, { timeout: 120_000 });

  after(async () => {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('one run: progress, a summary that matches the database, and what to run next', { timeout: 120_000 }, async () => {
    const dbPath = join(dir, 'once.db');
    // Run from the clone, as README says: the commands it suggests are for there.
    const run = await runDemo(['--db', dbPath], REPO);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^tapwire demo: sidecar on http:\/\/127\.0\.0\.1:\d+/m);
    assert.match(run.stdout, /tools\/call delete_file +error: tapwire policy no-destructive-tools/, 'the refused tool call shows in the progress');
    assert.match(run.stdout, /SendMessage Research Agent +task completed/);
    assert.match(run.stdout, /^ +1 {2}round done$/m);
    const rows = readExchanges(dbPath);
    assertOneRoundRecorded(rows, 1);
    assertSummaryMatches(run.stdout, rows);

    // Every flagged action in the summary comes with what it means.
    for (const action of new Set(rows.map((e) => e.policy_action).filter((a) => a !== null && FLAGGED.has(a)))) {
      assert.match(run.stdout, new RegExp(`^ {2}${action} means let through and flagged: `, 'm'), `the summary says why calls are ${action}`);
    }
    assert.match(run.stdout, /^ {2}would_deny means .*monitor mode/m, "the example allowlist's monitor mode flags some of the demo's calls, and the summary says so");

    // Each suggested command runs from the clone: the interactive tui is checked to exist.
    const suggested = [...(/What to run next:\n([\s\S]*)$/.exec(run.stdout)?.[1] ?? '').matchAll(/^ {2}(?!#)(.+)$/gm)].map((m) => m[1]!);
    assert.deepEqual(suggested.map((c) => c.split(' ').slice(0, 3).join(' ')), ['npx tapwire tui', 'npx tapwire policy', 'npx tapwire export', 'docker compose up']);
    assert.ok(existsSync(join(REPO, 'docker-compose.yml')), 'docker compose up runs the compose file of the clone');
    // npx finds the clone's own bin; offline, so it could never fetch a package of that name
    // instead. Its cache is a fresh one, as on a fresh machine: npx keys the clone's entry by the
    // clone's path and never refreshes its bin links, so an older layout's entry for the same path
    // would point at a file this clone no longer has. Installing the clone into that cache would
    // run its `prepare` (a rebuild of dist/ under the other tests running now): scripts are off,
    // the clone is built already.
    const npmCache = join(dir, 'npm-cache');
    const npxEnv = { ...process.env, npm_config_offline: 'true', npm_config_cache: npmCache, npm_config_ignore_scripts: 'true' };
    const npx = (command: string) => spawnSync('sh', ['-c', command], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: npxEnv });
    for (const command of suggested.filter((c) => c.startsWith('npx tapwire'))) {
      const interactive = command.startsWith('npx tapwire tui ');
      const result = npx(interactive ? 'npx tapwire tui --help' : command);
      assert.equal(result.status, 0, `${command}\n${result.stderr}`);
      assert.doesNotMatch(result.stderr, /npm warn/i, `${command}: no npm warning`);
      if (command.includes(' tui ')) assert.match(command, new RegExp(`--db ${dbPath}$`));
      if (command.includes(' policy test ')) assert.match(result.stdout, /no-destructive-tools: would have denied 1\b/, 'the policy test runs on the files the demo enforced, against its database');
      if (command.includes(' export ')) {
        const exported = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { exchange: Exchange });
        assert.deepEqual(exported.map((r) => r.exchange.target), ['delete_file'], 'the export holds the refused call');
      }
    }
  });

  test('a bad option exits 2 naming the option, with nothing left running', () => {
    const bad = spawnSync(process.execPath, [CLI, 'demo', '--listen', 'nowhere', '--db', join(dir, 'bad.db')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(bad.status, 2, 'exits by itself, with its upstreams closed');
    assert.equal(bad.stderr, 'tapwire: --listen nowhere: expected HOST:PORT, e.g. 127.0.0.1:4100\n');
  });

  test('--forever: rounds until SIGTERM, then a clean stop and the summary of every round', () => {
    assert.equal(forever.code, 0, forever.stderr);
    assert.match(forever.stderr, /SIGTERM, finishing the round in progress/);
    const rounds = [...forever.stdout.matchAll(/^ +\d+ {2}round done$/gm)].length;
    assert.ok(rounds >= 1);
    assert.doesNotMatch(forever.stdout, /round failed/);
    const rows = readExchanges(foreverDb);
    assertOneRoundRecorded(rows, rounds);
    assertSummaryMatches(forever.stdout, rows);
  });

  test('Audit dashboard: every SQL query, its macros and variables expanded, returns rows from the demo database', () => {
    const audit = readDashboards().get('tapwire-audit')!.dashboard;
    const db = openDatabase(foreverDb, { readonly: true });
    try {
      // Each variable set to "All": every value its own query finds.
      const variables = new Map<string, string[]>();
      for (const v of audit.templating.list) {
        assert.equal(typeof v.query, 'string', `variable ${v.name} has an SQL query`);
        const values = db.prepare(v.query as string).raw().all() as unknown[][];
        assert.ok(values.length > 0, `variable ${v.name} finds values`);
        variables.set(v.name, values.map((row) => String(row[0])));
      }
      const range = { fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000, intervalSeconds: 10 };
      const targets = targetsOf(audit);
      assert.ok(targets.length >= 7);
      for (const { panel, target } of targets) {
        assert.equal(target.queryText, target.rawQueryText, `${panel}: queryText and rawQueryText agree`);
        const sql = expandSqliteQuery(target.rawQueryText!, variables, range);
        assert.doesNotMatch(sql, /\$/, `${panel}: everything expanded`);
        const rows = db.prepare(sql).all() as Record<string, unknown>[];
        assert.ok(rows.length > 0, `${panel}: returns rows`);
        for (const column of target.timeColumns ?? []) {
          if (!(column in rows[0]!)) continue; // a table without a time column
          assert.ok(rows.every((r) => typeof r[column] === 'number' && r[column] > 1e9 && r[column] < 1e10), `${panel}: ${column} is Unix seconds`);
        }
        if (target.queryType === 'time series') assert.ok('time' in rows[0]!, `${panel}: a time series has a time column`);
      }
    } finally {
      db.close();
    }
  });

  test("Overview dashboard: every metric its PromQL names is in a scrape of tapwire's /_tapwire/metrics after the demo", () => {
    const overview = readDashboards().get('tapwire-overview')!.dashboard;
    const series = scrapedSeries(scrape);
    const queries = [
      ...targetsOf(overview).map(({ panel, target }) => ({ where: panel, expr: target.expr! })),
      ...overview.templating.list.map((v) => ({ where: `variable ${v.name}`, expr: (v.query as { query: string }).query })),
    ];
    let names = 0;
    for (const { where, expr } of queries) {
      const labelValues = /^label_values\((\w+), *(\w+)\)$/.exec(expr);
      if (labelValues) {
        assert.ok(series.get(labelValues[1]!)?.has(labelValues[2]!), `${where}: ${labelValues[1]} has the label ${labelValues[2]}`);
        names++;
        continue;
      }
      const metrics = promqlMetricNames(expr);
      assert.ok(metrics.length > 0, `${where}: names a metric`);
      for (const metric of metrics) {
        assert.ok(series.has(metric), `${where}: ${metric} is scraped`);
        names++;
      }
      for (const { metric, labels } of promqlSelectors(expr)) {
        for (const label of labels) assert.ok(series.get(metric)!.has(label), `${where}: ${metric} has the label ${label}`);
      }
    }
    assert.ok(names >= 20);
  });

  test('Traces dashboard: every span attribute its TraceQL filters on is emitted by the demo, and trace links lead to exported traces', () => {
    const traces = readDashboards().get('tapwire-traces')!.dashboard;
    const spans = collector.spans();
    assert.ok(spans.length > 0, 'the demo exported spans over OTLP');
    const queries = targetsOf(traces).filter(({ target }) => target.query !== '$trace_id');
    assert.ok(queries.length >= 4);
    for (const { panel, target } of queries) {
      const attributes = traceqlAttributes(target.query!);
      assert.ok(attributes.length > 0, `${panel}: names attributes`);
      for (const { scope, name, equals } of attributes) {
        const values = spans.map((s) => (scope === 'span' ? s.attributes : s.resource)[name]).filter((v) => v !== undefined);
        assert.ok(values.length > 0, `${panel}: ${scope}.${name} is on some span`);
        if (equals !== null) assert.ok(values.includes(equals), `${panel}: some span has ${scope}.${name} = "${equals}"`);
      }
    }
    // The Audit dashboard links trace ids to the Traces dashboard: each is a complete exported
    // trace, the agent's round span at its root and every other span under a span of the trace.
    const rows = readExchanges(foreverDb);
    const traceIds = new Set(rows.map((e) => e.trace_id));
    assert.ok(!traceIds.has(null), 'every exchange has a trace id');
    const rounds = [...forever.stdout.matchAll(/^ +\d+ {2}round done$/gm)].length;
    assert.equal(traceIds.size, rounds, 'one trace per round');
    for (const traceId of traceIds) {
      const inTrace = spans.filter((s) => s.traceId === traceId);
      const roots = inTrace.filter((s) => s.parentSpanId === null);
      assert.deepEqual(roots.map((s) => s.name), ['invoke_agent demo-agent'], `trace ${traceId} has the agent's span as its one root`);
      const ids = new Set(inTrace.map((s) => s.spanId));
      assert.ok(inTrace.every((s) => s.parentSpanId === null || ids.has(s.parentSpanId)), `trace ${traceId} has no missing parent`);
      assert.equal(inTrace.length - 1, rows.filter((e) => e.trace_id === traceId && e.span_id !== null).length, 'one exported span per recorded exchange, plus the root');
    }
  });
});
