// The fleet's Audit dashboard (grafana/fleet/) on Grafana's built-in PostgreSQL datasource:
// it type-checks against @grafana/schema, names only the provisioned datasource, has agent
// (and route, protocol, model) as variables, and every SQL query, its macros and variables
// expanded the way Grafana expands them, returns rows from a real PostgreSQL holding the
// demo's traffic shipped from two sidecars' files, as the SQLite dashboard's queries are
// checked against the demo database (test/e2e/demo.test.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { parse } from 'yaml';
import { Shipper } from '../../store/shipper.js';
import { expandPostgresQuery, readDashboards, REPO, targetsOf, typeCheckDashboard } from '../support/grafana.js';
import { PostgresServer } from '../support/postgres.js';
import { CLI } from '../support/cli.js';

const run = promisify(execFile);
const FLEET = join(REPO, 'grafana', 'fleet');

describe('Grafana: the fleet Audit dashboard on PostgreSQL', () => {
  const dashboards = readDashboards(join(FLEET, 'dashboards'));
  let server: PostgresServer;
  let dir: string;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-grafana-pg-'));
    server = await PostgresServer.start();
    url = server.createDatabase('fleet');
    for (const name of ['one', 'two']) {
      const db = join(dir, `${name}.db`);
      await run(process.execPath, [CLI, 'demo', '--db', db], { cwd: dir });
      const shipper = Shipper.start({ path: db, url, batchRecords: 100, intervalMs: 20, retryIntervalMs: 100 });
      const deadline = Date.now() + 20_000;
      while ((shipper.getStats().shipped === 0 || shipper.getStats().backlog > 0) && Date.now() < deadline) await sleep(20);
      await shipper.close(5000);
    }
  });
  after(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the dashboard type-checks, uses only the provisioned PostgreSQL datasource, and has an agent variable", () => {
    assert.deepEqual([...dashboards.keys()], ['tapwire-fleet-audit']);
    const { text, dashboard } = dashboards.get('tapwire-fleet-audit')!;
    assert.deepEqual(typeCheckDashboard(text), []);
    const provisioned = (parse(readFileSync(join(FLEET, 'provisioning', 'datasources', 'postgres.yaml'), 'utf8')) as { datasources: { uid: string; type: string }[] }).datasources;
    assert.deepEqual(provisioned.map((d) => [d.uid, d.type]), [['tapwire-postgres', 'grafana-postgresql-datasource']]);
    const refs = [...dashboard.panels.flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]), ...dashboard.templating.list.map((v) => v.datasource)];
    for (const ref of refs) assert.deepEqual(ref, { type: 'grafana-postgresql-datasource', uid: 'tapwire-postgres' });
    assert.deepEqual(dashboard.templating.list.map((v) => v.name), ['agent', 'route', 'protocol', 'model']);
  });

  test('every SQL query, its macros and variables expanded, returns rows from the central record', async () => {
    const { dashboard } = dashboards.get('tapwire-fleet-audit')!;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const variables = new Map<string, string[]>();
      for (const v of dashboard.templating.list) {
        const values = (await client.query({ text: v.query as string, rowMode: 'array' })).rows as unknown[][];
        assert.ok(values.length > 0, `variable ${v.name} finds values`);
        variables.set(v.name, values.map((row) => String(row[0])));
      }
      const range = { fromMs: Date.now() - 3_600_000, toMs: Date.now() + 60_000, intervalSeconds: 10 };
      const targets = targetsOf(dashboard);
      assert.ok(targets.length >= 8);
      for (const { panel, target } of targets) {
        const sql = expandPostgresQuery(target.rawSql!, variables, range);
        assert.doesNotMatch(sql, /\$/, `${panel}: everything expanded`);
        const { rows } = await client.query<Record<string, unknown>>(sql);
        assert.ok(rows.length > 0, `${panel}: returns rows`);
        if ('time' in rows[0]!) {
          assert.ok(rows.every((r) => Number(r.time) > 1e9 && Number(r.time) < 1e10), `${panel}: time is Unix seconds`);
        }
        if (target.format === 'time_series') assert.ok('time' in rows[0]! && 'metric' in rows[0], `${panel}: a time series has time and metric columns`);
      }
    } finally {
      await client.end();
    }
  });
});
