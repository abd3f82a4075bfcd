// The list window over a real database file: keyset paging (g, G, j/k, pages) shows exactly
// the rows in id order, a filter that needs bodies scans in several budgeted steps and finds
// exactly what CEL on each full record finds, and follow mode picks up rows a writer adds
// through another connection.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fillDatabase, syntheticRecord } from '../../bench/tui-data.js';
import { buildContext } from '../../protocols/cel-context.js';
import { compileExpression, matched } from '../../policies/cel.js';
import { openDatabase, openForBrowsing, type Db } from '../../store/sqlite/db.js';
import { prepareInsert } from '../../store/sqlite/insert.js';
import { getExchangeRecord } from '../../store/sqlite/queries.js';
import { SqliteReader } from '../../store/sqlite/reader.js';
import { compileFilter } from '../../tui/filter.js';
import { ListModel } from '../../tui/list-model.js';
import { ExchangeWindow } from '../../tui/window.js';

const ROWS = 3000;
const HEIGHT = 10;
const BODY_FILTER = 'request.body.params.arguments.path.endsWith("77.txt")';

describe('list window', () => {
  let dir: string;
  let path: string;
  let db: Db;
  let reader: SqliteReader;
  let ids: string[];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-tui-'));
    path = join(dir, 'tapwire.db');
    fillDatabase(path, ROWS);
    db = openForBrowsing(path);
    reader = new SqliteReader(db);
    ids = db.prepare('SELECT id FROM exchanges ORDER BY id').pluck().all() as string[];
  });
  after(async () => {
    await reader.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const shown = (model: ListModel): string[] => model.rows.map((r) => r.id);

  test('G, g, j/k and pages move over the rows in id order', async () => {
    const model = new ListModel(new ExchangeWindow(reader), HEIGHT);
    await model.last();
    assert.deepEqual(shown(model), ids.slice(-HEIGHT));
    assert.equal(model.selected()?.id, ids[ROWS - 1]);
    await model.down();
    assert.equal(model.selected()?.id, ids[ROWS - 1], 'no row after the last');
    await model.up(15);
    assert.equal(model.selected()?.id, ids[ROWS - 16]);
    assert.equal(model.rows.length, HEIGHT);
    await model.first();
    assert.deepEqual(shown(model), ids.slice(0, HEIGHT));
    await model.down(HEIGHT);
    assert.equal(model.selected()?.id, ids[HEIGHT]);
    assert.deepEqual(shown(model), ids.slice(1, HEIGHT + 1));
    await model.up();
    await model.up(HEIGHT);
    assert.equal(model.selected()?.id, ids[0]);
  });

  test('a filter on request bodies scans in steps and finds exactly what CEL finds', async () => {
    const expression = compileExpression(BODY_FILTER);
    const expected = ids.filter((id) => {
      const r = getExchangeRecord(db, id)!;
      return matched(expression.evaluate(buildContext({ exchange: r.exchange, request: r.request, response: r.response, events: r.events })));
    });
    assert.ok(expected.length > 2 * HEIGHT);
    let pauses = 0;
    // Steps of 100 rows: every page takes several steps.
    const model = new ListModel(new ExchangeWindow(reader, 100), HEIGHT, async () => {
      pauses++;
      await new Promise((resolve) => setImmediate(resolve));
    });
    const filter = compileFilter(BODY_FILTER)!;
    assert.equal(filter.rowOnly, false);
    await model.setFilter(filter);
    assert.deepEqual(shown(model), expected.slice(-HEIGHT));
    await model.first();
    const seen = shown(model);
    for (let i = 0; i < expected.length; i += HEIGHT) {
      await model.down(HEIGHT);
      for (const id of shown(model)) if (!seen.includes(id)) seen.push(id);
    }
    assert.deepEqual(seen, expected);
    assert.ok(pauses > 0, 'the scans yielded between steps');
  });

  test('follow mode shows rows another connection writes', async () => {
    const model = new ListModel(new ExchangeWindow(reader), HEIGHT);
    await model.setFilter(compileFilter('~proto mcp'));
    const writer = openDatabase(path);
    try {
      // i % 10 == 5 is an MCP tools/call; 4 is an LLM call, which the filter hides.
      const mcp = syntheticRecord(ROWS * 10 + 5, Date.now());
      const llm = syntheticRecord(ROWS * 10 + 4, Date.now());
      const before = shown(model);
      prepareInsert(writer)([mcp, llm]);
      assert.equal(await model.refresh(), false, 'not following: a full window stays as it is');
      assert.deepEqual(shown(model), before);
      await model.toggleFollow();
      assert.equal(model.selected()?.id, mcp.exchange.id);
      const next = syntheticRecord(ROWS * 10 + 15, Date.now());
      prepareInsert(writer)([next]);
      assert.equal(await model.refresh(), true);
      assert.equal(model.selected()?.id, next.exchange.id);
      assert.deepEqual(shown(model).slice(-2), [mcp.exchange.id, next.exchange.id]);
    } finally {
      writer.close();
    }
  });
});
