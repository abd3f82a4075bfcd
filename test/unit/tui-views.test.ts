// The pure parts of the TUI's screens: list columns and row text, the detail tabs, the curl
// export, the totals and sparklines, and the messages for a database that cannot be opened.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { syntheticRecord } from '../../bench/tui-data.js';
import { blankExchange, type Exchange, type ExchangeRecord } from '../../core/exchange.js';
import { openRecordReader } from '../../store/open.js';
import { StoreError } from '../../store/record-store.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { prepareInsert } from '../../store/sqlite/insert.js';
import { getExchangeRecord, listExchanges } from '../../store/sqlite/queries.js';
import { SqliteReader } from '../../store/sqlite/reader.js';
import { curlCommand } from '../../tui/curl.js';
import { FOLD_AT, prettyBody, tabText } from '../../tui/detail.js';
import { columnsFor, cost, duration, formatRow, headerLine, toneOf } from '../../tui/format.js';
import { emptyTotals, ratesUntil, related, sessions, sparkline, updateTotals } from '../../tui/queries.js';

function llmRecord(): ExchangeRecord {
  const e = blankExchange({ agent: 'planner', route: 'openai', protocol: 'llm', started_at: Date.parse('2026-11-21T10:00:00Z') });
  Object.assign(e, { method: 'POST /v1/chat/completions', model: 'gpt-4o-mini', target: 'gpt-4o-mini', status: 'denied', http_status: 403, policy_rule: 'no-gpt', policy_action: 'deny', policy_reason: 'not this model', duration_ms: 1234, input_tokens: 1500, output_tokens: 20, cost_usd: 0.00123, streamed: 1 });
  const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `it's ${'x'.repeat(FOLD_AT + 50)}` }] });
  const chunk = (text: string): string => JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text } }] });
  return {
    exchange: e,
    request: { headers: { 'content-type': 'application/json', authorization: '[redacted]', host: '127.0.0.1:4100' }, body: Buffer.from(body), body_size: body.length, truncated: false },
    response: null,
    events: [
      { offset_ms: 12.25, event: null, event_id: null, data: chunk('Hello') },
      { offset_ms: 30.5, event: null, event_id: null, data: chunk(', world') },
      { offset_ms: 31, event: null, event_id: null, data: '[DONE]' },
    ],
  };
}

describe('list rows', () => {
  test('columns fill the width, one cell short, at any terminal size', () => {
    for (const width of [60, 80, 120, 160, 240]) {
      const columns = columnsFor(width);
      assert.equal(headerLine(columns).length, width - 1, `header at ${width}`);
      assert.equal(formatRow(llmRecord().exchange, columns).length, width - 1, `row at ${width}`);
    }
  });

  test('a row shows what a person scans for', () => {
    const row = formatRow(llmRecord().exchange, columnsFor(160));
    for (const cell of ['llm', 'planner/openai', '/v1/chat/completions', 'gpt-4o-mini', 'denied 403', 'deny:no-gpt', '1.23s', '1.5k/20', '$0.0012']) assert.ok(row.includes(cell), `${cell} in ${row}`);
    assert.equal(toneOf(llmRecord().exchange), 'denied');
    assert.equal(toneOf({ ...llmRecord().exchange, status: 'error' }), 'error');
  });

  test('an LLM call with usage but no price shows `unpriced`, not an empty or $0 cost', () => {
    const columns = columnsFor(160);
    const row = formatRow({ ...llmRecord().exchange, model: 'my-finetune', cost_usd: null }, columns);
    assert.match(row, / unpriced$/);
    assert.doesNotMatch(formatRow({ ...llmRecord().exchange, input_tokens: null, output_tokens: null, cost_usd: null }, columns), /unpriced|\$0/, 'no usage: no cost to know');
  });

  test('numbers', () => {
    assert.deepEqual([duration(12.4), duration(1530), duration(123_000), duration(null)], ['12ms', '1.53s', '2m03s', '']);
    assert.deepEqual([cost(1.234), cost(0.00123), cost(0.00001), cost(0), cost(null)], ['$1.23', '$0.0012', '<$0.0001', '$0', '']);
  });
});

