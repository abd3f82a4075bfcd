// Scenario 4 of the comparative bench: the store. Exchanges committed per second, sustained,
// through tapwire's Recorder in a process of its own, each a copy of a real record tapwire
// made in the latency scenario (a non-streamed chat completion with its headers and bodies);
// database bytes per exchange, scaled to 1M; and that process's RSS after recording them all.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRecordReader } from '../store/open.js';
import { allOf, equals } from '../store/record-store.js';
import type { BenchContext } from './context.js';
import { track } from './processes.js';
import type { StoreReport, TemplateRecord } from './store-process.js';

export interface StoreResult extends StoreReport {
  exchangesPerSecond: number;
  /** dbBytes scaled linearly to 1M exchanges (equal to it when 1M were recorded). */
  dbBytesPer1M: number;
  /** Bytes of the template record's bodies, request + response. */
  templateBodyBytes: number;
}

/** Reads the first LLM exchange of a tapwire database as a template, bodies base64. */
async function templateFrom(dbPath: string): Promise<TemplateRecord> {
  const reader = await openRecordReader(dbPath);
  try {
    const { rows } = await reader.page({ where: allOf(equals('protocol', 'llm'), equals('exchange.status', 'ok')), direction: 'forward', from: null, want: 1 });
    const record = (await reader.get(rows[0]!.id))!;
    const stored = (p: typeof record.request): TemplateRecord['request'] => (p ? { ...p, body: p.body === null ? null : p.body.toString('base64') } : null);
    return { ...record, request: stored(record.request), response: stored(record.response) };
  } finally {
    await reader.close();
  }
}

export async function runStore(ctx: BenchContext, sourceDbPath: string): Promise<StoreResult> {
  const template = await templateFrom(sourceDbPath);
  const templatePath = join(ctx.dir, 'store-template.json');
  writeFileSync(templatePath, JSON.stringify(template));
  const dbPath = join(ctx.dir, 'store-bench.db');
  const child = track(fork(fileURLToPath(new URL('./store-process.js', import.meta.url)), [dbPath, templatePath, String(ctx.size.storeExchanges)]));
  const report = await new Promise<StoreReport>((resolve, reject) => {
    child.once('message', (message: StoreReport) => resolve(message));
    child.once('exit', (code) => reject(new Error(`store bench process exited with code ${String(code)} before reporting`)));
  });
  const result: StoreResult = {
    ...report,
    exchangesPerSecond: report.committed / report.seconds,
    dbBytesPer1M: (report.dbBytes / report.committed) * 1_000_000,
    templateBodyBytes: (template.request?.body_size ?? 0) + (template.response?.body_size ?? 0),
  };
  ctx.log(`  store: ${result.exchangesPerSecond.toFixed(0)} exchanges/s, ${(result.dbBytesPer1M / 2 ** 20).toFixed(0)} MiB per 1M, RSS ${(report.rssBytes / 2 ** 20).toFixed(0)} MiB`);
  return result;
}
