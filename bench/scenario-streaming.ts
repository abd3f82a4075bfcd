// Scenario 3 of the comparative bench: streamed chat completions of 50 events 5 ms apart,
// rounds of 16 at once, per peer, after one unmeasured round: time to first event, total
// time, and how many body chunks the client got per stream (one per event unless a peer
// batches them). Then memory, for each tapwire variant: a fresh tapwire's RSS idle, at its
// peak under 1,000 concurrent streams, and after them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from './context.js';
import { shortRequestBody, streamEventCount } from './openai-fixtures.js';
import { stopAndCheck, TAPWIRE_VARIANTS, VARIANT_LABELS, type Peer, type PeerName, type RecordCheck, type TapwireVariant } from './peers.js';
import { rssBytes } from './proc.js';
import { percentiles, type Percentiles } from './stats.js';

export interface StreamRow {
  peer: PeerName;
  sent: number;
  ok: number;
  errors: Record<string, number>;
  firstEventMs: Percentiles;
  totalMs: Percentiles;
  /** Median body chunks per stream, against `events` sent by the upstream. */
  chunksP50: number;
  events: number;
  /** The unmeasured first round (for a fresh tapwire, its first requests ever). */
  firstRoundFirstEventMs: Percentiles;
  firstRoundErrors: number;
}

export interface MemoryResult {
  /** A fresh tapwire, started and settled, no traffic yet. */
  idleBytes: number | null;
  streams: number;
  /** Highest RSS sampled (every 10 ms) while the streams ran. */
  peakBytes: number | null;
  /** 2 s after the last stream ended. */
  afterBytes: number | null;
  ok: number;
  errors: Record<string, number>;
}

const MiB = 2 ** 20;

export async function runStreaming(ctx: BenchContext): Promise<{ rows: StreamRow[]; memory: Record<TapwireVariant, MemoryResult>; records: RecordCheck[] }> {
  const rows: StreamRow[] = [];
  const records: RecordCheck[] = [];
  for (const peer of Object.values(ctx.standing.peers)) rows.push((await measureStreams(ctx, peer)).row);
  // Each tapwire starts fresh for its turn and stops once measured, so neither runs beside the other.
  for (const variant of TAPWIRE_VARIANTS) {
    const tapwire = await ctx.startTapwire('streaming', variant);
    const { row, sent } = await measureStreams(ctx, tapwire);
    rows.push(row);
    records.push(await stopAndCheck(tapwire, 'streaming', sent));
  }
  const memory = { tapwire: await measureMemory(ctx, 'tapwire', records), recording: await measureMemory(ctx, 'recording', records) };
  return { rows, memory, records };
}

/**
 * One unmeasured round, then the measured rounds. The first round is the warm-up the other
 * scenarios have too; for a fresh tapwire it is its first requests ever (code not yet compiled
 * by V8, the upstream's first connections), so its first events are kept apart as `firstRoundFirstEventMs`.
 */
async function measureStreams(ctx: BenchContext, peer: Peer): Promise<{ row: StreamRow; sent: number }> {
  const { size, load } = ctx;
  const plan = { path: peer.llmPath, body: shortRequestBody(true).toString('utf8'), headers: peer.headers, concurrency: size.streamConcurrency, streamPieces: size.streamPieces };
  const first = await load.streams(peer.origin, { ...plan, rounds: 1 });
  const result = await load.streams(peer.origin, { ...plan, rounds: size.streamRounds });
  const row: StreamRow = {
    peer: peer.name,
    sent: result.sent,
    ok: result.ok,
    errors: result.errors,
    firstEventMs: percentiles(result.firstEventMs),
    totalMs: percentiles(result.totalMs),
    chunksP50: percentiles(result.chunks).p50,
    events: streamEventCount(size.streamPieces),
    firstRoundFirstEventMs: percentiles(first.firstEventMs),
    firstRoundErrors: first.sent - first.ok,
  };
  ctx.log(
    `  streaming ${peer.name.padEnd(8)} first event p50 ${row.firstEventMs.p50.toFixed(2)} p99 ${row.firstEventMs.p99.toFixed(2)} ms (first round p99 ${row.firstRoundFirstEventMs.p99.toFixed(2)} ms), total p50 ${row.totalMs.p50.toFixed(1)} ms, ${result.sent - result.ok + row.firstRoundErrors} errors`,
  );
  return { row, sent: first.sent + result.sent };
}

/** A fresh tapwire's RSS idle, at the peak of `memoryStreams` concurrent streams, and 2 s after; its record check goes to `records`. */
async function measureMemory(ctx: BenchContext, variant: TapwireVariant, records: RecordCheck[]): Promise<MemoryResult> {
  const { size, load } = ctx;
  const body = shortRequestBody(true).toString('utf8');
  const fresh = await ctx.startTapwire('memory', variant);
  await sleep(1000);
  const idleBytes = rssBytes(fresh.pid);
  let peakBytes = idleBytes ?? 0;
  const sampler = setInterval(() => (peakBytes = Math.max(peakBytes, rssBytes(fresh.pid) ?? 0)), 10);
  const many = await load
    .streams(fresh.origin, { path: fresh.llmPath, body, concurrency: size.memoryStreams, rounds: 1, streamPieces: size.streamPieces })
    .finally(() => clearInterval(sampler));
  await sleep(2000);
  const memory: MemoryResult = { idleBytes, streams: size.memoryStreams, peakBytes: idleBytes === null ? null : peakBytes, afterBytes: rssBytes(fresh.pid), ok: many.ok, errors: many.errors };
  ctx.log(`  memory, ${VARIANT_LABELS[variant]}: idle ${((idleBytes ?? 0) / MiB).toFixed(1)} MiB, peak under ${size.memoryStreams} streams ${(peakBytes / MiB).toFixed(1)} MiB, ${many.sent - many.ok} errors`);
  records.push(await stopAndCheck(fresh, `${size.memoryStreams} concurrent streams`, many.sent));
  return memory;
}
