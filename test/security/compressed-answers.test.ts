// No compressed body escapes a policy or the redaction (issue 25). Upstreams here answer gzip
// although tapwire asks for `accept-encoding: identity`: the response-phase rules still judge
// the decoded answer (LLM bodies and streams through the openai SDK, MCP answers of a real v1
// SDK server as JSON and as SSE), the agent gets the refusal, the record says which rule
// denied it and (LLM) the blocked text is in no database file; an allowed gzip answer arrives
// byte-exact; one tapwire cannot decode is refused as unreadable (monitor mode: forwarded,
// recorded would_deny). A refused gzip request is recorded decoded and redacted.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { request } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { DECODED_FROM_HEADER } from '../../core/encoding.js';
import { runCli } from '../support/cli.js';
import { startStreamableServer } from '../support/mcp.js';
import { databaseText } from '../support/database-text.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';
import { sseEvent, upstreamFor } from '../support/upstream.js';

const AWS_KEY = 'AKIAQWERTYUIOPASDFGH';
const NO_KEYS = ['rules:', '  - name: no-cloud-keys', '    phase: response', '    when: response.text.matches("AKIA[0-9A-Z]{16}")', '    action: deny', '    message: the answer carries an AWS key'];

function tapwireWith(t: TestContext, routes: string, policy: string[]): Promise<TestSidecar> {
  return startWithPolicy(t, `routes:\n${routes}`, [...policy, ''].join('\n'));
}

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

function completion(content: string): Buffer {
  return Buffer.from(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 } }));
}

function chunks(content: string): string {
  const chunk = (delta: Record<string, unknown>, finish: string | null): string => sseEvent({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] });
  return `${chunk({ role: 'assistant', content: '' }, null)}${content.split(' ').map((word) => chunk({ content: `${word} ` }, null)).join('')}${chunk({}, 'stop')}data: [DONE]\n\n`;
}

