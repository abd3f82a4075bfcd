// The report of the builds bench (bench/builds.ts): for each scenario, every round's numbers
// for the bare Node pass-through and the two tapwire builds, their medians over the rounds,
// and the new build's CPU per 1,000 requests against the baseline's, round by round; the
// Markdown printed at the end and the JSON results file. Rendering only.
import type { RecordCheck } from './peers.js';
import { markdownTable, recordChecksTable, writeResultsJson, type Machine } from './report.js';
import { percentiles } from './stats.js';

/** What gets the load: the floor, then the two builds. */
const SUBJECTS = ['node', 'baseline', 'new'] as const;
export type Subject = (typeof SUBJECTS)[number];
export type BuildName = Exclude<Subject, 'node'>;

const SUBJECT_LABELS: Record<Subject, string> = {
  node: 'bare Node pass-through',
  baseline: 'tapwire, baseline build',
  new: 'tapwire, new build',
};

/** The run's size: `--quick` for CI, the full one otherwise; BENCH_SIZE overrides fields. */
export interface BuildsSize {
  quick: boolean;
  /** Rounds; in each, every scenario gives each subject one slice, in alternating order. */
  rounds: number;
  /** Measured seconds of one slice. */
  sliceSeconds: number;
  /** Unmeasured load per subject and scenario before the first round. */
  warmupSeconds: number;
  /** Wait after each slice's last answer before its CPU is read, so the work tapwire defers (record commits every 100 ms, span export every second) is counted with the requests that caused it. */
  settleSeconds: number;
  /** Offered open-loop rates, requests/s. */
  chatRate: number;
  streamRate: number;
  mcpRate: number;
  /** Content chunks per stream, and the upstream's delay between stream events. */
  streamPieces: number;
  streamEventDelayMs: number;
}

export interface Build {
  /** The checkout. */
  dir: string;
  /** Its CLI entry (package.json bin.tapwire). */
  cli: string;
  /** `git rev-parse HEAD`; null when the directory is not a git checkout. */
  commit: string | null;
  /** Tracked files changed since that commit (the commit alone does not say what was built); null without git. */
  modified: boolean | null;
  version: string;
}

/** One subject's slice of one round of one scenario. */
export interface Slice {
  sent: number;
  ok: number;
  errors: Record<string, number>;
  /** CPU (user + system, every thread) from the slice's start to the end of its settle time, s; null off Linux. */
  cpuSeconds: number | null;
  cpuSecondsPer1k: number | null;
  /** Answers per second over the slice (its offered rate unless the subject fell behind). */
  requestsPerSecond: number;
  /** From each request's scheduled send to its last body byte. */
  p50Ms: number;
  p99Ms: number;
}

export interface Round {
  round: number;
  order: Subject[];
  slices: Record<Subject, Slice>;
}

/** Medians over the rounds (nearest rank), requests and errors summed. */
export interface Summary {
  cpuSecondsPer1k: number | null;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  sent: number;
  ok: number;
}

export interface Comparison {
  /** New build's CPU per 1k ÷ the baseline's, each round (the same round, so drift cancels). */
  ratios: number[];
  median: number | null;
  min: number | null;
  max: number | null;
  /**
   * higher (lower): above (below) 1 in every round, of at least SIGN_ROUNDS rounds; equal
   * builds do that by chance 2 × 0.5^rounds of the time (3% for 6). Otherwise no clear
   * difference, or unknown without CPU numbers (off Linux).
   */
  verdict: 'higher' | 'lower' | 'no clear difference' | 'unknown';
}

/** Rounds needed before every round on one side means more than chance (2 × 0.5^6 ≈ 3%). */
const SIGN_ROUNDS = 6;

export interface ScenarioReport {
  name: string;
  label: string;
  rate: number;
  rounds: Round[];
  medians: Record<Subject, Summary>;
  newOverBaseline: Comparison;
}

export interface BuildsReport {
  kind: 'tapwire builds bench';
  quick: boolean;
  date: string;
  startedAt: string;
  durationSeconds: number;
  /** BENCH_NOTE: e.g. that the machine was busy with other work. */
  note: string | null;
  machine: Machine & { loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  size: BuildsSize;
  builds: Record<BuildName, Build>;
  scenarios: ScenarioReport[];
  /** Each build's database against every request it was sent, warm-ups included. */
  records: RecordCheck[];
}

const median = (values: number[]): number => percentiles(values).p50;

function known(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null && Number.isFinite(v));
}

