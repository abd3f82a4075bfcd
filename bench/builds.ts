// `npm run bench:builds`: tapwire's proxy CPU per 1,000 requests for two builds in one run,
// so a change (a re-layout, a refactor) can show it costs no more than before. The baseline
// is the checkout named by BENCH_BASELINE (built there with `npm run build`), the new build
// is this checkout; each runs `tapwire run` with everything on (recording, the bench's 10
// policy rules, OTLP export to an endpoint in this process), beside the bare Node
// pass-through as the floor. Scenarios: a non-streamed chat completion, a streamed one and
// an MCP tools/call, each at a fixed open-loop rate from the load-generator process. The
// rounds alternate the builds (node, baseline, new, then node, new, baseline) so drift of
// the machine lands on both alike; each slice's CPU comes from /proc/<pid>/stat.
// Writes bench/results/builds-<date>.json and prints a table. `--quick` is CI's short run.
// Environment: BENCH_BASELINE (required), BENCH_RESULTS_DIR, BENCH_KEEP_DIR, BENCH_NOTE,
// BENCH_SIZE (JSON overriding fields of the run's size, see FULL below).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchMain, RESULTS_DIR } from './bench-main.js';
import { compare, markdown, summarise, writeBuildsResults, type Build, type BuildName, type BuildsReport, type BuildsSize, type Round, type Slice, type Subject } from './builds-report.js';
import { LoadProcess } from './load-client.js';
import type { LoadJob } from './load-process.js';
import { MCP_PATH } from './mcp-fixtures.js';
import { shortRequestBody } from './openai-fixtures.js';
import { startOtlpTarget } from './otlp-target.js';
import { CHAT_PATH, everythingOn, stopAndCheck, tapwirePeer, type RecordCheck, type TapwirePeer } from './peers.js';
import { cpuSeconds } from './proc.js';
import { forkListening, startSidecarProcess, startUpstream, stopChild, stopChildrenOnExit, tapwireCli, THIS_CHECKOUT } from './processes.js';
import { describeMachine } from './report.js';
import { percentiles } from './stats.js';


/** About 4 minutes. Rates well under tapwire's saturation, so CPU per request is not skewed by queueing. */
const FULL: BuildsSize = {
  quick: false,
  rounds: 6,
  sliceSeconds: 3,
  warmupSeconds: 2,
  settleSeconds: 1.2,
  chatRate: 300,
  streamRate: 50,
  mcpRate: 300,
  // 47 content chunks + role, finish and [DONE]: 50 events, as in the comparative bench.
  streamPieces: 47,
  streamEventDelayMs: 5,
};

const QUICK: BuildsSize = {
  ...FULL,
  quick: true,
  rounds: 2,
  sliceSeconds: 1,
  warmupSeconds: 0.3,
  settleSeconds: 0.2,
  chatRate: 100,
  streamRate: 50,
  mcpRate: 100,
  streamPieces: 10,
};

function sizeFor(quick: boolean): BuildsSize {
  const base = quick ? QUICK : FULL;
  const overrides = JSON.parse(process.env.BENCH_SIZE || '{}') as Record<string, unknown>;
  const unknown = Object.keys(overrides).filter((key) => !(key in base) || key === 'quick');
  if (unknown.length > 0) throw new Error(`BENCH_SIZE: no such field ${unknown.join(', ')} (fields: ${Object.keys(base).filter((k) => k !== 'quick').join(', ')})`);
  return { ...base, ...(overrides as Partial<BuildsSize>) };
}

/** Where a subject listens and which process to measure. */
interface Target {
  origin: string;
  llmPath: string;
  pid: number | undefined;
}

type OpenLoopPlan = Extract<LoadJob, { type: 'open-loop' }>['plan'];

interface Scenario {
  name: string;
  label: string;
  rate: number;
  plan(target: Target, seconds: number): OpenLoopPlan;
}

