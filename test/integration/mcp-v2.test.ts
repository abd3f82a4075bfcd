// MCP through tapwire with the v2 SDKs and across eras: real, unmodified clients and servers,
// each scenario run straight to the server and through an `mcp` route, asserting the
// client sees the same results and that the record holds one right exchange per message.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Exchange } from '../../core/exchange.js';
import {
  connectV1,
  connectV2,
  detailsOf,
  mcpHeaders,
  MODERN,
  startMcpTapwire,
  startV1StatefulServer,
  startV2Server,
  withMethod,
  type Negotiation,
  type ReceivedHead,
  type V2TestServer,
} from '../support/mcp-v2.js';

/** Everything a 2026-era agent does against the v2 test server, as the client saw it. */
async function modernSession(t: TestContext, url: string, negotiation: Negotiation) {
  const client = await connectV2(t, url, negotiation);
  const version = client.getNegotiatedProtocolVersion();
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { msg: 'hello', region: 'eu-west' } });
  // Not plain ASCII: the client sends Mcp-Param-Region base64-encoded, the server decodes it.
  const echoUnicode = await client.callTool({ name: 'echo', arguments: { msg: 'grüezi', region: 'Zürich' } });
  const confirm = await client.callTool({ name: 'confirm', arguments: {} });
  const sample = await client.callTool({ name: 'sample', arguments: {} });
  const progress: unknown[] = [];
  const progressed = await client.callTool({ name: 'progress', arguments: {} }, { onprogress: (p) => void progress.push(p) });
  const resource = await client.readResource({ uri: 'memo://note' });
  const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
  await client.close();
  return { version, tools, echo, echoUnicode, confirm, sample, progressed, progress, resource, prompt };
}

function requestsFor(received: ReceivedHead[], from: number): ReceivedHead[] {
  return received.slice(from).filter((r) => r.method === 'POST');
}

