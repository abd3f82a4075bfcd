// `npm run bench:builds -- --quick` as CI runs it, with this checkout as its own baseline, so
// the builds bench keeps working: it must exit 0 and write a results file naming both builds
// (their checkout, CLI and git commit) with, for every scenario and round, requests answered
// and CPU used by each build. No time, speed or ratio is asserted: those are the bench's output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BuildsReport } from '../../bench/builds-report.js';

const BUILDS = fileURLToPath(new URL('../../bench/builds.js', import.meta.url));
const CHECKOUT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));

const work = mkdtempSync(join(tmpdir(), 'tapwire-bench-builds-quick-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the quick builds bench measures both builds and the floor in every scenario and round', { timeout: 300_000 }, async () => {
  const results = join(work, 'results');
  const child = spawn(process.execPath, [BUILDS, '--quick'], {
    env: { ...process.env, BENCH_BASELINE: CHECKOUT, BENCH_RESULTS_DIR: results, BENCH_KEEP_DIR: '', BENCH_SIZE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, output);

  const files = readdirSync(results);
  assert.equal(files.length, 1, `one results file, got ${files.join(', ')}`);
  assert.match(files[0]!, /^builds-\d{4}-\d\d-\d\d-quick\.json$/);
  const report = JSON.parse(readFileSync(join(results, files[0]!), 'utf8')) as BuildsReport;
  assert.equal(report.quick, true);
  assert.ok(report.machine.cpuCount > 0 && report.machine.node === process.version);

  for (const name of ['baseline', 'new'] as const) {
    const build = report.builds[name];
    assert.equal(build.dir, CHECKOUT, `${name} build's checkout`);
    assert.ok(build.cli.startsWith(CHECKOUT) && build.cli.endsWith('.js'), `${name} build's CLI: ${build.cli}`);
    assert.match(build.commit ?? '', /^[0-9a-f]{40}$/, `${name} build's commit`);
  }

  assert.deepEqual(report.scenarios.map((s) => s.name), ['chat', 'chat-stream', 'mcp-tools-call']);
  for (const scenario of report.scenarios) {
    assert.equal(scenario.rounds.length, report.size.rounds, scenario.name);
    for (const round of scenario.rounds) {
      assert.deepEqual([...round.order].sort(), ['baseline', 'new', 'node'], `${scenario.name} round ${round.round}: every subject once`);
      for (const [subject, slice] of Object.entries(round.slices)) {
        const where = `${scenario.name} round ${round.round} ${subject}`;
        assert.ok(slice.sent > 0, `${where}: requests sent`);
        assert.equal(slice.ok, slice.sent, `${where}: every request answered right (${JSON.stringify(slice.errors)})`);
        assert.ok(slice.cpuSeconds !== null && slice.cpuSeconds >= 0, `${where}: CPU read`);
      }
    }
    for (const name of ['baseline', 'new'] as const) {
      const summary = scenario.medians[name];
      assert.ok(summary.sent > 0 && summary.ok === summary.sent, `${scenario.name} ${name}: requests`);
      assert.ok(summary.cpuSecondsPer1k !== null && summary.cpuSecondsPer1k > 0, `${scenario.name} ${name}: CPU per 1k requests`);
    }
    assert.equal(typeof scenario.newOverBaseline.median, 'number', `${scenario.name}: new over baseline`);
  }

  // Each build's database holds one exchange per request it was sent, warm-ups included.
  assert.deepEqual(report.records.map((r) => r.scenario), ['baseline build', 'new build']);
  for (const record of report.records) assert.ok(record.passed && record.sent > 0, JSON.stringify(record));
});
