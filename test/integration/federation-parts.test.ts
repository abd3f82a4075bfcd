// The pieces of a federated route that need no network: its config (servers must be other,
// distinct, non-federated mcp routes; federation keys only on such routes; errors name the
// file, line and field), the names the agent sees and how they route back, the cursor that
// carries each server's own, the capabilities union, and mcp.server in the CEL context.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildContext } from '../../protocols/cel-context.js';
import { ConfigError, isFederatedRoute, parseConfig } from '../../config/config.js';
import { blankExchange } from '../../core/exchange.js';
import { decodeCursor, encodeCursor, NameSpace, oldestVersion, prefixes, unionCapabilities } from '../../protocols/mcp/federation-names.js';

const MEMBERS = ['routes:', '  a:', '    protocol: mcp', '    upstream: http://127.0.0.1:1/mcp', '  b:', '    protocol: mcp', '    command: node'];

function configError(lines: string[]): string {
  try {
    parseConfig(lines.join('\n'), 'tapwire.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected the config to be rejected');
}

describe('federated route config', () => {
  test('servers naming an HTTP and a command route, with prefix, failure and list_timeout_ms', () => {
    const config = parseConfig([...MEMBERS, '  all:', '    protocol: mcp', '    servers: [a, b]', '    prefix: always', '    failure: closed', '    list_timeout_ms: 500'].join('\n'), 'tapwire.yaml', {});
    const route = config.routes.all!;
    assert.ok(isFederatedRoute(route));
    assert.deepEqual({ servers: route.servers, prefix: route.prefix, failure: route.failure, list_timeout_ms: route.list_timeout_ms }, { servers: ['a', 'b'], prefix: 'always', failure: 'closed', list_timeout_ms: 500 });
    assert.ok(!isFederatedRoute(config.routes.a!));
  });

  test('servers that are missing, repeated, itself, not mcp or federated are errors naming the file, line and entry', () => {
    const message = configError([
      ...MEMBERS,
      '  llm:',
      '    protocol: llm',
      '    upstream: https://api.openai.com',
      '  inner:',
      '    protocol: mcp',
      '    servers: [a]',
      '  all:',
      '    protocol: mcp',
      '    servers: [a, a, nope, all, llm, inner]',
    ]);
    assert.match(message, /tapwire\.yaml:16:18: routes\.all\.servers\[1\]: a is listed twice/);
    assert.match(message, /tapwire\.yaml:16:21: routes\.all\.servers\[2\]: there is no route nope; routes: a, b, llm, inner, all/);
    assert.match(message, /routes\.all\.servers\[3\]: a route cannot federate itself/);
    assert.match(message, /routes\.all\.servers\[4\]: route llm has protocol llm; servers must be mcp routes/);
    assert.match(message, /routes\.all\.servers\[5\]: route inner is itself federated/);
  });

  test('a federated route has no upstream, command or headers; prefix and failure belong to federated routes; values are checked', () => {
    const message = configError([
      ...MEMBERS,
      '  all:',
      '    protocol: mcp',
      '    servers: [a]',
      '    upstream: http://127.0.0.1:2',
      '    headers: { x-key: k }',
      '    prefix: sometimes',
    ]);
    assert.match(message, /routes\.all\.prefix: Invalid option: expected one of "auto"\|"always"\|"never"/);
    const cross = configError([...MEMBERS, '  all:', '    protocol: mcp', '    servers: [a]', '    upstream: http://127.0.0.1:2', '    headers: { x-key: k }', '  c:', '    protocol: mcp', '    upstream: http://127.0.0.1:3', '    failure: open']);
    assert.match(cross, /routes\.all\.upstream: a route with servers has no upstream \(its servers do\)/);
    assert.match(cross, /routes\.all\.headers: a route with servers sends no headers/);
    assert.match(cross, /routes\.c\.failure: only routes with servers \(federated mcp routes\) have failure/);
  });
});

describe('federated names and cursors', () => {
  test('auto prefixes only with more than one server', () => {
    assert.equal(prefixes('auto', 1), false);
    assert.equal(prefixes('auto', 2), true);
    assert.equal(prefixes('always', 1), true);
    assert.equal(prefixes('never', 3), false);
  });

  test('prefixed names route back by the longest server name, listed or not', () => {
    const names = new NameSpace(['git', 'git_hub'], true);
    assert.deepEqual(names.expose('git_hub', 'search'), { exposed: 'git_hub_search', clash: null });
    assert.deepEqual(names.resolve('git_hub_search'), { server: 'git_hub', name: 'search' });
    // Never listed: the prefix decides, the longest server name first.
    assert.deepEqual(names.resolve('git_hub_issues'), { server: 'git_hub', name: 'issues' });
    assert.deepEqual(names.resolve('git_log'), { server: 'git', name: 'log' });
    assert.equal(names.resolve('svn_log'), null);
    assert.equal(names.resolve('git_'), null);
  });

  test('unprefixed names clash when two servers have one; a single server takes any name', () => {
    const names = new NameSpace(['a', 'b'], false);
    assert.deepEqual(names.expose('a', 'search'), { exposed: 'search', clash: null });
    assert.deepEqual(names.expose('a', 'search'), { exposed: 'search', clash: null });
    assert.deepEqual(names.expose('b', 'search'), { exposed: 'search', clash: 'a' });
    assert.equal(names.resolve('unknown'), null);
    assert.deepEqual(new NameSpace(['only'], false).resolve('anything'), { server: 'only', name: 'anything' });
  });

  test('a cursor carries each server\'s own and is refused when it is not one tapwire gave out', () => {
    const cursor = encodeCursor(new Map([['a', 'page-2'], ['b', '{"x":1}']]))!;
    assert.deepEqual([...decodeCursor(cursor, ['a', 'b'])!], [['a', 'page-2'], ['b', '{"x":1}']]);
    assert.equal(encodeCursor(new Map()), undefined);
    assert.equal(decodeCursor(cursor, ['a']), null, 'names a server the route does not have');
    assert.equal(decodeCursor('not a cursor', ['a']), null);
    assert.equal(decodeCursor(Buffer.from('{"a":1}').toString('base64url'), ['a']), null);
  });

  test('capabilities are the union of the servers\' that the route can route, with logging; the protocol version is the oldest', () => {
    assert.deepEqual(unionCapabilities([{ tools: { listChanged: false }, tasks: { list: {} } }, { tools: { listChanged: true }, resources: { subscribe: true } }, null]), {
      logging: {},
      tools: { listChanged: true },
      resources: { subscribe: true },
    });
    assert.equal(oldestVersion('2025-11-25', ['2025-06-18', '2025-11-25']), '2025-06-18');
  });
});

describe('mcp.server in the CEL context', () => {
  const context = (exchange: Partial<ReturnType<typeof blankExchange>>) =>
    (buildContext({ exchange: { ...blankExchange({ agent: 'a', route: 'tools', protocol: 'mcp' }), ...exchange } }).mcp as Map<string, unknown>).get('server');

  test('the server a federated route recorded in details, else the route itself; empty off MCP', () => {
    assert.equal(context({ details: JSON.stringify({ server: 'github' }) }), 'github');
    assert.equal(context({ details: JSON.stringify({ server: '' }) }), '');
    assert.equal(context({}), 'tools');
    assert.equal(context({ details: JSON.stringify({ tool_tokens: {} }) }), 'tools');
    assert.equal((buildContext({ exchange: blankExchange({ agent: 'a', route: 'openai', protocol: 'llm' }) }).mcp as Map<string, unknown>).get('server'), '');
  });
});