describe('MCP 2026-07-28 (v2 SDK) through tapwire', () => {
  for (const negotiation of ['auto', 'pin'] as const) {
    test(`a v2 client (${negotiation}) gets the same results direct and through tapwire, and every message is recorded`, async (t) => {
      const server = await startV2Server(t);
      const tapwire = await startMcpTapwire(t, server.origin);

      const direct = await modernSession(t, server.url, negotiation);
      const directHeads = requestsFor(server.received, 0);
      const mark = server.received.length;
      const through = await modernSession(t, tapwire.mcpUrl, negotiation);
      const throughHeads = requestsFor(server.received, mark);

      assert.equal(direct.version, MODERN);
      assert.equal(through.version, MODERN);
      assert.deepEqual(through, direct);
      assert.deepEqual(direct.echo.content, [{ type: 'text', text: 'hello@eu-west' }]);
      assert.deepEqual(direct.echoUnicode.content, [{ type: 'text', text: 'grüezi@Zürich' }]);
      assert.deepEqual(direct.confirm.content, [{ type: 'text', text: 'confirmed=true' }]);
      assert.equal(direct.progress.length, 2);

      // The server validates Mcp-Method / Mcp-Name / Mcp-Param-* against the body and
      // rejects mismatches, so the calls passing already proves the headers arrived; they
      // arrived exactly as the client sent them.
      assert.deepEqual(throughHeads.map(mcpHeaders), directHeads.map(mcpHeaders));
      const echoHead = throughHeads.find((h) => h.headers['mcp-name'] === 'echo');
      assert.equal(echoHead?.headers['mcp-method'], 'tools/call');
      assert.equal(echoHead?.headers['mcp-param-region'], 'eu-west');
      assert.equal(echoHead?.headers['mcp-protocol-version'], MODERN);

      const exchanges = await tapwire.stop();
      const byMethod = (m: string): Exchange[] => withMethod(exchanges, m);
      assert.equal(byMethod('server/discover').length, 1);
      assert.equal(byMethod('initialize').length, 0);
      const discover = byMethod('server/discover')[0]!;
      assert.equal(discover.status, 'ok');
      assert.equal(discover.http_status, 200);

      // Sessionless: each exchange is keyed by the agent's connection.
      for (const e of exchanges) {
        assert.match(e.session_id ?? '', /^conn-/, `${e.method} has session ${e.session_id}`);
        assert.equal(e.protocol, 'mcp');
        assert.equal(e.route, 'tools');
      }

      const calls = byMethod('tools/call');
      const targets = calls.map((e) => [e.target, detailsOf(e).result_type, e.status]);
      assert.deepEqual(targets, [
        ['echo', 'complete', 'ok'],
        ['echo', 'complete', 'ok'],
        ['confirm', 'input_required', 'ok'],
        ['confirm', 'complete', 'ok'],
        ['sample', 'input_required', 'ok'],
        ['sample', 'complete', 'ok'],
        ['progress', 'complete', 'ok'],
      ]);
      // Each input_required round is its own request, with its own id.
      assert.equal(new Set(calls.map((e) => e.jsonrpc_id)).size, calls.length);
      const echoRecord = tapwire.record(calls[0]!.id);
      assert.equal(echoRecord.request?.headers['mcp-param-region'], 'eu-west');
      assert.match(tapwire.record(calls[1]!.id).request?.headers['mcp-param-region']?.toString() ?? '', /^=\?base64\?/);
      // The rounds' bodies: what the server asked for, and the client's answer in the retry.
      const bodyOf = (payload: { body: Buffer | null } | null): string => payload?.body?.toString('utf8') ?? '';
      assert.match(bodyOf(tapwire.record(calls[2]!.id).response), /"elicitation\/create"/);
      assert.match(bodyOf(tapwire.record(calls[3]!.id).request), /"inputResponses"/);
      assert.match(bodyOf(tapwire.record(calls[4]!.id).response), /"sampling\/createMessage"/);
      assert.match(bodyOf(tapwire.record(calls[5]!.id).request), /"inputResponses"/);

      const progressCall = calls[6]!;
      const progressRecord = tapwire.record(progressCall.id);
      assert.deepEqual(
        progressRecord.events.map((e) => [e.event, (JSON.parse(e.data) as { params: { progress: number } }).params.progress]),
        [
          ['notifications/progress', 1],
          ['notifications/progress', 2],
        ],
      );
      const notes = byMethod('notifications/progress');
      assert.equal(notes.length, 2);
      for (const n of notes) {
        assert.equal(n.direction, 'server_to_client');
        assert.equal(n.target, 'progress');
      }

      assert.deepEqual(byMethod('tools/list').map((e) => e.status), ['ok']);
      assert.deepEqual(byMethod('resources/read').map((e) => [e.target, e.status]), [['memo://note', 'ok']]);
      assert.deepEqual(byMethod('prompts/get').map((e) => [e.target, e.status]), [['greet', 'ok']]);
      assert.deepEqual(exchanges.filter((e) => e.status !== 'ok').map((e) => [e.method, e.error_code]), []);
    });
  }
});

/** Opens a subscriptions/listen stream, has the server announce a tool change, closes it. */
async function listenSession(t: TestContext, url: string, server: V2TestServer) {
  const client = await connectV2(t, url, 'pin');
  let changed!: () => void;
  const toolsChanged = new Promise<void>((resolve) => (changed = resolve));
  client.setNotificationHandler('notifications/tools/list_changed', () => changed());
  const sub = await client.listen({ toolsListChanged: true });
  server.handler.notify.toolsChanged();
  await toolsChanged;
  // The stream stays usable for ordinary calls meanwhile.
  const echo = await client.callTool({ name: 'echo', arguments: { msg: 'still here', region: 'us' } });
  await sub.close();
  const closed = await sub.closed;
  await client.close();
  return { honored: sub.honoredFilter, closed, echo };
}

