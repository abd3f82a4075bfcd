// The store scenario's worker process: records `count` copies (fresh ids and times) of one
// real exchange record through tapwire's own Recorder (batched, writer thread), as fast as the
// writer commits them, and reports the sustained commit rate, the database's size and this
// process's RSS once everything is committed. argv: <db path> <template record JSON> <count>.
// The template's bodies are base64 (JSON has no bytes).
import { readFileSync, statSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { newExchangeId, type ExchangeRecord, type Payload } from '../core/exchange.js';
import { startRecordWriter } from '../store/open.js';

export interface StoreReport {
  count: number;
  committed: number;
  seconds: number;
  dbBytes: number;
  rssBytes: number;
}

/** How far the producer may run ahead of the writer: enough to keep batches full, bounded memory. */
const MAX_IN_FLIGHT = 20_000;

type StoredPayload = Omit<Payload, 'body'> & { body: string | null };
export type TemplateRecord = Omit<ExchangeRecord, 'request' | 'response'> & { request: StoredPayload | null; response: StoredPayload | null };

function payload(stored: StoredPayload | null): Payload | null {
  return stored ? { ...stored, body: stored.body === null ? null : Buffer.from(stored.body, 'base64') } : null;
}

async function main(): Promise<void> {
  const [dbPath, templatePath, countText] = process.argv.slice(2);
  const template = JSON.parse(readFileSync(templatePath!, 'utf8')) as TemplateRecord;
  const count = Number(countText);
  const request = payload(template.request);
  const response = payload(template.response);
  const recorder = await startRecordWriter(dbPath!, { flushIntervalMs: 100 });
  const startedAt = performance.now();
  for (let i = 0; i < count; i++) {
    while (recorder.getStats().queued - recorder.getStats().committed > MAX_IN_FLIGHT) await sleep(1);
    const now = Date.now();
    recorder.record({ exchange: { ...template.exchange, id: newExchangeId(now), started_at: now, ended_at: now + 1 }, request, response, events: template.events });
  }
  await recorder.flush();
  const seconds = (performance.now() - startedAt) / 1000;
  const rss = process.memoryUsage.rss();
  const committed = recorder.getStats().committed;
  await recorder.close();
  const size = (path: string): number => (existsSync(path) ? statSync(path).size : 0);
  const report: StoreReport = { count, committed, seconds, dbBytes: size(dbPath!) + size(`${dbPath!}-wal`), rssBytes: rss };
  process.send?.(report);
}

await main();
process.disconnect?.();
