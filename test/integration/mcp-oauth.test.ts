// MCP authorization through tapwire, with the official SDK on both ends: the SDK client's
// OAuth flow (OAuthClientProvider, auth(): discovery, dynamic registration, PKCE, RFC 8707
// resource) completes through tapwire against an SDK server behind requireBearerAuth and an
// authorization server built from the SDK's auth router (test/support/oauth.ts), in both
// modes. Passthrough: the client's token reaches the upstream unchanged, its audience the
// route's URL on tapwire. Gateway: tapwire checks the token and calls the upstream with an
// RFC 8693 exchange of it (or a client-credentials token of its own, or a static header; the
// token checked by JWKS or by introspection), so the client's token never reaches the
// upstream. A command route checks tokens the same way and its policies see the claims
// (identity.*). Wrong-audience,
// expired and under-scoped tokens get the spec's challenges; metadata naming another resource
// passes unchanged and the SDK client refuses it; a 2025-03-26 client finds the authorization
// server's metadata at tapwire's origin. No token is stored, logged or exported in a span.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { discoverAuthorizationServerMetadata, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { createLogger } from '../../core/log.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { startOtlpCollector, type OtlpCollector } from '../support/otlp.js';
import { MemoryOAuthClient, SERVICE_CLIENT, startAuthorizationServer, startProtectedMcpServer, type AuthorizationServer, type ProtectedMcpServer } from '../support/oauth.js';

interface World {
  as: AuthorizationServer;
  passthrough: ProtectedMcpServer;
  hostile: ProtectedMcpServer;
  upstream: ProtectedMcpServer;
  /** Behind the route whose upstream credential is a client-credentials token. */
  service: ProtectedMcpServer;
  tapwire: TestSidecar;
  collector: OtlpCollector;
  logged: () => string;
}

const STDIO_SERVER = join(dirname(fileURLToPath(import.meta.url)), '../support/mcp-stdio-server.js');

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });

async function world(t: TestContext): Promise<World> {
  const as = await startAuthorizationServer();
  t.after(() => as.close());
  let tapwireUrl = '';
  // Passthrough: the upstream takes tokens meant for its route on tapwire.
  const passthrough = await startProtectedMcpServer({ as, audience: () => `${tapwireUrl}/pt`, requiredScopes: ['mcp:tools'] });
  t.after(() => passthrough.close());
  // Its metadata names a resource that is neither it nor tapwire.
  const hostile = await startProtectedMcpServer({ as, audience: () => 'http://elsewhere.invalid/mcp', resource: 'http://elsewhere.invalid/mcp' });
  t.after(() => hostile.close());
  // Gateway: the upstream takes only tokens meant for itself (what the exchange gives tapwire).
  const upstream = await startProtectedMcpServer({ as, audience: () => upstream.url, requiredScopes: ['mcp:tools'] });
  t.after(() => upstream.close());
  const service = await startProtectedMcpServer({ as, audience: () => service.url });
  t.after(() => service.close());
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-oauth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The token's claims in policies: identity.subject and identity.scopes, on HTTP and command routes.
  const policy = join(dir, 'identity.yaml');
  writeFileSync(
    policy,
    [
      'rules:',
      '  - name: known-users-only',
      '    when: route.name in ["gw", "cmd"] && mcp.method == "tools/call" && identity.subject != "user-1"',
      '    action: deny',
      '  - name: rm-needs-admin',
      '    when: mcp.tool == "rm" && !("mcp:admin" in identity.scopes)',
      '    action: deny',
      '',
    ].join('\n'),
  );
  const collector = await startOtlpCollector();
  t.after(() => collector.close());
  const tapwire = await startTestSidecarFor(
    t,
    [
      'routes:',
      `  pt: { protocol: mcp, upstream: "${passthrough.url}", auth: { mode: passthrough } }`,
      `  hostile: { protocol: mcp, upstream: "${hostile.url}", auth: { mode: passthrough } }`,
      '  gw:',
      '    protocol: mcp',
      `    upstream: "${upstream.url}"`,
      '    auth:',
      '      mode: gateway',
      `      issuer: "${as.issuer}"`,
      `      jwks_url: "${as.jwksUrl}"`,
      '      scopes: [mcp:tools]',
      '      upstream_auth:',
      `        token_exchange: { token_url: "${as.serviceTokenUrl}", client_id: ${SERVICE_CLIENT.client_id}, client_secret: ${SERVICE_CLIENT.client_secret}, resource: "${upstream.url}", scope: mcp:tools }`,
      '  cc:',
      '    protocol: mcp',
      `    upstream: "${service.url}"`,
      '    auth:',
      '      mode: gateway',
      `      issuer: "${as.issuer}"`,
      `      jwks_url: "${as.jwksUrl}"`,
      '      upstream_auth:',
      `        client_credentials: { token_url: "${as.serviceTokenUrl}", client_id: ${SERVICE_CLIENT.client_id}, client_secret: ${SERVICE_CLIENT.client_secret}, resource: "${service.url}" }`,
      '  cmd:',
      '    protocol: mcp',
      '    command: node',
      `    args: ["${STDIO_SERVER}"]`,
      `    auth: { mode: gateway, issuer: "${as.issuer}", jwks_url: "${as.jwksUrl}", scopes: [mcp:tools] }`,
      `policies: ["${policy}"]`,
      'telemetry:',
      `  endpoint: ${collector.url}`,
      '  capture_content: true',
      '',
    ].join('\n'),
    process.env,
    { log: createLogger('debug', logStream) },
  );
  tapwireUrl = tapwire.url;
  return { as, passthrough, hostile, upstream, service, tapwire, collector, logged: () => logText };
}

