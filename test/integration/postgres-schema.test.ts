// The central record's PostgreSQL schema against a real server: migrations recorded in
// schema_version (run twice, applied once), a newer schema refused with its version named,
// day partitions made as records of new days arrive, a record inserted twice stored once,
// the readers' filters indexed, and awkward values (NUL, backslashes, binary bodies, no body)
// shipped from a local file arriving as the local reader gives them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blankExchange, type ExchangeRecord } from '../../core/exchange.js';
import { openRecordReader, startRecordWriter } from '../../store/open.js';
import { insertRows } from '../../store/postgres/insert.js';
import { shipRowsOf } from '../support/ship-rows-of.js';
import { migrate, SCHEMA_VERSION } from '../../store/postgres/migrations.js';
import { DayPartitions, DAY_MS } from '../../store/postgres/partitions.js';
import { createPool } from '../../store/postgres/pool.js';
import { StoreError } from '../../store/record-store.js';
import { Shipper } from '../../store/shipper.js';
import { PostgresServer } from '../support/postgres.js';

function record(startedAt: number, agent = 'agent-a'): ExchangeRecord {
  const exchange = blankExchange({ agent, route: 'openai', protocol: 'llm', started_at: startedAt });
  return {
    exchange: { ...exchange, model: 'gpt-4o-mini', input_tokens: 3, output_tokens: 4 },
    request: { headers: { 'content-type': 'application/json' }, body: Buffer.from('{"q":1}'), body_size: 7, truncated: false },
    response: null,
    events: [{ offset_ms: 1.5, event: null, event_id: null, data: 'hello' }],
  };
}

