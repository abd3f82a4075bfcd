// No open proxy: whatever an agent (or a web page, or anyone who can connect) writes in the
// request line and headers, a request reaches only a configured upstream, under its route's
// base path. Sent as raw bytes, because HTTP clients normalise exactly what is being tested.
// The upstreams are scripted node:http servers that report every request they got: what is
// asserted is that the "other" server got nothing.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
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
