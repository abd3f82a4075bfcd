// `npm run bench`: tapwire (everything on, and recording only) against direct calls, a bare
// Node pass-through, nginx and the Portkey gateway, in one run on one machine (issues 11 and
// 23): added latency at a fixed open-loop rate (chat completions and MCP tools/call),
// throughput at saturation (wrk, pinned), streaming (time to first event, no batching),
// memory, store throughput and size, start-up, policy evaluation, and the production install. Every scenario checks that tapwire recorded exactly one exchange per
// request. Writes bench/results/bench-<date>.json (with machine, versions and date, each
// target met or not) and its summary to bench/results/README.md. `--quick` is the short run
// CI uses to keep this code working; its numbers mean nothing.
// Environment: BENCH_RESULTS_DIR (default bench/results), BENCH_KEEP_DIR (keep the work dir,
// databases included, at this path), BENCH_NOTE (a line put at the top of the results, e.g.
// that the machine was busy), BENCH_SIZE (JSON overriding fields of the run's size, see
// context.ts), BENCH_PROFILE=<dir> (each tapwire writes a CPU profile there),
// BENCH_TAPWIRE_CLI (the entry tapwire runs from; dist/cli/cli.js for profiles that name files),
// BENCH_NGINX, BENCH_WRK (binaries, default /usr/sbin/nginx and /usr/bin/wrk).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { benchMain, RESULTS_DIR } from './bench-main.js';
import { BenchContext, FULL, QUICK, type BenchSize } from './context.js';
import { LoadProcess } from './load-client.js';
import { startOtlpTarget } from './otlp-target.js';
import { PEER_LABELS, startStandingPeers, TAPWIRE_VARIANTS, type PeerName } from './peers.js';
import { measureInstall } from './install-size.js';
import { measurePolicyEval } from './policy-eval.js';
import { startUpstream, stopChild, stopChildrenOnExit } from './processes.js';
import { rssBytes } from './proc.js';
import { describeMachine } from './report.js';
import { judgeTargets, markdown, writeRunResults, type RunReport } from './run-report.js';
import { runLatency } from './scenario-latency.js';
import { runSaturation, WRK_BINARY } from './scenario-saturation.js';
import { runStartup } from './scenario-startup.js';
import { runStore } from './scenario-store.js';
import { runStreaming } from './scenario-streaming.js';
import { NGINX_BINARY } from './nginx.js';


/** A tool's version from what it prints (nginx -v prints to stderr). */
function commandVersion(command: string, args: string[], pattern: RegExp): string {
  const run = spawnSync(command, args, { encoding: 'utf8' });
  return pattern.exec(`${run.stdout ?? ''}${run.stderr ?? ''}`)?.[1] ?? 'unknown';
}

