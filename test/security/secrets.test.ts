// Nothing leaked: `tapwire run` (the real CLI, logging at debug level) forwards an OpenAI SDK
// call to aimock and an MCP SDK tool call to a real MCP server, with credentials planted
// everywhere an agent puts them (auth headers, the providers' credential headers, headers
// named like credentials, the query string, message bodies matching a configured redact
// pattern), upstream keys injected from the config (also into the REST calls of an openapi
// route, its `headers` whatever their names), credentials a transform rule sets
// (headers, and a body field matching a redact pattern), and a Bedrock SDK call signed with
// the agent's AWS credentials that goes out re-signed with the route's. Then every byte
// tapwire wrote is searched: the database files (with their -wal and -shm), its stdout and
// stderr, every span and metric it exported to a real OTLP endpoint (message content capture
// on), and `tapwire export` of the record as JSONL and HAR. None holds any planted secret, nor
// either SigV4 signature (the agent's, the one tapwire made). With the proxy on, the local
// CA's private key is searched for the same way, after a call it intercepted. The same search
// follows MCP authorization: the SDK client's OAuth flow through a passthrough route and a
// gateway route (test/support/oauth.ts): no client token, exchanged token or service client
// secret is anywhere. A tool call held for approval is approved with `tapwire approvals`
// presenting the admin token, which must not leak either.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import OpenAI from 'openai';
import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import { startAimock } from '../support/aimock.js';
import { freePort, runCli, startCli } from '../support/cli.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startStreamableServer } from '../support/mcp.js';
import { PETSTORE_SPEC, startPetstore } from '../support/openapi.js';
import { startOtlpCollector } from '../support/otlp.js';
import { startTlsFront } from '../support/tls-front.js';
import { caFiles } from '../../proxy/ca.js';
import { MemoryOAuthClient, SERVICE_CLIENT, startAuthorizationServer, startProtectedMcpServer } from '../support/oauth.js';
import { bedrockClient } from '../support/bedrock.js';
import { startUpstream } from '../support/upstream.js';

/** Every secret planted, by where it was put. */
const PLANTED = {
  agentBearer: 'PLANTED-AGENT-BEARER-a1b2c3',
  xApiKey: 'PLANTED-X-API-KEY-d4e5f6',
  cookie: 'PLANTED-COOKIE-g7h8i9',
  // The providers' documented credential headers (core/headers.ts DEFAULT_REDACTED).
  azureApiKey: 'PLANTED-API-KEY-HEADER-c2v3b4',
  functionsKey: 'PLANTED-FUNCTIONS-KEY-n5m6q7',
  apimKey: 'PLANTED-APIM-KEY-w8e9r1',
  googApiKey: 'PLANTED-GOOG-API-KEY-t2y3u4',
  amzSecurityToken: 'PLANTED-AMZ-TOKEN-i5o6p7',
  datadogAppKey: 'PLANTED-DD-APP-KEY-a8s9d1',
  honeycombTeam: 'PLANTED-HONEYCOMB-f2g3h4',
  newRelicInsertKey: 'PLANTED-NR-INSERT-j5k6l7',
  newRelicLicenseKey: 'PLANTED-NR-LICENSE-z8x9c1',
  customTokenHeader: 'PLANTED-CUSTOM-TOKEN-j1k2l3',
  queryKey: 'PLANTED-QUERY-KEY-m4n5o6',
  queryApiKey: 'PLANTED-QUERY-API-KEY-p7q8r9',
  queryToken: 'PLANTED-QUERY-TOKEN-s1t2u3',
  queryRedacted: 'sk-live-PLANTEDQUERYTAGr4t5y6',
  llmBody: 'sk-live-PLANTEDLLMBODYv4w5x6',
  mcpArgument: 'sk-live-PLANTEDMCPARGy7z8a9',
  upstreamKey: 'INJECTED-UPSTREAM-KEY-b1c2d3',
  mcpKey: 'INJECTED-MCP-KEY-e4f5g6',
  adminToken: 'PLANTED-ADMIN-TOKEN-h7j8k9l0',
  transformHeader: 'TRANSFORMED-SERVICE-TOKEN-h7j8k9',
  transformMcpBearer: 'TRANSFORMED-MCP-BEARER-l1m2n3',
  transformBody: 'sk-live-TRANSFORMEDBODYq1w2e3',
  // AWS: the agent's SigV4 credentials, and the route's that tapwire signs with instead.
  awsAgentKeyId: 'AKIAPLANTEDAGENT0001',
  awsAgentSecret: 'PLANTED/agent+aws/secret-h7j8k9',
  awsAgentSessionToken: 'PLANTED-AGENT-SESSION-TOKEN-l1m2n3',
  awsRouteKeyId: 'AKIAINJECTEDROUTE001',
  awsRouteSecret: 'INJECTED/route+aws/secret-o4p5q6',
  awsRouteSessionToken: 'INJECTED-ROUTE-SESSION-TOKEN-r7s8t9',
  restKey: 'INJECTED-REST-KEY-h7i8j9',
};

