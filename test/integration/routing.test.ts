// The listener's own answers: the health check, and requests for routes that do not exist
// (including a malformed percent-escape) answered with a 404 that lists the routes, while
// the sidecar keeps serving. And the path a route sends upstream: the upstream URL as
// configured for the bare route name, with whatever followed the name appended otherwise.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { startTestSidecarFor } from '../support/sidecar.js';
import { startUpstream } from '../support/upstream.js';

/** A raw GET, so the path reaches the sidecar exactly as written (fetch would normalise it). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('routing', () => {
  test('unknown routes get a 404 naming the routes; a malformed escape is just an unknown route', async (t) => {
    const tapwire = await startTestSidecarFor(t, 'routes:\n  openai: { protocol: llm, upstream: "http://127.0.0.1:9" }\n');
    const health = await rawGet(tapwire.url, '/_tapwire/health');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok', routes: ['openai'] });
    for (const path of ['/nope/v1/models', '/%E0%A4%A/v1/models', '/%ZZ']) {
      const answer = await rawGet(tapwire.url, path);
      assert.equal(answer.status, 404, path);
      const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
      assert.equal(error.code, 'unknown_route');
      assert.match(error.message, /routes: openai/);
    }
    assert.equal((await rawGet(tapwire.url, '/_tapwire/health')).status, 200, 'still serving');
    assert.deepEqual(await tapwire.stop(), [], 'nothing forwarded, nothing recorded');
  });

  test('the bare route name calls the upstream URL as configured; no slash is added', async (t) => {
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    t.after(() => upstream.close());
    const tapwire = await startTestSidecarFor(t, `routes:\n  tools: { protocol: http, upstream: "${upstream.url}/mcp" }\n  root: { protocol: http, upstream: "${upstream.url}" }\n`);
    for (const path of ['/tools', '/tools/', '/tools?x=1', '/tools/sub?x=1', '/root', '/root?x=1', '/root/v1']) {
      assert.equal((await rawGet(tapwire.url, path)).status, 200, path);
    }
    assert.deepEqual(
      upstream.requests.map((r) => r.url),
      ['/mcp', '/mcp/', '/mcp?x=1', '/mcp/sub?x=1', '/', '/?x=1', '/v1'],
    );
  });
});
