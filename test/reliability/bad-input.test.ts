// Bodies no well-behaved agent sends: empty, not JSON, invalid UTF-8, nested a hundred
// thousand deep, many megabytes, under the wrong content type; JSON-RPC batches and ids
// reused within a session; bodies over limits.max_request_bytes. tapwire never crashes and
// records every call. On a route with request-phase rules, a body tapwire reads is judged and
// forwarded byte for byte, and one it cannot read (so no rule could judge it) is refused
// with 403 and recorded as denied with the reason; on a route without, everything is
// forwarded byte for byte (the upstream owns the protocol and answers). A body over the
// limit gets a 413 in the route's own error format (the real OpenAI and Anthropic SDKs raise
// their usual errors) without reaching the upstream, or the stdio server of a command route.
//
// The upstreams are scripted node:http servers: they report the exact bytes they received,
// and answer bodies no SDK server would accept (an SDK server rejects them before any code
// of the test could see them).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { rejectionOf } from '../support/routes.js';
import { rawRequest } from '../support/raw-http.js';
import { startWithPolicy } from '../support/policy-sidecar.js';
import type { TestSidecar } from '../support/sidecar.js';
import { startUpstream, type ReceivedRequest, type ScriptedUpstream } from '../support/upstream.js';

/** A stdio MCP server, for the command route (one that tapwire runs itself). */
const STDIO_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));

const deepArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepObject = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

type Protocol = 'llm' | 'mcp' | 'a2a';

/**
 * Bodies under the wrong content type, or not what the protocol expects at all, and the
 * routes that read them (`readOn`): an LLM call or an A2A call is any JSON (empty, too, for an
 * LLM call), an MCP POST only a JSON-RPC message. Invalid UTF-8 is read as the upstream's
 * decoder reads it, with replacement characters; JSON nested deeper than 512 is not read.
 */
const BAD_BODIES: { what: string; body: Buffer; contentType?: string; readOn: Protocol[] }[] = [
  { what: 'empty', body: Buffer.alloc(0), contentType: 'application/json', readOn: ['llm'] },
  { what: 'not JSON', body: Buffer.from('hello there'), contentType: 'application/json', readOn: [] },
  { what: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), contentType: 'application/json', readOn: ['llm', 'a2a'] },
  { what: 'a lone surrogate escape', body: Buffer.from('{"model":"\\ud800","messages":[{"role":"user","content":"\\udfff"}]}'), contentType: 'application/json', readOn: ['llm', 'a2a'] },
  { what: 'arrays 100000 deep', body: Buffer.from(deepArray(100_000)), contentType: 'application/json', readOn: [] },
  { what: 'objects 100000 deep', body: Buffer.from(deepObject(100_000)), contentType: 'application/json', readOn: [] },
  { what: 'messages 50000 deep', body: Buffer.from(`{"model":"m","jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":${deepObject(50_000)}},"messages":[{"role":"user","content":${deepArray(50_000)}}]}`), contentType: 'application/json', readOn: [] },
  { what: '6 MiB of JSON', body: Buffer.from(JSON.stringify({ model: 'm', jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 't', arguments: { x: 'y'.repeat(6 * 1024 * 1024) } }, messages: [{ role: 'user', content: 'z'.repeat(1000) }] })), contentType: 'application/json', readOn: ['llm', 'mcp', 'a2a'] },
  { what: 'JSON as text/plain', body: Buffer.from('{"model":"m","messages":[]}'), contentType: 'text/plain', readOn: ['llm', 'a2a'] },
  { what: 'a form', body: Buffer.from('model=m&messages=hi'), contentType: 'application/x-www-form-urlencoded', readOn: [] },
  { what: 'no content type', body: Buffer.from('{}'), readOn: ['llm', 'a2a'] },
];

/** A policy that reads the body through the CEL context, and one that redacts: both run on every call. */
const POLICY = [
  'rules:',
  '  - name: no-forbidden-model',
  '    when: protocol == "llm" && llm.model == "forbidden"',
  '    action: deny',
  '  - name: no-rm',
  '    when: protocol == "mcp" && mcp.tool == "rm"',
  '    action: deny',
  '  - name: no-cancel',
  '    when: protocol == "a2a" && a2a.method == "CancelTask"',
  '    action: deny',
  '  - name: mask-keys',
  '    when: "true"',
  '    action: redact',
  "    redact: { patterns: ['sk-[a-z0-9]+'] }",
  '',
].join('\n');

/** Only a redaction: no rule that decides, so nothing is judged before forwarding. */
const REDACT_ONLY = ['rules:', '  - name: mask-keys', '    when: "true"', '    action: redact', "    redact: { patterns: ['sk-[a-z0-9]+'] }", ''].join('\n');

function sidecarWithPolicy(t: TestContext, routes: string, extra = '', rules = POLICY): Promise<TestSidecar> {
  return startWithPolicy(t, `${routes}\n${extra}`, rules);
}