describe('PostgreSQL schema', () => {
  let server: PostgresServer;
  before(async () => {
    server = await PostgresServer.start();
  });
  after(() => server.close());

  test('migrations run once, recorded in schema_version; a newer schema is refused by name', async () => {
    const url = server.createDatabase('schema_once');
    const pool = createPool(url);
    const client = await pool.connect();
    try {
      await migrate(client, url);
      await migrate(client, url);
      const versions = await client.query<{ version: number }>('SELECT version FROM schema_version ORDER BY version');
      assert.deepEqual(versions.rows.map((r) => r.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      await client.query("INSERT INTO schema_version (version, description) VALUES (99, 'from the future')");
      await assert.rejects(migrate(client, url), (err: Error) => err instanceof StoreError && new RegExp(`schema version 99.*up to ${SCHEMA_VERSION}:`).test(err.message));
      await assert.rejects(openRecordReader(url), (err: Error) => err instanceof StoreError && /schema version 99/.test(err.message));
    } finally {
      client.release();
      await pool.end();
    }
  });

  test('a database without the schema is named as such', async () => {
    const url = server.createDatabase('schema_empty');
    await assert.rejects(openRecordReader(url), (err: Error) => err instanceof StoreError && /holds no tapwire record/.test(err.message));
  });

  test('partitions by day as records arrive; the same records twice are stored once; filters indexed', async () => {
    const url = server.createDatabase('schema_days');
    const pool = createPool(url);
    const client = await pool.connect();
    try {
      await migrate(client, url);
      const day = Date.UTC(2026, 11, 6);
      const records = [record(day + 1000), record(day + DAY_MS + 5), record(day - 10, 'agent-b')];
      const partitions = new DayPartitions();
      await insertRows(client, partitions, shipRowsOf(records));
      await insertRows(client, new DayPartitions(), shipRowsOf(records));
      const children = await client.query<{ name: string }>(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'exchanges'::regclass ORDER BY 1",
      );
      assert.deepEqual(children.rows.map((r) => r.name), ['exchanges_d20261205', 'exchanges_d20261206', 'exchanges_d20261207']);
      const counts = await client.query<{ exchanges: number; payloads: number; events: number }>(
        'SELECT (SELECT count(*) FROM exchanges) AS exchanges, (SELECT count(*) FROM payloads) AS payloads, (SELECT count(*) FROM events) AS events',
      );
      assert.deepEqual(counts.rows[0], { exchanges: 3, payloads: 3, events: 3 });
      const indexes = await client.query<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE tablename = 'exchanges'");
      for (const name of ['exchanges_agent', 'exchanges_route', 'exchanges_started_at', 'exchanges_session', 'exchanges_model', 'exchanges_status']) {
        assert.ok(indexes.rows.some((r) => r.name === name), name);
      }
      const reader = await openRecordReader(url);
      const stored = await reader.get(records[0]!.exchange.id);
      assert.deepEqual(stored, records[0]);
      assert.equal(await reader.count({ op: '=', field: 'agent.name', value: 'agent-b' }), 1);
      await reader.close();
    } finally {
      client.release();
      await pool.end();
    }
  });

  test('awkward values shipped from a local file arrive as the local reader gives them (NUL as U+FFFD)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-pg-values-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'local.db');
    const awkward = 'nul:\u0000 backslash-u:\\u0000 quote:" tab:\t newline:\n é 🦊';
    const base = record(Date.UTC(2026, 11, 6, 12));
    const records: ExchangeRecord[] = [
      {
        exchange: { ...base.exchange, error_message: awkward, details: JSON.stringify({ note: awkward }), duration_ms: 12.345678901234, cost_usd: 1e-9 },
        request: { headers: { 'x-awkward': awkward, 'set-cookie': ['a=1', 'b=2'] }, body: Buffer.from([0, 1, 2, 0xff, 0x5c, 0x22]), body_size: 6, truncated: false },
        response: { headers: {}, body: null, body_size: 0, truncated: true },
        events: [{ offset_ms: 0.25, event: awkward, event_id: '7', data: awkward }, { offset_ms: 1, event: null, event_id: null, data: '' }],
      },
      record(Date.UTC(2026, 11, 7, 1)),
    ];
    const writer = await startRecordWriter(path, { flushIntervalMs: 10 });
    for (const r of records) writer.record(r);
    await writer.close();
    const url = server.createDatabase('schema_values');
    await Shipper.shipAll({ path, url, batchRecords: 100, intervalMs: 10, retryIntervalMs: 100 }, 20_000);

    const local = await openRecordReader(path);
    const central = await openRecordReader(url);
    try {
      for (const { exchange } of records) {
        const want = (await local.get(exchange.id))!;
        // PostgreSQL text holds no NUL: the central record has U+FFFD where the local one has NUL.
        const nulFree = JSON.parse(JSON.stringify(want), (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '\uFFFD') : value)) as ExchangeRecord;
        const got = (await central.get(exchange.id))!;
        assert.deepEqual({ ...got, request: null, response: null }, { ...nulFree, request: null, response: null });
        assert.deepEqual(got.request?.body, want.request?.body);
        // Headers are stored as JSON text, where a NUL is the escape `\u0000`: kept as it was.
        assert.deepEqual(got.request?.headers, want.request?.headers);
        assert.deepEqual(got.response, want.response);
      }
      assert.equal((await central.get(records[0]!.exchange.id))!.exchange.error_message, awkward.replace('\u0000', '\ufffd'));
    } finally {
      await local.close();
      await central.close();
    }
  });

  test('a populated version 1 database is brought up to date with its records intact', async () => {
    const url = server.createDatabase('schema_upgrade');
    const pool = createPool(url);
    const client = await pool.connect();
    const old = record(Date.UTC(2026, 11, 6, 8));
    try {
      await migrate(client, url, 1);
      // A version 1 row, written as a tapwire of that version wrote it: no agent_labels column yet.
      await new DayPartitions().ensure(client, [old.exchange.started_at]);
      await client.query(
        'INSERT INTO exchanges (id, started_at, agent, route, protocol, direction, method, target, status, model, input_tokens, output_tokens) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)',
        [old.exchange.id, old.exchange.started_at, 'agent-a', 'openai', 'llm', old.exchange.direction, old.exchange.method, old.exchange.target, old.exchange.status, 'gpt-4o-mini', 3, 4],
      );
      await migrate(client, url);
      assert.deepEqual((await client.query<{ v: number }>('SELECT max(version) AS v FROM schema_version')).rows[0], { v: SCHEMA_VERSION });
    } finally {
      client.release();
      await pool.end();
    }
    const reader = await openRecordReader(url);
    try {
      const got = await reader.get(old.exchange.id);
      assert.equal(got?.exchange.model, 'gpt-4o-mini');
      assert.equal(got?.exchange.input_tokens, 3);
      assert.equal(got?.exchange.agent_labels, null);
    } finally {
      await reader.close();
    }
  });
});