// tapwire's log at debug level, searched for tokens at the end.
let logText = '';
const logStream = new PassThrough();
logStream.on('data', (chunk: Buffer) => {
  logText += chunk.toString();
});

/** The SDK client's flow against `url`: refused, sent to authorize, approved, the code exchanged; then connected for real. */
async function authorizedClient(t: TestContext, url: string): Promise<{ client: Client; oauth: MemoryOAuthClient }> {
  const oauth = new MemoryOAuthClient();
  const first = new StreamableHTTPClientTransport(new URL(url), { authProvider: oauth });
  await assert.rejects(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(first), UnauthorizedError);
  await first.finishAuth(await oauth.approve());
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: oauth }));
  t.after(() => client.close());
  return { client, oauth };
}

function post(url: string, token: string | null): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: INITIALIZE,
  });
}

const now = (): number => Math.floor(Date.now() / 1000);

describe('MCP authorization through tapwire', () => {
  test('passthrough: the SDK flow completes through tapwire; the token, meant for the route on tapwire, reaches the upstream unchanged', async (t) => {
    const w = await world(t);
    const { client, oauth } = await authorizedClient(t, `${w.tapwire.url}/pt`);
    assert.equal(oauth.authorizationUrl?.searchParams.get('resource'), `${w.tapwire.url}/pt`, 'the client asked for a token for the route on tapwire (RFC 8707)');
    assert.equal(oauth.authorizationUrl?.origin, new URL(w.as.issuer).origin, 'and asked the real authorization server');
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'through tapwire' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'through tapwire' }]);
    const token = oauth.tokens()!.access_token;
    assert.ok(w.passthrough.authorizations.includes(`Bearer ${token}`), 'the upstream got the client token unchanged');
    assert.deepEqual(w.passthrough.ran, [{ tool: 'echo', subject: 'user-1' }]);

    // The upstream's metadata named itself, so tapwire presents it as the route's.
    const metadata = (await (await fetch(`${w.tapwire.url}/.well-known/oauth-protected-resource/pt`)).json()) as Record<string, unknown>;
    assert.equal(metadata.resource, `${w.tapwire.url}/pt`);
    assert.deepEqual(metadata.authorization_servers, [w.as.issuer]);

    // The upstream's own challenges point at tapwire: missing token (401), too few scopes (403).
    const missing = await post(`${w.tapwire.url}/pt`, null);
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get('www-authenticate')!, new RegExp(`resource_metadata="${w.tapwire.url}/\\.well-known/oauth-protected-resource/pt"`));
    const narrow = await w.as.mint({ aud: `${w.tapwire.url}/pt`, exp: now() + 300, sub: 'user-1', scope: 'other' });
    const under = await post(`${w.tapwire.url}/pt`, narrow);
    assert.equal(under.status, 403);
    const challenge = under.headers.get('www-authenticate')!;
    assert.match(challenge, /error="insufficient_scope"/);
    assert.match(challenge, /scope="mcp:tools"/);
    assert.match(challenge, new RegExp(`resource_metadata="${w.tapwire.url}/\\.well-known/oauth-protected-resource/pt"`));
    await assertNothingLeaked(w, [token, narrow], /through tapwire/);
  });

  test('gateway: tapwire checks the token and calls the upstream with an exchanged one; the client token never reaches it', async (t) => {
    const w = await world(t);
    const metadata = (await (await fetch(`${w.tapwire.url}/.well-known/oauth-protected-resource/gw`)).json()) as Record<string, unknown>;
    assert.deepEqual(metadata, { resource: `${w.tapwire.url}/gw`, authorization_servers: [w.as.issuer], bearer_methods_supported: ['header'], scopes_supported: ['mcp:tools'] });
    const { client, oauth } = await authorizedClient(t, `${w.tapwire.url}/gw`);
    const echoed = await client.callTool({ name: 'echo', arguments: { text: 'via the gateway' } });
    assert.deepEqual(echoed.content, [{ type: 'text', text: 'via the gateway' }]);
    const token = oauth.tokens()!.access_token;
    assert.ok(w.upstream.authorizations.length > 0);
    assert.ok(!w.upstream.authorizations.some((a) => a.includes(token)), 'the client token never reached the upstream');
    const exchanged = w.as.issued.filter((i) => i.grant === 'token_exchange');
    assert.equal(exchanged.length, 1, 'one exchange, cached for the calls that followed');
    assert.equal(exchanged[0]!.aud, w.upstream.url);
    assert.ok(w.upstream.authorizations.every((a) => a === `Bearer ${exchanged[0]!.token}`), 'every upstream call carried the exchanged token');
    assert.deepEqual(w.upstream.ran, [{ tool: 'echo', subject: 'user-1' }], 'the upstream ran the tool for the client\'s user');
    const removal = await client.callTool({ name: 'rm', arguments: { path: '/' } }).catch((err: Error) => err);
    assert.match(removal instanceof Error ? removal.message : JSON.stringify(removal), /rm-needs-admin|denied|policy/i, 'identity.scopes lacks mcp:admin: refused');

    const gw = `${w.tapwire.url}/gw`;
    const metadataUrl = `resource_metadata="${w.tapwire.url}/.well-known/oauth-protected-resource/gw"`;
    const none = await post(gw, null);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), `Bearer scope="mcp:tools", ${metadataUrl}`);
    const elsewhere = await w.as.mint({ aud: 'http://127.0.0.1:1/other', exp: now() + 300, sub: 'user-1', scope: 'mcp:tools' });
    const wrongAudience = await post(gw, elsewhere);
    assert.equal(wrongAudience.status, 401);
    assert.match(wrongAudience.headers.get('www-authenticate')!, /^Bearer error="invalid_token", error_description="[^"]*aud[^"]*"/);
    assert.ok(wrongAudience.headers.get('www-authenticate')!.endsWith(metadataUrl));
    const old = await w.as.mint({ aud: gw, exp: now() - 3600, sub: 'user-1', scope: 'mcp:tools' });
    const expired = await post(gw, old);
    assert.equal(expired.status, 401);
    assert.match(expired.headers.get('www-authenticate')!, /^Bearer error="invalid_token", error_description="[^"]*exp[^"]*"/);
    const narrow = await w.as.mint({ aud: gw, exp: now() + 300, sub: 'user-1', scope: 'other' });
    const under = await post(gw, narrow);
    assert.equal(under.status, 403);
    assert.match(under.headers.get('www-authenticate')!, /^Bearer error="insufficient_scope", error_description="[^"]*", scope="mcp:tools", resource_metadata=/);
    assert.equal(w.upstream.ran.length, 1, 'no refused call reached the upstream (nor rm)');
    assert.ok(![elsewhere, old, narrow].some((refused) => w.as.issued.some((i) => i.grant === 'token_exchange' && i.token === refused)));

    const exchanges = await w.tapwire.stop();
    const refused = exchanges.filter((e) => e.route === 'gw' && e.policy_rule === 'auth');
    // The SDK client's first call (no token yet), then the four above.
    assert.deepEqual(refused.map((e) => e.http_status), [401, 401, 401, 401, 403], 'each refusal recorded as denied by auth');
    assert.ok(exchanges.some((e) => e.route === 'gw' && e.method === 'GET /.well-known/oauth-protected-resource/gw' && e.http_status === 200), 'discovery recorded');
    assert.ok(exchanges.some((e) => e.route === 'gw' && e.target === 'echo'), 'the tool call recorded');
    await assertNothingLeaked(w, [token, exchanged[0]!.token, elsewhere, old, narrow], /via the gateway/);
  });

  test('gateway: a client-credentials token of the route\'s own for the upstream; a command route checks tokens and gives policies their claims', async (t) => {
    const w = await world(t);
    const cc = await authorizedClient(t, `${w.tapwire.url}/cc`);
    for (const text of ['one', 'two']) assert.deepEqual((await cc.client.callTool({ name: 'echo', arguments: { text } })).content, [{ type: 'text', text }]);
    const service = w.as.issued.filter((i) => i.grant === 'client_credentials');
    assert.equal(service.length, 1, 'fetched once, reused until it nears expiry');
    assert.equal(service[0]!.aud, w.service.url);
    assert.ok(w.service.authorizations.every((a) => a === `Bearer ${service[0]!.token}`));
    assert.deepEqual(w.service.ran.map((r) => r.subject), ['tapwire', 'tapwire'], 'the upstream saw the route\'s own identity');

    const none = await post(`${w.tapwire.url}/cmd`, null);
    assert.equal(none.status, 401, 'a command route refuses a call without a token');
    assert.match(none.headers.get('www-authenticate')!, /resource_metadata="[^"]*\/\.well-known\/oauth-protected-resource\/cmd"/);
    const cmd = await authorizedClient(t, `${w.tapwire.url}/cmd`);
    // known-users-only lets the call through only when identity.subject reached the rules.
    assert.deepEqual((await cmd.client.callTool({ name: 'echo', arguments: { text: 'stdio' } })).content, [{ type: 'text', text: 'stdio' }]);
    await assertNothingLeaked(w, [cc.oauth.tokens()!.access_token, service[0]!.token, cmd.oauth.tokens()!.access_token], /stdio/);
  });

  test('gateway with introspection: a token the authorization server says is active passes, one it says is not is refused', async (t) => {
    const as = await startAuthorizationServer();
    t.after(() => as.close());
    const upstream = await startProtectedMcpServer({ as, audience: () => upstream.url });
    t.after(() => upstream.close());
    const service = await as.mint({ aud: upstream.url, exp: now() + 300, sub: 'tapwire', scope: 'mcp:tools' });
    const tapwire = await startTestSidecarFor(
      t,
      [
        'routes:',
        '  op:',
        '    protocol: mcp',
        `    upstream: "${upstream.url}"`,
        '    auth:',
        '      mode: gateway',
        `      issuer: "${as.issuer}"`,
        `      introspection: { url: "${as.introspectionUrl}", client_id: ${SERVICE_CLIENT.client_id}, client_secret: ${SERVICE_CLIENT.client_secret} }`,
        `      upstream_auth: { headers: { authorization: "Bearer ${service}" } }`,
        '',
      ].join('\n'),
    );
    const { client } = await authorizedClient(t, `${tapwire.url}/op`);
    assert.deepEqual((await client.callTool({ name: 'echo', arguments: { text: 'introspected' } })).content, [{ type: 'text', text: 'introspected' }]);
    assert.ok(upstream.authorizations.every((a) => a === `Bearer ${service}`), 'the upstream got the route\'s static credential only');
    const expired = await post(`${tapwire.url}/op`, await as.mint({ aud: `${tapwire.url}/op`, exp: now() - 3600, sub: 'user-1' }));
    assert.equal(expired.status, 401);
    assert.match(expired.headers.get('www-authenticate')!, /error="invalid_token", error_description="the token is not active"/);
    const elsewhere = await post(`${tapwire.url}/op`, await as.mint({ aud: 'http://127.0.0.1:1/other', exp: now() + 300, sub: 'user-1' }));
    assert.match(elsewhere.headers.get('www-authenticate')!, /error="invalid_token", error_description="the token is not meant for http:\/\/127\.0\.0\.1:\d+\/op"/);
  });

  test('metadata naming another resource passes unchanged, and the SDK client refuses it', async (t) => {
    const w = await world(t);
    const metadata = (await (await fetch(`${w.tapwire.url}/.well-known/oauth-protected-resource/hostile`)).json()) as Record<string, unknown>;
    assert.equal(metadata.resource, 'http://elsewhere.invalid/mcp', 'not rewritten to tapwire');
    const oauth = new MemoryOAuthClient();
    const transport = new StreamableHTTPClientTransport(new URL(`${w.tapwire.url}/hostile`), { authProvider: oauth });
    await assert.rejects(new Client({ name: 'oauth-test', version: '1.0.0' }).connect(transport), /does not match/);
    assert.equal(oauth.authorizationUrl, null, 'the client never went to authorize');
    assert.equal(w.as.issued.length, 0);
  });

  test('a 2025-03-26 client finds the authorization server metadata at tapwire\'s origin, endpoints and registration at the real server', async (t) => {
    const as = await startAuthorizationServer();
    t.after(() => as.close());
    const upstream = await startProtectedMcpServer({ as, audience: () => 'unused' });
    t.after(() => upstream.close());
    const tapwire = await startTestSidecarFor(
      t,
      ['routes:', `  only: { protocol: mcp, upstream: "${upstream.url}", auth: { mode: gateway, issuer: "${as.issuer}", jwks_url: "${as.jwksUrl}", upstream_auth: { headers: { authorization: "Bearer static-upstream-key" } } } }`, ''].join('\n'),
    );
    // The 2025-03-26 revision: authorization base URL = the MCP server's URL without its path.
    const found = await discoverAuthorizationServerMetadata(new URL('/', tapwire.url), { protocolVersion: '2025-03-26' });
    assert.deepEqual(found, as.metadata, 'relayed unchanged');
    assert.equal(new URL(String(found?.registration_endpoint)).origin, new URL(as.issuer).origin);
    // The root form of the protected-resource metadata names the one route with auth.
    const root = (await (await fetch(`${tapwire.url}/.well-known/oauth-protected-resource`)).json()) as Record<string, unknown>;
    assert.equal(root.resource, `${tapwire.url}/only`);
  });
});

/** No token in the record (every database file), tapwire's log, or the spans it exported; `recorded` is in the record (so the search can fail). */
async function assertNothingLeaked(w: World, tokens: string[], recorded: RegExp): Promise<void> {
  await w.tapwire.stop();
  assert.ok(w.collector.spans().length > 0, 'spans were exported (stop() exports the last of them)');
  const places: Record<string, string> = { log: w.logged(), spans: w.collector.server.requests.map((r) => r.body.toString('latin1')).join('\n') };
  for (const file of readdirSync(w.tapwire.dir).filter((f) => f.startsWith('tapwire.db'))) places[file] = readFileSync(join(w.tapwire.dir, file)).toString('latin1');
  assert.match(Object.entries(places).filter(([where]) => where.startsWith('tapwire.db')).map(([, text]) => text).join('\n'), recorded, 'the record is there to search');
  for (const [where, text] of Object.entries(places)) {
    for (const token of tokens) {
      // A JWT's signature alone is as secret as the token.
      const signature = token.split('.')[2]!;
      assert.ok(!text.includes(signature), `a token leaked into ${where}`);
    }
  }
}
