// Federated MCP routes with real, unmodified peers: a v1 SDK Client over Streamable HTTP
// against a route `tools` that federates two v1 SDK servers on Streamable HTTP (alpha,
// beta: beta pages its tools one at a time) and @modelcontextprotocol/server-everything
// over stdio. The client sees one server: aggregated and paged lists with prefixed names,
// calls reaching the server that owns the name, a server's sampling and elicitation
// requests answered by the client, a server's list_changed; a server that is down is left
// out and named in a log notification (failure: open) or fails the list (failure: closed);
// a policy on mcp.server hides one server's tools. A slow server misses the list; one that
// answers garbage or whose process exits counts as down and comes back at the next list.
// The record holds each agent-facing exchange and, linked by parent_id, the per-server
// exchanges it caused.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema, McpError, ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Exchange } from '../../core/exchange.js';
import { SERVER_UNAVAILABLE } from '../../protocols/mcp/federation-session.js';
import { buildAlpha, buildBeta, buildSlowLister, federationYaml, SAMPLED_PREFIX, type FederationRoutes } from '../support/mcp-federation.js';
import { connectClient, one, startStreamableServer, type Connected, type McpHttpServer } from '../support/mcp.js';
import { writePolicyFile } from '../support/policy-sidecar.js';
import { startTestSidecar, startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { closedPortUrl, startUpstream, until } from '../support/upstream.js';

const SAMPLED = 'forty-two';

async function federated(t: TestContext, routes: FederationRoutes): Promise<TestSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-federation-'));
  return startTestSidecarFor(t, federationYaml(routes), process.env, { dir });
}

async function connect(t: TestContext, tapwire: TestSidecar): Promise<Connected> {
  const connected = await connectClient('streamable', `${tapwire.url}/tools`, {
    sampling: () => ({ model: 'test-model', role: 'assistant', content: { type: 'text', text: SAMPLED } }),
    elicitation: () => ({ action: 'decline' }),
  });
  t.after(() => connected.close());
  return connected;
}

/** Every page of tools/list, as the client received them. */
async function toolPages(client: Client): Promise<Tool[][]> {
  const pages: Tool[][] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    pages.push(page.tools);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 10);
  return pages;
}

function text(result: unknown): string {
  return ((result as { content: { type: string; text?: string }[] }).content ?? []).map((c) => c.text ?? '').join('\n');
}

function details(e: Exchange): Record<string, unknown> {
  return e.details ? (JSON.parse(e.details) as Record<string, unknown>) : {};
}

/** The per-server exchanges recorded as caused by `parent`. */
function childrenOf(exchanges: Exchange[], parent: Exchange): Exchange[] {
  return exchanges.filter((e) => e.parent_id === parent.id);
}

