// The SQL prefilter against CEL itself: over random recorded exchanges (shaped the way the
// sidecar records them: columns copied from the body they came with) and random filters,
// a translation that claims to be exact selects exactly the rows CEL on the shared context
// selects, any other translation selects a superset, and the row-only shortcut judges each
// row as the full record would.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildContext } from '../../protocols/cel-context.js';
import { compileExpression, matched } from '../../policies/cel.js';
import { blankExchange, type ExchangeRecord } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { prepareInsert } from '../../store/sqlite/insert.js';
import { getExchangeRecord, listExchanges } from '../../store/sqlite/queries.js';
import { compileFilter } from '../../tui/filter.js';
import { whereSql } from '../../store/sqlite/where.js';
import { prefilter } from '../../tools/prefilter.js';

/** The prefilter as the SQLite backend runs it. */
function sqlPrefilter(cel: string): { where: string; params: (string | number)[]; exact: boolean; rowOnly: boolean } {
  const pushed = prefilter(cel);
  return { ...whereSql(pushed.where), exact: pushed.exact, rowOnly: pushed.rowOnly };
}

const STRINGS = ['', 'gpt-4o', 'gpt-4o-mini', 'delete_file', 'read', 'tools/call', 'notifications/progress', 'ok', 'error', 'denied', 'openai', 'sess-1', 'a'];

const recordArb = fc
  .record({
    protocol: fc.constantFrom('llm', 'mcp', 'a2a', 'http'),
    status: fc.constantFrom('ok', 'error', 'denied', 'aborted'),
    direction: fc.constantFrom('client_to_server', 'server_to_client'),
    agent: fc.constantFrom('a', 'b'),
    labels: fc.constantFrom(null, '{}', '{"team":"a"}', '{"team":"b","tier":"2"}', '{"tier":2}'),
    route: fc.constantFrom('openai', 'fs'),
    name: fc.option(fc.constantFrom(...STRINGS), { nil: null }),
    method: fc.option(fc.constantFrom('tools/call', 'notifications/progress', 'resources/read'), { nil: null }),
    session: fc.option(fc.constantFrom('sess-1', 'sess-2'), { nil: null }),
    errorCode: fc.option(fc.constantFrom('http_500', 'rate_limit'), { nil: null }),
    duration: fc.option(fc.constantFrom(0, 12.5, 500, 500.5, 3000), { nil: null }),
    httpStatus: fc.option(fc.constantFrom(200, 403, 404, 500), { nil: null }),
    input: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: null }),
    output: fc.option(fc.integer({ min: 0, max: 2000 }), { nil: null }),
    cost: fc.option(fc.constantFrom(0, 0.001, 0.5), { nil: null }),
    stream: fc.boolean(),
  });
type RecordShape = typeof recordArb extends fc.Arbitrary<infer T> ? T : never;

let clock = Date.parse('2026-11-01T00:00:00Z');

/** A record as the sidecar would write it: the model / method / tool columns come from the body. */
function toRecord(r: RecordShape): ExchangeRecord {
  const e = blankExchange({ agent: r.agent, route: r.route, protocol: r.protocol, started_at: clock++ });
  Object.assign(e, {
    status: r.status,
    direction: r.direction,
    session_id: r.session,
    error_code: r.errorCode,
    error_message: r.errorCode ? `failed: ${r.errorCode}` : null,
    duration_ms: r.duration,
    http_status: r.httpStatus,
    input_tokens: r.input,
    output_tokens: r.output,
    cost_usd: r.cost,
    agent_labels: r.labels,
  });
  let body: object | null = null;
  if (r.protocol === 'llm') {
    e.provider = 'openai';
    e.operation = 'chat';
    e.model = e.target = r.name;
    e.method = 'POST /v1/chat/completions';
    body = r.name === null ? { stream: r.stream } : { model: r.name, stream: r.stream };
  } else if (r.protocol === 'mcp' || r.protocol === 'a2a') {
    e.method = r.method;
    e.target = r.name;
    body = r.method === null ? null : { jsonrpc: '2.0', id: 1, method: r.method, params: r.name === null ? {} : { name: r.name } };
  }
  const text = body === null ? null : Buffer.from(JSON.stringify(body));
  return { exchange: e, request: { headers: {}, body: text, body_size: text?.length ?? 0, truncated: false }, response: null, events: [] };
}

