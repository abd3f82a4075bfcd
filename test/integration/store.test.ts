// Integration tests for tapwire.db as a user meets it: restarting on an existing database,
// upgrading one of an older schema, refusing one written by a newer tapwire, the file's
// permissions, a graceful stop that flushes every in-flight call, credentials that never
// reach the file in clear, and bodies larger than store.max_body_bytes stored truncated.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { REDACTED } from '../../core/headers.js';
import { StoreError } from '../../store/record-store.js';
import { openDatabase, schemaVersion } from '../../store/sqlite/db.js';
import { SCHEMA_VERSION } from '../../store/sqlite/migrations.js';
import { getExchangeRecord, listExchanges } from '../../store/sqlite/queries.js';
import { routesYaml } from '../support/routes.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { closedPortUrl, startUpstream, until, type ScriptedUpstream } from '../support/upstream.js';

const MODEL = 'gpt-4o-mini';
const USAGE = { prompt_tokens: 13, completion_tokens: 5, total_tokens: 18 };

/** A chat completion as OpenAI answers it, `content` as the answer. */
function completion(content: string): string {
  return JSON.stringify({
    id: 'chatcmpl-store-test',
    object: 'chat.completion',
    created: 1763190000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
    service_tier: 'default',
    system_fingerprint: 'fp_store',
  });
}

function client(tapwire: TestSidecar, options: { apiKey?: string; headers?: Record<string, string> } = {}): OpenAI {
  return new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: options.apiKey ?? 'sk-test-store', maxRetries: 0, defaultHeaders: options.headers });
}

