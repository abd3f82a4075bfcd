// What upstreams send that used to hurt tapwire: a gzip body that expands a thousandfold
// (plain and as an SSE stream), streams with far more events than a record keeps, 103 Early
// Hints before the answer, compressed and binary bodies under redact rules. The agent always
// gets the upstream's bytes untouched; the record holds what can be read back, bounded and
// marked truncated past its bounds; other calls are served meanwhile; `tapwire export` works.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { createGzip, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { runCli } from '../support/cli.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { sseEvent, startEventStream, until, upstreamFor } from '../support/upstream.js';

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** About 1 MiB of gzip that expands to 1 GiB of zeros, compressed as a stream (never 1 GiB in memory). */
async function gzipBomb(prefix: string): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  gzip.write(prefix);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 1024; i++) if (!gzip.write(zeros)) await once(gzip, 'drain');
  gzip.end();
  await once(gzip, 'end');
  return Buffer.concat(out);
}

async function sidecar(t: TestContext, yaml: string): Promise<TestSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-bodies-'));
  const policy = join(dir, 'redact.yaml');
  writeFileSync(policy, ['rules:', '  - name: mask-keys', '    when: "true"', '    action: redact', "    redact: { patterns: ['sk-[a-z0-9]+'] }", ''].join('\n'));
  return startTestSidecarFor(t, `${yaml}\npolicies: ["${policy}"]\n`, process.env, { dir });
}

/** The exported JSON lines of the database; the export must succeed. */
function exportJsonl(tapwire: TestSidecar): { response: { body: string | null; body_encoding: string | null; truncated: boolean }; exchange: { id: string } }[] {
  const file = join(tapwire.dir, 'export.jsonl');
  const result = runCli(['export', '--db', tapwire.dbPath, '--format', 'jsonl', '-o', file]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /^tapwire: exported \d+ exchanges? to /);
  assert.doesNotMatch(result.stderr, /skipped/);
  return readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ReturnType<typeof exportJsonl>[number]);
}

describe('decompression bombs', { timeout: 120_000 }, () => {
  let bomb: Buffer;
  let sseBomb: Buffer;

  test('a gzip body expanding to 1 GiB: the agent gets the compressed bytes, the record is bounded and truncated, others are served meanwhile, export works', async (t) => {
    bomb ??= await gzipBomb('{"a":"');
    let finish: () => void = () => undefined;
    const server = await upstreamFor(t, (req, res) => {
      if (req.url.endsWith('/small')) return void res.end('{"ok":true}');
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.write(bomb);
      finish = () => res.end();
    });
    const tapwire = await sidecar(t, `routes:\n  api: { protocol: http, upstream: ${server.url} }\n  llm: { protocol: llm, upstream: ${server.url}, provider: openai }`);
    for (const route of ['api', 'llm']) {
      const answer = await request(`${tapwire.url}/${route}/v1/chat/completions`, { method: 'POST', body: '{"model":"m","messages":[]}', headers: { 'content-type': 'application/json' } });
      const received: Buffer[] = [];
      let size = 0;
      answer.body.on('data', (chunk: Buffer) => {
        received.push(chunk);
        size += chunk.length;
      });
      await until(() => size === bomb.length, 'the whole compressed body to reach the agent', 30_000);
      // Tapwire has the whole bomb to decode now; another call is served before it ends.
      const small = await request(`${tapwire.url}/${route}/small`);
      assert.equal(await small.body.text(), '{"ok":true}');
      finish();
      await once(answer.body, 'end');
      assert.equal(answer.headers['content-encoding'], 'gzip');
      assert.equal(sha(Buffer.concat(received)), sha(bomb));
    }
    const exchanges = await tapwire.stop();
    const bombs = exchanges.filter((e) => e.method === 'POST /v1/chat/completions');
    assert.equal(bombs.length, 2);
    for (const e of bombs) {
      assert.equal(e.response_bytes, bomb.length);
      assert.match(e.error_message ?? '', /decompression bound/);
      const response = tapwire.record(e.id).response!;
      assert.equal(response.truncated, true);
      assert.equal(response.headers['x-tapwire-decoded-from'], 'gzip');
      assert.equal(response.headers['content-encoding'], undefined);
      assert.ok(response.body!.length <= 1_048_576, `stored ${response.body!.length} bytes`);
      assert.ok(response.body!.subarray(0, 6).equals(Buffer.from('{"a":"')));
    }
    const lines = exportJsonl(tapwire);
    assert.equal(lines.length, 4);
    for (const e of bombs) assert.equal(lines.find((l) => l.exchange.id === e.id)!.response.truncated, true);
  });

  test('a gzip SSE stream expanding to 1 GiB: passed on untouched, decoding stops at its bound, others are served meanwhile', async (t) => {
    sseBomb ??= await gzipBomb('data: {"a":1}\n\ndata: ');
    let finish: () => void = () => undefined;
    const server = await upstreamFor(t, (req, res) => {
      if (req.url.endsWith('/small')) return void res.end('ok');
      startEventStream(res, { 'content-encoding': 'gzip' });
      res.write(sseBomb);
      finish = () => res.end();
    });
    const tapwire = await sidecar(t, `routes:\n  api: { protocol: http, upstream: ${server.url} }`);
    const answer = await request(`${tapwire.url}/api/stream`);
    const received: Buffer[] = [];
    let size = 0;
    answer.body.on('data', (chunk: Buffer) => {
      received.push(chunk);
      size += chunk.length;
    });
    await until(() => size === sseBomb.length, 'the whole compressed stream to reach the agent', 30_000);
    assert.equal(await (await request(`${tapwire.url}/api/small`)).body.text(), 'ok');
    finish();
    await once(answer.body, 'end');
    assert.equal(sha(Buffer.concat(received)), sha(sseBomb));
    const [stream] = (await tapwire.stop()).filter((e) => e.method === 'GET /stream');
    const record = tapwire.record(stream!.id);
    assert.match(stream!.error_message ?? '', /decompression bound/);
    assert.equal(stream!.events_truncated, 1);
    assert.deepEqual(record.events.map((e) => e.data), ['{"a":1}']);
    assert.equal(record.response!.truncated, true);
    assert.ok(record.response!.body!.length <= 1_048_576);
    assert.equal(exportJsonl(tapwire).length, 2);
  });
});