const STRING_FIELDS = [
  'protocol', 'direction', 'agent.name', 'route.name', 'exchange.status', 'exchange.target', 'exchange.session_id', 'exchange.error_code',
  'response.error.code', 'llm.provider', 'llm.model', 'mcp.method', 'mcp.tool', 'mcp.session',
];
const NUMBER_FIELDS = ['exchange.duration_ms', 'exchange.http_status', 'response.status', 'usage.input_tokens', 'usage.output_tokens', 'usage.total_tokens', 'usage.cost_usd'];
/** Atoms the prefilter cannot translate exactly (labels only as a superset): CEL decides them on the candidates. */
const OTHER_ATOMS = [
  'agent.labels["team"] == "a"', '"b" == agent.labels.team', 'agent.labels.tier == "2"', 'agent.labels["team"] != "a"', '"team" in agent.labels','llm.stream', 'request.body.model == "gpt-4o"', 'jsonrpc.method == "tools/call"', 'size(mcp.arguments) == 0'];

const stringLit = fc.constantFrom(...STRINGS).map((s) => JSON.stringify(s));
const numberLit = fc.constantFrom('0', '200', '500', '500.5', '1000', '0.001', '-1');
const atom = fc.oneof(
  fc.tuple(fc.constantFrom(...STRING_FIELDS), fc.constantFrom('==', '!=', '<', '>='), stringLit).map(([f, op, v]) => `${f} ${op} ${v}`),
  fc.tuple(fc.constantFrom(...NUMBER_FIELDS), fc.constantFrom('==', '!=', '<', '<=', '>', '>='), numberLit).map(([f, op, v]) => `${f} ${op} ${v}`),
  fc.tuple(numberLit, fc.constantFrom('<', '>='), fc.constantFrom(...NUMBER_FIELDS)).map(([v, op, f]) => `${v} ${op} ${f}`),
  fc.tuple(fc.constantFrom(...STRING_FIELDS), fc.constantFrom('contains', 'startsWith', 'endsWith'), stringLit).map(([f, m, v]) => `${f}.${m}(${v})`),
  fc.tuple(fc.constantFrom(...STRING_FIELDS), fc.array(stringLit, { maxLength: 3 })).map(([f, vs]) => `${f} in [${vs.join(', ')}]`),
  fc.constantFrom(...OTHER_ATOMS),
);
const expression: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    fc.tuple(tie('expr'), fc.constantFrom('&&', '||'), tie('expr')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
    tie('expr').map((a) => `!(${a})`),
  ),
})).expr;

describe('SQL prefilter against CEL', () => {
  test('exact translations select what CEL selects; others a superset; the row-only shortcut agrees', () => {
    const db = openDatabase(':memory:');
    const records = fc.sample(recordArb, { numRuns: 400, seed: 20261121 }).map(toRecord);
    prepareInsert(db)(records);
    const rows = listExchanges(db);
    const full = new Map(rows.map((row) => [row.id, getExchangeRecord(db, row.id)!]));
    let exactSeen = 0;
    fc.assert(
      fc.property(expression, (cel) => {
        const compiled = compileExpression(cel);
        const celIds = rows
          .filter((row) => {
            const r = full.get(row.id)!;
            return matched(compiled.evaluate(buildContext({ exchange: r.exchange, request: r.request, response: r.response, events: r.events })));
          })
          .map((row) => row.id);
        const sql = sqlPrefilter(cel);
        const sqlIds = db.prepare(`SELECT id FROM exchanges${sql.where ? ` WHERE ${sql.where}` : ''} ORDER BY id`).pluck().all(...sql.params) as string[];
        if (sql.exact) {
          exactSeen++;
          assert.deepEqual(sqlIds, celIds, `exact SQL ${sql.where} ${JSON.stringify(sql.params)}`);
        } else {
          const candidates = new Set(sqlIds);
          assert.ok(celIds.every((id) => candidates.has(id)), `superset SQL ${sql.where} ${JSON.stringify(sql.params)}`);
        }
        const filter = compileFilter(cel)!;
        const judged = rows.filter((row) => filter.matches(row, full.get(row.id)!)).map((row) => row.id);
        assert.deepEqual(judged, celIds, `filter.matches (rowOnly ${filter.rowOnly})`);
      }),
      { numRuns: 300, seed: 4242 },
    );
    assert.ok(exactSeen > 100, `exact translations exercised: ${exactSeen}`);
    db.close();
  });

  test('what is translated, and what is left to CEL', () => {
    assert.deepEqual(sqlPrefilter('protocol == "mcp" && exchange.duration_ms > 500'), {
      where: "((protocol = ?) AND (COALESCE(duration_ms, 0) > ?))",
      params: ['mcp', 500],
      exact: true,
      rowOnly: true,
    });
    const mixed = sqlPrefilter('protocol == "llm" && llm.messages.size() > 2');
    assert.deepEqual([mixed.where, mixed.exact, mixed.rowOnly], ['(protocol = ?)', false, false]);
    assert.deepEqual(sqlPrefilter('protocol == "llm" || response.text.contains("x")'), { where: '', params: [], exact: false, rowOnly: false });
  });
});