describe('federated MCP route', () => {
  let alpha: McpHttpServer;
  let beta: McpHttpServer;
  before(async () => {
    alpha = await startStreamableServer(buildAlpha);
    beta = await startStreamableServer(buildBeta);
  });
  after(async () => {
    await alpha.close();
    await beta.close();
  });
  const urls = (): FederationRoutes => ({ alpha: `${alpha.origin}/mcp`, beta: `${beta.origin}/mcp` });

  test('one endpoint: aggregated and paged lists, prefixed calls routed to their server, sampling and list_changed across, all recorded with parent_id', async (t) => {
    const tapwire = await federated(t, urls());
    const { client } = await connect(t, tapwire);
    assert.equal(client.getServerVersion()?.name, 'tapwire/tools');
    const capabilities = client.getServerCapabilities() ?? {};
    for (const capability of ['tools', 'prompts', 'resources', 'logging']) assert.ok(capability in capabilities, `capability ${capability}`);
    assert.ok(!('tasks' in capabilities), 'server-everything\'s tasks are not announced: nothing routes them');
    assert.match(client.getInstructions() ?? '', /^alpha: alpha searches/);

    const pages = await toolPages(client);
    const names = pages.map((page) => page.map((tool) => tool.name));
    // beta pages one tool at a time: the first page has its first, the second only its second.
    assert.equal(names.length, 2);
    assert.deepEqual(names[1], ['beta_lookup']);
    for (const name of ['alpha_search', 'alpha_secret', 'alpha_ask-model', 'alpha_add-tool', 'beta_search', 'everything_echo', 'everything_get-sum', 'everything_trigger-sampling-request']) {
      assert.ok(names[0]!.includes(name), `${name} in the first page: ${names[0]!.join(', ')}`);
    }
    assert.equal(pages[0]!.find((tool) => tool.name === 'beta_search')?.description, 'Searches beta');

    assert.equal(text(await client.callTool({ name: 'alpha_search', arguments: { q: 'x' } })), 'alpha found x');
    assert.equal(text(await client.callTool({ name: 'beta_search', arguments: { q: 'x' } })), 'beta search {"q":"x"}');
    assert.equal(text(await client.callTool({ name: 'beta_lookup', arguments: { key: 'k' } })), 'beta lookup {"key":"k"}');
    assert.equal(text(await client.callTool({ name: 'everything_echo', arguments: { message: 'hi' } })), 'Echo: hi');
    assert.equal(text(await client.callTool({ name: 'everything_get-sum', arguments: { a: 2, b: 40 } })), 'The sum of 2 and 40 is 42.');

    // A server's sampling request reaches the client, whose answer goes back to that server.
    assert.equal(text(await client.callTool({ name: 'alpha_ask-model', arguments: { question: 'meaning?' } })), `${SAMPLED_PREFIX}${SAMPLED}`);
    assert.match(text(await client.callTool({ name: 'everything_trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } })), new RegExp(SAMPLED));

    // An elicitation from the stdio server is answered by the client too.
    assert.match(text(await client.callTool({ name: 'everything_trigger-elicitation-request', arguments: {} })), /User declined/);

    // alpha registers a tool: its list_changed reaches the client, and the list has the tool.
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    const before = changed;
    assert.equal(text(await client.callTool({ name: 'alpha_add-tool', arguments: {} })), 'added');
    await until(() => changed > before, 'tools/list_changed from alpha');
    assert.ok((await toolPages(client)).flat().some((tool) => tool.name === 'alpha_late'));

    const prompts = await client.listPrompts();
    assert.ok(prompts.prompts.some((p) => p.name === 'alpha_greet'));
    assert.ok(prompts.prompts.some((p) => p.name === 'everything_simple-prompt'));
    const greeting = await client.getPrompt({ name: 'alpha_greet', arguments: { who: 'Ann' } });
    assert.deepEqual(greeting.messages[0]?.content, { type: 'text', text: 'Hello, Ann, from alpha' });
    const simple = await client.getPrompt({ name: 'everything_simple-prompt' });
    assert.ok(simple.messages.length > 0);

    const resources = await client.listResources();
    assert.ok(resources.resources.some((r) => r.uri === 'alpha://readme'));
    const everythingResource = resources.resources.find((r) => r.uri !== 'alpha://readme')!;
    assert.ok(everythingResource, 'server-everything lists resources too');
    assert.deepEqual((await client.readResource({ uri: 'alpha://readme' })).contents, [{ uri: 'alpha://readme', text: 'alpha readme' }]);
    assert.equal((await client.readResource({ uri: everythingResource.uri })).contents[0]?.uri, everythingResource.uri);
    const templates = await client.listResourceTemplates();
    assert.ok(templates.resourceTemplates.length > 0, 'server-everything lists resource templates');

    await assert.rejects(client.callTool({ name: 'gamma_search', arguments: {} }), (err: unknown) => err instanceof McpError && err.code === -32602 && /no server has a tool "gamma_search"/.test(err.message));

    const exchanges = await tapwire.stop();
    // The agent-facing call, on the federated route, names the server in details; its child is the server's own call.
    const call = one(exchanges, { route: 'tools', method: 'tools/call', target: 'alpha_search' });
    assert.equal(details(call).server, 'alpha');
    assert.equal(call.parent_id, null);
    const [child, ...others] = childrenOf(exchanges, call);
    assert.equal(others.length, 0);
    assert.deepEqual(
      { route: child!.route, method: child!.method, target: child!.target, status: child!.status, session_id: child!.session_id },
      { route: 'alpha', method: 'tools/call', target: 'search', status: 'ok', session_id: call.session_id },
    );
    // The server's call continues the agent-facing call's trace, and alpha was told its span.
    assert.equal(child!.trace_id, call.trace_id);
    assert.ok(alpha.seen.some((r) => r.headers.traceparent === `00-${child!.trace_id}-${child!.span_id}-01`), 'alpha got the per-server span as traceparent');
    assert.equal(one(exchanges, { route: 'tools', method: 'tools/call', target: 'beta_lookup' }).status, 'ok');
    assert.equal(childrenOf(exchanges, one(exchanges, { route: 'tools', method: 'tools/call', target: 'everything_echo' }))[0]?.route, 'everything');

    // The first tools/list fanned out to all three servers; the second page only to beta.
    const lists = exchanges.filter((e) => e.route === 'tools' && e.method === 'tools/list');
    assert.deepEqual(childrenOf(exchanges, lists[0]!).map((e) => e.route).sort(), ['alpha', 'beta', 'everything']);
    assert.deepEqual(childrenOf(exchanges, lists[1]!).map((e) => e.route), ['beta']);
    assert.deepEqual(childrenOf(exchanges, one(exchanges, { route: 'tools', method: 'initialize' })).filter((e) => e.method === 'initialize').map((e) => e.route).sort(), ['alpha', 'beta', 'everything']);

    // alpha's sampling request: the agent-facing request on the route, alpha's own as its child.
    const samplings = exchanges.filter((e) => e.route === 'tools' && e.method === 'sampling/createMessage');
    assert.equal(samplings.length, 2);
    assert.ok(samplings.every((e) => e.direction === 'server_to_client' && e.status === 'ok'));
    const alphaSampling = samplings.find((e) => details(e).server === 'alpha')!;
    const alphaChild = childrenOf(exchanges, alphaSampling)[0]!;
    assert.deepEqual({ route: alphaChild.route, direction: alphaChild.direction, status: alphaChild.status }, { route: 'alpha', direction: 'server_to_client', status: 'ok' });
    assert.notEqual(alphaSampling.jsonrpc_id, null);

    const elicitation = one(exchanges, { route: 'tools', method: 'elicitation/create' });
    assert.deepEqual(childrenOf(exchanges, elicitation).map((e) => [e.route, e.method, e.status]), [['everything', 'elicitation/create', 'ok']]);

    const changedNotice = exchanges.find((e) => e.route === 'alpha' && e.method === 'notifications/tools/list_changed');
    assert.ok(changedNotice?.parent_id, 'alpha\'s list_changed is recorded with its agent-facing parent');
    assert.equal(exchanges.find((e) => e.id === changedNotice.parent_id)?.route, 'tools');
  });

  test('failure: open: a server that is down is left out of the list, and a log notification names it', async (t) => {
    const tapwire = await federated(t, { ...urls(), alpha: `${await closedPortUrl()}/mcp` });
    const { client } = await connect(t, tapwire);
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(n.params));
    const names = (await toolPages(client)).flat().map((tool) => tool.name);
    assert.ok(names.includes('beta_search') && names.includes('everything_echo'));
    assert.ok(!names.some((name) => name.startsWith('alpha_')));
    await until(() => logged.length > 0, 'the log notification');
    const notice = logged[0] as { level: string; logger: string; data: { message: string; missing: { server: string; reason: string }[] } };
    assert.equal(notice.level, 'warning');
    assert.equal(notice.logger, 'tapwire');
    assert.deepEqual(notice.data.missing.map((m) => m.server), ['alpha']);
    assert.match(notice.data.missing[0]!.reason, /ECONNREFUSED/);
    await assert.rejects(client.callTool({ name: 'alpha_search', arguments: { q: 'x' } }), (err: unknown) => err instanceof McpError && err.code === SERVER_UNAVAILABLE);

    const exchanges = await tapwire.stop();
    const failed = exchanges.filter((e) => e.route === 'alpha' && e.method === 'initialize');
    assert.ok(failed.length >= 2, 'alpha was tried at initialize and again at the list');
    assert.ok(failed.every((e) => e.status === 'error' && e.error_code === 'server_unavailable' && e.parent_id !== null));
  });

  test('a server slower than list_timeout_ms counts as down: left out of the list, named in the log notification', async (t) => {
    const slow = await startStreamableServer(buildSlowLister(3000));
    t.after(() => slow.close());
    const tapwire = await federated(t, { ...urls(), beta: `${slow.origin}/mcp`, federated: ['list_timeout_ms: 300'] });
    const { client } = await connect(t, tapwire);
    const logged: { data: { missing: { server: string; reason: string }[] } }[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(n.params as (typeof logged)[number]));
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes('alpha_search') && names.includes('everything_echo'));
    assert.ok(!names.some((name) => name.startsWith('beta_')));
    await until(() => logged.length > 0, 'the log notification');
    assert.deepEqual(logged[0]!.data.missing, [{ server: 'beta', reason: 'no answer within 300 ms' }]);
  });

  test('a server that answers with something that is not JSON-RPC counts as down; the agent still gets the others', async (t) => {
    // A hand-made upstream: no real MCP server answers initialize with an HTML page.
    const broken = await startUpstream((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>'));
    t.after(() => broken.close());
    const tapwire = await federated(t, { ...urls(), alpha: `${broken.url}/mcp` });
    const { client } = await connect(t, tapwire);
    const logged: { data: { missing: { server: string; reason: string }[] } }[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logged.push(n.params as (typeof logged)[number]));
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    assert.ok(names.includes('beta_search') && !names.some((name) => name.startsWith('alpha_')));
    await until(() => logged.length > 0, 'the log notification');
    assert.deepEqual(logged[0]!.data.missing, [{ server: 'alpha', reason: 'its answer ended without a response' }]);
    assert.equal(text(await client.callTool({ name: 'everything_echo', arguments: { message: 'still here' } })), 'Echo: still here');
  });

  test('a stdio server that exits mid-call fails that call, and is started again at the next list', async (t) => {
    const tiny = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));
    const yaml = [
      'routes:',
      '  beta:',
      '    protocol: mcp',
      `    upstream: ${beta.origin}/mcp`,
      '  tiny:',
      '    protocol: mcp',
      `    command: ${JSON.stringify(process.execPath)}`,
      `    args: [${JSON.stringify(tiny)}]`,
      '  tools:',
      '    protocol: mcp',
      '    servers: [tiny, beta]',
    ].join('\n');
    const tapwire = await startTestSidecar(yaml);
    t.after(async () => {
      await tapwire.stop();
      tapwire.cleanup();
    });
    const { client } = await connect(t, tapwire);
    const pid = Number(text(await client.callTool({ name: 'tiny_pid', arguments: {} })));
    await assert.rejects(
      client.callTool({ name: 'tiny_exit', arguments: { code: 3 } }),
      (err: unknown) => err instanceof McpError && err.code === SERVER_UNAVAILABLE && /the MCP server exited with code 3/.test(err.message),
    );
    await assert.rejects(client.callTool({ name: 'tiny_echo', arguments: { text: 'x' } }), (err: unknown) => err instanceof McpError && err.code === SERVER_UNAVAILABLE);
    assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'tiny_echo'));
    const again = Number(text(await client.callTool({ name: 'tiny_pid', arguments: {} })));
    assert.ok(again > 0 && again !== pid, 'a new server process answers');
    assert.equal(text(await client.callTool({ name: 'tiny_echo', arguments: { text: 'back' } })), 'back');
  });

  test('failure: closed: a server that is down fails the list with a JSON-RPC error naming it', async (t) => {
    const tapwire = await federated(t, { ...urls(), alpha: `${await closedPortUrl()}/mcp`, federated: ['failure: closed'] });
    const { client } = await connect(t, tapwire);
    const err = await client.listTools().then(
      () => assert.fail('the list should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof McpError);
    assert.equal(err.code, SERVER_UNAVAILABLE);
    assert.match(err.message, /tools\/list failed: server alpha \(cannot reach .*ECONNREFUSED\) did not answer \(failure: closed\)/);
    // What does not need alpha still works.
    assert.equal(text(await client.callTool({ name: 'beta_search', arguments: { q: 'y' } })), 'beta search {"q":"y"}');
    const exchanges = await tapwire.stop();
    const list = one(exchanges, { route: 'tools', method: 'tools/list' });
    assert.equal(list.status, 'error');
    assert.equal(list.error_code, String(SERVER_UNAVAILABLE));
  });

  test('prefix: never serves names as the servers have them, and a clash fails the list naming both servers', async (t) => {
    const tapwire = await federated(t, { ...urls(), federated: ['prefix: never'] });
    const { client } = await connect(t, tapwire);
    await assert.rejects(client.listTools(), (err: unknown) => err instanceof McpError && /"search" exists on both alpha and beta/.test(err.message));
  });

  test('a policy on mcp.server hides one server\'s tools from the list and refuses a call to them', async (t) => {
    const policy = writePolicyFile(t, 'rules:\n  - name: no-beta\n    when: mcp.server == "beta" && mcp.method == "tools/call"\n    action: deny\n    message: beta is off limits\n');
    const tapwire = await federated(t, { ...urls(), top: [`policies: [${JSON.stringify(policy)}]`] });
    const { client } = await connect(t, tapwire);
    const names = (await toolPages(client)).flat().map((tool) => tool.name);
    assert.ok(!names.some((name) => name.startsWith('beta_')), names.join(', '));
    assert.ok(names.includes('alpha_search') && names.includes('everything_echo'));
    const refused = await client.callTool({ name: 'beta_lookup', arguments: { key: 'k' } });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /tapwire policy no-beta: beta is off limits/);
    assert.equal(text(await client.callTool({ name: 'alpha_search', arguments: { q: 'z' } })), 'alpha found z');
    const exchanges = await tapwire.stop();
    const denied = one(exchanges, { route: 'tools', method: 'tools/call', status: 'denied' });
    assert.deepEqual({ target: denied.target, rule: denied.policy_rule, server: details(denied).server }, { target: 'lookup', rule: 'no-beta', server: 'beta' });
    assert.equal(exchanges.filter((e) => e.route === 'beta' && e.method === 'tools/call').length, 0, 'beta never saw the call');
  });
});