describe('event bounds', { timeout: 60_000 }, () => {
  test('a stream of many more events than store.max_events: the agent gets every one, the record keeps the bound, the count and the mark', async (t) => {
    const sent = Array.from({ length: 5000 }, (_, i) => sseEvent({ n: i })).join('');
    const server = await upstreamFor(t, (_req, res) => {
      startEventStream(res);
      res.end(sent);
    });
    const tapwire = await sidecar(t, `store: { max_events: 100 }\nroutes:\n  api: { protocol: http, upstream: ${server.url} }`);
    const answer = await request(`${tapwire.url}/api/stream`);
    assert.equal(await answer.body.text(), sent);
    const [stream] = await tapwire.stop();
    const record = tapwire.record(stream!.id);
    assert.equal(record.events.length, 100);
    assert.deepEqual(record.events.at(-1)!.data, '{"n":99}');
    assert.equal(stream!.event_count, 5000);
    assert.equal(stream!.events_truncated, 1);
  });

  test('store.max_event_bytes bounds the data kept; an event longer than it is counted and passed on, never held', async (t) => {
    const long = 'x'.repeat(200_000);
    const sent = sseEvent({ n: 1 }) + sseEvent(long) + sseEvent({ n: 2 });
    const server = await upstreamFor(t, (_req, res) => {
      startEventStream(res);
      res.end(sent);
    });
    const tapwire = await sidecar(t, `store: { max_event_bytes: 1000 }\nroutes:\n  api: { protocol: http, upstream: ${server.url} }`);
    assert.equal(await (await request(`${tapwire.url}/api/stream`)).body.text(), sent);
    const [stream] = await tapwire.stop();
    assert.deepEqual(tapwire.record(stream!.id).events.map((e) => e.data), ['{"n":1}', '{"n":2}']);
    assert.equal(stream!.event_count, 3);
    assert.equal(stream!.events_truncated, 1);
  });

  test('MCP: progress notifications of one request are bounded on its record, and each still reaches the agent', async (t) => {
    const notes = Array.from({ length: 50 }, (_, i) =>
      sseEvent({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: i } }, 'message'),
    ).join('');
    const server = await upstreamFor(t, (_req, res) => {
      startEventStream(res);
      res.end(notes + sseEvent({ jsonrpc: '2.0', id: 1, result: { content: [] } }, 'message'));
    });
    const tapwire = await sidecar(t, `store: { max_events: 10 }\nroutes:\n  tools: { protocol: mcp, upstream: ${server.url}/mcp }`);
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow', arguments: {}, _meta: { progressToken: 'p' } } };
    const answer = await request(`${tapwire.url}/tools`, {
      method: 'POST',
      body: JSON.stringify(call),
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    });
    const text = await answer.body.text();
    assert.equal(text.match(/notifications\/progress/g)!.length, 50);
    const exchanges = await tapwire.stop();
    const toolCall = exchanges.find((e) => e.method === 'tools/call')!;
    assert.equal(tapwire.record(toolCall.id).events.length, 10);
    assert.equal(toolCall.event_count, 50);
    assert.equal(toolCall.events_truncated, 1);
  });
});

