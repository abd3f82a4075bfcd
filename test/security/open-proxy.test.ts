// No open proxy: whatever an agent (or a web page, or anyone who can connect) writes in the
// request line and headers, a request reaches only a configured upstream, under its route's
// base path. Sent as raw bytes, because HTTP clients normalise exactly what is being tested.
// The upstreams are scripted node:http servers that report every request they got: what is
// asserted is that the "other" server got nothing. The same holds for the proxy listener
// (proxy: in the config): only intercepted origins, under a route, are ever reached.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { parseConfig } from '../../config/config.js';
import { listenProblem } from '../../proxy/inbound.js';
import { rawRequest } from '../support/raw-http.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { startUpstream, type ScriptedUpstream } from '../support/upstream.js';

interface Peers {
  api: ScriptedUpstream;
  /** A server on the same machine that no route names: nothing may ever reach it. */
  other: ScriptedUpstream;
  tapwire: TestSidecar;
  hostPort: string;
}

async function peers(t: TestContext, extraYaml = '', options: { listen?: string; insecureListen?: boolean } = {}): Promise<Peers> {
  const other = await startUpstream((_req, res) => void res.end('other'));
  t.after(() => other.close());
  const api = await startUpstream((req, res) => {
    if (req.url.endsWith('/redirect')) return void res.writeHead(302, { location: `${other.url}/stolen` }).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`api saw ${req.url}`);
  });
  t.after(() => api.close());
  const yaml = [
    'routes:',
    `  api: { protocol: http, upstream: "${api.url}/base" }`,
    `  openai: { protocol: llm, provider: openai, upstream: "${api.url}" }`,
    extraYaml,
  ].join('\n');
  const tapwire = await startTestSidecarFor(t, yaml, process.env, options);
  return { api, other, tapwire, hostPort: new URL(tapwire.url).host };
}

