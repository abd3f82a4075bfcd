// `npm run bench:fleet`: the central record (PostgreSQL) under load, on a private PostgreSQL
// cluster (test/support/postgres.ts) on this machine. Not a test: it prints and writes
// bench/results/fleet-<date>.json.
// 1. Throughput: four sidecars' local files, each filled with BENCH_RECORDS synthetic
//    exchanges, shipped at once into one database by four shippers (worker threads, as in
//    four sidecars): records/s from the first batch to the last commit.
// 2. Lag at 1,000/s: one `tapwire run` with store.central.url, plain HTTP calls at 1,000/s for
//    BENCH_LAG_S seconds; each call's lag is from its response at the client to the moment a
//    poll of PostgreSQL (every 50 ms) first sees its row.
// 3. Catch-up: PostgreSQL stopped for BENCH_OUTAGE_S seconds while calls go on at 1,000/s, then
//    started: the backlog (local rows not central) and how fast it drains.
// `--quick`: 5,000 records per file, 5 s of lag, a 10 s outage.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Pool } from 'undici';
import { Shipper } from '../store/shipper.js';
import { PostgresServer } from '../test/support/postgres.js';
import { startTapwireProcess, type TapwireProcess } from '../test/support/tapwire-process.js';
import { removeOnInterrupt, stopChildrenOnExit } from './processes.js';
import { describeMachine } from './report.js';
import { percentiles } from './stats.js';
import { fillDatabase } from './tui-data.js';
import { RESULTS_DIR } from './bench-main.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const QUICK = process.argv.includes('--quick');
const SIDECARS = 4;
const RATE = 1000;
const POLL_MS = 50;

function envCount(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${process.env[name]}"`);
  return value;
}

const RECORDS = envCount('BENCH_RECORDS', QUICK ? 5_000 : 50_000);
const LAG_S = envCount('BENCH_LAG_S', QUICK ? 5 : 30);
const OUTAGE_S = envCount('BENCH_OUTAGE_S', QUICK ? 10 : 60);

async function centralCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM exchanges')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** 1. Four files shipped at once into one database. */
async function throughput(server: PostgresServer, dir: string): Promise<{ records: number; seconds: number; recordsPerSecond: number }> {
  const url = server.createDatabase('throughput');
  const paths = Array.from({ length: SIDECARS }, (_, i) => join(dir, `sidecar-${i}.db`));
  for (const path of paths) fillDatabase(path, RECORDS);
  const started = performance.now();
  const shippers = paths.map((path) => Shipper.start({ path, url, batchRecords: 1000, intervalMs: 20, retryIntervalMs: 200 }));
  while (shippers.some((s) => s.getStats().shipped < RECORDS)) await sleep(10);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(shippers.map((s) => s.close(5000)));
  const records = await centralCount(url);
  if (records !== SIDECARS * RECORDS) throw new Error(`expected ${SIDECARS * RECORDS} central rows, found ${records}`);
  return { records, seconds, recordsPerSecond: records / seconds };
}

/** Sends GET /api/item/<tag> at RATE per second for `seconds`; resolves to each tag's response time (epoch ms) and the failures. */
async function paced(sidecar: TapwireProcess, prefix: string, seconds: number): Promise<{ answered: Map<string, number>; failures: number }> {
  const client = new Pool(sidecar.url, { connections: 64, pipelining: 1 });
  const answered = new Map<string, number>();
  let failures = 0;
  const calls: Promise<void>[] = [];
  const start = performance.now();
  const total = RATE * seconds;
  for (let n = 0; n < total; n++) {
    const due = start + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const tag = `${prefix}-${n}`;
    calls.push(
      client
        .request({ method: 'GET', path: `/api/item/${tag}` })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode === 200) answered.set(tag, Date.now());
          else failures++;
        })
        .catch(() => void failures++),
    );
  }
  await Promise.all(calls);
  await client.close();
  return { answered, failures };
}

