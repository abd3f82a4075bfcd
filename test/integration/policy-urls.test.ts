// Policies from a URL, against a local HTTP server that serves them with ETags: fetched at
// start (a server that fails then is a PolicyError, and `tapwire run` exits 2), polled with
// If-None-Match (a 304 changes nothing), a set that does not compile or a failed fetch kept
// out with the last good set in force, a good change applied, each version named (the ETag,
// or a content hash without one); a sidecar polling its URL applies a change to live calls;
// plain http:// off loopback is refused by the config.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { ConfigError, parseConfig } from '../../config/config.js';
import { PolicyError } from '../../policies/policy-error.js';
import { PolicyWatcher, type ReloadOutcome } from '../../policies/watch.js';
import { PROTOCOL_CONTEXTS } from '../../protocols/registry.js';
import { testContext } from '../../policies/testing.js';
import { runCli } from '../support/cli.js';
import { startTestSidecar } from '../support/sidecar.js';
import { closedPortUrl, upstreamFor, type ScriptedUpstream } from '../support/upstream.js';

const mcpCall = (tool: string) => testContext({ protocol: 'mcp', mcp: { method: 'tools/call', tool } }, PROTOCOL_CONTEXTS);
const denyTool = (tool: string) => `rules:\n  - { name: no-${tool}, when: 'mcp.tool == "${tool}"', action: deny }\n`;

/** What the policy server serves now: its text and ETag (null: none sent), or an HTTP error status. */
interface Served {
  text: string;
  etag: string | null;
  status?: number;
}

/** A policy server for one test: answers 304 when If-None-Match names the current ETag. */
async function policyServer(t: TestContext, served: Served): Promise<ScriptedUpstream & { served: Served }> {
  const server = await upstreamFor(t, (req, res) => {
    if (served.status) return void res.writeHead(served.status).end();
    if (served.etag && req.headers['if-none-match'] === served.etag) return void res.writeHead(304, { etag: served.etag }).end();
    res.writeHead(200, { 'content-type': 'application/yaml', ...(served.etag ? { etag: served.etag } : {}) }).end(served.text);
  });
  return Object.assign(server, { served });
}

async function startWatcher(t: TestContext, url: string): Promise<{ watcher: PolicyWatcher; outcomes: ReloadOutcome[] }> {
  const outcomes: ReloadOutcome[] = [];
  // Polled by hand: the timer's interval is beyond any test.
  const watcher = await PolicyWatcher.start([url], (outcome) => outcomes.push(outcome), { pollMs: 3_600_000 });
  t.after(() => watcher.close());
  return { watcher, outcomes };
}

