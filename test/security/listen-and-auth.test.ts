// Who may come in: tapwire listens on loopback unless agents must authenticate; off loopback
// without tokens it refuses to start, or (with --insecure-listen) starts and warns every
// time. Agents' tokens are checked before routing and never forwarded or recorded; the
// admin endpoints take their own token, or live on a listener of their own. The agent is
// the real OpenAI SDK against aimock.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { startAimock } from '../support/aimock.js';
import { freePort, runCli, startCli } from '../support/cli.js';
import { startTestSidecar, startTestSidecarFor } from '../support/sidecar.js';
import { rejectionOf } from '../support/routes.js';
import { once } from 'node:events';

const AGENT_TOKEN = 'agent-token-5f0c9e1a7b2d4c68';
const ADMIN_TOKEN = 'admin-token-9d3e2b1c0a8f7e65';
const KEY = 'sk-upstream-key';

function llmYaml(upstream: string, extra = ''): string {
  return `routes:\n  openai: { protocol: llm, provider: openai, upstream: "${upstream}" }\n${extra}`;
}

describe('listen rules', () => {
  test('off loopback without tokens, the sidecar refuses to start and says what to configure', async () => {
    const config = 'routes:\n  api: { protocol: http, upstream: "http://127.0.0.1:9" }\n';
    await assert.rejects(startTestSidecar(config, process.env, { listen: '0.0.0.0:0' }), (err: Error) => {
      assert.equal(err.name, 'ConfigError');
      assert.match(err.message, /listen 0\.0\.0\.0:0 is not a loopback address: configure auth\.tokens .* or start with --insecure-listen/);
      assert.match(err.message, /admin endpoints .* configure admin\.token/);
      return true;
    });
    // Agents' tokens alone do not open the admin endpoints to the network.
    await assert.rejects(startTestSidecar(`${config}auth: { tokens: ["${AGENT_TOKEN}"] }\n`, process.env, { listen: '0.0.0.0:0' }), /admin endpoints .* admin\.token/);
    // A loopback admin listener is enough for them.
    const tapwire = await startTestSidecar(`${config}auth: { tokens: ["${AGENT_TOKEN}"] }\nadmin: { listen: "127.0.0.1:0" }\n`, process.env, { listen: '0.0.0.0:0' });
    await tapwire.stop();
    tapwire.cleanup();
  });

  test('tapwire run off loopback: exit 2 without --insecure-listen; with it, a warning at every start', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-listen-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const refused = runCli(['run', '--listen', '0.0.0.0:0', '--db', join(dir, 'refused.db')]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /^tapwire: listen 0\.0\.0\.0:0 is not a loopback address/);
    for (let start = 0; start < 2; start++) {
      const port = await freePort();
      const cli = await startCli(['--listen', `0.0.0.0:${port}`, '--insecure-listen', '--db', join(dir, 'open.db')]);
      cli.child.kill('SIGTERM');
      await once(cli.child, 'exit');
      const lines = cli.stdout().trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; listen?: string });
      const warning = lines.find((l) => l.msg.startsWith('--insecure-listen'));
      assert.equal(warning?.level, 40, `start ${start + 1} warns`);
      assert.equal(warning?.listen, `0.0.0.0:${port}`);
    }
  });
});

describe('agent tokens', () => {
  test('an agent without the token gets its SDK\'s authentication error; with it the call goes through, and the token goes nowhere', async (t) => {
    const mock = await startAimock([KEY], (m) => m.onMessage('ping', { content: 'pong' }));
    t.after(() => mock.stop());
    const tapwire = await startTestSidecarFor(t, llmYaml(mock.url, `auth: { tokens: ["${AGENT_TOKEN}", "second-token-0123456789"] }\nadmin: { token: "${ADMIN_TOKEN}" }\n`), process.env, {
      listen: '0.0.0.0:0',
    });
    const base = `http://127.0.0.1:${tapwire.sidecar.port}/openai/v1`;
    const ask = (headers: Record<string, string>) =>
      new OpenAI({ baseURL: base, apiKey: KEY, maxRetries: 0, defaultHeaders: headers }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] });

    for (const headers of <Record<string, string>[]>[{}, { 'x-tapwire-token': 'wrong-token-0123456789' }, { 'x-tapwire-token': ADMIN_TOKEN }]) {
      const err = await rejectionOf(ask(headers));
      assert.ok(err instanceof OpenAI.AuthenticationError, String(err));
      assert.equal(err.code, 'unauthenticated');
      assert.match(err.message, /tapwire needs a valid token in the x-tapwire-token header/);
    }
    const ok = await ask({ 'x-tapwire-token': AGENT_TOKEN });
    assert.equal(ok.choices[0]!.message.content, 'pong');
    const bearer = await ask({ 'x-tapwire-token': 'Bearer second-token-0123456789' });
    assert.equal(bearer.choices[0]!.message.content, 'pong');
    assert.equal(mock.getRequests().length, 2, 'refused calls never reached the upstream');

    const exchanges = await tapwire.stop();
    assert.equal(exchanges.length, 2, 'refused calls are not recorded: they never reached a route');
    for (const e of exchanges) {
      const headers = tapwire.record(e.id).request!.headers;
      assert.equal(headers['x-tapwire-token'], undefined);
      assert.equal(headers.authorization, '[redacted]');
    }
  });

  test('admin endpoints: admin.token on the agent listener, or a listener of their own', async (t) => {
    const config = 'routes:\n  api: { protocol: http, upstream: "http://127.0.0.1:9" }\n';
    const guarded = await startTestSidecarFor(t, `${config}auth: { tokens: ["${AGENT_TOKEN}"] }\nadmin: { token: "${ADMIN_TOKEN}" }\n`, process.env, { listen: '0.0.0.0:0' });
    const health = `http://127.0.0.1:${guarded.sidecar.port}/_tapwire/health`;
    assert.equal((await fetch(health)).status, 401);
    assert.equal((await fetch(health, { headers: { 'x-tapwire-token': AGENT_TOKEN } })).status, 401, "an agent's token is not an admin token");
    assert.equal((await fetch(health, { headers: { authorization: `Bearer ${AGENT_TOKEN}` } })).status, 401);
    const admitted = await fetch(health, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(admitted.status, 200);
    assert.deepEqual(await admitted.json(), { status: 'ok', routes: ['api'] });

    const separate = await startTestSidecarFor(t, `${config}admin: { listen: "127.0.0.1:0" }\n`);
    assert.notEqual(separate.sidecar.adminUrl, separate.url);
    assert.equal((await fetch(`${separate.url}/_tapwire/health`)).status, 404, 'not on the agent listener');
    assert.equal((await fetch(`${separate.sidecar.adminUrl}/_tapwire/health`)).status, 200);
    const noRoutes = await fetch(`${separate.sidecar.adminUrl}/api/x`);
    assert.equal(noRoutes.status, 404, 'the admin listener forwards nothing');
    assert.deepEqual(await separate.stop(), []);
  });
});
