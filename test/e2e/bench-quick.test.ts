// `npm run bench -- --quick` as CI runs it, so the benchmark code keeps working: it must exit
// 0, write a results file naming every scenario, peer and target, and leave behind tapwire
// databases that hold exactly one exchange per request the load generator sent. The request
// counts are worked out here from the run's size, not taken from the bench's own tally. No
// time or speed is asserted: those are the bench's output, not its correctness.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { RunReport } from '../../bench/run-report.js';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
const PEERS = ['direct', 'node', 'nginx', 'portkey', 'tapwire', 'recording'];

const work = mkdtempSync(join(tmpdir(), 'tapwire-bench-quick-'));
after(() => rmSync(work, { recursive: true, force: true }));

function exchanges(dbPath: string): { protocol: string; method: string | null; status: string; streamed: number }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT protocol, method, status, streamed FROM exchanges').all() as ReturnType<typeof exchanges>;
  } finally {
    db.close();
  }
}

test('the quick bench runs every scenario against every peer and tapwire records each request once', { timeout: 600_000 }, async () => {
  const keep = join(work, 'run');
  const results = join(work, 'results');
  const child = spawn(process.execPath, [RUN, '--quick'], {
    env: { ...process.env, BENCH_KEEP_DIR: keep, BENCH_RESULTS_DIR: results, BENCH_PROFILE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, output);

  const files = readdirSync(results);
  assert.equal(files.length, 1, `one results file, got ${files.join(', ')}`);
  assert.match(files[0]!, /^bench-\d{4}-\d\d-\d\d-quick\.json$/);
  const report = JSON.parse(readFileSync(join(results, files[0]!), 'utf8')) as RunReport;
  const size = report.size;
  assert.equal(report.quick, true);
  for (const key of ['tapwire', 'node', 'nginx', 'wrk', '@portkey-ai/gateway']) assert.ok(report.versions[key] && report.versions[key] !== 'unknown', `version of ${key}`);
  assert.ok(report.machine.cpuCount > 0 && report.machine.node === process.version);

  // Every peer in every scenario it takes part in; Portkey has no MCP route.
  for (const rate of size.rates) {
    assert.deepEqual(report.latency.filter((r) => r.workload === 'llm' && r.rate === rate).map((r) => r.peer), PEERS);
    assert.deepEqual(report.latency.filter((r) => r.workload === 'mcp' && r.rate === rate).map((r) => r.peer), PEERS.filter((p) => p !== 'portkey'));
  }
  for (const row of report.latency) assert.equal(row.ok, row.measuredSent, `${row.workload} ${row.peer}: every request answered right (${JSON.stringify(row.errors)})`);
  assert.deepEqual(report.saturation.rows.map((r) => r.peer), PEERS);
  for (const row of report.saturation.rows) assert.ok(row.requests > 0 && row.errors === 0, `wrk through ${row.peer}`);
  assert.deepEqual(report.streaming.map((r) => r.peer), PEERS);
  for (const row of report.streaming) {
    assert.equal(row.ok, size.streamConcurrency * size.streamRounds, `streams through ${row.peer}`);
    assert.equal(row.firstRoundFirstEventMs.count, size.streamConcurrency, `the unmeasured first round through ${row.peer}`);
    assert.equal(row.firstRoundErrors, 0, `the first round's streams through ${row.peer}`);
  }
  for (const memory of [report.memory, report.memoryRecordingOnly]) {
    assert.equal(memory.ok, size.memoryStreams);
    assert.ok(memory.idleBytes !== null && memory.peakBytes !== null);
  }
  assert.ok(report.bareIdleBytes !== null);
  assert.equal(report.store.committed, size.storeExchanges);
  assert.equal(report.startup.runs, size.startupRuns);
  assert.equal(report.startupRecordingOnly.runs, size.startupRuns);
  // The packed tarball, installed with production dependencies only, runs the sidecar; the demo names what it lacks.
  assert.ok(report.install.runAnswered && report.install.nodeModulesBytes > 0 && report.install.packages > 0);
  assert.equal(report.install.demoExitCode, 2);
  assert.match(report.install.demoMessage, /the demo needs packages/);
  assert.equal(report.policyEval.length, 4);
  const targetNames = report.targets.map((t) => t.name).join('\n');
  for (const what of ['p50 added', 'p99 added', 'saturation', 'first event', 'batched', 'RSS under', 'RSS idle', 'committed', 'start-up', 'policy decision', 'one exchange', 'footprint: saturation', 'footprint: proxy CPU-ms', 'footprint: added p50', 'footprint: stream time to first event', 'footprint: RSS idle', 'footprint: RSS,', 'footprint: start to first proxied']) {
    assert.ok(targetNames.includes(what), `a target for "${what}"`);
  }
  for (const target of report.targets) assert.equal(typeof target.met, 'boolean');

  // The databases tapwire left, against the requests each scenario sent by its plan.
  const perLatencyRun = Math.round(size.rates[0]! * size.latencyWarmupSeconds) + Math.round(size.rates[0]! * size.latencySeconds);
  assert.equal(size.rates.length, 1, 'the quick run has one rate');
  assert.equal(size.latencyRounds, 1, 'the quick run has one round');
  const tapwireDir = join(keep, 'tapwire');
  const dirs = readdirSync(tapwireDir).sort();
  const db = (suffix: string): string => {
    const dir = dirs.find((d) => d.endsWith(suffix));
    assert.ok(dir, `a tapwire for ${suffix} in ${dirs.join(', ')}`);
    const path = join(tapwireDir, dir, 'tapwire.db');
    assert.ok(existsSync(path));
    return path;
  };
  const llm = exchanges(db(`latency-llm-${size.rates[0]}-s`));
  assert.equal(llm.length, perLatencyRun);
  assert.ok(llm.every((e) => e.protocol === 'llm' && e.method === 'POST /v1/chat/completions' && e.status === 'ok' && e.streamed === 0));
  const mcp = exchanges(db(`latency-mcp-${size.rates[0]}-s`));
  assert.equal(mcp.length, perLatencyRun);
  assert.ok(mcp.every((e) => e.protocol === 'mcp' && e.method === 'tools/call' && e.status === 'ok'));
  // The streaming scenario sends one unmeasured round before the measured ones.
  const streamsSent = size.streamConcurrency * (size.streamRounds + 1);
  const streams = exchanges(db('-streaming'));
  assert.equal(streams.length, streamsSent);
  assert.ok(streams.every((e) => e.streamed === 1 && e.status === 'ok'));
  const many = exchanges(db('-memory'));
  assert.equal(many.length, size.memoryStreams);
  assert.ok(many.every((e) => e.streamed === 1 && e.status === 'ok'));
  for (let run = 1; run <= size.startupRuns; run++) assert.equal(exchanges(db(`-startup-${run}`)).length, 1);
  // Recording only: the same requests, each recorded once.
  assert.equal(exchanges(db(`latency-llm-${size.rates[0]}-s-recording-only`)).length, perLatencyRun);
  assert.equal(exchanges(db(`latency-mcp-${size.rates[0]}-s-recording-only`)).length, perLatencyRun);
  assert.equal(exchanges(db('-streaming-recording-only')).length, streamsSent);
  assert.equal(exchanges(db('-memory-recording-only')).length, size.memoryStreams);
  for (let run = 1; run <= size.startupRuns; run++) assert.equal(exchanges(db(`-startup-${run}-recording-only`)).length, 1);
  // wrk counts the answers it read; requests cut when its time is up may be recorded too (one per connection per wrk run).
  const wrkRow = report.saturation.rows.find((r) => r.peer === 'tapwire')!;
  const saturation = exchanges(db('-saturation'));
  assert.ok(saturation.length >= wrkRow.requests, `${saturation.length} recorded, wrk read ${wrkRow.requests} in its measured run alone`);
  assert.ok(saturation.every((e) => e.status === 'ok' || e.status === 'aborted'));
  assert.ok(report.records.every((r) => r.passed), JSON.stringify(report.records));
});