/** Polls the central record every POLL_MS for rows of the last `windowMs`, noting when each tag is first seen. */
function watchCentral(url: string, windowMs: number): { seen: Map<string, number>; stop: () => Promise<void> } {
  const seen = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      while (running) {
        const { rows } = await client.query<{ method: string }>('SELECT method FROM exchanges WHERE started_at >= $1', [Date.now() - windowMs]).catch(() => ({ rows: [] as { method: string }[] }));
        const now = Date.now();
        for (const { method } of rows) {
          const tag = method.slice(method.lastIndexOf('/') + 1);
          if (!seen.has(tag)) seen.set(tag, now);
        }
        await sleep(POLL_MS);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function metric(sidecar: TapwireProcess, name: string): Promise<number> {
  const text = await (await fetch(`${sidecar.url}/_tapwire/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  stopChildrenOnExit();
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-bench-fleet-'));
  removeOnInterrupt(dir);
  const server = await PostgresServer.start();
  const upstream = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  try {
    console.log(`throughput: ${SIDECARS} files of ${RECORDS} records shipped at once ...`);
    const shipped = await throughput(server, dir);
    console.log(`  ${shipped.records} records in ${shipped.seconds.toFixed(2)} s: ${Math.round(shipped.recordsPerSecond)} records/s`);

    const url = server.createDatabase('live');
    const sidecarDir = join(dir, 'live');
    mkdirSync(sidecarDir);
    const yaml = [
      'agent: { name: bench-fleet }',
      'log: { level: warn }',
      'telemetry: { prometheus: true }',
      'routes:',
      `  api: { protocol: http, upstream: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}" }`,
    ].join('\n');
    const sidecar = await startTapwireProcess(sidecarDir, yaml, { store: { central: `{ url: "${url}" }`, retry_interval_ms: 500 } });

    console.log(`lag: ${RATE} calls/s for ${LAG_S} s ...`);
    const watch = watchCentral(url, 3000);
    const lagRun = await paced(sidecar, 'lag', LAG_S);
    await sleep(3000);
    await watch.stop();
    const lags = [...lagRun.answered].flatMap(([tag, at]) => (watch.seen.has(tag) ? [Math.max(0, watch.seen.get(tag)! - at)] : []));
    const unseen = lagRun.answered.size - lags.length;
    const lag = percentiles(lags);
    console.log(`  ${lagRun.answered.size} answered, ${lagRun.failures} failed; lag ms p50 ${lag.p50} p99 ${lag.p99} max ${lag.max}; ${unseen} not seen within the 3 s poll window`);

    console.log(`catch-up: PostgreSQL stopped for ${OUTAGE_S} s under ${RATE} calls/s ...`);
    server.stop();
    const outageRun = await paced(sidecar, 'outage', OUTAGE_S);
    const backlog = await metric(sidecar, 'tapwire_store_central_backlog');
    const before = lagRun.answered.size + outageRun.answered.size;
    server.startAgain();
    const restarted = performance.now();
    let central = 0;
    while (central < before && performance.now() - restarted < 600_000) {
      central = await centralCount(url).catch(() => 0);
      await sleep(100);
    }
    const catchUpSeconds = (performance.now() - restarted) / 1000;
    console.log(`  ${outageRun.answered.size} answered, ${outageRun.failures} failed during the outage; backlog ${backlog}; caught up in ${catchUpSeconds.toFixed(2)} s (${Math.round(backlog / catchUpSeconds)} records/s); central ${central} of ${before}`);
    sidecar.child.kill('SIGTERM');
    await sidecar.exited;

    const date = new Date().toISOString().slice(0, 10);
    const report = {
      date,
      machine: describeMachine(VERSION),
      quick: QUICK,
      parameters: {
        sidecars: SIDECARS,
        recordsPerSidecar: RECORDS,
        rate: RATE,
        lagSeconds: LAG_S,
        outageSeconds: OUTAGE_S,
        pollMs: POLL_MS,
        notes: 'PostgreSQL 15 private cluster with fsync=off on this machine; throughput: shippers as worker threads of one process; lag: response at the client to first seen by a poll (adds up to the poll interval)',
      },
      results: {
        throughput: shipped,
        lag: { ...lag, answered: lagRun.answered.size, failed: lagRun.failures, unseenWithin3s: unseen },
        catchUp: { outageSeconds: OUTAGE_S, answeredDuringOutage: outageRun.answered.size, failedDuringOutage: outageRun.failures, backlog, seconds: catchUpSeconds, recordsPerSecond: backlog / catchUpSeconds, central, expected: before },
      },
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, `fleet-${date}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`written: ${file}`);
  } finally {
    upstream.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
