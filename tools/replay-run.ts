// Runs a replay for the CLI and the TUI: selects the recorded exchanges, sends them again
// (tools/replay.ts) through a sidecar started in-process from the config, recording into the
// same database (a central record: into a local file shipped to it), or through a running one
// (--to), and writes one comparison per exchange.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePath } from './canonical-json.js';
import { compileFilter } from './select.js';
import { SelectionError } from './selection-error.js';
import { ConfigError, loadConfig } from '../config/config.js';
import { newExchangeId } from '../core/exchange.js';
import { createLogger } from '../core/log.js';
import { routeProblems } from '../protocols/registry.js';
import { startSidecar } from '../proxy/sidecar.js';
import { isCentralLocation } from '../store/open.js';
import { Shipper } from '../store/shipper.js';
import { exportRedaction } from './export.js';
import { attachReplays, Replayer, replayFailed, type ReplayOptions, type ReplayResult } from './replay.js';

/** How long a replay of a central record waits for its replays to be shipped there. */
const CENTRAL_SHIP_DEADLINE_MS = 30_000;

export interface ReplayCliOptions {
  db: string;
  ids: string[];
  filter?: string;
  config?: string;
  route?: string;
  to?: string;
  concurrency: number;
  path: string[];
  ignore: string[];
}

function ms(value: number | null): string {
  return value === null ? '-' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

function tokens(input: number | null, output: number | null): string {
  return input === null && output === null ? '-' : `${input ?? 0} in / ${output ?? 0} out`;
}

/** What the status line adds: the replay failed (replayFailed), or its status differs from a recorded one (a record made over stdio has none). */
function statusNote(r: ReplayResult): string {
  if (replayFailed(r)) return '  (failed)';
  return r.original.http_status === null || r.original.http_status === r.status ? '' : '  (changed)';
}

/** The comparison lines of one replayed exchange. */
export function formatResult(r: ReplayResult): string {
  const e = r.original;
  const what = [e.protocol, e.route, e.method, e.target].filter(Boolean).join(' ');
  if (r.skipped) return `${e.id} ${what}\n  skipped: ${r.skipped}\n`;
  if (r.error) return `${e.id} ${what}\n  failed: ${r.error}\n`;
  const lines = [
    `${e.id} → ${r.replay?.id ?? '(not recorded in this database)'}  ${what}`,
    `  status   ${e.http_status ?? '-'} → ${r.status ?? '-'}${statusNote(r)}`,
    `  tokens   ${tokens(e.input_tokens, e.output_tokens)} → ${r.replay ? tokens(r.replay.input_tokens, r.replay.output_tokens) : '-'}`,
    `  latency  ${ms(e.duration_ms)} → ${ms(r.replay?.duration_ms ?? r.latencyMs)}`,
  ];
  if (r.differences.length === 0) lines.push('  body     same (ids and timestamps ignored)');
  else {
    lines.push(`  body     ${r.differences.length === 5 ? 'differs (first 5)' : 'differs'}:`);
    for (const d of r.differences) lines.push(`    ${d.path}: ${d.before} → ${d.after}`);
  }
  return `${lines.join('\n')}\n`;
}

function parsePaths(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of entries) {
    const m = /^([^=]+)=(\/.*)$/.exec(entry);
    if (!m) throw new SelectionError(`--path ${entry}: expected ROUTE=/sub/path, e.g. tools=/mcp`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** Runs a replay and writes the comparisons; resolves to the results (exit code 1 when one failed: replayFailed). */
export async function runReplay(opts: ReplayCliOptions, out: NodeJS.WritableStream): Promise<ReplayResult[]> {
  if (opts.ids.length === 0 && !opts.filter) throw new SelectionError('name the exchanges to replay: ids, or --filter CEL');
  if (opts.route && opts.to) throw new SelectionError('--route and --to are alternatives: --to sends to a running sidecar, which routes as recorded');
  const config = loadConfig(opts.config, process.env, routeProblems);
  if (opts.route && !config.routes[opts.route]) throw new ConfigError(`--route ${opts.route}: the config has no such route (routes: ${Object.keys(config.routes).join(', ')})`);
  const common: Omit<ReplayOptions, 'sidecarUrl'> = {
    db: opts.db,
    selection: { ids: opts.ids, filter: opts.filter ? compileFilter(opts.filter) : null },
    config,
    paths: parsePaths(opts.path),
    concurrency: opts.concurrency,
    ignore: opts.ignore.map(parsePath),
    // What the record masks is masked in the live answers too, before they are compared and printed.
    redaction: exportRedaction(config),
  };
  const since = newExchangeId();
  let results: ReplayResult[];
  if (opts.to) {
    results = await new Replayer({ ...common, sidecarUrl: opts.to.replace(/\/+$/, '') }).run();
    // The running sidecar writes its records within its flush interval; wait for them a little.
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = await attachReplays(opts.db, results, since);
      if (found.every((r) => r.status === null || r.replay) || Date.now() > deadline) {
        results = found;
        break;
      }
      await sleep(100);
    }
  } else {
    config.listen = '127.0.0.1:0';
    // A central record is written only by shipping: the replays are recorded in a local file, read from it, then shipped to it.
    const localDir = isCentralLocation(opts.db) ? mkdtempSync(join(tmpdir(), 'tapwire-replay-')) : null;
    config.store.path = localDir ? join(localDir, 'replay.db') : opts.db;
    try {
      const sidecar = await startSidecar(config, createLogger('silent'));
      try {
        results = await new Replayer({ ...common, sidecarUrl: sidecar.url, route: opts.route ?? null }).run();
      } finally {
        await sidecar.close();
      }
      results = await attachReplays(config.store.path, results, since);
      if (localDir) {
        await Shipper.shipAll({ path: config.store.path, url: opts.db, batchRecords: 1000, intervalMs: 20, retryIntervalMs: config.store.retry_interval_ms }, CENTRAL_SHIP_DEADLINE_MS);
      }
    } finally {
      if (localDir) rmSync(localDir, { recursive: true, force: true });
    }
  }
  for (const result of results) out.write(formatResult(result));
  return results;
}