function scenarios(size: BuildsSize): Scenario[] {
  const chat = shortRequestBody(false).toString('utf8');
  const streamed = shortRequestBody(true).toString('utf8');
  // Every request of a job is measured: the warm-up is a job of its own.
  const schedule = (rate: number, seconds: number): Pick<OpenLoopPlan, 'rate' | 'warmupSeconds' | 'measuredSeconds' | 'includeUsage' | 'streamPieces'> => ({
    rate,
    warmupSeconds: 0,
    measuredSeconds: seconds,
    includeUsage: false,
    streamPieces: size.streamPieces,
  });
  return [
    { name: 'chat', label: 'chat completion', rate: size.chatRate, plan: (t, s) => ({ ...schedule(size.chatRate, s), path: t.llmPath, body: chat, stream: false }) },
    {
      name: 'chat-stream',
      label: `streamed chat completion (${size.streamPieces} chunks ${size.streamEventDelayMs} ms apart)`,
      rate: size.streamRate,
      plan: (t, s) => ({ ...schedule(size.streamRate, s), path: t.llmPath, body: streamed, stream: true }),
    },
    // MCP bodies are made per request (each its own JSON-RPC id); the route is /mcp on every subject.
    { name: 'mcp-tools-call', label: 'MCP tools/call', rate: size.mcpRate, plan: (_t, s) => ({ ...schedule(size.mcpRate, s), path: MCP_PATH, body: '', stream: false, mcp: true }) },
  ];
}

