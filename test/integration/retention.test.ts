// store.retention_days on both backends: the SQLite writer deletes exchanges (with their
// payloads and events) that started more than N days ago, keeping the rest; the central
// PostgreSQL record drops whole day partitions older than N days, and the shipper leaves
// out records already past retention.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { blankExchange, type ExchangeRecord } from '../../core/exchange.js';
import { openRecordReader, startRecordWriter } from '../../store/open.js';
import { CentralRecord } from '../../store/postgres/central.js';
import { DAY_MS } from '../../store/postgres/partitions.js';
import { eachRow } from '../../store/record-store.js';
import { Shipper } from '../../store/shipper.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { PostgresServer } from '../support/postgres.js';
import { shipRowsOf } from '../support/ship-rows-of.js';

const NOW = Date.now();

function record(daysAgo: number): ExchangeRecord {
  return {
    exchange: blankExchange({ agent: 'agent', route: 'api', protocol: 'http', started_at: NOW - daysAgo * DAY_MS }),
    request: { headers: {}, body: Buffer.from('x'), body_size: 1, truncated: false },
    response: null,
    events: [{ offset_ms: 1, event: null, event_id: null, data: 'e' }],
  };
}

async function ids(location: string): Promise<string[]> {
  const reader = await openRecordReader(location);
  try {
    const out: string[] = [];
    for await (const row of eachRow(reader, null)) out.push(row.id);
    return out;
  } finally {
    await reader.close();
  }
}

describe('store.retention_days', () => {
  let dir: string;
  let server: PostgresServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-retention-'));
    server = await PostgresServer.start();
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SQLite: the writer deletes exchanges older than N days, payloads and events with them', async () => {
    const path = join(dir, 'local.db');
    const records = [record(40), record(31), record(29), record(1), record(0)];
    const writer = await startRecordWriter(path, { flushIntervalMs: 10 });
    for (const r of records) writer.record(r);
    await writer.close();
    let deleted = 0;
    const again = await startRecordWriter(path, { flushIntervalMs: 10, retentionDays: 30, onRetention: (n) => (deleted += n) });
    const deadline = Date.now() + 5000;
    while (deleted < 2 && Date.now() < deadline) await sleep(20);
    await again.close();
    assert.equal(deleted, 2);
    assert.deepEqual(await ids(path), records.slice(2).map((r) => r.exchange.id).sort());
    const db = openDatabase(path, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM payloads').pluck().get(), 3);
      assert.equal(db.prepare('SELECT count(*) FROM events').pluck().get(), 3);
    } finally {
      db.close();
    }
  });

  test('PostgreSQL: day partitions older than N days are dropped; the shipper leaves out what is past retention', async () => {
    const url = server.createDatabase('retention');
    const records = [record(12), record(11), record(3), record(0)];
    const central = new CentralRecord(url);
    await central.insertRows(shipRowsOf(records));
    const dropped = await central.dropOlderThan(10, NOW);
    await central.close();
    const today = Math.floor(NOW / DAY_MS);
    assert.deepEqual(dropped, [today - 12, today - 11]);
    assert.deepEqual(await ids(url), records.slice(2).map((r) => r.exchange.id).sort());

    // A local file still holding old records: they are not shipped.
    const path = join(dir, 'ship.db');
    const writer = await startRecordWriter(path, { flushIntervalMs: 10 });
    const local = [record(20), record(2), record(0)];
    for (const r of local) writer.record(r);
    await writer.close();
    const other = server.createDatabase('retention_ship');
    const shipper = Shipper.start({ path, url: other, batchRecords: 100, intervalMs: 20, retryIntervalMs: 100, retentionDays: 10 });
    const deadline = Date.now() + 10_000;
    while ((shipper.getStats().shipped < 3 || shipper.getStats().backlog > 0) && Date.now() < deadline) await sleep(20);
    await shipper.close(5000);
    assert.deepEqual(await ids(other), local.slice(1).map((r) => r.exchange.id).sort());
  });
});