describe('secrets', () => {
  test('planted credentials appear in no database file, log line or exported span', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-secrets-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const mock = await startAimock([PLANTED.upstreamKey], (m) => m.onMessage('my key is', { content: 'noted', usage: { prompt_tokens: 9, completion_tokens: 1 } }));
    t.after(() => mock.stop());
    writeFileSync(join(dir, 'approve.yaml'), ['rules:', '  - name: held-echo', '    when: mcp.tool == "echo" && mcp.arguments.msg == "held call"', '    action: approve', ''].join('\n'));
    const mcp = await startStreamableServer(() => {
      const server = new McpServer({ name: 'echo', version: '1.0.0' });
      server.registerTool('echo', { inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: `you said ${msg}` }] }));
      return server;
    });
    t.after(() => mcp.close());
    const collector = await startOtlpCollector();
    t.after(() => collector.close());
    // A scripted Bedrock (aimock's journal redacts the Authorization header): it keeps the
    // signature tapwire made, which must then be nowhere either.
    const bedrock = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ output: { message: { role: 'assistant', content: [{ text: 'signed' }] } }, stopReason: 'end_turn', usage: { inputTokens: 3, outputTokens: 1, totalTokens: 4 } }));
    });
    t.after(() => bedrock.close());
    const petstore = await startPetstore(t);

    writeFileSync(
      join(dir, 'redact.yaml'),
      ['rules:', '  - name: mask-live-keys', '    when: "true"', '    action: redact', "    redact: { patterns: ['sk-live-[A-Za-z0-9]+'] }", ''].join('\n'),
    );
    writeFileSync(
      join(dir, 'transform.yaml'),
      [
        'rules:',
        '  - name: llm-credentials',
        '    when: protocol == "llm"',
        '    action: transform',
        `    set_headers: { x-service-token: "'${PLANTED.transformHeader}'" }`,
        `    set: { body.metadata.key: "'${PLANTED.transformBody}'" }`,
        '  - name: mcp-credentials',
        '    when: route.name == "tools"',
        '    action: transform',
        `    set_headers: { authorization: "'Bearer ${PLANTED.transformMcpBearer}'" }`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tapwire.yaml'),
      [
        'routes:',
        `  openai: { protocol: llm, provider: openai, upstream: "${mock.url}", headers: { authorization: "Bearer \${UPSTREAM_KEY}", x-api-key: "\${UPSTREAM_KEY}" } }`,
        `  tools: { protocol: mcp, upstream: "${mcp.origin}", headers: { x-mcp-key: "\${MCP_KEY}" } }`,
        `  bedrock: { protocol: llm, provider: bedrock, upstream: "${bedrock.url}", aws: { region: us-east-1, access_key_id: "\${AWS_ROUTE_KEY}", secret_access_key: "\${AWS_ROUTE_SECRET}", session_token: "\${AWS_ROUTE_TOKEN}" } }`,
        `  pets: { protocol: openapi, spec: ${JSON.stringify(PETSTORE_SPEC)}, upstream: "${petstore.url}", headers: { authorization: "Bearer \${REST_KEY}", x-service-id: "\${REST_KEY}" } }`,
        'policies: [redact.yaml, transform.yaml, approve.yaml]',
        'admin: { token: "${ADMIN_TOKEN}" }',
        'telemetry:',
        `  endpoint: ${collector.url}`,
        '  capture_content: true',
        '  metrics_interval_ms: 200',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const env = {
      ...process.env,
      UPSTREAM_KEY: PLANTED.upstreamKey,
      MCP_KEY: PLANTED.mcpKey,
      REST_KEY: PLANTED.restKey,
      AWS_ROUTE_KEY: PLANTED.awsRouteKeyId,
      AWS_ROUTE_SECRET: PLANTED.awsRouteSecret,
      AWS_ROUTE_TOKEN: PLANTED.awsRouteSessionToken,
      ADMIN_TOKEN: PLANTED.adminToken,
    };
    const cli = await startCli(['--config', join(dir, 'tapwire.yaml'), '--db', join(dir, 'tapwire.db'), '--listen', `127.0.0.1:${port}`, '--log-level', 'debug'], env);
    const base = `http://127.0.0.1:${port}`;

    const openai = new OpenAI({
      baseURL: `${base}/openai/v1`,
      apiKey: PLANTED.agentBearer,
      maxRetries: 0,
      defaultHeaders: {
        'x-api-key': PLANTED.xApiKey,
        cookie: `sid=${PLANTED.cookie}`,
        'x-custom-auth-token': PLANTED.customTokenHeader,
        'x-functions-key': PLANTED.functionsKey,
        'ocp-apim-subscription-key': PLANTED.apimKey,
        'x-amz-security-token': PLANTED.amzSecurityToken,
        'dd-application-key': PLANTED.datadogAppKey,
        'x-honeycomb-team': PLANTED.honeycombTeam,
        'x-insert-key': PLANTED.newRelicInsertKey,
        'x-license-key': PLANTED.newRelicLicenseKey,
      },
      // api-version is no credential: it is recorded (details.query, for replay), the others are
      // not, and `tag`'s value is masked there by the redact pattern.
      defaultQuery: { key: PLANTED.queryKey, api_key: PLANTED.queryApiKey, token: PLANTED.queryToken, 'api-version': '2024-10-21', tag: PLANTED.queryRedacted },
    });
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `my key is ${PLANTED.llmBody}` }] });
    assert.equal(completion.choices[0]!.message.content, 'noted', 'aimock accepted only the injected key: the upstream got it');

    const client = new Client({ name: 'secrets-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/tools/mcp?token=${PLANTED.queryToken}`), {
        // aimock checks api-key and x-goog-api-key as its own keys: these go to the MCP server.
        requestInit: { headers: { authorization: `Bearer ${PLANTED.agentBearer}`, 'api-key': PLANTED.azureApiKey, 'x-goog-api-key': PLANTED.googApiKey } },
      }));
    const echoed = await client.callTool({ name: 'echo', arguments: { msg: PLANTED.mcpArgument } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: `you said ${PLANTED.mcpArgument}` }], 'the agent got the real answer: redaction is for the record only');
    // A held call, approved by `tapwire approvals` with the admin token (the sidecar runs in its own process: spawnSync cannot stall it).
    const held = client.callTool({ name: 'echo', arguments: { msg: 'held call' } });
    const adminEnv = { ...env, TAPWIRE_ADMIN_TOKEN: PLANTED.adminToken };
    let listed = runCli(['approvals', 'list', '--url', base], dir, adminEnv);
    for (let i = 0; i < 100 && !listed.stdout.includes('held-echo'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      listed = runCli(['approvals', 'list', '--url', base], dir, adminEnv);
    }
    const heldId = /^(\w+) {2}waiting/.exec(listed.stdout)?.[1];
    assert.ok(heldId, `the call was held: ${listed.stdout}${listed.stderr}`);
    const approved = runCli(['approvals', 'approve', heldId, '--url', base, '--as', 'secrets-test'], dir, adminEnv);
    assert.equal(approved.status, 0, approved.stderr);
    assert.deepEqual((await held).content, [{ type: 'text', text: 'you said held call' }]);
    await client.close();
    assert.ok(mcp.seen.some((r) => r.headers['x-mcp-key'] === PLANTED.mcpKey), 'the MCP server got the injected key');
    assert.ok(mcp.seen.some((r) => r.headers.authorization === `Bearer ${PLANTED.transformMcpBearer}`), 'the MCP server got the credential a transform rule set');

    const aws = bedrockClient(`${base}/bedrock`, 1, { accessKeyId: PLANTED.awsAgentKeyId, secretAccessKey: PLANTED.awsAgentSecret, sessionToken: PLANTED.awsAgentSessionToken });
    const signatures: string[] = [];
    // The agent's signature as its SDK sent it (the deserialize step sees the signed request).
    aws.middlewareStack.add((next) => async (args) => {
      const request = args.request as { headers: Record<string, string> };
      signatures.push(/Signature=([0-9a-f]+)/.exec(request.headers.authorization ?? '')?.[1] ?? 'none');
      return next(args);
    }, { step: 'deserialize' });
    const converse = await aws.send(new ConverseCommand({ modelId: 'amazon.nova-micro-v1:0', messages: [{ role: 'user', content: [{ text: 'hello' }] }] }));
    assert.equal(converse.output?.message?.content?.[0]?.text, 'signed');
    const sent = bedrock.requests[0]!.headers;
    assert.match(String(sent.authorization), new RegExp(`Credential=${PLANTED.awsRouteKeyId}/`), 'the upstream got the route signature');
    assert.equal(sent['x-amz-security-token'], PLANTED.awsRouteSessionToken);
    signatures.push(/Signature=([0-9a-f]+)/.exec(String(sent.authorization))?.[1] ?? 'none');
    assert.equal(signatures.length, 2);
    assert.notEqual(signatures[0], signatures[1], 'the agent signed for tapwire, tapwire for the upstream');

    const rest = new Client({ name: 'secrets-test', version: '1.0.0' });
    await rest.connect(new StreamableHTTPClientTransport(new URL(`${base}/pets`)));
    const pets = await rest.callTool({ name: 'findPets', arguments: { tags: [PLANTED.mcpArgument] } });
    assert.deepEqual(pets.structuredContent, { result: [] });
    await rest.close();
    assert.ok(petstore.calls.some((c) => c.headers['x-service-id'] === PLANTED.restKey && c.headers.authorization === `Bearer ${PLANTED.restKey}`), 'the REST API got the injected key');

    const places = await everythingWritten(dir, cli, collector, env);
    assert.match(places['export jsonl']!, /you said /, 'the export holds the MCP answer');
    // The record and the exports are there, and show that something was masked: the search can fail.
    assert.match(places['tapwire.db']!, /\[redacted\]/);
    assert.match(places['tapwire.db']!, /you said /);
    assert.match(places['tapwire.db']!, /"by":"secrets-test"/, 'the approval was recorded');
    assert.match(places['tapwire.db']!, /"query":"api-version=2024-10-21&tag=\[redacted\]"/, "the LLM call's query was recorded, its credentials left out, a redact pattern's match masked");
    assert.match(places['tapwire.db']!, /"set_header":"x-service-token","to":"\[redacted\]"/, 'the record lists the transforms, masked');
    assert.ok(collector.spans().some((s) => s.name === 'chat gpt-4o-mini'), 'spans were exported');
    assert.match(places.stdout!, /"msg":"exchange"/);
    assertNoneIn(places, PLANTED);
    assertNoneIn(places, Object.fromEntries(signatures.map((signature, i) => [`SigV4 signature ${i}`, signature])));
  });

  test('MCP OAuth tokens, passthrough and gateway, and the gateway\'s upstream credentials appear nowhere either', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-secrets-oauth-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const as = await startAuthorizationServer();
    t.after(() => as.close());
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const passthrough = await startProtectedMcpServer({ as, audience: () => `${base}/pt` });
    t.after(() => passthrough.close());
    const upstream = await startProtectedMcpServer({ as, audience: () => upstream.url });
    t.after(() => upstream.close());
    const collector = await startOtlpCollector();
    t.after(() => collector.close());
    writeFileSync(
      join(dir, 'tapwire.yaml'),
      [
        'routes:',
        `  pt: { protocol: mcp, upstream: "${passthrough.url}", auth: { mode: passthrough } }`,
        `  gw:`,
        '    protocol: mcp',
        `    upstream: "${upstream.url}"`,
        `    auth: { mode: gateway, issuer: "${as.issuer}", jwks_url: "${as.jwksUrl}", upstream_auth: { token_exchange: { token_url: "${as.serviceTokenUrl}", client_id: ${SERVICE_CLIENT.client_id}, client_secret: "\${SERVICE_SECRET}", resource: "${upstream.url}" } } }`,
        'telemetry:',
        `  endpoint: ${collector.url}`,
        '  capture_content: true',
        '  metrics_interval_ms: 200',
        '',
      ].join('\n'),
    );
    const env = { ...process.env, SERVICE_SECRET: SERVICE_CLIENT.client_secret };
    const cli = await startCli(['--config', join(dir, 'tapwire.yaml'), '--db', join(dir, 'tapwire.db'), '--listen', `127.0.0.1:${port}`, '--log-level', 'debug'], env);
    const tokens: Record<string, string> = {};
    for (const route of ['pt', 'gw']) {
      const oauth = new MemoryOAuthClient();
      const first = new StreamableHTTPClientTransport(new URL(`${base}/${route}`), { authProvider: oauth });
      await assert.rejects(new Client({ name: 'secrets-test', version: '1.0.0' }).connect(first), UnauthorizedError);
      await first.finishAuth(await oauth.approve());
      const client = new Client({ name: 'secrets-test', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/${route}`), { authProvider: oauth }));
      const echoed = await client.callTool({ name: 'echo', arguments: { text: `answer on ${route}` } });
      assert.deepEqual(echoed.content, [{ type: 'text', text: `answer on ${route}` }]);
      await client.close();
      tokens[`${route} client token`] = oauth.tokens()!.access_token;
    }
    const exchanged = as.issued.find((i) => i.grant === 'token_exchange');
    assert.ok(exchanged, 'the gateway exchanged the client token');
    tokens['exchanged token'] = exchanged.token;
    tokens['service client secret'] = SERVICE_CLIENT.client_secret;
    assert.ok(passthrough.authorizations.includes(`Bearer ${tokens['pt client token']}`), 'passthrough forwarded the token');

    const places = await everythingWritten(dir, cli, collector, env);
    assert.match(places['export jsonl']!, /answer on pt/);
    assert.match(places['export jsonl']!, /answer on gw/);
    assert.ok(collector.spans().length > 0, 'spans were exported');
    assertNoneIn(places, tokens);
  });

  test("the local CA's private key appears in no database file, log line, exported span or export", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-secrets-ca-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const mock = await startAimock(['sk-ca-test-key-1'], (m) => m.onMessage('through the proxy', { content: 'intercepted', usage: { prompt_tokens: 5, completion_tokens: 1 } }));
    t.after(() => mock.stop());
    const front = await startTlsFront(mock.url, dir);
    t.after(() => front.close());
    const collector = await startOtlpCollector();
    t.after(() => collector.close());
    const proxyPort = await freePort();
    writeFileSync(
      join(dir, 'tapwire.yaml'),
      [
        'routes:',
        `  openai: { protocol: llm, provider: openai, upstream: "${front.url}", ca: upstream-ca.pem }`,
        'proxy:',
        `  listen: 127.0.0.1:${proxyPort}`,
        '  intercept: [127.0.0.1]',
        '  ca_dir: ca',
        'telemetry:',
        `  endpoint: ${collector.url}`,
        '  capture_content: true',
        '  metrics_interval_ms: 200',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const cli = await startCli(['--config', join(dir, 'tapwire.yaml'), '--db', join(dir, 'tapwire.db'), '--listen', `127.0.0.1:${port}`, '--log-level', 'debug'], process.env);
    const ca = caFiles(join(dir, 'ca'));
    // Asynchronously: the upstream (aimock and its TLS front) runs in this process.
    const { stdout: answer } = await promisify(execFile)(
      'curl',
      ['-sS', '--fail-with-body', `${front.url}/v1/chat/completions`, '-H', 'authorization: Bearer sk-ca-test-key-1', '-H', 'content-type: application/json', '-d', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'through the proxy' }] })],
      { env: { PATH: process.env.PATH ?? '', HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, CURL_CA_BUNDLE: ca.bundle }, encoding: 'utf8' },
    );
    assert.match(answer, /intercepted/);

    const places = await everythingWritten(dir, cli, collector, process.env);
    const printed = runCli(['ca', '-c', join(dir, 'tapwire.yaml')], dir);
    assert.equal(printed.status, 0, printed.stderr);
    places['tapwire ca'] = printed.stdout + printed.stderr;
    // The call was intercepted and recorded, and the search has something to search.
    assert.match(places['export jsonl']!, /through the proxy/);
    assert.match(places.stdout!, /"msg":"proxy listening"/);
    assert.ok(collector.spans().some((s) => s.name === 'chat gpt-4o-mini'), 'spans were exported');
    // The key's base64 body, whole and line by line (any 64-character line of it is a leak).
    const key = readFileSync(ca.key, 'utf8');
    const lines = key.split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
    const secrets = [lines.join(''), ...lines.filter((line) => line.length >= 40)];
    assert.ok(secrets.length > 10);
    for (const [where, text] of Object.entries(places)) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `the CA key leaked into ${where}`);
      assert.ok(!text.includes('PRIVATE KEY'), `a private key was written into ${where}`);
    }
  });
});

/** Stops `tapwire run`, then gathers every byte it wrote: stdout, stderr, what it exported over OTLP, the database files, and `tapwire export` of the record in both formats, with and without the config. */
async function everythingWritten(dir: string, cli: Awaited<ReturnType<typeof startCli>>, collector: Awaited<ReturnType<typeof startOtlpCollector>>, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  cli.child.kill('SIGTERM');
  await once(cli.child, 'exit');
  const places: Record<string, string> = {
    stdout: cli.stdout(),
    stderr: cli.stderr(),
    otlp: collector.server.requests.map((r) => r.body.toString('latin1')).join('\n'),
  };
  for (const file of readdirSync(dir).filter((f) => f.startsWith('tapwire.db'))) places[file] = readFileSync(join(dir, file)).toString('latin1');
  for (const [format, config] of [['jsonl', []], ['har', []], ['jsonl', ['-c', join(dir, 'tapwire.yaml')]]] as const) {
    const out = join(dir, `export-${format}-${config.length}.${format}`);
    const exported = runCli(['export', '--db', join(dir, 'tapwire.db'), '--format', format, '-o', out, ...config], dir, env);
    assert.equal(exported.status, 0, exported.stderr);
    places[`export ${format}${config.length ? ' -c' : ''}`] = readFileSync(out, 'latin1');
    places[`export ${format}${config.length ? ' -c' : ''} output`] = exported.stdout + exported.stderr;
  }
  return places;
}

/** No secret in any place, as written or as UTF-16 (the way SQLite may store text). */
function assertNoneIn(places: Record<string, string>, secrets: Record<string, string>): void {
  for (const [where, text] of Object.entries(places)) {
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `${what} (${secret}) leaked into ${where}`);
      assert.ok(!text.includes(Buffer.from(secret, 'utf16le').toString('latin1')), `${what} leaked into ${where} as UTF-16`);
    }
  }
}