/** Answers every request with what it received: its size and content type. */
async function echoUpstream(t: TestContext, answer?: (req: ReceivedRequest, res: ServerResponse) => void): Promise<ScriptedUpstream> {
  const server = await startUpstream(
    answer ??
      ((req, res) => {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `got ${req.body.length} bytes of ${req.headers['content-type'] ?? 'nothing'}`, type: 'invalid_request_error' } }));
      }),
  );
  t.after(() => server.close());
  return server;
}

async function post(url: string, body: Buffer, contentType?: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });
  return { status: response.status, text: await response.text() };
}

describe('bad request bodies', () => {
  for (const route of ['llm', 'mcp', 'a2a'] as const) {
    for (const policed of [true, false]) {
      const title = policed
        ? `${route} route with request-phase rules: what tapwire reads is judged and forwarded byte for byte, what it cannot read is refused and recorded denied`
        : `${route} route without request-phase rules: each reaches the upstream byte for byte, gets its answer, and is recorded`;
      test(title, async (t) => {
        const upstream = await echoUpstream(t);
        const yaml = route === 'llm' ? `routes:\n  r: { protocol: llm, provider: openai, upstream: "${upstream.url}" }` : `routes:\n  r: { protocol: ${route}, upstream: "${upstream.url}" }`;
        const tapwire = await sidecarWithPolicy(t, yaml, '', policed ? POLICY : REDACT_ONLY);
        const path = route === 'llm' ? '/r/v1/chat/completions' : '/r/';
        const forwarded = BAD_BODIES.filter((b) => !policed || b.readOn.includes(route));
        for (const { what, body, contentType, readOn } of BAD_BODIES) {
          const answer = await post(`${tapwire.url}${path}`, body, contentType);
          if (!policed || readOn.includes(route)) {
            assert.equal(answer.status, 400, what);
            assert.match(answer.text, new RegExp(`got ${body.length} bytes`), what);
          } else {
            assert.equal(answer.status, 403, what);
            assert.match(answer.text, /tapwire policy unreadable: tapwire cannot read this request/, what);
          }
        }
        // (An A2A route also fetches the agent's card: only the POSTs are the agent's.)
        const posts = upstream.requests.filter((r) => r.method === 'POST');
        assert.equal(posts.length, forwarded.length);
        posts.forEach((r, i) => assert.ok(r.body.equals(forwarded[i]!.body), `${forwarded[i]!.what}: forwarded byte for byte`));
        const health = await fetch(`${tapwire.url}/_tapwire/health`);
        assert.equal(health.status, 200, 'still serving');
        const exchanges = await tapwire.stop();
        // One record per call (a JSON-RPC body that parsed records its message instead of the call).
        assert.equal(exchanges.length, BAD_BODIES.length, exchanges.map((e) => `${e.method} ${e.error_code}`).join('\n'));
        assert.deepEqual(
          exchanges.map((e) => [e.status, e.http_status, e.policy_rule === 'unreadable']),
          BAD_BODIES.map((b) => (!policed || b.readOn.includes(route) ? ['error', 400, false] : ['denied', 403, true])),
        );
        assert.deepEqual(exchanges.map((e) => e.request_bytes), BAD_BODIES.map((b) => b.body.length));
      });
    }
  }
});

describe('JSON-RPC batches and reused ids', () => {
  /** An MCP server in the sessionless style answering each request (or batch) on its own POST, slowest first. */
  function jsonRpcEcho(req: ReceivedRequest, res: ServerResponse): void {
    const parsed = JSON.parse(req.body.toString('utf8')) as unknown;
    const messages = (Array.isArray(parsed) ? parsed : [parsed]) as { id?: number | string; method?: string; params?: { tag?: string; delay?: number } }[];
    const answers = messages.filter((m) => m.id !== undefined).map((m) => ({ jsonrpc: '2.0', id: m.id, result: { method: m.method, tag: m.params?.tag } }));
    const delay = Math.max(0, ...messages.map((m) => m.params?.delay ?? 0));
    setTimeout(() => {
      if (answers.length === 0) return void res.writeHead(202).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(parsed) ? answers : answers[0]));
    }, delay);
  }

  test('a batch records each message; an id reused while pending records both, each with its own answer', async (t) => {
    const upstream = await echoUpstream(t, jsonRpcEcho);
    const tapwire = await sidecarWithPolicy(t, `routes:\n  m: { protocol: mcp, upstream: "${upstream.url}" }`);
    const url = `${tapwire.url}/m/mcp`;
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': 'session-1' };
    const send = async (body: unknown) => (await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })).json();

    const batch = await send([
      { jsonrpc: '2.0', id: 1, method: 'ping', params: { tag: 'b1' } },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'x', progress: 1 } },
      { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'file:///b2', tag: 'b2' } },
    ]);
    assert.deepEqual(batch, [
      { jsonrpc: '2.0', id: 1, result: { method: 'ping', tag: 'b1' } },
      { jsonrpc: '2.0', id: 2, result: { method: 'resources/read', tag: 'b2' } },
    ]);
    // Id 7 twice at once: the first is answered last.
    const [slow, fast] = await Promise.all([
      send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'a', tag: 'slow', delay: 150 } }),
      send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'b', tag: 'fast' } }),
    ]);
    assert.deepEqual(slow, { jsonrpc: '2.0', id: 7, result: { method: 'tools/call', tag: 'slow' } });
    assert.deepEqual(fast, { jsonrpc: '2.0', id: 7, result: { method: 'tools/call', tag: 'fast' } });

    const exchanges = await tapwire.stop();
    const summary = exchanges.map((e) => [e.method, e.jsonrpc_id, e.target, e.status]).sort((a, b) => String(a).localeCompare(String(b)));
    assert.deepEqual(summary, [
      ['notifications/progress', null, null, 'ok'],
      ['ping', '1', null, 'ok'],
      ['resources/read', '2', 'file:///b2', 'ok'],
      ['tools/call', '7', 'a', 'ok'],
      ['tools/call', '7', 'b', 'ok'],
    ]);
    for (const e of exchanges.filter((x) => x.method === 'tools/call')) {
      const answer = JSON.parse(tapwire.record(e.id).response!.body!.toString('utf8')) as { result: { tag: string } };
      assert.equal(answer.result.tag, e.target === 'a' ? 'slow' : 'fast', `tools/call ${e.target} is recorded with its own answer`);
    }
  });
});