describe('detail tabs', () => {
  test('request: headers as recorded, indented JSON, long strings folded', () => {
    const text = tabText('Request', llmRecord(), []);
    assert.match(text, /authorization: \[redacted\]/);
    assert.match(text, /^ {2}"model": "gpt-4o-mini",$/m);
    assert.match(text, /… \(\+5\d chars\)/);
    assert.equal(prettyBody('not json'), 'not json');
  });

  test('stream: events with offsets, then the reassembled text', () => {
    const text = tabText('Stream', llmRecord(), []);
    assert.match(text, /^\+ {4}12\.3 ms {2}\{"id":"c1"/m);
    assert.match(text, /--- reassembled text ---\nHello, world$/);
  });

  test('policy and meta', () => {
    assert.match(tabText('Policy', llmRecord(), []), /rule: {4}no-gpt\naction: {2}deny\nreason: {2}not this model/);
    const meta = tabText('Meta', llmRecord(), []);
    assert.match(meta, /tokens in \/ out\s+1500 \/ 20/);
    assert.match(meta, new RegExp(`id\\s+${llmRecord().exchange.id.slice(0, 6)}`));
  });
});

describe('curl export', () => {
  test('the recorded request through the route, credentials left redacted, quoting safe', () => {
    const record = llmRecord();
    const script = curlCommand(record);
    assert.match(script, /curl -sS -X 'POST' "\$\{TAPWIRE_URL:-http:\/\/127\.0\.0\.1:4100\}"'\/openai\/v1\/chat\/completions'/);
    assert.match(script, /-H 'authorization: \[redacted\]'/);
    assert.match(script, /# authorization: redacted in the record/);
    assert.doesNotMatch(script, /host:/);
    // The shell gets back exactly the recorded body, single quote included (test/property/curl-export.test.ts runs whole scripts).
    const format = /^printf ('(?:[^']|'\\'')*') \|$/m.exec(script)![1]!;
    assert.equal(execFileSync('sh', ['-c', `printf ${format}`]).toString(), record.request!.body!.toString());
  });
});

describe('totals, rates and sessions', () => {
  test('totals count once, then only newer rows; rates per second; sessions grouped', async () => {
    const db = openDatabase(':memory:');
    const reader = new SqliteReader(db);
    const insert = prepareInsert(db);
    const end = Date.parse('2026-11-21T10:00:10Z');
    insert(Array.from({ length: 300 }, (_, i) => syntheticRecord(i, end - 3000 + i * 10)));
    const totals = await updateTotals(reader, emptyTotals());
    const expectedErrors = Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 97 !== 0 && i % 53 === 0).length;
    assert.deepEqual([totals.exchanges, totals.denied, totals.errors, totals.done], [300, 4, expectedErrors, true]);
    let stepped = await updateTotals(reader, emptyTotals(), 128);
    const steps = [stepped.exchanges];
    while (!stepped.done) steps.push((stepped = await updateTotals(reader, stepped, 128)).exchanges);
    assert.deepEqual(steps, [128, 256, 300], 'counted in steps of 128 rows');
    assert.deepEqual({ ...stepped, done: true }, totals);
    insert([syntheticRecord(97 * 7, end)]);
    const more = await updateTotals(reader, totals);
    assert.deepEqual([more.exchanges, more.denied], [301, 5]);
    assert.deepEqual(await updateTotals(reader, more), more, 'nothing new: the same totals');
    const rates = await ratesUntil(reader, end, 2);
    assert.deepEqual(rates.requests, [100, 1], 'the second before the last holds 100 rows, the last one the row at its start');
    const found = await sessions(reader);
    assert.ok(found.some((s) => s.session_id === 'session-0' && s.protocol === 'mcp' && s.exchanges === 80));
    // In session-0 every tenth exchange from 8 on is a server-sent progress notification.
    const call = getExchangeRecord(db, listExchanges(db).find((e) => e.session_id === 'session-0' && e.method === 'tools/call')!.id)!;
    const notes = await related(reader, call.exchange);
    assert.equal(notes.length, 20);
    assert.ok(notes.every((n) => n.method === 'notifications/progress' && n.direction === 'server_to_client' && n.session_id === 'session-0'));
    assert.match(tabText('Related', call, notes), /session session-0: 20 notifications and server-to-client messages\n\n\d\d:\d\d:\d\d\.\d{3} {2}server → client {2}notifications\/progress/);
    db.close();
  });

  test('LLM tokens and MCP estimates are counted apart; a federated session is named by the federated route', async () => {
    const db = openDatabase(':memory:');
    const reader = new SqliteReader(db);
    const at = Date.parse('2026-11-21T10:00:00Z');
    const exchange = (route: string, protocol: 'llm' | 'mcp', tokens: [number, number], extra: Partial<Exchange> = {}): ExchangeRecord => ({
      exchange: { ...blankExchange({ agent: 'a', route, protocol, started_at: at }), input_tokens: tokens[0], output_tokens: tokens[1], tokens_estimated: protocol === 'mcp' ? 1 : 0, ...extra },
      request: null,
      response: null,
      events: [],
    });
    const call = exchange('tools', 'mcp', [8, 40], { session_id: 'fed-1', method: 'tools/call' });
    prepareInsert(db)([
      exchange('openai', 'llm', [100, 20]),
      call,
      // The per-server exchange the federated call caused, on the member route ("alpha" sorts before "tools").
      exchange('alpha', 'mcp', [8, 40], { session_id: 'fed-1', method: 'tools/call', parent_id: call.exchange.id }),
    ]);
    const totals = await updateTotals(reader, emptyTotals());
    assert.deepEqual([totals.llmTokens, totals.mcpTokens], [120, 48], 'LLM usage alone; MCP estimates of what the agent saw, once');
    assert.deepEqual((await ratesUntil(reader, at, 1)).tokens, [120], 'the token sparkline is LLM usage');
    assert.deepEqual((await sessions(reader)).map((s) => [s.session_id, s.route, s.exchanges]), [['fed-1', 'tools', 2]]);
    db.close();
  });

  test('the stats count LLM calls without a price apart from the priced cost, not as $0', async () => {
    const db = openDatabase(':memory:');
    const reader = new SqliteReader(db);
    const llm = (cost_usd: number | null, tokens: number | null): ExchangeRecord => ({
      exchange: { ...blankExchange({ agent: 'a', route: 'llm', protocol: 'llm', started_at: Date.now() }), input_tokens: tokens, output_tokens: tokens, cost_usd },
      request: null,
      response: null,
      events: [],
    });
    // Priced, unpriced, and a call without usage (denied: no tokens, so no cost to know).
    prepareInsert(db)([llm(0.25, 10), llm(null, 10), llm(null, null)]);
    const totals = await updateTotals(reader, emptyTotals());
    assert.deepEqual([totals.costUsd, totals.unpricedLlmCalls], [0.25, 1]);
    db.close();
  });

  test('sparkline', () => {
    assert.equal(sparkline([0, 1, 2, 4, 8]), '▁▂▃▅█');
    assert.equal(sparkline([0, 0]), '▁▁');
  });
});