describe('policies from a URL', () => {
  test('fetched at start with its ETag; a 304 changes nothing; a good change applies with its new version', async (t) => {
    const server = await policyServer(t, { text: denyTool('rm'), etag: '"v1"' });
    const url = `${server.url}/fleet/policy.yaml`;
    const { watcher, outcomes } = await startWatcher(t, url);
    assert.deepEqual(watcher.versions(), { [url]: '"v1"' });
    assert.equal(watcher.current.decide('request', mcpCall('rm'), 0).outcome, 'deny');

    assert.equal(await watcher.poll(), null, 'unchanged');
    assert.equal(server.requests.at(-1)!.headers['if-none-match'], '"v1"');
    assert.deepEqual(outcomes, []);

    Object.assign(server.served, { text: denyTool('curl'), etag: '"v2"' });
    const outcome = await watcher.poll();
    assert.deepEqual(outcome, { ok: true, files: [url], versions: { [url]: '"v2"' } });
    assert.equal(watcher.current.decide('request', mcpCall('rm'), 0).outcome, 'allow');
    assert.equal(watcher.current.decide('request', mcpCall('curl'), 0).outcome, 'deny');
    assert.equal(server.requests.at(-1)!.headers['if-none-match'], '"v1"', 'asked with the version then in force');
    assert.equal(await watcher.poll(), null);
    assert.equal(server.requests.at(-1)!.headers['if-none-match'], '"v2"');
  });

  test('a set that does not compile is kept out (reported once), the last good set stays in force; a failed fetch too', async (t) => {
    const server = await policyServer(t, { text: denyTool('rm'), etag: '"v1"' });
    const url = `${server.url}/policy.yaml`;
    const { watcher, outcomes } = await startWatcher(t, url);

    Object.assign(server.served, { text: "rules:\n  - { name: broken, when: 'mcp.tol == 1', action: deny }\n", etag: '"v2"' });
    const rejected = await watcher.poll();
    assert.ok(rejected && !rejected.ok);
    assert.equal(rejected.problems[0], `rejected: ${url} version "v2"`);
    assert.match(rejected.problems.join('\n'), /mcp has no field "tol"/);
    assert.equal(watcher.current.decide('request', mcpCall('rm'), 0).outcome, 'deny', 'the last good set decides');
    assert.deepEqual(watcher.versions(), { [url]: '"v1"' });
    assert.equal(await watcher.poll(), null, 'the same bad version is not reported again');
    assert.equal(outcomes.length, 1);

    server.served.status = 503;
    const failed = await watcher.poll();
    assert.deepEqual(failed, { ok: false, problems: [`${url}: cannot fetch policy file: HTTP 503`] });
    assert.equal(watcher.current.decide('request', mcpCall('rm'), 0).outcome, 'deny');

    Object.assign(server.served, { status: undefined, text: denyTool('curl'), etag: '"v3"' });
    assert.equal((await watcher.poll())?.ok, true, 'a good version after a bad one applies');
    assert.equal(watcher.current.decide('request', mcpCall('curl'), 0).outcome, 'deny');
  });

  test('without an ETag, a version is a hash of the content, and a change of content applies', async (t) => {
    const server = await policyServer(t, { text: denyTool('rm'), etag: null });
    const url = `${server.url}/policy.yaml`;
    const { watcher } = await startWatcher(t, url);
    const first = watcher.versions()[url]!;
    assert.match(first, /^sha256:[0-9a-f]{16}$/);
    assert.equal(server.requests.at(-1)!.headers['if-none-match'], undefined);
    server.served.text = denyTool('curl');
    const outcome = await watcher.poll();
    assert.ok(outcome?.ok);
    assert.notEqual(outcome.versions[url], first);
  });

  test('a URL that cannot be fetched at start is a PolicyError naming it, and `tapwire run` exits 2', async (t) => {
    const url = `${await closedPortUrl()}/policy.yaml`;
    await assert.rejects(PolicyWatcher.start([url], () => undefined), (err: unknown) => err instanceof PolicyError && err.message.includes(`${url}: cannot fetch policy file: ECONNREFUSED`));
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-policy-url-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'tapwire.yaml'), `listen: 127.0.0.1:0\nstore: { path: ${JSON.stringify(join(dir, 'tapwire.db'))} }\npolicies: ["${url}"]\n`);
    const run = runCli(['run', '--config', join(dir, 'tapwire.yaml')]);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /cannot fetch policy file: ECONNREFUSED/);
  });

  test('a sidecar polls its policy URL and applies a change to the next call', async (t) => {
    const server = await policyServer(t, { text: denyTool('rm'), etag: '"v1"' });
    const mcp = await upstreamFor(t, (req, res) => {
      const id = (JSON.parse(req.body.toString()) as { id: number }).id;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [] } }));
    });
    const tapwire = await startTestSidecar(`policies: ["${server.url}/policy.yaml"]\npolicies_poll_ms: 20\nroutes:\n  tools: { protocol: mcp, upstream: "${mcp.url}" }\n`);
    t.after(async () => {
      await tapwire.stop();
      tapwire.cleanup();
    });
    const call = async (tool: string): Promise<unknown> => {
      const res = await fetch(`${tapwire.url}/tools`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: {} } }),
      });
      return ((await res.json()) as { result?: { isError?: boolean } }).result?.isError === true ? 'denied' : 'allowed';
    };
    assert.equal(await call('rm'), 'denied');
    assert.equal(await call('curl'), 'allowed');
    Object.assign(server.served, { text: denyTool('curl'), etag: '"v2"' });
    const deadline = Date.now() + 5000;
    while ((await call('curl')) !== 'denied' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await call('curl'), 'denied');
    assert.equal(await call('rm'), 'allowed');
  });

  test('config: https:// and http:// on loopback are accepted; plain http:// elsewhere and other schemes are not', () => {
    for (const url of ['https://policies.example.com/fleet.yaml', 'http://127.0.0.1:8080/p.yaml', 'http://localhost/p.yaml', 'http://[::1]:9/p.yaml']) {
      assert.deepEqual(parseConfig(`policies: ["${url}"]\n`, 't.yaml').policies, [url]);
    }
    assert.throws(() => parseConfig('policies: ["http://policies.example.com/p.yaml"]\n', 't.yaml'), (err: unknown) => err instanceof ConfigError && /policies\[0\]: a policy URL over plain http must be on loopback/.test(err.message));
    assert.throws(() => parseConfig('policies: ["ftp://example.com/p.yaml"]\n', 't.yaml'), (err: unknown) => err instanceof ConfigError && /https:\/\//.test(err.message));
  });
});
