// `tapwire export` on traffic recorded from real SDK clients (LLM, MCP, A2A): the JSONL has
// every exchange with its bodies and stream events, credentials masked; a CEL filter selects
// with the policy vocabulary; a config's redact rules mask the copy; the HAR document
// validates against the HAR 1.2 JSON schema (har-schema, with ajv) and keeps SSE events in
// `_events`. The CLI is run as a user runs it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { Ajv, type AnySchema, type AnySchemaObject } from 'ajv';
import addFormats from 'ajv-formats';
import { recordTraffic, type Recorded } from '../support/recorded-traffic.js';
import { openRecordReader } from '../../store/open.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { exportExchangeById } from '../../tools/export.js';
import type { Har } from '../../tools/har.js';
import { CLI } from '../support/cli.js';

const run = promisify(execFile);

interface Line {
  exchange: { id: string; protocol: string; method: string | null; streamed: number };
  request: { headers: Record<string, string>; body: string | null } | null;
  response: { headers: Record<string, string>; body: string | null } | null;
  events: { data: string; offset_ms: number }[];
}

function chatContent(body: string): string | undefined {
  return (JSON.parse(body) as { choices: { message: { content: string } }[] }).choices[0]?.message.content;
}

function lines(text: string): Line[] {
  return text.trim().split('\n').map((line) => JSON.parse(line) as Line);
}

/** A validator for HAR 1.2 built from the har-schema package's draft-06 schemas. */
function harValidator(): (value: unknown) => string[] {
  const require = createRequire(import.meta.url);
  const schemas = require('har-schema') as Record<string, AnySchema>;
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as AnySchemaObject);
  addFormats.default(ajv);
  for (const schema of Object.values(schemas)) ajv.addSchema(schema);
  const validate = ajv.getSchema('har.json#')!;
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
}

describe('tapwire export', () => {
  let recorded: Recorded;

  before(async () => {
    recorded = await recordTraffic();
  });
  after(async () => {
    await recorded?.close();
  });

  test('JSONL: every exchange with bodies and events, credentials masked', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'export', '--db', recorded.dbPath, '--format', 'jsonl']);
    const exported = lines(stdout);
    const db = openDatabase(recorded.dbPath, { readonly: true });
    const count = db.prepare('SELECT count(*) FROM exchanges').pluck().get() as number;
    db.close();
    assert.equal(exported.length, count);
    const chat = exported.find((l) => l.exchange.protocol === 'llm' && l.request?.body?.includes('chat plain'))!;
    assert.equal(chatContent(chat.response!.body!), 'Plain answer.');
    assert.equal(chat.request!.headers.authorization, '[redacted]');
    const stream = exported.find((l) => l.request?.body?.includes('claude stream'))!;
    assert.ok(stream.events.some((e) => e.data.includes('content_block_delta')));
    assert.ok(!stdout.includes('sk-replay-openai-1111') && !stdout.includes('sk-ant-replay-2222'), 'no key in the export');
  });

  test('--filter selects with the CEL vocabulary; a bad filter names its column', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'export', '--db', recorded.dbPath, '--format', 'jsonl', '--filter', 'mcp.tool == "echo"']);
    const exported = lines(stdout);
    assert.equal(exported.length, 1);
    assert.match(exported[0]!.response!.body!, /echo: hi/);
    const bad = await run(process.execPath, [CLI, 'export', '--db', recorded.dbPath, '--format', 'jsonl', '--filter', 'mcp.tol == "x"']).then(
      () => assert.fail('expected exit 2'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--filter: column 5: mcp has no field "tol"/);
  });

  test('a damaged row is skipped and named; the rest is exported, as JSONL and HAR', async () => {
    const damaged = join(recorded.sidecar.dir, 'damaged.db');
    copyFileSync(recorded.dbPath, damaged);
    const db = openDatabase(damaged);
    const ids = db.prepare('SELECT id FROM exchanges ORDER BY id').pluck().all() as string[];
    db.prepare("UPDATE payloads SET headers = '{not json' WHERE exchange_id = ?").run(ids[1]);
    db.close();
    const jsonl = await run(process.execPath, [CLI, 'export', '--db', damaged, '--format', 'jsonl']);
    assert.deepEqual(lines(jsonl.stdout).map((l) => l.exchange.id), ids.filter((id) => id !== ids[1]));
    assert.match(jsonl.stderr, new RegExp(`exchange ${ids[1]} skipped: .*JSON`));
    const file = join(recorded.sidecar.dir, 'damaged.har');
    const har = await run(process.execPath, [CLI, 'export', '--db', damaged, '--format', 'har', '-o', file]);
    assert.match(har.stderr, new RegExp(`exchange ${ids[1]} skipped`));
    const document = JSON.parse(readFileSync(file, 'utf8')) as Har;
    assert.deepEqual(harValidator()(document), []);
    assert.equal(document.log.entries.length, ids.length - 1);
  });

  test("a config's redact rules mask the export", async () => {
    const dir = recorded.sidecar.dir;
    writeFileSync(join(dir, 'redact.yaml'), ['rules:', '  - name: hide-answers', '    when: protocol == "llm"', '    action: redact', "    redact: { patterns: ['Plain answer'] }"].join('\n'));
    writeFileSync(join(dir, 'tapwire.yaml'), 'policies: [redact.yaml]\n');
    const { stdout } = await run(process.execPath, [CLI, 'export', '--db', recorded.dbPath, '--format', 'jsonl', '-c', join(dir, 'tapwire.yaml'), '--filter', 'llm.model == "gpt-4o-mini" && !llm.stream']);
    const [chat] = lines(stdout);
    assert.equal(chatContent(chat!.response!.body!), '[redacted].');
  });

  test('HAR validates against the HAR 1.2 schema and keeps SSE events in _events', async () => {
    const file = join(recorded.sidecar.dir, 'out.har');
    await run(process.execPath, [CLI, 'export', '--db', recorded.dbPath, '--format', 'har', '-o', file]);
    const har = JSON.parse(readFileSync(file, 'utf8')) as Har;
    assert.deepEqual(harValidator()(har), []);
    assert.equal(har.log.version, '1.2');
    const stream = har.log.entries.find((e) => e.request.postData?.text.includes('chat stream'))!;
    assert.match(stream.request.url, /^http:\/\/127\.0\.0\.1:\d+\/openai\/v1\/chat\/completions$/);
    assert.equal(stream.response.content.mimeType, 'text/event-stream');
    assert.ok(stream._events.length > 2);
    assert.ok(stream._events.every((e) => typeof e.offset_ms === 'number' && typeof e.data === 'string'));
    // The validator is not a rubber stamp: an entry without its request fails.
    const broken = structuredClone(har) as unknown as { log: { entries: Record<string, unknown>[] } };
    delete broken.log.entries[0]!.request;
    assert.notDeepEqual(harValidator()(broken), []);
  });

  test('one exchange by id as a JSON line (the API the TUI uses)', async () => {
    const db = openDatabase(recorded.dbPath, { readonly: true });
    const reader = await openRecordReader(recorded.dbPath);
    try {
      const id = db.prepare("SELECT id FROM exchanges WHERE method = 'tools/list'").pluck().get() as string;
      const line = JSON.parse((await exportExchangeById(reader, id))!) as Line;
      assert.equal(line.exchange.id, id);
      assert.match(line.response!.body!, /"name":"echo"/);
      assert.equal(await exportExchangeById(reader, 'no-such-id'), null);
    } finally {
      db.close();
      await reader.close();
    }
  });
});
