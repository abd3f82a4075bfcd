// Zero-config interception (proxy: in tapwire.yaml): agents that know nothing of tapwire,
// given only HTTPS_PROXY and tapwire's CA, call an aimock upstream served over TLS (a TLS
// front whose test CA tapwire trusts through the route's ca:). curl, the OpenAI SDK under
// undici's EnvHttpProxyAgent and Python's urllib must get the upstream's answer and be
// recorded exactly as a call through the base URL is. A host not listed is refused, or with
// `otherwise: tunnel` tunnelled untouched and recorded without content; WebSocket and
// HTTP/1.1 keep-alive work through a tunnel and inside an intercepted connection.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { connect as netConnect, createServer as createTcpServer, isIP, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Client } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import type { Exchange } from '../../core/exchange.js';
import { REDACTED } from '../../core/headers.js';
import { caFiles } from '../../proxy/ca.js';
import { TUNNEL_ROUTE } from '../../proxy/forward-proxy.js';
import { startAimock, type LLMock } from '../support/aimock.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { startTlsFront, type TlsFront } from '../support/tls-front.js';

const KEY = 'sk-test-intercepted-key-9313';
const ANSWER = 'Answer from the mock model behind TLS.';
const NODE_AGENT = fileURLToPath(new URL('../support/openai-through-proxy.js', import.meta.url));

let mock: LLMock;
let front: TlsFront;
let dir: string;

before(async () => {
  mock = await startAimock([KEY], (m) => {
    m.onMessage(/^hello from /, { content: ANSWER, usage: { prompt_tokens: 21, completion_tokens: 9 }, id: 'chatcmpl-pinned-intercept', created: 1700000100 });
  });
  dir = mkdtempSync(join(tmpdir(), 'tapwire-intercept-'));
  front = await startTlsFront(mock.url, dir);
});

after(async () => {
  await front.close();
  await mock.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A sidecar whose openai route's upstream is the TLS front, intercepting 127.0.0.1. */
async function tapwireWithProxy(t: TestContext, otherwise: 'refuse' | 'tunnel' = 'refuse', extraRoutes = ''): Promise<TestSidecar & { proxyUrl: string }> {
  const yaml = [
    'routes:',
    `  openai: { protocol: llm, provider: openai, upstream: "${front.url}", ca: "${front.caFile}" }`,
    extraRoutes,
    'proxy:',
    '  listen: 127.0.0.1:0',
    '  intercept: [127.0.0.1]',
    `  otherwise: ${otherwise}`,
    `  ca_dir: ${join(dir, 'tapwire-ca')}`,
  ].join('\n');
  const tapwire = await startTestSidecarFor(t, yaml);
  return { ...tapwire, proxyUrl: tapwire.sidecar.proxyUrl! };
}

/** tapwire's CA files, as `tapwire ca` names them: the certificate, and the bundle with the public roots. */
function tapwireCa(): { cert: string; bundle: string } {
  const files = caFiles(join(dir, 'tapwire-ca'));
  return { cert: files.cert, bundle: files.bundle };
}

function chatBody(prompt: string): string {
  return JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] });
}