describe('bodies over limits.max_request_bytes', () => {
  test('413 in each protocol\'s error format, recorded, never forwarded; the SDKs raise their usual errors', async (t) => {
    const upstream = await echoUpstream(t);
    const tapwire = await sidecarWithPolicy(
      t,
      [
        'routes:',
        `  openai: { protocol: llm, provider: openai, upstream: "${upstream.url}" }`,
        `  anthropic: { protocol: llm, provider: anthropic, upstream: "${upstream.url}" }`,
        `  mcp: { protocol: mcp, upstream: "${upstream.url}" }`,
        `  a2a: { protocol: a2a, upstream: "${upstream.url}" }`,
        `  files: { protocol: http, upstream: "${upstream.url}" }`,
        `  stdio: { protocol: mcp, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(STDIO_SERVER)}] }`,
      ].join('\n'),
      'limits: { max_request_bytes: 4096 }',
    );
    const big = 'x'.repeat(5000);

    const openaiError = await rejectionOf(
      new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: 'sk-test', maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: big }] }),
    );
    assert.ok(openaiError instanceof OpenAI.APIError);
    assert.equal(openaiError.status, 413);
    assert.equal(openaiError.code, 'request_too_large');
    assert.match(openaiError.message, /larger than 4096 bytes \(limits\.max_request_bytes\)/);

    const anthropicError = await rejectionOf(
      new Anthropic({ baseURL: `${tapwire.url}/anthropic`, apiKey: 'sk-ant-test', maxRetries: 0 }).messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: big }] }),
    );
    assert.ok(anthropicError instanceof Anthropic.APIError);
    assert.equal(anthropicError.status, 413);
    assert.deepEqual((anthropicError.error as { error: { type: string } }).error.type, 'request_too_large');

    const rpc = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: { big } } });
    for (const path of ['/mcp/mcp', '/a2a/', '/stdio/mcp']) {
      const answer = await post(`${tapwire.url}${path}`, Buffer.from(rpc), 'application/json');
      assert.equal(answer.status, 413, path);
      assert.deepEqual(JSON.parse(answer.text), {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32600, message: 'the request body is larger than 4096 bytes (limits.max_request_bytes)', data: { tapwire_error: 'request_too_large' } },
      });
    }
    // A chunked body declares no length: it is refused once 4096 bytes have been read.
    const host = new URL(tapwire.url).host;
    const chunk = 'y'.repeat(3000);
    const chunked = await rawRequest(
      tapwire.url,
      `POST /mcp/mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked`,
      `${(3000).toString(16)}\r\n${chunk}\r\n${(3000).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    assert.equal(chunked.status, 413);
    // A plain HTTP route streams its body: a declared length over the limit is refused.
    const declared = await post(`${tapwire.url}/files/upload`, Buffer.from(big), 'application/octet-stream');
    assert.equal(declared.status, 413);
    assert.deepEqual(JSON.parse(declared.text), { error: { code: 'request_too_large', message: 'the request body is larger than 4096 bytes (limits.max_request_bytes)' } });

    assert.equal(upstream.requests.length, 0, 'nothing over the limit was forwarded');
    // Under the limit, calls still go through.
    assert.equal((await post(`${tapwire.url}/mcp/mcp`, Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}'), 'application/json')).status, 400);
    const exchanges = await tapwire.stop();
    const refused = exchanges.filter((e) => e.http_status === 413);
    assert.deepEqual(
      refused.map((e) => [e.route, e.status, e.error_code]),
      [
        ['openai', 'error', 'request_too_large'],
        ['anthropic', 'error', 'request_too_large'],
        ['mcp', 'error', 'request_too_large'],
        ['a2a', 'error', 'request_too_large'],
        ['stdio', 'error', 'request_too_large'],
        ['mcp', 'error', 'request_too_large'],
        ['files', 'error', 'request_too_large'],
      ],
    );
    assert.ok(refused.every((e) => e.request_bytes > 4096));
  });
});
