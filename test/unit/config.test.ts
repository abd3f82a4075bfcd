// tapwire.yaml parsing: defaults, ${ENV} interpolation, and errors that name the file,
// line, field path and what was expected.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, configSchema, loadConfig, parseConfig } from '../../config/config.js';
import { createLogger } from '../../core/log.js';
import { startSidecar } from '../../proxy/sidecar.js';
import { upstreamTraits } from '../../protocols/llm/observer.js';
import { routeProblems } from '../../protocols/registry.js';

function configError(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, 'tapwire.yaml', env, routeProblems);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('config', () => {
  test('an empty file gets every default', () => {
    const config = parseConfig('', 'tapwire.yaml', {});
    assert.equal(config.listen, '127.0.0.1:4100');
    assert.equal(config.agent.name, 'agent');
    assert.equal(config.store.path, 'tapwire.db');
    assert.equal(config.store.max_body_bytes, 1_048_576);
    assert.deepEqual(config.routes, {});
  });

  test('no config file means the built-in openai and anthropic routes', () => {
    const config = loadConfig(undefined, {});
    assert.equal(config.routes.openai?.upstream, 'https://api.openai.com');
    assert.equal(config.routes.anthropic?.upstream, 'https://api.anthropic.com');
    assert.equal(config.routes.openai?.timeouts.connect_ms, 10_000);
  });

  test('a full route with ${ENV} headers and timeouts', () => {
    const config = parseConfig(
      [
        'agent: { name: planner, labels: { team: search } }',
        'routes:',
        '  openai:',
        '    protocol: llm',
        '    upstream: https://api.openai.com',
        '    headers:',
        '      authorization: Bearer ${OPENAI_API_KEY}',
        '      x-org: ${ORG:-default-org}',
        '    timeouts: { response_ms: 5000 }',
      ].join('\n'),
      'tapwire.yaml',
      { OPENAI_API_KEY: 'sk-live' },
    );
    const route = config.routes.openai!;
    assert.deepEqual(route.headers, { authorization: 'Bearer sk-live', 'x-org': 'default-org' });
    assert.deepEqual(route.timeouts, { connect_ms: 10_000, response_ms: 5000, idle_ms: 300_000, session_idle_ms: 600_000 });
    assert.deepEqual(config.agent, { name: 'planner', labels: { team: 'search' } });
  });

  test("a Bedrock route's session token may be empty (long-term keys) or set (temporary credentials)", () => {
    const yaml = 'routes:\n  bedrock:\n    protocol: llm\n    provider: bedrock\n    upstream: https://bedrock-runtime.us-east-1.amazonaws.com\n    aws: { region: us-east-1, access_key_id: "${K}", secret_access_key: "${S}", session_token: "${T:-}" }\n';
    const token = (env: Record<string, string>) => parseConfig(yaml, 'tapwire.yaml', { K: 'AKIA', S: 'secret', ...env }).routes.bedrock!.aws?.session_token;
    assert.equal(token({}), undefined);
    assert.equal(token({ T: 'FwoG' }), 'FwoG');
  });

  test('an unset environment variable is an error naming the field and the variable', () => {
    const message = configError('routes:\n  openai:\n    protocol: llm\n    upstream: https://x.test\n    headers:\n      authorization: Bearer ${MISSING_KEY}\n');
    assert.match(message, /tapwire\.yaml:6:\d+: routes\.openai\.headers\.authorization: environment variable MISSING_KEY is not set/);
  });

  test('an unset variable is one error, at the variable, even where the emptied value would also be wrong', () => {
    const token = configError('auth:\n  tokens: ["${AGENT_TOKEN}"]\n').split('\n').slice(1);
    assert.deepEqual(token, ['tapwire.yaml:2:13: auth.tokens[0]: environment variable AGENT_TOKEN is not set (write ${AGENT_TOKEN:-default} to give a default)']);
    const upstream = configError('routes:\n  openai:\n    protocol: llm\n    upstream: "https://${HOST}/v1"\n').split('\n').slice(1);
    assert.deepEqual(upstream, ['tapwire.yaml:4:24: routes.openai.upstream: environment variable HOST is not set (write ${HOST:-default} to give a default)']);
  });

  test('an unknown key is reported at the key, not at its value', () => {
    assert.match(configError('store:\n  path: x.db\n  flush_every: 5\n'), /^tapwire\.yaml:3:3: store\.flush_every: unknown key/m);
    assert.match(configError('routes:\n  openai: { protocol: llm, upstream: "https://x.test", retries: 3 }\n'), /^tapwire\.yaml:2:56: routes\.openai\.retries: unknown key/m);
    assert.match(configError('listen: 127.0.0.1:1\nlistne:\n  - 1\n'), /^tapwire\.yaml:2:1: listne: unknown key/m);
  });

  test('a listen address needs a host and a port from 0 to 65535', () => {
    assert.match(configError('listen: 127.0.0.1:99999\n'), /tapwire\.yaml:1:9: listen: port 99999 is out of range \(0 to 65535\)/);
    assert.match(configError('listen: "4796"\n'), /tapwire\.yaml:1:9: listen: expected HOST:PORT, e.g\. 127\.0\.0\.1:4796/);
    assert.match(configError('admin: { listen: "localhost:70000" }\n'), /admin\.listen: port 70000 is out of range/);
    assert.equal(parseConfig('listen: "[::1]:0"\n', 'tapwire.yaml', {}).listen, '[::1]:0');
  });

  test('store.central: a postgres:// URL, its password from the environment; anything else is an error', () => {
    const config = parseConfig('store:\n  retention_days: 30\n  central:\n    url: "postgres://tapwire:${PG_PASS}@db:5432/audit"\n', 'tapwire.yaml', { PG_PASS: 's3cret' });
    assert.deepEqual(config.store.central, { url: 'postgres://tapwire:s3cret@db:5432/audit', batch_records: 1000, interval_ms: 100 });
    assert.equal(config.store.retention_days, 30);
    assert.match(configError('store:\n  central: { url: "mysql://db/audit" }\n'), /store\.central\.url: a postgres:\/\/ URL/);
    assert.match(configError('store:\n  retention_days: 0\n'), /store\.retention_days/);
  });

  test('an unknown key is an error with its line and the keys allowed there', () => {
    const message = configError('store:\n  path: x.db\n  flush_every: 5\n');
    assert.match(message, /tapwire\.yaml:3:\d+: store\.flush_every: unknown key \(allowed here: path, max_body_bytes, max_events, max_event_bytes, flush_interval_ms, redact_headers, durability, buffer_records, retry_interval_ms, retention_days, central\)/);
  });

  test('an unknown key inside a route names the route', () => {
    const message = configError('routes:\n  openai:\n    protocol: llm\n    upstream: https://x.test\n    timeout: 5\n');
    assert.match(message, /tapwire\.yaml:5:\d+: routes\.openai\.timeout: unknown key \(allowed here: protocol, upstream, command, args, env, cwd, provider, (?:[a-z_]+, )*headers, timeouts\)/);
  });

  test('a wrong value names the field, its line and what was expected', () => {
    const message = configError('routes:\n  openai:\n    protocol: grpc\n    upstream: https://x.test\n');
    assert.match(message, /tapwire\.yaml:3:\d+: routes\.openai\.protocol: .*"llm"\|"mcp"\|"a2a"\|"http"/);
    const badUrl = configError('routes:\n  openai:\n    protocol: llm\n    upstream: api.openai.com\n');
    assert.match(badUrl, /tapwire\.yaml:4:\d+: routes\.openai\.upstream: an http\(s\) URL/);
    const badListen = configError('listen: 4100\n');
    assert.match(badListen, /tapwire\.yaml:1:\d+: listen: /);
  });

  test('a missing required field points at the map that lacks it', () => {
    const message = configError('routes:\n  openai:\n    protocol: llm\n');
    assert.match(message, /tapwire\.yaml:3:\d+: routes\.openai\.upstream: /);
  });

  test('every problem is reported at once', () => {
    const message = configError('listen: nowhere\nstore:\n  bogus: 1\n');
    assert.match(message, /listen: /);
    assert.match(message, /store\.bogus: unknown key/);
  });

  test('YAML syntax errors and duplicate keys name the line', () => {
    assert.match(configError('routes:\n  openai: [\n'), /invalid YAML\ntapwire\.yaml:\d+:\d+: /);
    assert.match(configError('listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n'), /tapwire\.yaml:2:1: .*[Mm]ap keys must be unique/);
  });

  test('route names are path segments; a provider belongs to llm routes only', () => {
    assert.match(configError('routes:\n  _admin: { protocol: http, upstream: "http://x.test" }\n'), /routes\._admin: a route name/);
    assert.match(
      configError('routes:\n  tools: { protocol: mcp, upstream: "http://x.test", provider: openai }\n'),
      /tapwire\.yaml:2:\d+: routes\.tools\.provider: only routes with protocol llm have a provider/,
    );
  });

  test("a provider is one the LLM protocol's provider table knows, checked by the loader and again at start", async () => {
    assert.match(
      configError('routes:\n  watsonx: { protocol: llm, upstream: "http://x.test", provider: watsonx }\n'),
      /tapwire\.yaml:2:\d+: routes\.watsonx\.provider: unknown provider watsonx; providers: anthropic, azure_openai, bedrock, deepseek, fireworks, gemini, groq, mistral, ollama, openai, openrouter, together, vertex_ai, vllm$/m,
    );
    // A config the CLI did not load (no route checks given) is checked when the sidecar starts.
    const unchecked = parseConfig('routes:\n  watsonx: { protocol: llm, upstream: "http://x.test", provider: watsonx }\n', 'tapwire.yaml', {});
    await assert.rejects(startSidecar(unchecked, createLogger('silent'), {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, 'routes.watsonx.provider: unknown provider watsonx; providers: anthropic, azure_openai, bedrock, deepseek, fireworks, gemini, groq, mistral, ollama, openai, openrouter, together, vertex_ai, vllm');
      return true;
    });
  });

  test('aws credentials belong to llm routes, from ${ENV} references, each field named when missing', () => {
    const config = parseConfig(
      'routes:\n  bedrock:\n    protocol: llm\n    provider: bedrock\n    upstream: https://bedrock-runtime.us-east-1.amazonaws.com\n    aws: { region: us-east-1, access_key_id: "${KEY_ID}", secret_access_key: "${SECRET}" }\n',
      'tapwire.yaml',
      { KEY_ID: 'AKIAEXAMPLE', SECRET: 'wJalr/EXAMPLE' },
      routeProblems,
    );
    const route = config.routes.bedrock;
    assert.deepEqual(route?.protocol === 'llm' ? route.aws : null, { region: 'us-east-1', access_key_id: 'AKIAEXAMPLE', secret_access_key: 'wJalr/EXAMPLE', service: 'bedrock' });
    assert.match(
      configError('routes:\n  tools: { protocol: mcp, upstream: "http://x.test", aws: { region: us-east-1, access_key_id: a, secret_access_key: b } }\n'),
      /tapwire\.yaml:2:\d+: routes\.tools\.aws: only routes with protocol llm sign their calls with aws credentials/,
    );
    assert.match(configError('routes:\n  bedrock: { protocol: llm, upstream: "http://x.test", aws: { access_key_id: a, secret_access_key: b } }\n'), /routes\.bedrock\.aws\.region: /);
    assert.match(configError('routes:\n  bedrock: { protocol: llm, upstream: "http://x.test", aws: { region: r, access_key_id: a, secret_access_key: b, secret: c } }\n'), /routes\.bedrock\.aws\.secret: unknown key/);
  });

  test('an openapi route cannot require an identity (tapwire serves it and verifies no token there), in parseConfig and in a config built otherwise', () => {
    const identity = 'identity:\n  jwt: { jwks: "https://id.example/jwks.json" }\n';
    const pets = (requireIdentity: string): string => `routes:\n  pets:\n    protocol: openapi\n    spec: petstore.yaml\n    require_identity: ${requireIdentity}\n`;
    assert.equal(
      configError(`${identity}${pets('true')}`),
      'invalid config\ntapwire.yaml:7:23: routes.pets.require_identity: an openapi route is served by tapwire itself, which verifies no identity token on it',
    );
    assert.equal(parseConfig(`${identity}${pets('false')}`, 'tapwire.yaml', {}).routes.pets!.require_identity, false);
    assert.match(configError(pets('maybe')), /routes\.pets\.require_identity: Invalid input: expected boolean/);
    const built = configSchema.safeParse({ routes: { pets: { protocol: 'openapi', spec: 'petstore.yaml', require_identity: true } } });
    assert.deepEqual(built.error?.issues.map((issue) => [issue.path.join('.'), issue.message]), [['routes.pets.require_identity', 'an openapi route is served by tapwire itself, which verifies no identity token on it']]);
  });

  test('add_stream_usage belongs to llm routes in the OpenAI format and defaults to asking', () => {
    const config = parseConfig(
      'routes:\n  openrouter: { protocol: llm, upstream: "https://openrouter.ai/api/v1", add_stream_usage: false }\n  openai: { protocol: llm, upstream: "https://api.openai.com" }\n',
      'tapwire.yaml',
      {},
    );
    assert.deepEqual(upstreamTraits(config.routes.openrouter), { addStreamUsage: false });
    assert.deepEqual(upstreamTraits(config.routes.openai), { addStreamUsage: true }, 'a route that does not say keeps asking');
    assert.match(
      configError('routes:\n  claude: { protocol: llm, upstream: "http://x.test", provider: anthropic, add_stream_usage: false }\n'),
      /tapwire\.yaml:2:\d+: routes\.claude\.add_stream_usage: only routes with protocol llm in the OpenAI format have add_stream_usage/,
    );
    assert.match(configError('routes:\n  tools: { protocol: mcp, upstream: "http://x.test", add_stream_usage: true }\n'), /routes\.tools\.add_stream_usage: only routes with protocol llm/);
    assert.match(configError('routes:\n  openrouter: { protocol: llm, upstream: "http://x.test", add_stream_usage: sometimes }\n'), /routes\.openrouter\.add_stream_usage: /);
  });

  test('a route has exactly one of upstream or command; command routes are mcp routes with args, env and cwd', () => {
    const config = parseConfig(
      'routes:\n  fs:\n    protocol: mcp\n    command: npx\n    args: [server, "${ROOT}"]\n    env: { TOKEN: "${TOKEN:-none}" }\n    cwd: /srv\n',
      'tapwire.yaml',
      { ROOT: '/data' },
    );
    assert.deepEqual(
      { command: config.routes.fs?.command, args: config.routes.fs?.args, env: config.routes.fs?.env, cwd: config.routes.fs?.cwd, upstream: config.routes.fs?.upstream },
      { command: 'npx', args: ['server', '/data'], env: { TOKEN: 'none' }, cwd: '/srv', upstream: undefined },
    );
    assert.equal(config.routes.fs?.timeouts.session_idle_ms, 600_000);
    assert.match(configError('routes:\n  fs:\n    protocol: mcp\n'), /tapwire\.yaml:3:\d+: routes\.fs\.upstream: missing: give the route an upstream .* or a command/);
    assert.match(
      configError('routes:\n  fs: { protocol: mcp, upstream: "http://x.test", command: npx }\n'),
      /tapwire\.yaml:2:\d+: routes\.fs\.command: give either upstream or command, not both/,
    );
    assert.match(configError('routes:\n  fs: { protocol: llm, command: npx }\n'), /routes\.fs\.command: only routes with protocol mcp can run a command/);
    assert.match(configError('routes:\n  fs: { protocol: mcp, upstream: "http://x.test", args: [a] }\n'), /routes\.fs\.args: only routes with a command have args/);
  });

  test('an mcp route\'s auth: the mode written out, gateway fields checked, each problem at its field', () => {
    const gateway = 'auth: { mode: gateway, issuer: "https://as.test", jwks_url: "https://as.test/jwks", upstream_auth: { headers: { authorization: "Bearer k" } } }';
    const config = parseConfig(`routes:\n  t: { protocol: mcp, upstream: "http://x.test/mcp", ${gateway} }\n`, 'tapwire.yaml', {});
    assert.equal(config.routes.t?.auth?.mode, 'gateway');
    assert.equal(config.routes.t?.auth?.clock_skew_s, 30);
    assert.match(configError('routes:\n  t: { protocol: mcp, upstream: "http://x.test", auth: {} }\n'), /tapwire\.yaml:2:\d+: routes\.t\.auth\.mode: passthrough \(the client's token is forwarded unchanged\) or gateway/);
    assert.match(configError('routes:\n  t: { protocol: llm, upstream: "http://x.test", auth: { mode: passthrough } }\n'), /routes\.t\.auth: only routes with protocol mcp have auth/);
    assert.match(configError('routes:\n  t:\n    protocol: mcp\n    upstream: "http://x.test"\n    auth:\n      mode: passthrough\n      issuer: "https://as.test"\n'), /tapwire\.yaml:7:\d+: routes\.t\.auth\.issuer: only mode gateway has issuer/);
    const missing = configError('routes:\n  t: { protocol: mcp, upstream: "http://x.test", auth: { mode: gateway } }\n');
    assert.match(missing, /routes\.t\.auth\.issuer: missing: the authorization server/);
    assert.match(missing, /routes\.t\.auth\.jwks_url: give exactly one of jwks_url .* and introspection/);
    assert.match(
      configError('routes:\n  t: { protocol: mcp, upstream: "http://x.test", auth: { mode: gateway, issuer: "https://as.test", jwks_url: "https://as.test/k" } }\n'),
      /routes\.t\.auth\.upstream_auth: missing: what tapwire calls the upstream with .*the client's token is never forwarded/,
    );
    assert.match(
      configError(`routes:\n  t: { protocol: mcp, upstream: "http://x.test", auth: { mode: gateway, issuer: "https://as.test", jwks_url: "https://as.test/k", upstream_auth: { headers: {}, client_credentials: { token_url: "https://as.test/t", client_id: a, client_secret: b } } } }\n`),
      /routes\.t\.auth\.upstream_auth: give exactly one of headers, client_credentials, token_exchange \(headers and client_credentials given\)/,
    );
    assert.match(configError('routes:\n  t: { protocol: mcp, command: node, auth: { mode: passthrough } }\n'), /routes\.t\.auth\.mode: passthrough forwards the token to an upstream; a route with a command has none/);
    assert.match(configError(`routes:\n  t: { protocol: mcp, command: node, ${gateway} }\n`), /routes\.t\.auth\.upstream_auth: a route with a command calls no upstream itself/);
  });

  test("README's configuration reference is a valid config", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('```yaml\nlisten:');
    assert.ok(start !== -1, 'README has the config reference block');
    const block = readme.slice(start + '```yaml\n'.length, readme.indexOf('```', start + 7));
    const config = parseConfig(block, 'README.md', { OPENAI_API_KEY: 'k', ANTHROPIC_API_KEY: 'k', OTEL_KEY: 'k', TAPWIRE_AGENT_TOKEN: 'agent-token-0123456789', TAPWIRE_ADMIN_TOKEN: 'admin-token-0123456789', TAPWIRE_PG_PASSWORD: 'k' });
    assert.deepEqual(Object.keys(config.routes), ['openai', 'anthropic', 'files', 'planner']);
  });

  test('proxy: intercepted hosts name routes\' upstream hosts; ca is a route file; both resolve against the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-config-proxy-'));
    try {
      const file = join(dir, 'tapwire.yaml');
      writeFileSync(file, 'routes:\n  openai: { protocol: llm, provider: openai, upstream: "https://API.openai.com", ca: certs/ca.pem }\nproxy:\n  intercept: [api.openai.com, "*.OpenAI.com"]\n  ca_dir: ca\n');
      const config = loadConfig(file, {});
      assert.deepEqual(config.proxy, { listen: '127.0.0.1:4102', intercept: ['api.openai.com', '*.openai.com'], otherwise: 'refuse', ca_dir: join(dir, 'ca') });
      assert.equal(config.routes.openai!.ca, join(dir, 'certs', 'ca.pem'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const route = 'routes:\n  openai: { protocol: llm, upstream: "https://api.openai.com" }\n';
    assert.match(configError(`${route}proxy:\n  intercept: [api.anthropic.com]\n`), /tapwire\.yaml:4:\d+: proxy\.intercept\[0\]: no route's upstream is on api\.anthropic\.com; upstream hosts: api\.openai\.com/);
    assert.match(configError(`${route}proxy:\n  intercept: ["https://api.openai.com"]\n`), /proxy\.intercept\[0\]: a host name \(api\.openai\.com\), a pattern/);
    // An openapi route's upstream is called by tapwire itself: nothing to intercept there.
    const pets = `routes:\n  pets: { protocol: openapi, spec: petstore.yaml, upstream: "https://petstore.example" }\n`;
    assert.match(configError(`${pets}proxy:\n  intercept: [petstore.example]\n`), /proxy\.intercept\[0\]: no route's upstream is on petstore\.example; upstream hosts: \(none\)/);
    assert.match(configError(`${route}proxy:\n  intercept: []\n`), /proxy\.intercept: at least one host/);
    assert.match(configError(`${route}proxy:\n  intercept: [api.openai.com]\n  otherwise: allow\n`), /proxy\.otherwise: /);
    assert.match(configError('routes:\n  files: { protocol: mcp, command: node, ca: x.pem }\n'), /routes\.files\.ca: only routes with an upstream verify certificates/);
  });

  test("a route's ca: file that cannot be read, or holds no certificate, stops the start naming the field", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-config-ca-'));
    try {
      const notPem = join(dir, 'not.pem');
      writeFileSync(notPem, 'hello');
      const missing = join(dir, 'missing.pem');
      const config = parseConfig(`routes:\n  a: { protocol: http, upstream: "https://a.test", ca: "${missing}" }\n  b: { protocol: http, upstream: "https://b.test", ca: "${notPem}" }\n`, 'tapwire.yaml', {});
      await assert.rejects(startSidecar(config, createLogger('silent'), {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, `routes.a.ca: cannot read ${missing}: ENOENT\nroutes.b.ca: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a config file that cannot be read is named', () => {
    assert.throws(() => loadConfig('/nonexistent/tapwire.yaml', {}), /cannot read config file \/nonexistent\/tapwire\.yaml: ENOENT/);
  });
});