/** Runs a client with exactly `env` (and PATH, HOME): nothing else tells it about tapwire. */
function run(file: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function curlChat(url: string, prompt: string, env: Record<string, string>): ReturnType<typeof run> {
  return run('curl', ['-sS', '--fail-with-body', `${url}/v1/chat/completions`, '-H', `authorization: Bearer ${KEY}`, '-H', 'content-type: application/json', '-d', chatBody(prompt)], env);
}

const PYTHON_AGENT = `
import json, sys, urllib.request
url, key, prompt = sys.argv[1:4]
body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}).encode()
req = urllib.request.Request(url + "/v1/chat/completions", data=body, headers={"authorization": "Bearer " + key, "content-type": "application/json"})
with urllib.request.urlopen(req, timeout=20) as res:
    print(json.loads(res.read())["choices"][0]["message"]["content"])
`;

function contentOf(stdout: string): string | null {
  return (JSON.parse(stdout) as { choices: { message: { content: string | null } }[] }).choices[0]?.message.content ?? null;
}

/** The fields a call's record has whichever way it reached tapwire. */
function asIfBaseUrl(e: Exchange): Partial<Exchange> {
  const { route, protocol, method, provider, operation, model, response_model, response_id, status, http_status, input_tokens, output_tokens, finish_reasons, cost_usd, streamed } = e;
  return { route, protocol, method, provider, operation, model, response_model, response_id, status, http_status, input_tokens, output_tokens, finish_reasons, cost_usd, streamed };
}

/**
 * An undici Client whose every connection is a CONNECT through the proxy (then TLS with
 * `ca` when `tls`): a hand-made connector, so the test can count the connections opened.
 */
function clientThroughProxy(proxyUrl: string, origin: string, ca: string): { client: Client; connections: () => number } {
  const proxy = new URL(proxyUrl);
  let connections = 0;
  const client = new Client(origin, {
    connect: (opts, callback) => {
      connections++;
      const req = httpRequest({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: `${opts.hostname}:${opts.port}` });
      req.once('error', (err) => callback(err, null));
      req.once('connect', (res, socket: Socket) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          return callback(new Error(`CONNECT answered ${res.statusCode}`), null);
        }
        const secured = tlsConnect({ socket, ca, host: opts.hostname, ...(isIP(opts.hostname) ? {} : { servername: opts.hostname }) });
        secured.once('secureConnect', () => callback(null, secured));
        secured.once('error', (err: Error) => callback(err, null));
      });
      req.end();
    },
  });
  return { client, connections: () => connections };
}

async function chatThrough(client: Client, prompt: string): Promise<{ status: number; content: string | null }> {
  const res = await client.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: chatBody(prompt),
  });
  const text = await res.body.text();
  return { status: res.statusCode, content: res.statusCode === 200 ? contentOf(text) : text };
}

