// Open-loop load generator for the latency bench: starts requests on a fixed schedule
// (`rate` per second) whether or not earlier ones have finished, so a slow server shows up
// as queueing in the numbers instead of silently lowering the rate (no coordinated
// omission). Latency is measured from each request's scheduled start to the last byte of
// its body; time to first byte is measured to the first body chunk. runStreams() is the
// closed-loop counterpart for streams: rounds of N concurrent streamed calls.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { checkToolResult, MCP_HEADERS, toolCallBody } from './mcp-fixtures.js';
import { checkResponse, DEFAULT_STREAM_PIECES } from './openai-fixtures.js';

export interface LoadPlan {
  path: string;
  /** The chat completion request (ignored for MCP, whose bodies carry each request's own id). */
  body: Buffer;
  stream: boolean;
  includeUsage: boolean;
  rate: number;
  warmupSeconds: number;
  measuredSeconds: number;
  /** MCP tools/call requests instead of chat completions. */
  mcp?: boolean;
  /** Headers added to every request (e.g. Portkey's provider headers). */
  headers?: Record<string, string>;
  /** Content chunks the upstream streams (default: the fixtures' default). */
  streamPieces?: number;
}

export interface LoadResult {
  /** Every request started, warm-up included. */
  sent: number;
  /** Requests in the measured window. */
  measuredSent: number;
  measuredOk: number;
  /** Measured requests that failed or came back wrong, by reason. */
  errors: Record<string, number>;
  errorCount: number;
  /** Warm-up requests that failed (not in the numbers, but the record count needs them). */
  warmupErrors: number;
  /** Scheduled start to last body byte, ms, of each measured request that succeeded. */
  latencyMs: number[];
  /** Scheduled start to first body chunk, ms. */
  firstByteMs: number[];
  /** How late each measured request actually started against its schedule, ms. */
  startLagMs: number[];
  /** Measured requests completed (ok or not) and the wall time they took, first scheduled start to last completion. */
  measuredCompleted: number;
  measuredWallMs: number;
  responseBytes: number;
}

/** Keep-alive connections to the server under test; a request not finished within `requestTimeoutMs` fails. */
export function loadPool(origin: string, requestTimeoutMs: number, connections = 256): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
  });
}

/** Concatenates the results of several runs of one scenario. */
export function mergeLoadResults(parts: LoadResult[]): LoadResult {
  const merged = emptyResult();
  for (const part of parts) {
    merged.sent += part.sent;
    merged.measuredSent += part.measuredSent;
    merged.measuredOk += part.measuredOk;
    merged.errorCount += part.errorCount;
    merged.warmupErrors += part.warmupErrors;
    for (const [reason, n] of Object.entries(part.errors)) merged.errors[reason] = (merged.errors[reason] ?? 0) + n;
    merged.latencyMs.push(...part.latencyMs);
    merged.firstByteMs.push(...part.firstByteMs);
    merged.startLagMs.push(...part.startLagMs);
    merged.measuredCompleted += part.measuredCompleted;
    merged.measuredWallMs += part.measuredWallMs;
    merged.responseBytes += part.responseBytes;
  }
  return merged;
}

function emptyResult(): LoadResult {
  return {
    sent: 0,
    measuredSent: 0,
    measuredOk: 0,
    errors: {},
    errorCount: 0,
    warmupErrors: 0,
    latencyMs: [],
    firstByteMs: [],
    startLagMs: [],
    measuredCompleted: 0,
    measuredWallMs: 0,
    responseBytes: 0,
  };
}

export const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json',
  authorization: 'Bearer sk-bench-000000000000000000000000000000000000000000000000',
  'user-agent': 'OpenAI/JS 6.30.1',
  'x-stainless-lang': 'js',
  'x-stainless-package-version': '6.30.1',
  'x-stainless-runtime': 'node',
  'x-stainless-runtime-version': process.version,
  'x-stainless-retry-count': '0',
};