function ask(openai: OpenAI, content: string): Promise<OpenAI.Chat.Completions.ChatCompletion> {
  return openai.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }] });
}

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'tapwire-store-'));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('tapwire.db', () => {
  let upstream: ScriptedUpstream;
  let yaml: string;
  const dirs: string[] = [];

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const body = completion(`answer ${upstream.requests.length}`);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    yaml = routesYaml({ openai: { upstream: upstream.url, provider: 'openai' } });
  });

  after(async () => {
    await upstream.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function dir(): string {
    const d = freshDir();
    dirs.push(d);
    return d;
  }

  test('a restart on an existing database keeps run 1 and adds run 2', async () => {
    const d = dir();
    const run1 = await startTestSidecar(yaml, process.env, { dir: d });
    await ask(client(run1), 'first run, call 1');
    await ask(client(run1), 'first run, call 2');
    const first = await run1.stop();
    assert.equal(first.length, 2);

    const run2 = await startTestSidecar(yaml, process.env, { dir: d });
    for (let i = 1; i <= 3; i++) await ask(client(run2), `second run, call ${i}`);
    const all = await run2.stop();
    assert.equal(all.length, 5);
    assert.deepEqual(all.slice(0, 2), first, 'run 1 rows are untouched');
    assert.ok(all.every((e) => e.status === 'ok' && e.input_tokens === 13));
    const bodies = all.map((e) => JSON.parse(run2.record(e.id).request!.body!.toString('utf8')) as { messages: { content: string }[] });
    assert.deepEqual(
      bodies.map((b) => b.messages[0]!.content),
      ['first run, call 1', 'first run, call 2', 'second run, call 1', 'second run, call 2', 'second run, call 3'],
      'ids sort in recording order across runs',
    );
  });

  test('a database of schema version 1 is upgraded on start, its rows intact', async () => {
    const d = dir();
    const path = join(d, 'tapwire.db');
    const old = openDatabase(path, { targetVersion: 1 });
    assert.equal(schemaVersion(old), 1);
    const oldId = '01JGKZ3Q8RS2V4X6Y8Z0A2B4C6';
    old
      .prepare(
        `INSERT INTO exchanges (id, started_at, ended_at, duration_ms, ttfb_ms, agent, route, protocol, direction, method,
           status, http_status, provider, model, input_tokens, output_tokens, tokens_estimated, cost_usd, streamed,
           request_bytes, response_bytes)
         VALUES (?, 1735689600000, 1735689600420, 420.5, 180.25, 'agent', 'openai', 'llm', 'client_to_server',
           'POST /v1/chat/completions', 'ok', 200, 'openai', 'gpt-4o', 100, 20, 0, 0.00045, 0, 310, 620)`,
      )
      .run(oldId);
    old.prepare(`INSERT INTO payloads (exchange_id, kind, headers, body, body_size, truncated) VALUES (?, 'request', '{"authorization":"[redacted]"}', ?, 310, 0)`).run(oldId, Buffer.from('{"model":"gpt-4o"}'));
    old.prepare(`INSERT INTO events (exchange_id, seq, offset_ms, event, event_id, data) VALUES (?, 0, 12.5, NULL, NULL, '{"old":true}')`).run(oldId);
    old.close();

    const tapwire = await startTestSidecar(yaml, process.env, { dir: d });
    await ask(client(tapwire), 'after the upgrade');
    const rows = await tapwire.stop();

    const db = openDatabase(path, { readonly: true });
    try {
      assert.equal(schemaVersion(db), SCHEMA_VERSION);
      const payloads = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'payloads'").pluck().get() as string;
      assert.doesNotMatch(payloads, /WITHOUT ROWID/, 'payloads rebuilt as a rowid table (v6)');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
    } finally {
      db.close();
    }
    assert.equal(rows.length, 2);
    const [oldRow, newRow] = rows;
    assert.equal(oldRow!.id, oldId);
    assert.deepEqual(
      { model: oldRow!.model, input_tokens: oldRow!.input_tokens, output_tokens: oldRow!.output_tokens, cost_usd: oldRow!.cost_usd, duration_ms: oldRow!.duration_ms, status: oldRow!.status },
      { model: 'gpt-4o', input_tokens: 100, output_tokens: 20, cost_usd: 0.00045, duration_ms: 420.5, status: 'ok' },
    );
    assert.equal(oldRow!.operation, null, 'columns added later are empty for old rows');
    const oldRecord = tapwire.record(oldId);
    assert.equal(oldRecord.request?.body?.toString('utf8'), '{"model":"gpt-4o"}');
    assert.deepEqual(oldRecord.events.map((e) => e.data), ['{"old":true}']);
    assert.equal(newRow!.operation, 'chat', 'new rows fill the new columns');
    assert.equal(newRow!.response_model, 'gpt-4o-mini-2024-07-18');
  });

  test('a database written by a newer tapwire is refused, and left as it was', async () => {
    const d = dir();
    const path = join(d, 'tapwire.db');
    const newer = openDatabase(path);
    newer.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    newer.exec('CREATE TABLE from_the_future (x TEXT)');
    newer.close();
    const before = readFileSync(path);

    await assert.rejects(startTestSidecar(yaml, process.env, { dir: d }), (err: unknown) => {
      assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
      assert.match(err.message, /written by a newer tapwire/);
      assert.ok(err.message.includes(path), 'the message names the file');
      return true;
    });
    assert.deepEqual(readFileSync(path), before, 'the refused database is not modified');
  });

  test('the database and its WAL are readable by their owner only (mode 0600)', async () => {
    const d = dir();
    const tapwire = await startTestSidecar(yaml, process.env, { dir: d });
    try {
      await ask(client(tapwire), 'mode check');
      await until(() => tapwire.sidecar.recorder.getStats().queued === 1, 'the call to be recorded');
      await tapwire.sidecar.recorder.flush();
      for (const file of [tapwire.dbPath, `${tapwire.dbPath}-wal`, `${tapwire.dbPath}-shm`]) {
        assert.ok(existsSync(file), `${file} exists while tapwire runs`);
        assert.equal((statSync(file).mode & 0o777).toString(8), '600', `${file} mode`);
      }
    } finally {
      await tapwire.stop();
    }
    assert.equal((statSync(tapwire.dbPath).mode & 0o777).toString(8), '600');
  });

  test('a graceful stop lets in-flight calls finish and records every one of them', async () => {
    const release = deferred();
    const held = await startUpstream(async (_req, res) => {
      await release.promise;
      const body = completion('released');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    const d = dir();
    // A flush interval far longer than the test: only the stop can write these records.
    const tapwire = await startTestSidecar(routesYaml({ openai: { upstream: held.url, provider: 'openai' } }), process.env, { dir: d, flushIntervalMs: 600_000 });
    try {
      const N = 8;
      const openai = client(tapwire);
      const calls = Array.from({ length: N }, (_, i) => ask(openai, `concurrent call ${i}`));
      await until(() => held.requests.length === N, 'every call to reach the upstream');
      const stopping = tapwire.stop();
      release.resolve();
      const answers = await Promise.all(calls);
      assert.ok(answers.every((a) => a.choices[0]?.message.content === 'released'), 'every agent got its answer');
      const rows = await stopping;
      assert.equal(rows.length, N);
      assert.ok(rows.every((e) => e.status === 'ok' && e.http_status === 200 && e.output_tokens === 5));
      const asked = rows.map((e) => (JSON.parse(tapwire.record(e.id).request!.body!.toString('utf8')) as { messages: { content: string }[] }).messages[0]!.content);
      assert.deepEqual(asked.sort(), Array.from({ length: N }, (_, i) => `concurrent call ${i}`).sort());
    } finally {
      release.resolve();
      await held.close();
    }
  });

  test('credential headers never reach the database file or its WAL in clear', async () => {
    const secrets = {
      bearer: 'sk-proj-SECRETbearer7f3a9c1e5b',
      apiKey: 'sk-ant-SECRETxapikey2d4f6a8c0e',
      cookie: 'SECRETcookie9b8a7c6d5e4f',
      custom: 'SECRETinternal1a2b3c4d5e6f',
      setCookie: 'SECRETsetcookie0f1e2d3c4b5a',
    };
    const withCookie = await startUpstream((_req, res) => {
      const body = completion('hello');
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `__cf_bm=${secrets.setCookie}; path=/; HttpOnly` });
      res.end(body);
    });
    const down = await closedPortUrl();
    const d = dir();
    const config = [
      routesYaml({ openai: { upstream: withCookie.url, provider: 'openai' }, down: { upstream: down, provider: 'openai' } }),
      'store:',
      '  redact_headers: [X-Internal-Token]',
    ].join('\n');
    const tapwire = await startTestSidecar(config, process.env, { dir: d });
    const headers = { 'x-api-key': secrets.apiKey, cookie: `session=${secrets.cookie}`, 'x-internal-token': secrets.custom };
    const files = (): string[] => [tapwire.dbPath, `${tapwire.dbPath}-wal`, `${tapwire.dbPath}-shm`].filter((f) => existsSync(f));
    const assertNoSecret = (when: string): void => {
      for (const file of files()) {
        const bytes = readFileSync(file);
        for (const [name, secret] of Object.entries(secrets)) {
          assert.equal(bytes.includes(secret), false, `${name} found in clear in ${file} (${when})`);
        }
      }
    };
    try {
      await ask(client(tapwire, { apiKey: secrets.bearer, headers }), 'hello');
      const downClient = new OpenAI({ baseURL: `${tapwire.url}/down/v1`, apiKey: secrets.bearer, maxRetries: 0, defaultHeaders: headers });
      await assert.rejects(ask(downClient, 'hello'), { status: 502 });
      await until(() => tapwire.sidecar.recorder.getStats().queued === 2, 'both calls to be recorded');
      await tapwire.sidecar.recorder.flush();
      assertNoSecret('while running');
    } finally {
      await tapwire.stop();
      await withCookie.close();
    }
    assertNoSecret('after stop');

    // The secrets did travel (so their absence above means something), and the record says where they were.
    const sent = withCookie.requests[0]!.headers;
    assert.equal(sent.authorization, `Bearer ${secrets.bearer}`);
    assert.equal(sent['x-api-key'], secrets.apiKey);
    assert.equal(sent['x-internal-token'], secrets.custom);
    const db = openDatabase(tapwire.dbPath, { readonly: true });
    try {
      for (const e of listExchanges(db)) {
        const record = getExchangeRecord(db, e.id)!;
        for (const name of ['authorization', 'x-api-key', 'cookie', 'x-internal-token']) assert.equal(record.request?.headers[name], REDACTED, `${e.route} request ${name}`);
        if (e.route === 'openai') assert.equal(record.response?.headers['set-cookie'], REDACTED);
      }
    } finally {
      db.close();
    }
  });
});

