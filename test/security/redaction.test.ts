// Redaction that a record's shape used to defeat: a body larger than store.max_body_bytes (it
// was cut before the fields rule could parse it), a secret split across the deltas of a
// stream (OpenAI and Anthropic, through their SDKs from aimock), and a query credential that
// an upstream's redirect echoes in its location header and body. Each is checked in the raw
// database files, in what the record reassembles, and in `tapwire export`, while the agent
// gets the real bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { ExchangeRecord } from '../../core/exchange.js';
import { SseParser } from '../../core/sse.js';
import { startAimock } from '../support/aimock.js';
import { runCli } from '../support/cli.js';
import { databaseText } from '../support/database-text.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { startUpstream } from '../support/upstream.js';

const KEY = 'sk-test-redaction-key';
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const EMAIL = 'jane.roe@example.com';
const FIELD_SECRET = 'FIELD-SECRET-q1w2e3r4';
const ANSWER_SECRET = 'ANSWER-SECRET-t5y6u7i8';

const RULES = [
  'rules:',
  '  - name: mask',
  '    when: "true"',
  '    action: redact',
  '    redact:',
  '      fields: [request.body.user, response.body.choices.*.message.content]',
  "      patterns: ['AKIA[0-9A-Z]{16}', '[a-z0-9.]+@[a-z0-9]+\\.[a-z]+']",
  '',
].join('\n');


/** `tapwire export --format jsonl` of the database, as the exchanges it lists. */
function exported(tapwire: TestSidecar, config: string[] = []): ExchangeRecordJson[] {
  const out = join(tapwire.dir, `export-${config.length}.jsonl`);
  const result = runCli(['export', '--db', tapwire.dbPath, '--format', 'jsonl', '-o', out, ...config], tapwire.dir);
  assert.equal(result.status, 0, result.stderr);
  return readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ExchangeRecordJson);
}

interface ExchangeRecordJson {
  exchange: { id: string };
  request: { headers: Record<string, string>; body: string | null; truncated: boolean; body_size: number } | null;
  response: { headers: Record<string, string>; body: string | null } | null;
  events: Array<{ data: string }>;
}

/** The text deltas of stored OpenAI chunks or Anthropic events, joined: the answer as a reader reassembles it. */
function reassembled(datas: readonly string[]): string {
  let text = '';
  for (const data of datas) {
    if (!data.startsWith('{')) continue;
    const event = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }>; delta?: { text?: string } };
    text += event.choices?.[0]?.delta?.content ?? event.delta?.text ?? '';
  }
  return text;
}

/** The data of each event in a stored text/event-stream body. */
function bodyEvents(body: Buffer | string | null): string[] {
  if (body === null) return [];
  const parser = new SseParser();
  return [...parser.push(Buffer.from(body)), ...parser.end()].map((e) => e.data);
}

function onlyRecord(tapwire: TestSidecar, ids: string[]): ExchangeRecord {
  assert.equal(ids.length, 1, 'one exchange recorded');
  return tapwire.record(ids[0]!);
}

