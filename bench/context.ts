// What every scenario of the comparative bench (bench/run.ts) is given: the load generator,
// the standing peers, where to start tapwire, the run's size, and a progress logger.
import { join } from 'node:path';
import type { LoadProcess } from './load-client.js';
import { everythingOn, recordingOnly, tapwirePeer, type StandingPeers, type TapwirePeer, type TapwireVariant } from './peers.js';
import { startSidecarProcess, type SidecarOptions } from './processes.js';

/** The run's size: `--quick` for CI, the full one otherwise. */
export interface BenchSize {
  quick: boolean;
  rates: number[];
  latencySeconds: number;
  latencyWarmupSeconds: number;
  latencyRounds: number;
  wrkSeconds: number;
  wrkWarmupSeconds: number;
  wrkConnections: number;
  streamConcurrency: number;
  streamRounds: number;
  streamPieces: number;
  streamEventDelayMs: number;
  memoryStreams: number;
  storeExchanges: number;
  startupRuns: number;
  policyIterations: number;
}

export const FULL: BenchSize = {
  quick: false,
  rates: [500, 1000],
  latencySeconds: 15,
  latencyWarmupSeconds: 1,
  latencyRounds: 5,
  wrkSeconds: 10,
  wrkWarmupSeconds: 2,
  wrkConnections: 32,
  streamConcurrency: 16,
  streamRounds: 20,
  // 47 content chunks + role, finish and [DONE]: 50 events.
  streamPieces: 47,
  streamEventDelayMs: 5,
  memoryStreams: 1000,
  storeExchanges: 1_000_000,
  startupRuns: 5,
  policyIterations: 20_000,
};

export const QUICK: BenchSize = {
  ...FULL,
  quick: true,
  rates: [200],
  latencySeconds: 1,
  latencyWarmupSeconds: 0.5,
  latencyRounds: 1,
  wrkSeconds: 1,
  wrkWarmupSeconds: 1,
  streamRounds: 2,
  memoryStreams: 100,
  storeExchanges: 20_000,
  startupRuns: 1,
  policyIterations: 2_000,
};

export class BenchContext {
  private tapwires = 0;

  constructor(
    readonly size: BenchSize,
    readonly dir: string,
    readonly load: LoadProcess,
    readonly standing: StandingPeers,
    readonly upstreamOrigin: string,
    readonly upstreamPid: number | undefined,
    readonly otlpUrl: string,
    readonly log: (line: string) => void,
  ) {}

  /** A fresh tapwire (everything on, or recording only) in its own directory, named after the scenario, once it answers. */
  async startTapwire(scenario: string, variant: TapwireVariant = 'tapwire'): Promise<TapwirePeer> {
    return tapwirePeer(await startSidecarProcess(this.tapwireOptions(scenario, variant)), variant);
  }

  /**
   * The options of a fresh tapwire in its own directory named after the scenario (and
   * `-recording-only` after it for that variant, so the names of everything on keep their ends).
   */
  tapwireOptions(scenario: string, variant: TapwireVariant = 'tapwire'): SidecarOptions {
    const name = `${String(++this.tapwires).padStart(2, '0')}-${scenario.replace(/[^a-z0-9]+/gi, '-')}${variant === 'recording' ? '-recording-only' : ''}`;
    const dir = join(this.dir, 'tapwire', name);
    return variant === 'tapwire' ? everythingOn(dir, this.upstreamOrigin, this.otlpUrl, profileFlags(name)) : recordingOnly(dir, this.upstreamOrigin, profileFlags(name));
  }
}

/** BENCH_PROFILE=<dir>: every tapwire writes a V8 CPU profile there (summarise with cpuprofile-summary.js). */
function profileFlags(name: string): string[] {
  const dir = process.env.BENCH_PROFILE;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}