describe('subscriptions/listen through tapwire', () => {
  test('the stream and its notifications are recorded, and closing it ends the exchange', async (t) => {
    const server = await startV2Server(t);
    const tapwire = await startMcpTapwire(t, server.origin);
    const direct = await listenSession(t, server.url, server);
    const through = await listenSession(t, tapwire.mcpUrl, server);
    assert.deepEqual(through, direct);
    assert.equal(direct.closed, 'local');

    const exchanges = await tapwire.stop();
    const [listen] = withMethod(exchanges, 'subscriptions/listen');
    assert.ok(listen);
    assert.equal(listen.status, 'aborted');
    assert.equal(listen.http_status, 200);
    // What the stream delivered: exchanges of their own, and events of the listen exchange.
    for (const method of ['notifications/subscriptions/acknowledged', 'notifications/tools/list_changed']) {
      assert.deepEqual(withMethod(exchanges, method).map((e) => [e.direction, e.status, e.session_id]), [['server_to_client', 'ok', listen.session_id]]);
    }
    assert.deepEqual(withMethod(exchanges, 'notifications/cancelled').map((e) => [e.direction, e.http_status]), [['client_to_server', 202]]);
    // The first echo went before the client knew the tool's x-mcp-header: the server's
    // -32020 answer is recorded as its error, then the retry.
    assert.deepEqual(withMethod(exchanges, 'tools/call').map((e) => [e.status, e.http_status, e.error_code]), [
      ['error', 400, '-32020'],
      ['ok', 200, null],
    ]);
    const events = tapwire.record(listen.id).events.map((e) => e.event);
    assert.deepEqual(events, ['notifications/subscriptions/acknowledged', 'notifications/tools/list_changed']);
  });

  test('a subscription open longer than the route\'s response timeout is not recorded as unanswered', async (t) => {
    const server = await startV2Server(t);
    const tapwire = await startMcpTapwire(t, server.origin, ['timeouts:', '  response_ms: 500']);
    const client = await connectV2(t, tapwire.mcpUrl, 'pin');
    let changed!: () => void;
    const toolsChanged = new Promise<void>((resolve) => (changed = resolve));
    client.setNotificationHandler('notifications/tools/list_changed', () => changed());
    const sub = await client.listen({ toolsListChanged: true });
    // Long enough for tapwire's check for unanswered requests to run twice.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    server.handler.notify.toolsChanged();
    await toolsChanged;
    await sub.close();
    await client.close();

    const exchanges = await tapwire.stop();
    const [listen] = withMethod(exchanges, 'subscriptions/listen');
    assert.ok(listen);
    assert.deepEqual([listen.status, listen.error_code], ['aborted', 'client_aborted']);
    assert.deepEqual(
      tapwire.record(listen.id).events.map((e) => e.event),
      ['notifications/subscriptions/acknowledged', 'notifications/tools/list_changed'],
    );
  });

  test('stopping tapwire ends an open listen stream at once, recorded, instead of waiting for it', { timeout: 20_000 }, async (t) => {
    const server = await startV2Server(t);
    const tapwire = await startMcpTapwire(t, server.origin);
    const client = await connectV2(t, tapwire.mcpUrl, 'pin');
    const sub = await client.listen({ toolsListChanged: true });
    // A deadline far beyond the test's timeout: only ending the stream lets close() finish.
    await tapwire.sidecar.close(10 * 60_000);
    assert.equal(await sub.closed, 'remote');
    const exchanges = await tapwire.stop();
    const [listen] = withMethod(exchanges, 'subscriptions/listen');
    assert.ok(listen);
    assert.equal(listen.status, 'aborted');
  });
});

/** What a 2025-era agent (v1 SDK client) does against the v2 test server, as it saw it. */
async function legacySession(t: TestContext, url: string) {
  const client = await connectV1(t, url);
  const version = client.getServerVersion();
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { msg: 'hi', region: 'ap' } });
  // Stateless legacy serving cannot ask the client anything: the tool says so, in its result.
  const confirm = await client.callTool({ name: 'confirm', arguments: {} });
  const resource = await client.readResource({ uri: 'memo://note' });
  const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
  await client.close();
  return { version, tools, echo, confirm, resource, prompt };
}