/** What an OpenAI-compatible upstream that ignores accept-encoding sends: the answer to the user's message `say`, gzipped. */
function gzipCompletions(body: Buffer): { headers: Record<string, string>; bytes: Buffer } {
  const parsed = JSON.parse(body.toString()) as { stream?: boolean; messages: { content: string }[] };
  const say = parsed.messages[0]!.content;
  const content = say === 'leak' ? `here it is: ${AWS_KEY} and more after it` : 'nothing to hide here';
  if (parsed.stream) return { headers: { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' }, bytes: gzipSync(chunks(content)) };
  return { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, bytes: gzipSync(completion(content)) };
}

describe('LLM answers gzipped despite accept-encoding: identity', () => {
  test('a plain and a streamed answer carrying a key are refused and recorded denied; an allowed one arrives byte-exact', async (t) => {
    const sent: Buffer[] = [];
    const provider = await upstreamFor(t, (req, res) => {
      const answer = gzipCompletions(req.body);
      sent.push(answer.bytes);
      res.writeHead(200, { ...answer.headers, 'content-length': String(answer.bytes.length) }).end(answer.bytes);
    });
    const tapwire = await tapwireWith(t, `  openai: { protocol: llm, upstream: "${provider.url}", provider: openai }\n`, NO_KEYS);
    const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const request_ = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'leak' }] };

    const plain = await openai.chat.completions.create(request_).then(() => null, (err: unknown) => err);
    assert.ok(plain instanceof OpenAI.PermissionDeniedError, `got ${String(plain)}`);
    assert.match(plain.message, /no-cloud-keys: the answer carries an AWS key/);

    let streamedText = '';
    const streamed = await (async () => {
      for await (const chunk of await openai.chat.completions.create({ ...request_, stream: true })) streamedText += chunk.choices[0]?.delta.content ?? '';
    })().then(() => null, (err: unknown) => err);
    assert.ok(streamed instanceof OpenAI.APIError, `got ${String(streamed)}`);
    assert.match(streamed.message, /no-cloud-keys/);
    assert.ok(!streamedText.includes('AKIA'), 'no part of the key reached the agent');

    // Allowed: the upstream's gzip bytes as they came, and the SDK reads them.
    const allowed = await request(`${tapwire.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify({ ...request_, messages: [{ role: 'user', content: 'hello' }] }),
    });
    const allowedBytes = Buffer.from(await allowed.body.arrayBuffer());
    assert.equal(allowed.statusCode, 200);
    assert.equal(allowed.headers['content-encoding'], 'gzip');
    assert.equal(sha(allowedBytes), sha(sent.at(-1)!), 'the agent got the upstream bytes untouched');
    const fine = await openai.chat.completions.create({ ...request_, messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(fine.choices[0]?.message.content, 'nothing to hide here');
    let fineStream = '';
    for await (const chunk of await openai.chat.completions.create({ ...request_, messages: [{ role: 'user', content: 'hello' }], stream: true })) fineStream += chunk.choices[0]?.delta.content ?? '';
    assert.equal(fineStream.trim(), 'nothing to hide here', 'an allowed gzip stream reaches the agent whole');

    assert.ok(provider.requests.every((r) => r.headers['accept-encoding'] === 'identity'), 'tapwire asked for identity');
    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.map((e) => [e.streamed, e.status, e.policy_rule, e.policy_action]), [
      [0, 'denied', 'no-cloud-keys', 'deny'],
      [1, 'denied', 'no-cloud-keys', 'deny'],
      [0, 'ok', null, null],
      [0, 'ok', null, null],
      [1, 'ok', null, null],
    ]);
    assert.ok(!databaseText(tapwire.dbPath).includes(AWS_KEY), 'the key is in no database file');
  });

  test('an answer that does not decode within the bound is refused as unreadable; in monitor mode forwarded and recorded would_deny', async (t) => {
    // Labelled gzip, but not gzip: nothing of it decodes.
    const provider = await upstreamFor(t, (req, res) => {
      const answer = gzipCompletions(req.body);
      const bytes = Buffer.concat([Buffer.from('not gzip: '), answer.bytes]);
      res.writeHead(200, { ...answer.headers, 'content-length': String(bytes.length) }).end(bytes);
    });
    for (const mode of ['enforce', 'monitor'] as const) {
      const tapwire = await tapwireWith(t, `  openai: { protocol: llm, upstream: "${provider.url}", provider: openai }\n`, [...(mode === 'monitor' ? ['mode: monitor'] : []), ...NO_KEYS]);
      const plain = await request(`${tapwire.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'leak' }] }) });
      const plainBytes = Buffer.from(await plain.body.arrayBuffer());
      const streamed = await request(`${tapwire.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'leak' }] }) });
      const streamText = await streamed.body.text();
      if (mode === 'enforce') {
        assert.equal(plain.statusCode, 403);
        assert.match(plainBytes.toString(), /tapwire cannot read this answer/);
        assert.match(streamText, /tapwire cannot read this answer/);
        assert.ok(!streamText.includes('AKIA'), 'nothing undecoded-and-unjudged was passed on');
      } else {
        assert.equal(plain.statusCode, 200);
        assert.equal(plain.headers['content-encoding'], 'gzip', 'monitor mode: the upstream bytes as they came');
      }
      const exchanges = await tapwire.stop();
      assert.deepEqual(
        exchanges.map((e) => [e.policy_rule, e.policy_action]),
        [0, 1].map(() => ['unreadable', mode === 'enforce' ? 'deny' : 'would_deny']),
        mode,
      );
    }
  });
});

/**
 * A node:http server in front of `origin` that gzips every answer of it, as a reverse proxy
 * compressing despite accept-encoding: identity would. The v1 SDK server does not compress
 * by itself; this puts a real SDK server's own answers (JSON or SSE) behind gzip. GET (the
 * standalone stream) is answered 405, which the SDK client accepts.
 */
async function gzippingProxy(t: TestContext, origin: string): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET') return void res.writeHead(405).end();
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && !['host', 'content-length', 'accept-encoding', 'connection'].includes(name)) headers[name] = value;
      void fetch(`${origin}${req.url}`, { method: req.method, headers, body: req.method === 'POST' ? Buffer.concat(body) : undefined })
        .then(async (answer) => {
          const bytes = gzipSync(Buffer.from(await answer.arrayBuffer()));
          const out: Record<string, string> = { 'content-encoding': 'gzip', 'content-length': String(bytes.length) };
          for (const name of ['content-type', 'mcp-session-id']) {
            const value = answer.headers.get(name);
            if (value) out[name] = value;
          }
          res.writeHead(answer.status, out).end(bytes);
        })
        .catch((err: unknown) => res.destroy(err as Error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function keyServer(): McpServer {
  const mcp = new McpServer({ name: 'tapwire-test-keys', version: '1.0.0' });
  mcp.registerTool('leak', {}, () => ({ content: [{ type: 'text', text: `the key: ${AWS_KEY}` }] }));
  mcp.registerTool('fine', {}, () => ({ content: [{ type: 'text', text: 'nothing to hide' }] }));
  return mcp;
}

describe('MCP answers of a v1 SDK server, gzipped', () => {
  for (const jsonResponse of [true, false]) {
    test(`answered as ${jsonResponse ? 'JSON' : 'SSE'}: a tools/call answer carrying a key is refused and recorded denied, an allowed one arrives`, async (t) => {
      const server = await startStreamableServer(keyServer, { jsonResponse });
      t.after(() => server.close());
      const proxy = await gzippingProxy(t, server.origin);
      const tapwire = await tapwireWith(t, `  m: { protocol: mcp, upstream: "${proxy}" }\n`, NO_KEYS);
      const client = new Client({ name: 'agent', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${tapwire.url}/m/mcp`)));
      const leak = (await client.callTool({ name: 'leak', arguments: {} })) as { isError?: boolean; content: { text: string }[] };
      assert.equal(leak.isError, true);
      assert.match(leak.content[0]!.text, /no-cloud-keys: the answer carries an AWS key/);
      const fine = (await client.callTool({ name: 'fine', arguments: {} })) as { content: { text: string }[] };
      assert.equal(fine.content[0]!.text, 'nothing to hide');
      await client.close();
      const exchanges = await tapwire.stop();
      const calls = exchanges.filter((e) => e.method === 'tools/call' && e.direction === 'client_to_server');
      assert.deepEqual(calls.map((e) => [e.target, e.policy_rule, e.policy_action]), [
        ['leak', 'no-cloud-keys', 'deny'],
        ['fine', null, null],
      ]);
    });
  }
});