function versions(tapwire: string): Record<string, string> {
  const require = createRequire(import.meta.url);
  const portkeyDir = dirname(require.resolve('@portkey-ai/gateway/package.json'));
  const version = (path: string): string => (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  // The copy Portkey resolves: its own (the pinned override) or a hoisted one.
  const honoServer = [join(portkeyDir, 'node_modules'), ...(require.resolve.paths('@hono/node-server') ?? [])]
    .map((base) => join(base, '@hono', 'node-server', 'package.json'))
    .find((path) => existsSync(path));
  return {
    tapwire,
    node: process.version,
    nginx: commandVersion(NGINX_BINARY, ['-v'], /nginx\/(\S+)/),
    wrk: commandVersion(WRK_BINARY, ['--version'], /wrk (\S+)/),
    '@portkey-ai/gateway': version(join(portkeyDir, 'package.json')),
    '@hono/node-server (under Portkey)': honoServer ? version(honoServer) : 'unknown',
  };
}

async function main(): Promise<number> {
  const quick = process.argv.includes('--quick');
  // BENCH_SIZE: JSON overriding parts of the run's size, e.g. a shorter full run on a busy machine; the results record the size used.
  const size: BenchSize = { ...(quick ? QUICK : FULL), ...(JSON.parse(process.env.BENCH_SIZE || '{}') as Partial<BenchSize>) };
  const startedAt = new Date();
  const loadAverageAtStart = loadavg();
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return benchMain('bench', 'tapwire-bench-', async ({ dir, kept, log, atEnd }) => {
    const upstream = await startUpstream(size.streamEventDelayMs, size.streamPieces);
    const standing = await startStandingPeers(dir, upstream.origin);
    const otlp = await startOtlpTarget('accepting');
    atEnd(() => otlp.close());
    const load = await LoadProcess.start();
    // The floor's own footprint: the bare pass-through before it carried anything.
    const bareIdleBytes = rssBytes(standing.peers.node.pid);
    const ctx = new BenchContext(size, dir, load, standing, upstream.origin, upstream.child.pid, otlp.url, log);
    log(`tapwire ${pkg.version} comparative bench${quick ? ' (--quick)' : ''}: upstream ${upstream.origin}, work dir ${dir}`);

    log('1. added latency, open loop');
    const latency = await runLatency(ctx);
    log('2. throughput at saturation (wrk)');
    const saturation = await runSaturation(ctx);
    log('3. streaming and memory');
    const streaming = await runStreaming(ctx);
    log('4. store');
    const store = await runStore(ctx, latency.records[0]!.dbPath);
    log('6. start-up');
    const startup = await runStartup(ctx);
    const startupRecordingOnly = await runStartup(ctx, 'recording');
    log('7. policy evaluation');
    const policyEval = measurePolicyEval(size.policyIterations);
    log('8. production install');
    const install = await measureInstall(join(dir, 'install'), log);

    await load.close();
    for (const process of standing.processes) await stopChild(process.child, 'SIGTERM', 5_000);
    await stopChild(upstream.child, 'SIGTERM', 5_000);
    const records = [...latency.records, ...saturation.records, ...streaming.records, ...startup.records, ...startupRecordingOnly.records];
    const partial: Omit<RunReport, 'targets'> = {
      kind: 'tapwire comparative bench',
      quick,
      date: startedAt.toISOString().slice(0, 10),
      startedAt: startedAt.toISOString(),
      durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
      note: process.env.BENCH_NOTE || null,
      machine: { ...describeMachine(pkg.version), loadAverageAtStart, loadAverageAtEnd: loadavg() },
      versions: versions(pkg.version),
      size,
      peers: PEER_LABELS,
      latency: latency.rows,
      saturation: { pinning: saturation.pinning, rows: saturation.rows },
      streaming: streaming.rows,
      memory: streaming.memory.tapwire,
      memoryRecordingOnly: streaming.memory.recording,
      bareIdleBytes,
      store,
      startup: startup.result,
      startupRecordingOnly: startupRecordingOnly.result,
      policyEval,
      install,
      records: records.map((r) => ({ ...r, dbPath: kept ? r.dbPath : '(removed)' })),
    };
    const report: RunReport = { ...partial, targets: judgeTargets(partial) };
    log(`\n${markdown(report)}`);
    log(`wrote ${writeRunResults(RESULTS_DIR, report)}`);
    // The exit code says whether tapwire did its job (every request answered right and
    // recorded once); other peers' failures are their results, in the tables.
    const isTapwire = (peer: PeerName): boolean => (TAPWIRE_VARIANTS as readonly string[]).includes(peer);
    const tapwireErrors =
      latency.rows.filter((r) => isTapwire(r.peer)).reduce((n, r) => n + (r.measuredSent - r.ok), 0) +
      saturation.rows.filter((r) => isTapwire(r.peer)).reduce((n, r) => n + r.errors, 0) +
      streaming.rows.filter((r) => isTapwire(r.peer)).reduce((n, r) => n + (r.sent - r.ok) + r.firstRoundErrors, 0) +
      Object.values(streaming.memory).reduce((n, m) => n + (m.streams - m.ok), 0);
    // The install must run the sidecar, and the demo must say what it lacks (exit 2), not crash.
    const installWorks = install.runAnswered && install.demoExitCode === 2;
    if (!installWorks) console.error(`bench: the production install ${install.runAnswered ? '' : 'did not run tapwire; '}gave tapwire demo exit code ${String(install.demoExitCode)}: ${install.demoMessage}`);
    const succeeded = records.every((r) => r.passed) && tapwireErrors === 0 && installWorks;
    if (!succeeded) console.error(`bench: ${tapwireErrors} requests through tapwire failed, ${records.filter((r) => !r.passed).length} record checks off`);
    return succeeded;
  });
}

stopChildrenOnExit();
process.exitCode = await main();