describe('bodies larger than store.max_body_bytes', () => {
  const MAX = 2048;
  let upstream: ScriptedUpstream;
  let tapwire: TestSidecar;
  const longAnswer = 'The write-ahead log keeps every page. '.repeat(200);
  const longPrompt = 'Please summarise this log line. '.repeat(150);

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const asked = JSON.parse(req.body.toString('utf8')) as { stream?: boolean };
      if (asked.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const base = { id: 'chatcmpl-big', object: 'chat.completion.chunk', created: 1763190000, model: 'gpt-4o-mini-2024-07-18' };
        for (const piece of longAnswer.match(/.{1,200}/g) ?? []) {
          res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }], usage: null })}\n\n`);
        }
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: USAGE })}\n\ndata: [DONE]\n\n`);
        res.end();
        return;
      }
      const body = completion(longAnswer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    const config = [routesYaml({ openai: { upstream: upstream.url, provider: 'openai' } }), 'store:', `  max_body_bytes: ${MAX}`].join('\n');
    tapwire = await startTestSidecar(config);
  });

  after(async () => {
    await tapwire.stop();
    tapwire.cleanup();
    await upstream.close();
  });

  test('a large request and response are stored truncated, with their full sizes, and the usage is still read', async () => {
    const answer = await ask(client(tapwire), longPrompt);
    assert.equal(answer.choices[0]?.message.content, longAnswer, 'the agent gets the whole answer');
    await until(() => tapwire.sidecar.recorder.getStats().queued === 1, 'the call to be recorded');
    await tapwire.sidecar.recorder.flush();
    const [e] = (() => {
      const db = openDatabase(tapwire.dbPath, { readonly: true });
      try {
        return listExchanges(db);
      } finally {
        db.close();
      }
    })();
    assert.ok(e);
    const record = tapwire.record(e.id);
    const sentUp = upstream.requests.at(-1)!.body;
    const sentBack = Buffer.from(completion(longAnswer));
    assert.ok(sentUp.length > MAX && sentBack.length > MAX, 'the test bodies are over the limit');

    assert.equal(record.request?.truncated, true);
    assert.equal(record.request?.body_size, sentUp.length);
    assert.deepEqual(record.request?.body, sentUp.subarray(0, MAX));
    assert.equal(record.response?.truncated, true);
    assert.equal(record.response?.body_size, sentBack.length);
    assert.deepEqual(record.response?.body, sentBack.subarray(0, MAX));
    assert.equal(e.request_bytes, sentUp.length);
    assert.equal(e.response_bytes, sentBack.length);
    // Storing less of the body must not cost the record its facts.
    assert.deepEqual(
      { input: e.input_tokens, output: e.output_tokens, estimated: e.tokens_estimated, model: e.response_model },
      { input: 13, output: 5, estimated: 0, model: 'gpt-4o-mini-2024-07-18' },
    );
  });

  test('a large streamed response is stored truncated, its events and usage complete', async () => {
    const stream = await client(tapwire).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'stream it' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, longAnswer);
    await until(() => tapwire.sidecar.recorder.getStats().queued === 2, 'the call to be recorded');
    await tapwire.sidecar.recorder.flush();
    const db = openDatabase(tapwire.dbPath, { readonly: true });
    try {
      const e = listExchanges(db).at(-1)!;
      const record = getExchangeRecord(db, e.id)!;
      assert.equal(record.response?.truncated, true);
      assert.equal(record.response?.body?.length, MAX);
      assert.equal(record.response?.body_size, e.response_bytes);
      assert.ok(e.response_bytes > MAX);
      const content = record.events
        .map((ev) => (ev.data === '[DONE]' ? '' : ((JSON.parse(ev.data) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')))
        .join('');
      assert.equal(content, longAnswer, 'every event is kept');
      assert.deepEqual({ input: e.input_tokens, output: e.output_tokens, estimated: e.tokens_estimated }, { input: 13, output: 5, estimated: 0 });
    } finally {
      db.close();
    }
  });
});