describe('a refused gzip request', () => {
  test('is recorded decoded and redacted: the secret is in no database file nor the export', async (t) => {
    const provider = await upstreamFor(t, (_req, res) => void res.writeHead(500).end());
    const policy = ['rules:', '  - { name: no-big-model, when: \'llm.model == "gpt-big"\', action: deny }', '  - name: mask-keys', '    when: "true"', '    action: redact', "    redact: { patterns: ['sk-[a-z0-9]+'] }"];
    const tapwire = await tapwireWith(t, `  openai: { protocol: llm, upstream: "${provider.url}", provider: openai }\n`, policy);
    const secret = 'sk-livesecret0123456789';
    const json = JSON.stringify({ model: 'gpt-big', messages: [{ role: 'user', content: `my key is ${secret}` }] });
    for (const body of [gzipSync(json), gzipSync(json).subarray(0, 40)]) {
      const answer = await request(`${tapwire.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
      assert.equal(answer.statusCode, 403);
      await answer.body.dump();
    }
    assert.equal(provider.requests.length, 0);
    const exchanges = await tapwire.stop();
    assert.deepEqual(exchanges.map((e) => [e.status, e.policy_rule]), [
      ['denied', 'no-big-model'],
      ['denied', 'unreadable'],
    ]);
    const decoded = tapwire.record(exchanges[0]!.id).request!;
    assert.equal(decoded.headers['content-encoding'], undefined);
    assert.equal(decoded.headers[DECODED_FROM_HEADER], 'gzip');
    assert.match(decoded.body!.toString(), /my key is \[redacted\]/);
    const cut = tapwire.record(exchanges[1]!.id).request!;
    assert.equal(cut.body, null, 'a compressed body tapwire could not read is not stored');
    assert.ok(!databaseText(tapwire.dbPath).includes(secret), 'the secret is in no database file');
    const out = join(tapwire.dir, 'export.jsonl');
    const exported = runCli(['export', '--db', tapwire.dbPath, '--format', 'jsonl', '-o', out]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.ok(!readFileSync(out, 'utf8').includes(secret), 'nor in the export');
  });
});
