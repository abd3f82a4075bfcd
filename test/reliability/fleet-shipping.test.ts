// Shipping to the central record with real processes: `tapwire run` sidecars with
// store.central.url pointing at a private PostgreSQL. Two sidecars writing to one database:
// every request is there exactly once, under its agent. PostgreSQL stopped mid-load and
// started again: the agents never see a failure, every local record arrives centrally and
// none twice, and the backlog shows on the metrics while the server is down. A shipper
// thread that stops is started again and ships what waited.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { blankExchange } from '../../core/exchange.js';
import { startRecordWriter } from '../../store/open.js';
import { Shipper } from '../../store/shipper.js';
import { startTapwireProcess, type TapwireProcess } from '../support/tapwire-process.js';
import { startUpstream, until, type ScriptedUpstream } from '../support/upstream.js';
import { PostgresServer } from '../support/postgres.js';

function sidecarYaml(agent: string, upstream: string): string {
  return [`agent: { name: ${agent} }`, 'telemetry: { prometheus: true }', 'routes:', `  api: { protocol: http, upstream: "${upstream}" }`].join('\n');
}

/** The store: block's central entry, as startTapwireProcess writes it. */
function central(url: string): Record<string, string | number> {
  return { central: `{ url: "${url}", interval_ms: 50 }`, retry_interval_ms: 200 };
}

/** Sends `count` requests, `concurrency` at a time; returns the statuses. */
async function load(sidecar: TapwireProcess, count: number, concurrency: number, tag: string): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const res = await fetch(`${sidecar.url}/api/item/${tag}-${n}`);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    }),
  );
  return statuses;
}

function localIds(sidecar: TapwireProcess): string[] {
  const db = new Database(sidecar.dbPath, { readonly: true });
  try {
    return db.prepare('SELECT id FROM exchanges ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}

async function centralRows(url: string): Promise<{ id: string; agent: string }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query<{ ok: boolean }>("SELECT to_regclass('exchanges') IS NOT NULL AS ok");
    if (!exists.rows[0]!.ok) return [];
    return (await client.query<{ id: string; agent: string }>('SELECT id, agent FROM exchanges ORDER BY id')).rows;
  } finally {
    await client.end();
  }
}

async function untilCentral(url: string, want: number, limitMs: number): Promise<{ id: string; agent: string }[]> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const rows = await centralRows(url).catch(() => []);
    if (rows.length >= want || Date.now() > deadline) return rows;
    await sleep(100);
  }
}

describe('shipping to the central record (PostgreSQL)', () => {
  let server: PostgresServer;
  let upstream: ScriptedUpstream;
  const dirs: string[] = [];
  const sidecars: TapwireProcess[] = [];
  before(async () => {
    server = await PostgresServer.start();
    upstream = await startUpstream((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
  });
  after(async () => {
    for (const sidecar of sidecars) sidecar.child.kill('SIGKILL');
    await upstream.close();
    server.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function sidecar(agent: string, url: string): Promise<TapwireProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-fleet-'));
    dirs.push(dir);
    const started = await startTapwireProcess(dir, sidecarYaml(agent, upstream.url), { store: central(url) });
    sidecars.push(started);
    return started;
  }

  test('two sidecars write to one PostgreSQL: every request is there exactly once, under its agent', async () => {
    const url = server.createDatabase('two_sidecars');
    const [a, b] = await Promise.all([sidecar('agent-a', url), sidecar('agent-b', url)]);
    const [statusesA, statusesB] = await Promise.all([load(a, 300, 8, 'a'), load(b, 300, 8, 'b')]);
    assert.deepEqual([...new Set([...statusesA, ...statusesB])], [200]);
    const rows = await untilCentral(url, 600, 20_000);
    const ids = rows.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'no exchange twice');
    assert.deepEqual(ids, [...localIds(a), ...localIds(b)].sort());
    assert.equal(rows.filter((r) => r.agent === 'agent-a').length, 300);
    assert.equal(rows.filter((r) => r.agent === 'agent-b').length, 300);
  });

  test('PostgreSQL stopped mid-load and started again: agents never fail, every record arrives, none twice', async () => {
    const url = server.createDatabase('outage');
    const sidecarA = await sidecar('agent-outage', url);
    const loading = load(sidecarA, 1500, 4, 'o');
    await untilCentral(url, 100, 20_000);
    server.stop();
    await sleep(1500);
    const metrics = await (await fetch(`${sidecarA.url}/_tapwire/metrics`)).text();
    const backlog = Number(/^tapwire_store_central_backlog(?:_\w+)?(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? NaN);
    assert.ok(backlog > 0, `a backlog while PostgreSQL is down:\n${metrics.split('\n').filter((l) => l.includes('central')).join('\n')}`);
    server.startAgain();
    const statuses = await loading;
    assert.equal(statuses.length, 1500);
    assert.deepEqual([...new Set(statuses)], [200], 'the agent never saw a failure');
    const rows = await untilCentral(url, 1500, 30_000);
    const ids = rows.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'no exchange twice');
    assert.deepEqual(ids, localIds(sidecarA));
    assert.equal(ids.length, 1500);
    assert.match(sidecarA.log(), /central record unavailable/);
    // Log lines are written in blocks, flushed at least every second: the recovery line may follow its rows.
    const logDeadline = Date.now() + 5_000;
    while (!/central record available again/.test(sidecarA.log()) && Date.now() < logDeadline) await sleep(50);
    assert.match(sidecarA.log(), /central record available again/);
  });

  test('a shipper thread that stops is started again, and ships what waited', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-fleet-'));
    dirs.push(dir);
    // The thread stops at once while the local file's folder does not exist (it cannot open it).
    const path = join(dir, 'later', 'local.db');
    const url = server.createDatabase('restarted');
    const errors: string[] = [];
    const shipper = Shipper.start({ path, url, batchRecords: 100, intervalMs: 20, retryIntervalMs: 100 }, { onError: (message) => errors.push(message) });
    try {
      await until(() => errors.length >= 2, 'the shipper thread to stop and be started again twice', 20_000);
      assert.match(errors[0]!, /shipper thread stopped \(cannot create database .*local\.db.*\); starting it again in 100 ms/);
      mkdirSync(join(dir, 'later'));
      const writer = await startRecordWriter(path, { flushIntervalMs: 10 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const exchange = blankExchange({ agent: 'restarted', route: 'api', protocol: 'http', started_at: Date.now() });
        ids.push(exchange.id);
        writer.record({ exchange, request: null, response: null, events: [] });
      }
      await writer.close();
      const deadline = Date.now() + 20_000;
      while (shipper.getStats().shipped < 5 && Date.now() < deadline) await sleep(20);
      assert.deepEqual((await centralRows(url)).map((r) => r.id), ids.sort());
      assert.equal(shipper.getStats().shipped, 5);
      assert.ok(shipper.getStats().failures >= 2);
    } finally {
      await shipper.close(5000);
    }
  });
});