describe('across eras through one tapwire route', () => {
  test('a v1 client against the v2 server (stateless legacy serving): same results, right records', async (t) => {
    const server = await startV2Server(t);
    const tapwire = await startMcpTapwire(t, server.origin);
    const direct = await legacySession(t, server.url);
    const through = await legacySession(t, tapwire.mcpUrl);
    assert.deepEqual(through, direct);
    assert.deepEqual(direct.echo.content, [{ type: 'text', text: 'hi@ap' }]);
    assert.equal(direct.confirm.isError, true);

    const exchanges = await tapwire.stop();
    assert.deepEqual(
      exchanges.map((e) => [e.method, e.target, e.status, e.error_code]),
      [
        ['initialize', null, 'ok', null],
        ['notifications/initialized', null, 'ok', null],
        ['tools/list', null, 'ok', null],
        ['tools/call', 'echo', 'ok', null],
        ['tools/call', 'confirm', 'error', 'tool_error'],
        ['resources/read', 'memo://note', 'ok', null],
        ['prompts/get', 'greet', 'ok', null],
      ],
    );
    for (const e of exchanges) {
      // Stateless legacy serving hands out no Mcp-Session-Id: the agent's connection names the session.
      assert.match(e.session_id ?? '', /^conn-/);
      assert.equal(e.direction, 'client_to_server');
      assert.equal(detailsOf(e).result_type, undefined, 'a 2025-era result has no resultType');
    }
    assert.equal(exchanges[0]!.http_status, 200);
    const toolTokens = detailsOf(withMethod(exchanges, 'tools/list')[0]!).tool_tokens as Record<string, number>;
    assert.deepEqual(Object.keys(toolTokens), ['echo', 'confirm', 'sample', 'progress']);
  });

  test('a v2 client (2026 era) and a v1 client (2025 era) share one route to one v2 server, concurrently', async (t) => {
    const server = await startV2Server(t);
    const tapwire = await startMcpTapwire(t, server.origin);
    const direct = await Promise.all([modernSession(t, server.url, 'auto'), legacySession(t, server.url)]);
    const through = await Promise.all([modernSession(t, tapwire.mcpUrl, 'auto'), legacySession(t, tapwire.mcpUrl)]);
    assert.deepEqual(through, direct);
    assert.equal(through[0].version, MODERN);

    const exchanges = await tapwire.stop();
    const count = (method: string): number => withMethod(exchanges, method).length;
    assert.equal(count('server/discover'), 1);
    assert.equal(count('initialize'), 1);
    assert.equal(count('notifications/initialized'), 1);
    assert.equal(count('tools/list'), 2);
    // 2026: echo ×2, confirm ×2, sample ×2, progress; 2025: echo, confirm.
    assert.equal(count('tools/call'), 9);
    assert.equal(count('notifications/progress'), 2);
    const modern = exchanges.filter((e) => detailsOf(e).result_type !== undefined);
    assert.deepEqual(
      withMethod(modern, 'tools/call').map((e) => [e.target, detailsOf(e).result_type]),
      [
        ['echo', 'complete'],
        ['echo', 'complete'],
        ['confirm', 'input_required'],
        ['confirm', 'complete'],
        ['sample', 'input_required'],
        ['sample', 'complete'],
        ['progress', 'complete'],
      ],
    );
    const failed = exchanges.filter((e) => e.status !== 'ok').map((e) => [e.method, e.target, e.error_code]);
    assert.deepEqual(failed, [['tools/call', 'confirm', 'tool_error']]);
    const progress = withMethod(exchanges, 'tools/call').find((e) => e.target === 'progress')!;
    assert.equal(tapwire.record(progress.id).events.length, 2);
  });

  test('a v2 client (auto) against a v1 stateful server: the probe fails, the client falls back to initialize, as direct', async (t) => {
    const server = await startV1StatefulServer(t);
    const tapwire = await startMcpTapwire(t, server.origin);
    const session = async (url: string) => {
      const client = await connectV2(t, url, 'auto');
      const version = client.getNegotiatedProtocolVersion();
      const noop = await client.callTool({ name: 'noop', arguments: {} });
      await client.close();
      return { version, noop };
    };
    const direct = await session(server.url);
    const through = await session(tapwire.mcpUrl);
    assert.deepEqual(through, direct);
    assert.equal(direct.version, '2025-11-25');

    // The server saw the probe, then the 2025 handshake, through tapwire as direct.
    const throughHeads = server.received.filter((h) => h.method === 'POST').slice(-4);
    assert.equal(throughHeads[0]!.headers['mcp-method'], 'server/discover');
    const sessionId = throughHeads[3]!.headers['mcp-session-id'];
    assert.equal(typeof sessionId, 'string');

    const exchanges = await tapwire.stop();
    assert.deepEqual(
      exchanges.map((e) => [e.method, e.status, e.http_status]),
      [
        ['server/discover', 'error', 400],
        ['initialize', 'ok', 200],
        ['notifications/initialized', 'ok', 202],
        ['tools/call', 'ok', 200],
      ],
    );
    const [discover, initialize, initialized, noop] = exchanges as [Exchange, Exchange, Exchange, Exchange];
    assert.match(discover.error_message ?? '', /Server not initialized/);
    // The probe went before any session existed; the handshake's exchanges belong to the
    // session the server then assigned.
    assert.match(discover.session_id ?? '', /^conn-/);
    for (const e of [initialize, initialized, noop]) assert.equal(e.session_id, sessionId);
    assert.equal(noop.target, 'noop');
  });
});