describe('103 Early Hints', { timeout: 60_000 }, () => {
  test('passed on before the final response, which arrives intact and is recorded (LLM and MCP routes)', async (t) => {
    const completion = { id: 'c1', object: 'chat.completion', model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };
    const server = await upstreamFor(t, (req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url.startsWith('/mcp') ? { jsonrpc: '2.0', id: 1, result: { tools: [] } } : completion));
    });
    const tapwire = await sidecar(t, `routes:\n  llm: { protocol: llm, upstream: ${server.url}, provider: openai }\n  tools: { protocol: mcp, upstream: ${server.url}/mcp }`);
    const hints: string[] = [];
    const onInfo = ({ statusCode, headers }: { statusCode: number; headers: Record<string, string | string[] | undefined> }): void => void hints.push(`${statusCode} ${String(headers.link)}`);
    const llm = await request(`${tapwire.url}/llm/v1/chat/completions`, { method: 'POST', body: '{"model":"m","messages":[{"role":"user","content":"x"}]}', headers: { 'content-type': 'application/json' }, onInfo });
    assert.equal(llm.statusCode, 200);
    assert.deepEqual(await llm.body.json(), completion);
    const mcp = await request(`${tapwire.url}/tools`, {
      method: 'POST',
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      onInfo,
    });
    assert.equal(mcp.statusCode, 200);
    assert.deepEqual(await mcp.body.json(), { jsonrpc: '2.0', id: 1, result: { tools: [] } });
    assert.deepEqual(hints, ['103 </style.css>; rel=preload; as=style', '103 </style.css>; rel=preload; as=style']);
    const exchanges = await tapwire.stop();
    const chat = exchanges.find((e) => e.protocol === 'llm')!;
    assert.equal(chat.status, 'ok');
    assert.equal(chat.http_status, 200);
    assert.equal(chat.error_message, null);
    assert.equal(chat.output_tokens, 1);
    const list = exchanges.find((e) => e.method === 'tools/list')!;
    assert.equal(list.status, 'ok');
    assert.equal(list.http_status, 200);
  });
});

describe('compressed and binary bodies in the record', { timeout: 60_000 }, () => {
  test('a gzip JSON answer is stored decoded and redacted; the agent gets the compressed bytes', async (t) => {
    const json = JSON.stringify({ key: 'sk-abc123secret', note: 'héllo' });
    const compressed = gzipSync(json);
    const server = await upstreamFor(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(compressed);
    });
    const tapwire = await sidecar(t, `routes:\n  api: { protocol: http, upstream: ${server.url} }`);
    const answer = await request(`${tapwire.url}/api/key`);
    assert.ok(Buffer.from(await answer.body.arrayBuffer()).equals(compressed));
    const [e] = await tapwire.stop();
    const response = tapwire.record(e!.id).response!;
    assert.deepEqual(JSON.parse(response.body!.toString('utf8')), { key: '[redacted]', note: 'héllo' });
    assert.equal(response.truncated, false);
    assert.ok(!readFileSync(tapwire.dbPath).includes('sk-abc123secret'));
    const [line] = exportJsonl(tapwire);
    assert.deepEqual(JSON.parse(line!.response.body!), { key: '[redacted]', note: 'héllo' });
  });

  test('a binary answer is stored and exported byte for byte, a key inside it still masked', async (t) => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 151 + 7) & 0xff)), Buffer.from('sk-inbinary'), Buffer.from([0xff, 0xfe, 0x00, 0xc3])]);
    const server = await upstreamFor(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    });
    const tapwire = await sidecar(t, `routes:\n  api: { protocol: http, upstream: ${server.url} }`);
    const answer = await request(`${tapwire.url}/api/image.png`);
    assert.ok(Buffer.from(await answer.body.arrayBuffer()).equals(png));
    const [e] = await tapwire.stop();
    const expected = Buffer.concat([png.subarray(0, 8 + 4096), Buffer.from('[redacted]'), png.subarray(8 + 4096 + 'sk-inbinary'.length)]);
    const stored = tapwire.record(e!.id).response!.body!;
    assert.equal(stored.length, expected.length);
    assert.ok(stored.equals(expected));
    const [line] = exportJsonl(tapwire);
    assert.equal(line!.response.body_encoding, 'base64');
    assert.ok(Buffer.from(line!.response.body!, 'base64').equals(expected));
  });
});