export function summarise(rounds: Round[]): Record<Subject, Summary> {
  const of = (subject: Subject): Summary => {
    const slices = rounds.map((r) => r.slices[subject]);
    const cpu = known(slices.map((s) => s.cpuSecondsPer1k));
    return {
      cpuSecondsPer1k: cpu.length > 0 ? median(cpu) : null,
      requestsPerSecond: median(slices.map((s) => s.requestsPerSecond)),
      p50Ms: median(slices.map((s) => s.p50Ms)),
      p99Ms: median(slices.map((s) => s.p99Ms)),
      sent: slices.reduce((n, s) => n + s.sent, 0),
      ok: slices.reduce((n, s) => n + s.ok, 0),
    };
  };
  return { node: of('node'), baseline: of('baseline'), new: of('new') };
}

export function compare(rounds: Round[]): Comparison {
  const ratios = known(
    rounds.map((r) => {
      const [base, next] = [r.slices.baseline.cpuSecondsPer1k, r.slices.new.cpuSecondsPer1k];
      return base === null || next === null || base === 0 ? null : next / base;
    }),
  );
  if (ratios.length === 0) return { ratios, median: null, min: null, max: null, verdict: 'unknown' };
  const [min, max] = [Math.min(...ratios), Math.max(...ratios)];
  const enough = ratios.length >= SIGN_ROUNDS;
  return { ratios, median: median(ratios), min, max, verdict: enough && min > 1 ? 'higher' : enough && max < 1 ? 'lower' : 'no clear difference' };
}

const f = (v: number | null, digits: number): string => (v === null || Number.isNaN(v) ? '–' : v.toFixed(digits));

function buildLine(name: BuildName, build: Build): string {
  const commit = build.commit === null ? 'no git commit' : `commit ${build.commit.slice(0, 12)}${build.modified ? ' plus uncommitted changes' : ''}`;
  return `- ${name}: ${build.dir} (${commit}; CLI ${build.cli})`;
}

export function markdown(r: BuildsReport): string {
  const s = r.size;
  const m = r.machine;
  return [
    `## tapwire builds, ${r.date}${r.quick ? ' (--quick: the numbers mean nothing)' : ''}`,
    '',
    ...(r.note ? [`> ${r.note}`, ''] : []),
    `- Machine: ${m.cpu}, ${m.cpuCount} CPUs, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; load average ${m.loadAverageAtStart.map((v) => v.toFixed(2)).join(' ')} at start.`,
    buildLine('baseline', r.builds.baseline),
    buildLine('new', r.builds.new),
    `- ${s.rounds} rounds of ${s.sliceSeconds} s per subject and scenario (after ${s.warmupSeconds} s unmeasured), open-loop load; ` +
      `CPU read ${s.settleSeconds} s after each slice's last answer. Medians over the rounds; latency in ms from the scheduled send.`,
    '',
    markdownTable(
      ['scenario', 'subject', 'CPU s / 1k req', '× node', 'req/s', 'p50 ms', 'p99 ms', 'ok / sent'],
      r.scenarios.flatMap((sc) =>
        SUBJECTS.map((subject) => {
          const x = sc.medians[subject];
          const floor = sc.medians.node.cpuSecondsPer1k;
          return [
            `${sc.label}, ${sc.rate}/s`,
            SUBJECT_LABELS[subject],
            f(x.cpuSecondsPer1k, 3),
            x.cpuSecondsPer1k !== null && floor ? f(x.cpuSecondsPer1k / floor, 2) : '–',
            f(x.requestsPerSecond, 1),
            f(x.p50Ms, 2),
            f(x.p99Ms, 2),
            `${x.ok} / ${x.sent}`,
          ];
        }),
      ),
    ),
    '',
    `New build ÷ baseline, CPU per 1,000 requests, each round against the same round (higher or lower: in every round, of at least ${SIGN_ROUNDS}):`,
    '',
    markdownTable(
      ['scenario', 'median', 'rounds min', 'rounds max', 'verdict'],
      r.scenarios.map((sc) => {
        const c = sc.newOverBaseline;
        return [sc.label, f(c.median, 3), f(c.min, 3), f(c.max, 3), c.verdict];
      }),
    ),
    '',
    recordChecksTable(r.records),
    '',
  ].join('\n');
}

/** Writes builds-<date>.json (builds-<date>-quick.json for --quick). Returns its path. */
export function writeBuildsResults(dir: string, report: BuildsReport): string {
  const file = writeResultsJson(dir, 'builds', report);
  return file;
}