describe('redaction', () => {
  test('a body over store.max_body_bytes is redacted whole, then stored truncated', async (t) => {
    // The answer's content (masked by field) comes before a long tool call, so the redacted body is still long.
    const args = JSON.stringify({ text: 'long argument '.repeat(400) });
    const mock = await startAimock([KEY], (m) =>
      m.onMessage(/^big$/, { content: ANSWER_SECRET, toolCalls: [{ name: 'save', arguments: args }], usage: { prompt_tokens: 5, completion_tokens: 5 } }),
    );
    t.after(() => mock.stop());
    const live = await startWithPolicy(t, `store: { max_body_bytes: 2048 }\nroutes:\n  openai: { protocol: llm, provider: openai, upstream: "${mock.url}" }\n`, RULES);
    const openai = new OpenAI({ baseURL: `${live.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    // `user` comes first in the body: cut at 2048 bytes, it would still be stored.
    const completion = await openai.chat.completions.create({
      user: FIELD_SECRET,
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: `mail ${EMAIL}; ${'padding '.repeat(600)}` },
        { role: 'user', content: 'big' },
      ],
    });
    assert.equal(completion.choices[0]!.message.content, ANSWER_SECRET, 'the agent got the real answer');
    assert.equal(completion.choices[0]!.message.tool_calls?.[0]?.type === 'function' && completion.choices[0]!.message.tool_calls[0].function.arguments, args);
    const [exchange] = await live.stop();
    const files = databaseText(live.dbPath);
    for (const secret of [FIELD_SECRET, ANSWER_SECRET, EMAIL]) assert.ok(!files.includes(secret), `${secret} is in the database files`);
    const lines = JSON.stringify(exported(live));
    for (const secret of [FIELD_SECRET, ANSWER_SECRET, EMAIL]) assert.ok(!lines.includes(secret), `${secret} is in the export`);

    const record = live.record(exchange!.id);

    const request = record.request!;
    assert.equal(request.truncated, true);
    assert.equal(request.body!.length, 2048);
    assert.ok(request.body_size > 4096, `body_size is the full size (${request.body_size})`);
    assert.match(request.body!.toString(), /^\{"user":"\[redacted\]","model":"gpt-4o-mini"/, 'the stored prefix is of the redacted body');
    assert.match(request.body!.toString(), /mail \[redacted\]/);
    const response = record.response!;
    assert.equal(response.truncated, true);
    assert.equal(response.body!.length, 2048);
    assert.match(response.body!.toString(), /"content":"\[redacted\]"/);

  });

  test('a body too large to be held whole under a fields rule is stored without its body', async (t) => {
    const upstream = await startUpstream((_req, res) => {
      res.end('ok');
    });
    t.after(() => upstream.close());
    const tapwire = await startWithPolicy(t, `store: { max_body_bytes: 1024 }\nroutes:\n  files: { protocol: http, upstream: "${upstream.url}" }\n`, RULES);
    // A streamed (chunked) body on an http route: tapwire keeps max_body_bytes and a chunk of it.
    const chunk = `{"user":"${FIELD_SECRET}","pad":"${'x'.repeat(64 * 1024)}`;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(Buffer.from(i === 0 ? chunk : 'y'.repeat(64 * 1024)));
        controller.enqueue(Buffer.from('"}'));
        controller.close();
      },
    });
    const answer = await fetch(`${tapwire.url}/files/upload`, { method: 'POST', body, duplex: 'half', headers: { 'content-type': 'application/json' } });
    assert.equal(await answer.text(), 'ok');
    assert.ok(upstream.requests[0]!.body.toString().includes(FIELD_SECRET), 'the upstream got the real body');
    const record = onlyRecord(tapwire, (await tapwire.stop()).map((e) => e.id));
    assert.equal(record.request!.body, null, 'no part of the body was stored');
    assert.equal(record.request!.truncated, true);
    assert.equal(record.request!.body_size, upstream.requests[0]!.body.length);
    assert.ok(!databaseText(tapwire.dbPath).includes(FIELD_SECRET));
  });

  test('a secret split across OpenAI and Anthropic stream deltas is masked in the events, the body and the export', async (t) => {
    const text = `key ${AWS_KEY} and mail ${EMAIL} end`;
    const mock = await startAimock([KEY], (m) => {
      // Four characters per delta: both secrets span several events.
      m.onMessage(/^stream$/, { content: text, usage: { prompt_tokens: 3, completion_tokens: 9 } }, { chunkSize: 4 });
    });
    t.after(() => mock.stop());
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  openai: { protocol: llm, provider: openai, upstream: "${mock.url}" }\n  anthropic: { protocol: llm, provider: anthropic, upstream: "${mock.url}" }\n`,
      RULES,
    );
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: KEY, maxRetries: 0 });
    let openaiText = '';
    for await (const chunk of await openai.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'stream' }] })) {
      openaiText += chunk.choices[0]?.delta.content ?? '';
    }
    const anthropic = new Anthropic({ baseURL: `${tapwire.url}/anthropic`, apiKey: KEY, maxRetries: 0 });
    let anthropicText = '';
    for await (const event of anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'stream' }] })) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') anthropicText += event.delta.text;
    }
    assert.equal(openaiText, text, 'the OpenAI agent got the real stream');
    assert.equal(anthropicText, text, 'the Anthropic agent got the real stream');

    const exchanges = await tapwire.stop();
    assert.equal(exchanges.length, 2);
    const exports = exported(tapwire);
    for (const exchange of exchanges) {
      const record = tapwire.record(exchange.id);
      const where = `${exchange.provider} stream`;
      const stored = reassembled(record.events.map((e) => e.data));
      assert.ok(record.events.length > 10, `${where}: many events`);
      assert.match(stored, /^key \[redacted\].* and mail \[redacted\].* end$/, `${where}: the reassembled events are masked: ${stored}`);
      const fromBody = reassembled(bodyEvents(record.response!.body));
      assert.match(fromBody, /^key \[redacted\].* and mail \[redacted\].* end$/, `${where}: the stored SSE body is masked: ${fromBody}`);
      const line = exports.find((e) => e.exchange.id === exchange.id)!;
      for (const joined of [stored, fromBody, reassembled(line.events.map((e) => e.data)), reassembled(bodyEvents(line.response!.body))]) {
        for (const secret of [AWS_KEY, EMAIL]) assert.ok(!joined.includes(secret), `${where}: ${secret} reassembles from ${joined}`);
      }
    }
    const files = databaseText(tapwire.dbPath);
    for (const secret of [AWS_KEY, EMAIL]) assert.ok(!files.includes(secret), `${secret} is in the database files`);
  });

  test("a query credential an upstream's redirect echoes is masked in its location header and body", async (t) => {
    const secret = 'QUERY-SECRET-z9x8c7v6';
    const upstream = await startUpstream((req, res) => {
      const target = `https://files.example${req.url}`;
      res.writeHead(302, { location: target, 'content-type': 'text/html' });
      res.end(`<p>Found. Redirecting to <a href="${target}">${target}</a></p>`);
    });
    t.after(() => upstream.close());
    const tapwire = await startTestSidecarFor(t, `routes:\n  files: { protocol: http, upstream: "${upstream.url}" }\n`);
    const answer = await fetch(`${tapwire.url}/files/v1/report?api_key=${secret}&page=2`, { redirect: 'manual' });
    assert.equal(answer.status, 302);
    assert.equal(answer.headers.get('location'), `https://files.example/v1/report?api_key=${secret}&page=2`, 'the agent got the real location');
    assert.ok((await answer.text()).includes(secret));

    const record = onlyRecord(tapwire, (await tapwire.stop()).map((e) => e.id));
    assert.equal(record.response!.headers.location, 'https://files.example/v1/report?api_key=[redacted]&page=2');
    assert.match(record.response!.body!.toString(), /\?api_key=\[redacted\]&page=2/);
    assert.ok(!databaseText(tapwire.dbPath).includes(secret), 'the secret is in the database files');
    for (const format of ['jsonl', 'har']) {
      const out = join(tapwire.dir, `export.${format}`);
      const result = runCli(['export', '--db', tapwire.dbPath, '--format', format, '-o', out], tapwire.dir);
      assert.equal(result.status, 0, result.stderr);
      assert.ok(!readFileSync(out, 'utf8').includes(secret), `the secret is in the ${format} export`);
    }
  });
});