describe('no open proxy', () => {
  test('absolute-form targets, CONNECT and "*" are refused; nothing is forwarded', async (t) => {
    const { api, other, tapwire, hostPort } = await peers(t);
    const otherHost = new URL(other.url).host;
    const refusals = [
      `GET ${other.url}/ HTTP/1.1\r\nHost: ${otherHost}`,
      `GET http://${hostPort}/api/x HTTP/1.1\r\nHost: ${hostPort}`,
      `OPTIONS * HTTP/1.1\r\nHost: ${hostPort}`,
    ];
    for (const head of refusals) {
      const answer = await rawRequest(tapwire.url, head);
      assert.equal(answer.status, 400, head);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'not_origin_form', head);
    }
    // CONNECT would make tapwire a tunnel: node:http closes the connection, tapwire opens none.
    const tunnel = await rawRequest(tapwire.url, `CONNECT ${otherHost} HTTP/1.1\r\nHost: ${otherHost}`);
    assert.ok(tunnel.status === 0 || tunnel.status >= 400, `CONNECT answered ${tunnel.status}`);
    assert.equal(other.requests.length, 0);
    assert.equal(api.requests.length, 0);
    assert.deepEqual(await tapwire.stop(), []);
  });

  test('dot segments, however encoded, are refused before routing; encoded slashes stay under the route', async (t) => {
    const { api, other, tapwire, hostPort } = await peers(t);
    const traversals = [
      '/api/../openai/v1/models',
      '/api/%2e%2e/x',
      '/api/%2E%2e/x',
      '/api/v1/..%2f..%2fadmin',
      '/api/v1/%2e%2e%2F%2e%2e%2Fadmin',
      '/api/%252e%252e/x',
      '/api/..\\x',
      '/api/.%5c..%5cx',
      '/../api/x',
      '/%2e%2e/api/x',
      '/api/./x',
      '/api/x/..',
    ];
    for (const path of traversals) {
      const answer = await rawRequest(tapwire.url, `GET ${path} HTTP/1.1\r\nHost: ${hostPort}`);
      assert.equal(answer.status, 400, path);
      assert.equal((JSON.parse(answer.body) as { error: { code: string } }).error.code, 'dot_segment', path);
    }
    assert.equal(api.requests.length, 0, 'no traversal reached the upstream');

    // An encoded slash names no other route and reaches the upstream as sent, under /base.
    const slash = await rawRequest(tapwire.url, `GET /api/a%2Fb?q=..%2F HTTP/1.1\r\nHost: ${hostPort}`);
    assert.equal(slash.status, 200);
    assert.equal(slash.body, 'api saw /base/a%2Fb?q=..%2F');
    const routeSlash = await rawRequest(tapwire.url, `GET /api%2Fbase/x HTTP/1.1\r\nHost: ${hostPort}`);
    assert.equal(routeSlash.status, 404);
    assert.deepEqual(api.requests.map((r) => r.url), ['/base/a%2Fb?q=..%2F']);
    assert.equal(other.requests.length, 0);
    const recorded = await tapwire.stop();
    assert.deepEqual(recorded.map((e) => [e.route, e.method, e.http_status]), [['api', 'GET /base/a%2Fb', 200]]);
  });

  test('the Host header never picks the upstream; on loopback without tokens a foreign Host is refused', async (t) => {
    const { api, other, tapwire, hostPort } = await peers(t);
    // DNS rebinding: a web page whose name now points at 127.0.0.1 sends its own Host.
    const rebound = await rawRequest(tapwire.url, `GET /api/x HTTP/1.1\r\nHost: evil.example:${new URL(tapwire.url).port}`);
    assert.equal(rebound.status, 403);
    assert.equal((JSON.parse(rebound.body) as { error: { code: string } }).error.code, 'host_not_allowed');
    // A cross-site page (no preflight for a text/plain POST) is refused by its Origin.
    const crossSite = await rawRequest(tapwire.url, `POST /openai/v1/chat/completions HTTP/1.1\r\nHost: ${hostPort}\r\nOrigin: https://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 2`, '{}');
    assert.equal(crossSite.status, 403);
    assert.deepEqual(JSON.parse(crossSite.body), {
      error: { message: 'tapwire refuses calls from web pages of another origin ("https://evil.example") unless auth.tokens is configured', type: 'tapwire_gateway_error', param: null, code: 'origin_not_allowed' },
    });
    // localhost names and loopback origins are the agent's own: forwarded, with the upstream's Host.
    const local = await rawRequest(tapwire.url, `GET /api/x HTTP/1.1\r\nHost: localhost:${new URL(tapwire.url).port}\r\nOrigin: http://localhost:6274`);
    assert.equal(local.status, 200);
    assert.equal(api.requests.length, 1);
    assert.equal(api.requests[0]!.headers.host, new URL(api.url).host);
    assert.equal(other.requests.length, 0);
    await tapwire.stop();
  });

  test('with inbound tokens, any Host is accepted but the upstream is still the configured one', async (t) => {
    const token = 'agent-token-0123456789abcdef';
    const { api, other, tapwire } = await peers(t, `auth: { tokens: ["${token}"] }\nadmin: { token: "admin-token-0123456789abcdef" }`, { listen: '0.0.0.0:0' });
    const port = new URL(tapwire.url).port;
    const url = `http://127.0.0.1:${port}`;
    const otherHost = new URL(other.url).host;
    const answer = await rawRequest(url, `GET /api/x HTTP/1.1\r\nHost: ${otherHost}\r\nX-Forwarded-Host: ${otherHost}\r\nX-Tapwire-Token: ${token}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'api saw /base/x');
    assert.equal(api.requests[0]!.headers.host, new URL(api.url).host);
    assert.equal(api.requests[0]!.headers['x-tapwire-token'], undefined, "tapwire's token is not forwarded");
    assert.equal(other.requests.length, 0);
    await tapwire.stop();
  });

  test('an upstream redirect to another host is handed to the agent, never followed', async (t) => {
    const { api, other, tapwire, hostPort } = await peers(t);
    const answer = await rawRequest(tapwire.url, `GET /api/redirect HTTP/1.1\r\nHost: ${hostPort}`);
    assert.equal(answer.status, 302);
    assert.equal(answer.headers.location, `${other.url}/stolen`);
    assert.equal(api.requests.length, 1);
    assert.equal(other.requests.length, 0, 'tapwire did not follow the redirect');
    const [recorded] = await tapwire.stop();
    assert.equal(recorded!.http_status, 302);
  });
});

describe('no open proxy through the proxy listener (proxy: in the config)', () => {
  /** An http route under /base on one server, intercepted; another server on the same host that no route names. */
  async function proxyPeers(t: TestContext, extraYaml = ''): Promise<Peers & { proxy: string }> {
    const other = await startUpstream((_req, res) => void res.end('other'));
    t.after(() => other.close());
    const api = await startUpstream((req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end(`api saw ${req.url}`));
    t.after(() => api.close());
    const caDir = mkdtempSync(join(tmpdir(), 'tapwire-proxy-ca-'));
    t.after(() => rmSync(caDir, { recursive: true, force: true }));
    const yaml = ['routes:', `  api: { protocol: http, upstream: "${api.url}/base" }`, 'proxy:', '  listen: 127.0.0.1:0', '  intercept: [127.0.0.1]', `  ca_dir: ${caDir}`, extraYaml].join('\n');
    const tapwire = await startTestSidecarFor(t, yaml);
    return { api, other, tapwire, hostPort: new URL(tapwire.url).host, proxy: tapwire.sidecar.proxyUrl! };
  }

  function codeOf(body: string): string {
    return (JSON.parse(body) as { error: { code: string } }).error.code;
  }

  test('only intercepted origins, under a route, are reached; everything else is refused and nothing is forwarded', async (t) => {
    const { api, other, tapwire, hostPort, proxy } = await proxyPeers(t);
    const apiHost = new URL(api.url).host;
    const otherHost = new URL(other.url).host;
    const proxyHost = new URL(proxy).host;
    const otherPort = new URL(other.url).port;
    const refusals: [string, number, string][] = [
      [`CONNECT localhost:${otherPort} HTTP/1.1\r\nHost: localhost:${otherPort}`, 403, 'not_intercepted'],
      // 127.0.0.1 is listed, but no route's upstream is https on that port: refused, never tunnelled.
      [`CONNECT ${otherHost} HTTP/1.1\r\nHost: ${otherHost}`, 403, 'no_route_for_origin'],
      [`CONNECT ${hostPort} HTTP/1.1\r\nHost: ${hostPort}`, 403, 'own_listener'],
      [`CONNECT ${proxyHost} HTTP/1.1\r\nHost: ${proxyHost}`, 403, 'own_listener'],
      [`GET http://${otherHost}/ HTTP/1.1\r\nHost: ${otherHost}`, 403, 'no_route_for_origin'],
      [`GET http://localhost:${otherPort}/ HTTP/1.1\r\nHost: localhost:${otherPort}`, 403, 'not_intercepted'],
      [`GET http://${hostPort}/api/x HTTP/1.1\r\nHost: ${hostPort}`, 403, 'own_listener'],
      [`GET https://${apiHost}/base/x HTTP/1.1\r\nHost: ${apiHost}`, 400, 'not_a_proxy_request'],
      [`GET /api/x HTTP/1.1\r\nHost: ${proxyHost}`, 400, 'not_a_proxy_request'],
      [`GET http://${apiHost}/base/../x HTTP/1.1\r\nHost: ${apiHost}`, 400, 'dot_segment'],
      [`GET http://${apiHost}/base/%2e%2e/x HTTP/1.1\r\nHost: ${apiHost}`, 400, 'dot_segment'],
      [`GET http://${apiHost}/elsewhere HTTP/1.1\r\nHost: ${apiHost}`, 404, 'no_route_for_path'],
      [`GET http://${apiHost}/basement HTTP/1.1\r\nHost: ${apiHost}`, 404, 'no_route_for_path'],
    ];
    for (const [head, status, code] of refusals) {
      const answer = await rawRequest(proxy, head);
      assert.equal(answer.status, status, head);
      assert.equal(codeOf(answer.body), code, head);
    }
    assert.equal(other.requests.length, 0);
    assert.equal(api.requests.length, 0);
    // The one way through: an intercepted origin, under its route's base path.
    const through = await rawRequest(proxy, `GET http://${apiHost}/base/x?q=1 HTTP/1.1\r\nHost: ${apiHost}`);
    assert.equal(through.status, 200);
    assert.equal(through.body, 'api saw /base/x?q=1');
    assert.deepEqual((await tapwire.stop()).map((e) => [e.route, e.method]), [['api', 'GET /base/x']]);
  });

  test('with otherwise: tunnel, tapwire\'s own listeners stay out of reach, by name or address', async (t) => {
    const { tapwire, hostPort, proxy } = await proxyPeers(t, '  otherwise: tunnel');
    const port = new URL(tapwire.url).port;
    for (const target of [hostPort, `localhost:${port}`, `[::1]:${port}`, `localhost:${new URL(proxy).port}`]) {
      const answer = await rawRequest(proxy, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}`);
      assert.equal(answer.status, 403, target);
      assert.equal(codeOf(answer.body), 'own_listener', target);
    }
    assert.deepEqual(await tapwire.stop(), []);
  });

  test('with auth.tokens, the proxy asks for one in Proxy-Authorization, which goes no further', async (t) => {
    const token = 'proxy-token-3c9d1e7f5a2b8c40';
    const { api, tapwire, proxy } = await proxyPeers(t, `auth: { tokens: ["${token}"] }`);
    const apiHost = new URL(api.url).host;
    for (const head of [`CONNECT ${apiHost} HTTP/1.1\r\nHost: ${apiHost}`, `GET http://${apiHost}/base/x HTTP/1.1\r\nHost: ${apiHost}`]) {
      const answer = await rawRequest(proxy, head);
      assert.equal(answer.status, 407, head);
      assert.match(answer.headers['proxy-authenticate'] ?? '', /^Basic/);
      const wrong = await rawRequest(proxy, `${head}\r\nProxy-Authorization: Basic ${Buffer.from('tapwire:not-the-token').toString('base64')}`);
      assert.equal(wrong.status, 407, head);
    }
    const basic = `Basic ${Buffer.from(`tapwire:${token}`).toString('base64')}`;
    const through = await rawRequest(proxy, `GET http://${apiHost}/base/x HTTP/1.1\r\nHost: ${apiHost}\r\nProxy-Authorization: ${basic}`);
    assert.equal(through.status, 200);
    assert.equal(api.requests.length, 1);
    assert.equal(api.requests[0]!.headers['proxy-authorization'], undefined);
    const [record] = await tapwire.stop();
    assert.ok(!JSON.stringify(tapwire.record(record!.id)).includes(token));
  });

  test('a proxy listening off loopback needs auth.tokens (or --insecure-listen)', () => {
    const config = parseConfig(['routes:', '  api: { protocol: http, upstream: "https://api.example.com" }', 'proxy:', '  listen: 0.0.0.0:0', '  intercept: [api.example.com]'].join('\n'), 'test.yaml');
    assert.match(listenProblem(config, false) ?? '', /proxy\.listen 0\.0\.0\.0:0 is not a loopback address: configure auth\.tokens/);
    assert.equal(listenProblem(config, true), null);
  });
});