describe('opening a database', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'tapwire-open-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const message = async (path: string): Promise<string> => {
    try {
      await (await openRecordReader(path, 'browse')).close();
    } catch (err) {
      assert.ok(err instanceof StoreError);
      return err.message;
    }
    return 'opened';
  };

  test('missing, not SQLite, not tapwire, newer schema: one sentence each', async () => {
    assert.match(await message(join(dir, 'missing.db')), /missing\.db does not exist/);
    writeFileSync(join(dir, 'notes.txt'), 'hello, this is not a database at all, not even close');
    assert.match(await message(join(dir, 'notes.txt')), /notes\.txt is not a tapwire database \(file is not a database\)/);
    const other = new Database(join(dir, 'other.db'));
    other.exec('CREATE TABLE t (x)');
    other.close();
    assert.match(await message(join(dir, 'other.db')), /other\.db is not a tapwire database \(it has no exchanges table\)/);
    openDatabase(join(dir, 'newer.db')).close();
    const newer = new Database(join(dir, 'newer.db'));
    newer.pragma('user_version = 99');
    newer.close();
    assert.match(await message(join(dir, 'newer.db')), /schema version 99.*written by a newer tapwire/);
    openDatabase(join(dir, 'ok.db')).close();
    assert.equal(await message(join(dir, 'ok.db')), 'opened');
  });
});