describe('interception through HTTPS_PROXY and the local CA', () => {
  test('curl, the OpenAI SDK (Node) and Python urllib, given only HTTPS_PROXY and the CA, are recorded as if they had used the base URL', async (t) => {
    const tapwire = await tapwireWithProxy(t);
    const { cert, bundle } = tapwireCa();
    mock.clearRequests();
    const direct = await fetch(`${tapwire.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: chatBody('hello from the base url'),
    });
    assert.equal(direct.status, 200);

    const curl = await curlChat(front.url, 'hello from curl', { HTTPS_PROXY: tapwire.proxyUrl, CURL_CA_BUNDLE: bundle });
    assert.equal(curl.code, 0, curl.stderr + curl.stdout);
    assert.equal(contentOf(curl.stdout), ANSWER);

    const node = await run(process.execPath, [NODE_AGENT, `${front.url}/v1`, KEY, 'hello from node'], { HTTPS_PROXY: tapwire.proxyUrl, NODE_EXTRA_CA_CERTS: cert });
    assert.equal(node.code, 0, node.stderr);
    assert.deepEqual(JSON.parse(node.stdout), { content: ANSWER });

    const python = await run('python3', ['-c', PYTHON_AGENT, front.url, KEY, 'hello from python'], { HTTPS_PROXY: tapwire.proxyUrl, SSL_CERT_FILE: bundle });
    assert.equal(python.code, 0, python.stderr);
    assert.equal(python.stdout.trim(), ANSWER);

    // The upstream got four calls, each with the agent's own key (aimock answers 401 to any other).
    const upstream = mock.getRequests();
    assert.deepEqual(upstream.map((r) => [r.path, r.response.status]), Array(4).fill(['/v1/chat/completions', 200]));

    const records = await tapwire.stop();
    assert.equal(records.length, 4, JSON.stringify(records.map((r) => [r.route, r.method])));
    const [baseUrl, ...intercepted] = records;
    assert.equal(baseUrl!.response_model, 'gpt-4o-mini');
    for (const record of intercepted) {
      assert.deepEqual(asIfBaseUrl(record), asIfBaseUrl(baseUrl!));
      const stored = tapwire.record(record.id);
      assert.equal(stored.request?.headers.authorization, REDACTED);
      assert.match(stored.request?.body?.toString() ?? '', /hello from (curl|node|python)/);
      assert.equal(contentOf(stored.response?.body?.toString() ?? '{}'), ANSWER);
    }
  });

  test('a host not listed is refused by default, and a client not trusting the CA is stopped at its handshake: nothing reaches the upstream, nothing is recorded', async (t) => {
    const tapwire = await tapwireWithProxy(t);
    mock.clearRequests();
    // localhost is the same TLS front under a name proxy.intercept does not list.
    const curl = await curlChat(`https://localhost:${front.port}`, 'hello from curl', { HTTPS_PROXY: tapwire.proxyUrl, CURL_CA_BUNDLE: front.caFile });
    assert.notEqual(curl.code, 0);
    assert.match(curl.stderr, /403/);
    // A listed host on a port no route's upstream uses is refused too, never tunnelled.
    const { client } = clientThroughProxy(tapwire.proxyUrl, `https://127.0.0.1:${mock.port}`, front.caPem);
    await assert.rejects(chatThrough(client, 'hello from undici'), /CONNECT answered 403/);
    await client.close();
    // A client that does not trust tapwire's CA fails its handshake, and reaches nothing.
    const untrusting = await curlChat(front.url, 'hello from curl', { HTTPS_PROXY: tapwire.proxyUrl, CURL_CA_BUNDLE: front.caFile });
    assert.equal(untrusting.code, 60, untrusting.stderr);
    assert.equal(mock.getRequests().length, 0);
    assert.deepEqual(await tapwire.stop(), []);
  });

  test('with otherwise: tunnel, a host not listed is tunnelled untouched and recorded as a tunnel without content', async (t) => {
    const tapwire = await tapwireWithProxy(t, 'tunnel');
    mock.clearRequests();
    const curl = await curlChat(`https://localhost:${front.port}`, 'hello from curl', { HTTPS_PROXY: tapwire.proxyUrl, CURL_CA_BUNDLE: front.caFile });
    assert.equal(curl.code, 0, curl.stderr);
    assert.equal(contentOf(curl.stdout), ANSWER);
    assert.equal(mock.getRequests().length, 1);
    const records = await tapwire.stop();
    assert.equal(records.length, 1);
    const tunnel = records[0]!;
    assert.equal(tunnel.route, TUNNEL_ROUTE);
    assert.equal(tunnel.method, `CONNECT localhost:${front.port}`);
    assert.equal(tunnel.status, 'ok');
    assert.equal(tunnel.http_status, 200);
    assert.ok(tunnel.request_bytes > 0 && tunnel.response_bytes > 0, 'the bytes each way are counted');
    const stored = tapwire.record(tunnel.id);
    assert.equal(stored.request, null);
    assert.equal(stored.response, null);
  });

  test('a tunnel whose upstream resets the connection after it opened is recorded as broken, not as unreachable', async (t) => {
    const tapwire = await tapwireWithProxy(t, 'tunnel');
    // A server that takes the tunnel's first bytes, then resets the connection (TCP RST).
    const resetting = createTcpServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', resolve));
    t.after(() => resetting.close());
    const port = (resetting.address() as AddressInfo).port;
    const proxy = new URL(tapwire.proxyUrl);
    const agent = netConnect(Number(proxy.port), proxy.hostname);
    const closed = new Promise<void>((resolve) => agent.once('close', () => resolve()));
    agent.on('error', () => undefined);
    agent.write(`CONNECT localhost:${port} HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`);
    const [answer] = (await once(agent, 'data')) as [Buffer];
    assert.match(answer.toString('latin1'), /^HTTP\/1\.1 200 /);
    agent.write('hello through the tunnel');
    await closed;
    const records = await tapwire.stop();
    assert.equal(records.length, 1);
    const tunnel = records[0]!;
    assert.equal(tunnel.route, TUNNEL_ROUTE);
    assert.equal(tunnel.status, 'error');
    assert.equal(tunnel.http_status, 200, 'the tunnel was opened');
    assert.equal(tunnel.error_code, 'tunnel_broken');
    assert.match(tunnel.error_message ?? '', new RegExp(`the connection to localhost:${port} broke after the tunnel opened: ECONNRESET`));
    assert.ok(tunnel.request_bytes > 0, 'the bytes sent before the reset are counted');
  });

  test('HTTP/1.1 keep-alive: three calls (one streamed) on one intercepted connection, and two on one tunnel', async (t) => {
    const tapwire = await tapwireWithProxy(t, 'tunnel');
    const { cert } = tapwireCa();
    const intercepted = clientThroughProxy(tapwire.proxyUrl, front.url, readFileSync(cert, 'utf8'));
    assert.deepEqual(await chatThrough(intercepted.client, 'hello from keep-alive 1'), { status: 200, content: ANSWER });
    assert.deepEqual(await chatThrough(intercepted.client, 'hello from keep-alive 2'), { status: 200, content: ANSWER });
    // A stream on the same connection: its events arrive through the TLS tapwire opened.
    const streamed = await intercepted.client.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...(JSON.parse(chatBody('hello from keep-alive 3')) as object), stream: true }),
    });
    const events = await streamed.body.text();
    assert.equal(streamed.statusCode, 200);
    assert.match(events, /^data: \[DONE\]$/m);
    assert.equal(intercepted.connections(), 1);
    await intercepted.client.close();

    const tunnelled = clientThroughProxy(tapwire.proxyUrl, `https://localhost:${front.port}`, front.caPem);
    assert.deepEqual(await chatThrough(tunnelled.client, 'hello from tunnel 1'), { status: 200, content: ANSWER });
    assert.deepEqual(await chatThrough(tunnelled.client, 'hello from tunnel 2'), { status: 200, content: ANSWER });
    assert.equal(tunnelled.connections(), 1);
    await tunnelled.client.close();

    const records = await tapwire.stop();
    assert.deepEqual(records.map((r) => [r.route, r.streamed]).sort(), [[TUNNEL_ROUTE, 0], ['openai', 0], ['openai', 0], ['openai', 1]]);
  });

  test('WebSocket through a tunnel', async (t) => {
    const tapwire = await tapwireWithProxy(t, 'tunnel');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    t.after(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => ws.send(`echo ${data.toString()}`)));
    const port = (wss.address() as { port: number }).port;
    const proxy = new URL(tapwire.proxyUrl);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = httpRequest({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: `localhost:${port}` });
      req.once('error', reject);
      req.once('connect', (res, s: Socket) => (res.statusCode === 200 ? resolve(s) : reject(new Error(`CONNECT answered ${res.statusCode}`))));
      req.end();
    });
    const ws = new WebSocket(`ws://localhost:${port}/`, { createConnection: () => socket });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => ws.once('message', (data: Buffer) => resolve(data.toString())));
    ws.send('over the tunnel');
    assert.equal(await echoed, 'echo over the tunnel');
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close();
    await closed;
    const records = await tapwire.stop();
    assert.deepEqual(records.map((r) => [r.route, r.method]), [[TUNNEL_ROUTE, `CONNECT localhost:${port}`]]);
  });

  test('absolute-form http:// requests to an intercepted origin go through its route', async (t) => {
    const tapwire = await tapwireWithProxy(t, 'refuse', `  plain: { protocol: llm, provider: openai, upstream: "${mock.url}" }`);
    const curl = await curlChat(mock.url, 'hello from plain http', { http_proxy: tapwire.proxyUrl });
    assert.equal(curl.code, 0, curl.stderr);
    assert.equal(contentOf(curl.stdout), ANSWER);
    const records = await tapwire.stop();
    assert.deepEqual(records.map((r) => [r.route, r.method, r.http_status]), [['plain', 'POST /v1/chat/completions', 200]]);
  });
});