/** What a checkout is: its CLI, its git commit and whether tracked files changed since. */
function describeBuild(dir: string): Build {
  const git = (...args: string[]): string | null => {
    const run = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
    return run.status === 0 ? run.stdout.trim() : null;
  };
  const status = git('status', '--porcelain', '--untracked-files=no');
  return {
    dir,
    cli: tapwireCli(dir),
    commit: git('rev-parse', 'HEAD'),
    modified: status === null ? null : status !== '',
    version: (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version,
  };
}

/** One slice: the scenario's load for `seconds`, then the settle time, CPU read around both. */
async function runSlice(load: LoadProcess, scenario: Scenario, target: Target, seconds: number, settleSeconds: number): Promise<Slice> {
  const before = cpuSeconds(target.pid);
  const result = await load.openLoop(target.origin, scenario.plan(target, seconds));
  await sleep(settleSeconds * 1000);
  const after = cpuSeconds(target.pid);
  const cpu = before === null || after === null ? null : after - before;
  const latency = percentiles(result.latencyMs);
  return {
    sent: result.sent,
    ok: result.measuredOk,
    errors: result.errors,
    cpuSeconds: cpu,
    cpuSecondsPer1k: cpu === null || result.sent === 0 ? null : (cpu * 1000) / result.sent,
    requestsPerSecond: result.measuredCompleted / (result.measuredWallMs / 1000),
    p50Ms: latency.p50,
    p99Ms: latency.p99,
  };
}

/**
 * The floor first, then the builds, baseline first in even rounds and new first in odd ones:
 * each build follows the floor as often as it follows the other build.
 */
function orderOf(round: number): Subject[] {
  return round % 2 === 0 ? ['node', 'baseline', 'new'] : ['node', 'new', 'baseline'];
}

async function main(): Promise<number> {
  const quick = process.argv.includes('--quick');
  if (!process.env.BENCH_BASELINE) {
    console.error('bench:builds: set BENCH_BASELINE to the directory of another tapwire checkout, built there with `npm run build`');
    return 2;
  }
  const size = sizeFor(quick);
  const builds: Record<BuildName, Build> = { baseline: describeBuild(resolve(process.env.BENCH_BASELINE)), new: describeBuild(THIS_CHECKOUT) };
  const startedAt = new Date();
  const loadAverageAtStart = loadavg();
  const plans = scenarios(size);
  return benchMain('bench:builds', 'tapwire-bench-builds-', async ({ dir, kept, log, atEnd }) => {
    const upstream = await startUpstream(size.streamEventDelayMs, size.streamPieces);
    const node = await forkListening('./passthrough.js', [upstream.origin], 'bare Node pass-through');
    const otlp = await startOtlpTarget('accepting');
    atEnd(() => otlp.close());
    const tapwires = {} as Record<BuildName, TapwirePeer>;
    for (const name of ['baseline', 'new'] as const) {
      const options = { ...everythingOn(join(dir, name), upstream.origin, otlp.url), cli: builds[name].cli };
      tapwires[name] = tapwirePeer(await startSidecarProcess(options));
    }
    const targets: Record<Subject, Target> = {
      node: { origin: node.origin, llmPath: CHAT_PATH, pid: node.child.pid },
      baseline: tapwires.baseline,
      new: tapwires.new,
    };
    const load = await LoadProcess.start();
    const sliceCount = size.rounds * plans.length * 3;
    const estimate = plans.length * 3 * size.warmupSeconds + sliceCount * (size.sliceSeconds + size.settleSeconds);
    log(`tapwire builds bench${quick ? ' (--quick)' : ''}: baseline ${builds.baseline.commit ?? builds.baseline.dir}, new ${builds.new.commit ?? builds.new.dir}; about ${Math.ceil(estimate)} s of load; work dir ${dir}`);

    const sent: Record<BuildName, number> = { baseline: 0, new: 0 };
    const failed: Record<BuildName, number> = { baseline: 0, new: 0 };
    const count = (subject: Subject, slice: Pick<Slice, 'sent' | 'ok'>): void => {
      if (subject === 'node') return;
      sent[subject] += slice.sent;
      failed[subject] += slice.sent - slice.ok;
    };
    log('warm-up');
    for (const scenario of plans) {
      for (const subject of orderOf(0)) {
        const warm = await load.openLoop(targets[subject].origin, scenario.plan(targets[subject], size.warmupSeconds));
        count(subject, { sent: warm.sent, ok: warm.measuredOk });
      }
    }
    const rounds = new Map<Scenario, Round[]>(plans.map((p) => [p, []]));
    for (let round = 0; round < size.rounds; round++) {
      for (const scenario of plans) {
        const order = orderOf(round);
        const slices = {} as Record<Subject, Slice>;
        for (const subject of order) {
          const slice = await runSlice(load, scenario, targets[subject], size.sliceSeconds, size.settleSeconds);
          slices[subject] = slice;
          count(subject, slice);
          const errors = slice.sent - slice.ok;
          log(
            `  round ${round + 1}/${size.rounds} ${scenario.name.padEnd(14)} ${subject.padEnd(8)} ` +
              `${slice.cpuSecondsPer1k?.toFixed(3) ?? '–'} CPU s/1k, ${slice.requestsPerSecond.toFixed(1)} req/s, ` +
              `p50 ${slice.p50Ms.toFixed(2)} p99 ${slice.p99Ms.toFixed(2)} ms${errors > 0 ? `, ${errors} errors ${JSON.stringify(slice.errors)}` : ''}`,
          );
        }
        rounds.get(scenario)!.push({ round: round + 1, order, slices });
      }
    }
    await load.close();
    const records: RecordCheck[] = [];
    for (const name of ['baseline', 'new'] as const) records.push(await stopAndCheck(tapwires[name], `${name} build`, sent[name]));
    await stopChild(node.child, 'SIGTERM', 5_000);
    await stopChild(upstream.child, 'SIGTERM', 5_000);

    const report: BuildsReport = {
      kind: 'tapwire builds bench',
      quick,
      date: startedAt.toISOString().slice(0, 10),
      startedAt: startedAt.toISOString(),
      durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
      note: process.env.BENCH_NOTE || null,
      machine: { ...describeMachine(builds.new.version), loadAverageAtStart, loadAverageAtEnd: loadavg() },
      size,
      builds,
      scenarios: plans.map((p) => {
        const all = rounds.get(p)!;
        return { name: p.name, label: p.label, rate: p.rate, rounds: all, medians: summarise(all), newOverBaseline: compare(all) };
      }),
      records: records.map((r) => ({ ...r, dbPath: kept ? r.dbPath : '(removed)' })),
    };
    log(`\n${markdown(report)}`);
    log(`wrote ${writeBuildsResults(RESULTS_DIR, report)}`);
    // The exit code says whether both builds did their job: every request answered right and recorded once.
    const succeeded = records.every((r) => r.passed) && failed.baseline + failed.new === 0;
    if (!succeeded) console.error(`bench:builds: ${failed.baseline} requests failed through the baseline, ${failed.new} through the new build; ${records.filter((r) => !r.passed).length} record checks off`);
    return succeeded;
  });
}

stopChildrenOnExit();
process.exitCode = await main();