/** Runs `plan` against `pool`: warm-up then measured requests, one schedule, no gap. */
export async function runLoad(pool: Pool, plan: LoadPlan): Promise<LoadResult> {
  const intervalMs = 1000 / plan.rate;
  const warmupCount = Math.round(plan.warmupSeconds * plan.rate);
  const total = warmupCount + Math.round(plan.measuredSeconds * plan.rate);
  const result = emptyResult();
  const baseHeaders = { ...(plan.mcp ? MCP_HEADERS : HEADERS), ...plan.headers };
  let measuredStart = 0;
  let lastCompletion = 0;

  const fail = (measured: boolean, reason: string): void => {
    if (!measured) {
      result.warmupErrors++;
      return;
    }
    result.errorCount++;
    result.errors[reason] = (result.errors[reason] ?? 0) + 1;
  };

  const one = async (index: number, scheduledAt: number): Promise<void> => {
    const measured = index >= warmupCount;
    const startedAt = performance.now();
    if (measured) result.startLagMs.push(startedAt - scheduledAt);
    try {
      const body = plan.mcp ? toolCallBody(index + 1) : plan.body;
      const headers = { ...baseHeaders, 'content-length': String(body.length) };
      const response = await pool.request({ method: 'POST', path: plan.path, headers, body });
      const chunks: Buffer[] = [];
      let firstByteAt = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        if (firstByteAt === 0) firstByteAt = performance.now();
        chunks.push(chunk);
      }
      const doneAt = performance.now();
      if (!measured) return;
      lastCompletion = doneAt;
      const answer = Buffer.concat(chunks);
      const text = answer.toString('utf8');
      const wrong = plan.mcp
        ? checkToolResult(index + 1, response.statusCode, text)
        : checkResponse(plan.stream, plan.includeUsage, response.statusCode, text, plan.streamPieces ?? DEFAULT_STREAM_PIECES);
      if (wrong) return fail(true, wrong);
      result.measuredOk++;
      result.responseBytes += answer.length;
      result.latencyMs.push(doneAt - scheduledAt);
      result.firstByteMs.push((firstByteAt || doneAt) - scheduledAt);
    } catch (err) {
      if (measured) lastCompletion = performance.now();
      const e = err as { code?: string; message?: string };
      fail(measured, e.code ?? e.message ?? String(err));
    }
  };

  const inFlight = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    const startAt = performance.now() + 20;
    let next = 0;
    const tick = (): void => {
      const now = performance.now();
      while (next < total) {
        const scheduledAt = startAt + next * intervalMs;
        if (scheduledAt > now) break;
        if (next === warmupCount) measuredStart = scheduledAt;
        const request = one(next, scheduledAt);
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request));
        next++;
      }
      if (next === total) return resolve();
      setTimeout(tick, Math.max(0, startAt + next * intervalMs - performance.now()));
    };
    tick();
  });
  result.sent = total;
  result.measuredSent = total - warmupCount;
  await Promise.all(inFlight);
  result.measuredCompleted = result.measuredOk + result.errorCount;
  result.measuredWallMs = lastCompletion - measuredStart;
  return result;
}

export interface StreamPlan {
  path: string;
  body: Buffer;
  headers?: Record<string, string>;
  /** Streams started at once in each round; the next round starts when all have ended. */
  concurrency: number;
  rounds: number;
  streamPieces: number;
  /** Called once every stream of a round has sent its headers (e.g. to sample memory then). */
  onAllStarted?: () => void;
}

export interface StreamResult {
  sent: number;
  ok: number;
  errors: Record<string, number>;
  /** Send to first body chunk (the first event), ms, per successful stream. */
  firstEventMs: number[];
  /** Send to last body byte, ms. */
  totalMs: number[];
  /** Body chunks the client received per stream: one per event unless someone batched them. */
  chunks: number[];
}

/** Rounds of `concurrency` streamed chat completions at once (closed loop: times from each send). */
export async function runStreams(pool: Pool, plan: StreamPlan): Promise<StreamResult> {
  const result: StreamResult = { sent: 0, ok: 0, errors: {}, firstEventMs: [], totalMs: [], chunks: [] };
  const headers = { ...HEADERS, ...plan.headers, 'content-length': String(plan.body.length) };
  for (let round = 0; round < plan.rounds; round++) {
    let started = 0;
    const one = async (): Promise<void> => {
      const sentAt = performance.now();
      result.sent++;
      try {
        const response = await pool.request({ method: 'POST', path: plan.path, headers, body: plan.body });
        if (++started === plan.concurrency) plan.onAllStarted?.();
        const parts: Buffer[] = [];
        let firstAt = 0;
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          if (firstAt === 0) firstAt = performance.now();
          parts.push(chunk);
        }
        const doneAt = performance.now();
        const wrong = checkResponse(true, false, response.statusCode, Buffer.concat(parts).toString('utf8'), plan.streamPieces);
        if (wrong) {
          result.errors[wrong] = (result.errors[wrong] ?? 0) + 1;
          return;
        }
        result.ok++;
        result.firstEventMs.push(firstAt - sentAt);
        result.totalMs.push(doneAt - sentAt);
        result.chunks.push(parts.length);
      } catch (err) {
        const e = err as { code?: string; message?: string };
        const reason = e.code ?? e.message ?? String(err);
        result.errors[reason] = (result.errors[reason] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: plan.concurrency }, one));
  }
  return result;
}
