// A call tapwire cannot read must not be forwarded unjudged (issue 25). Each body form here
// makes the real v1 SDK server (createMcpExpressApp) run a tool when sent to it directly; through
// tapwire, with a deny rule or an allowlist (`default: deny`), the form is either read as the
// server reads it and judged by the rule (a byte-order mark, gzip, deflate, br, UTF-16) or
// refused as unreadable (JSON nested deeper than 512, an encoding or charset tapwire does
// not read): the tool never runs and the record names the tool or the reason. The same on
// LLM routes (the provider's error JSON), on `tapwire wrap` lines and on command routes.
// In monitor mode an unreadable call is forwarded and recorded as would_deny.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { after, before, describe, test, type TestContext } from 'node:test';
import { openDatabase } from '../../store/sqlite/db.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import { startExpressMcpServer, type ExpressMcpServer } from '../support/mcp-express.js';
import { one } from '../support/mcp.js';
import { startWithPolicy, writePolicyFile } from '../support/policy-sidecar.js';
import { startTestSidecarFor, type TestSidecar } from '../support/sidecar.js';
import { startUpstream } from '../support/upstream.js';
import { CLI } from '../support/cli.js';

const STDIO_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));

const deepObject = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** A tools/call of `tool`, with `_meta` nested `depth` deep when given. */
function toolCall(tool: string, depth = 0, args: Record<string, unknown> = {}): string {
  const meta = depth > 0 ? `,"_meta":${deepObject(depth)}` : '';
  return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"${tool}","arguments":${JSON.stringify(args)}${meta}}}`;
}

/** `json` with a `_meta` member nested 600 deep: in its params when it has any, else at its top. */
function nestDeep(json: string): string {
  const meta = `"_meta":${deepObject(600)}`;
  return json.includes('"params":{') ? json.replace('"params":{', `"params":{${meta},`) : json.replace('{', `{${meta},`);
}

interface BodyForm {
  what: string;
  encode: (json: string) => Buffer;
  headers: Record<string, string>;
  /** True when tapwire reads it as the server does and judges it; false when it refuses it as unreadable. */
  judged: boolean;
  /** The server runs it when sent directly. */
  runsDirectly: boolean;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const FORMS: BodyForm[] = [
  { what: 'a UTF-8 byte-order mark', encode: (j) => Buffer.concat([BOM, Buffer.from(j)]), headers: {}, judged: true, runsDirectly: true },
  { what: 'gzip', encode: (j) => gzipSync(j), headers: { 'content-encoding': 'gzip' }, judged: true, runsDirectly: true },
  { what: 'deflate', encode: (j) => deflateSync(j), headers: { 'content-encoding': 'deflate' }, judged: true, runsDirectly: true },
  { what: 'br', encode: (j) => brotliCompressSync(j), headers: { 'content-encoding': 'br' }, judged: true, runsDirectly: true },
  { what: 'UTF-16LE with its charset', encode: (j) => Buffer.from(j, 'utf16le'), headers: { 'content-type': 'application/json; charset=utf-16le' }, judged: true, runsDirectly: true },
  {
    what: 'UTF-16 with a byte-order mark and its charset',
    encode: (j) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(j, 'utf16le')]),
    headers: { 'content-type': 'application/json; charset=utf-16' },
    judged: true,
    runsDirectly: true,
  },
  { what: 'a member nested 600 deep (params._meta on MCP)', encode: (j) => Buffer.from(nestDeep(j)), headers: {}, judged: false, runsDirectly: true },
];

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };

async function send(url: string, form: BodyForm, json: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...form.headers }, body: form.encode(json) });
  return { status: response.status, text: await response.text() };
}

/** Policy YAML from its lines. */
const rules = (lines: readonly string[]): string => [...lines, ''].join('\n');

const DENY_RM = ['rules:', '  - { name: no-rm, when: \'mcp.tool == "rm"\', action: deny }'];
const ALLOW_ECHO = ['default: deny', 'rules:', '  - { name: echo-only, when: \'mcp.method != "tools/call" || mcp.tool == "echo"\', action: allow }'];

function mcpTapwire(t: TestContext, server: ExpressMcpServer, policy: string[]): Promise<TestSidecar> {
  return startWithPolicy(t, `routes:\n  m: { protocol: mcp, upstream: "${new URL(server.url).origin}" }`, rules(policy));
}

describe('MCP bodies the SDK server reads', () => {
  let server: ExpressMcpServer;
  before(async () => {
    server = await startExpressMcpServer();
  });
  after(() => server.close());

  test('sent directly, the SDK server runs the tool for every form', async () => {
    for (const form of FORMS) {
      server.ran.length = 0;
      const answer = await send(server.url, form, toolCall('rm'));
      assert.equal(answer.status, 200, form.what);
      assert.deepEqual(server.ran, ['rm'], `${form.what}: the server ran rm`);
    }
  });

  for (const [policyName, policy, rule] of [
    ['a deny rule', DENY_RM, 'no-rm'],
    ['an allowlist with default: deny', ALLOW_ECHO, null],
  ] as const) {
    test(`through tapwire with ${policyName}: each form is judged or refused, never run, and recorded`, async (t) => {
      const tapwire = await mcpTapwire(t, server, [...policy]);
      server.ran.length = 0;
      const postsBefore = server.posts;
      for (const form of FORMS) {
        const answer = await send(`${tapwire.url}/m/mcp`, form, toolCall('rm'));
        if (form.judged) {
          // Read as the server reads it: the rule saw rm, and the agent got the tool error.
          assert.equal(answer.status, 200, form.what);
          const refusal = JSON.parse(answer.text) as { id: number; result: { isError: boolean; content: { text: string }[] } };
          assert.equal(refusal.id, 7, form.what);
          assert.equal(refusal.result.isError, true, form.what);
        } else {
          assert.equal(answer.status, 403, form.what);
          const refusal = JSON.parse(answer.text) as { id: null; error: { code: number; message: string; data: { rule: string } } };
          assert.equal(refusal.id, null);
          assert.equal(refusal.error.data.rule, 'unreadable');
          assert.match(refusal.error.message, /nested deeper than 512 levels/);
        }
      }
      assert.deepEqual(server.ran, [], 'the server ran nothing');
      assert.equal(server.posts, postsBefore, 'nothing reached the server');
      // An allowed call in a form tapwire decodes is forwarded as it came, and runs.
      const gzip = FORMS.find((f) => f.what === 'gzip')!;
      const echoed = await send(`${tapwire.url}/m/mcp`, gzip, toolCall('echo', 0, { text: 'hi' }));
      assert.equal(echoed.status, 200);
      assert.match(echoed.text, /"text":"hi"/);
      assert.deepEqual(server.ran, ['echo']);

      const exchanges = await tapwire.stop();
      const judged = exchanges.filter((e) => e.target === 'rm');
      assert.equal(judged.length, FORMS.filter((f) => f.judged).length, 'each decoded form is recorded as a call of rm');
      for (const e of judged) {
        assert.equal(e.status, 'denied');
        assert.equal(e.method, 'tools/call');
        if (rule) assert.equal(e.policy_rule, rule);
        else assert.match(String(e.policy_rule), /#default$/);
      }
      const unreadable = one(exchanges, { policy_rule: 'unreadable' });
      assert.equal(unreadable.status, 'denied');
      assert.equal(unreadable.http_status, 403);
      assert.match(String(unreadable.policy_reason), /tapwire cannot read this request, so no policy can judge it: .*nested deeper than 512 levels/);
      const echo = one(exchanges, { method: 'tools/call', target: 'echo' });
      assert.equal(echo.status, 'ok');
    });
  }

  test('an encoding or charset tapwire does not read is refused on a policed route, and passed through on an unpoliced one', async (t) => {
    const unread: BodyForm[] = [
      { what: 'zstd', encode: (j) => Buffer.from(j), headers: { 'content-encoding': 'zstd' }, judged: false, runsDirectly: false },
      { what: 'latin-1', encode: (j) => Buffer.from(j, 'latin1'), headers: { 'content-type': 'application/json; charset=iso-8859-1' }, judged: false, runsDirectly: false },
      { what: 'gzip that does not decode', encode: (j) => Buffer.from(j), headers: { 'content-encoding': 'gzip' }, judged: false, runsDirectly: false },
    ];
    const tapwire = await mcpTapwire(t, server, DENY_RM);
    const postsBefore = server.posts;
    for (const form of unread) {
      const answer = await send(`${tapwire.url}/m/mcp`, form, toolCall('echo'));
      assert.equal(answer.status, 403, form.what);
    }
    assert.equal(server.posts, postsBefore, 'nothing reached the server');
    const exchanges = await tapwire.stop();
    assert.deepEqual(
      exchanges.map((e) => [e.status, e.policy_rule]),
      unread.map(() => ['denied', 'unreadable']),
    );
    assert.match(String(exchanges[0]!.policy_reason), /content-encoding "zstd"/);
    assert.match(String(exchanges[1]!.policy_reason), /charset "iso-8859-1"/);
    assert.match(String(exchanges[2]!.policy_reason), /gzip body that does not decode/);

    // No request-phase rule: forwarded byte for byte (the server answers), recorded as not JSON-RPC.
    const plain = await startTestSidecarFor(t, `routes:\n  m: { protocol: mcp, upstream: "${new URL(server.url).origin}" }`);
    const zstd = await send(`${plain.url}/m/mcp`, unread[0]!, toolCall('echo'));
    assert.deepEqual([zstd.status, zstd.text.includes('unsupported content encoding')], [415, true], "the server's own refusal");
    const [passed] = await plain.stop();
    assert.equal(passed!.policy_rule, null);
  });

  test('monitor mode: an unreadable call is forwarded, runs, and is recorded as would_deny', async (t) => {
    const tapwire = await mcpTapwire(t, server, ['mode: monitor', ...DENY_RM]);
    server.ran.length = 0;
    const deep = FORMS.find((f) => !f.judged)!;
    const answer = await send(`${tapwire.url}/m/mcp`, deep, toolCall('rm'));
    assert.equal(answer.status, 200);
    assert.deepEqual(server.ran, ['rm']);
    const [recorded] = await tapwire.stop();
    assert.deepEqual([recorded!.policy_rule, recorded!.policy_action], ['unreadable', 'would_deny']);
    assert.match(String(recorded!.policy_reason), /nested deeper than 512 levels/);
  });

  test('a body decoded over limits.max_request_bytes gets 413, never forwarded', async (t) => {
    const tapwire = await startWithPolicy(t, `limits: { max_request_bytes: 65536 }\nroutes:\n  m: { protocol: mcp, upstream: "${new URL(server.url).origin}" }`, rules(DENY_RM));
    const postsBefore = server.posts;
    const bomb = gzipSync(toolCall('echo', 0, { text: 'x'.repeat(10_000_000) }));
    assert.ok(bomb.length < 65536);
    const response = await fetch(`${tapwire.url}/m/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, 'content-encoding': 'gzip' }, body: bomb });
    assert.equal(response.status, 413);
    assert.match(await response.text(), /larger than 65536 bytes once decoded/);
    assert.equal(server.posts, postsBefore);
    const [recorded] = await tapwire.stop();
    assert.equal(recorded!.error_code, 'request_too_large');
  });
});

describe('LLM bodies', () => {
  test('each form is judged by the model it names or refused, in the provider\'s error format; an allowed one is forwarded as received', async (t) => {
    const upstream = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'c', object: 'chat.completion', model: 'ok-model', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    });
    t.after(() => upstream.close());
    const tapwire = await startWithPolicy(
      t,
      `routes:\n  openai: { protocol: llm, provider: openai, upstream: "${upstream.url}" }\n  anthropic: { protocol: llm, provider: anthropic, upstream: "${upstream.url}" }`,
      rules(['rules:', '  - { name: no-forbidden, when: \'llm.model == "forbidden"\', action: deny }']),
    );
    const chat = (model: string): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
    for (const form of FORMS) {
      for (const [route, path] of [['openai', '/v1/chat/completions'], ['anthropic', '/v1/messages']] as const) {
        const response = await fetch(`${tapwire.url}/${route}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...form.headers }, body: form.encode(chat('forbidden')) });
        assert.equal(response.status, 403, `${route}: ${form.what}`);
        const error = (await response.json()) as { type?: string; error: { type: string; message: string } };
        if (route === 'anthropic') assert.deepEqual([error.type, error.error.type], ['error', 'permission_error']);
        else assert.equal(error.error.type, 'policy_denied');
        assert.match(error.error.message, form.judged ? /no-forbidden/ : /unreadable: .*nested deeper than 512 levels/, `${route}: ${form.what}`);
      }
    }
    assert.equal(upstream.requests.length, 0, 'nothing reached the provider');
    const gzip = gzipSync(chat('ok-model'));
    const allowed = await fetch(`${tapwire.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzip });
    assert.equal(allowed.status, 200);
    assert.ok(upstream.requests[0]!.body.equals(gzip), 'forwarded as received');
    const exchanges = await tapwire.stop();
    const judged = exchanges.filter((e) => e.policy_rule === 'no-forbidden');
    assert.equal(judged.length, 2 * FORMS.filter((f) => f.judged).length);
    assert.ok(judged.every((e) => e.status === 'denied' && e.model === 'forbidden'));
    assert.equal(exchanges.filter((e) => e.policy_rule === 'unreadable' && e.status === 'denied').length, 2);
    assert.equal(one(exchanges, { status: 'ok' }).model, 'ok-model', 'the allowed call is recorded with the model it named');
  });
});

describe('stdio lines nested deeper than 512', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-unreadable-stdio-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes `line` to a stdio process, closes its stdin, and returns what it wrote to stdout once it exits. */
  async function oneLine(command: string[], line: string): Promise<string> {
    const child = spawn(process.execPath, command, { stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stdin.write(`${line}\n`);
    // The server answers before stdin closes (closing it ends the server).
    await new Promise<void>((resolve) => {
      const check = (): void => void (stdout.includes('\n') ? resolve() : setTimeout(check, 20));
      check();
    });
    child.stdin.end();
    await once(child, 'exit');
    return stdout;
  }

  const writeLine = (target: string): string => toolCall('write_file', 600, { path: target, text: 'x' });

  test('the stdio SDK server runs it directly; through tapwire wrap it is refused and recorded', async (t) => {
    const direct = join(dir, 'direct.txt');
    const answer = await oneLine([STDIO_SERVER], writeLine(direct));
    assert.match(answer, /"written"/);
    assert.equal(existsSync(direct), true, 'the server ran write_file');

    const policyPath = writePolicyFile(t, rules(['rules:', '  - { name: no-writes, when: \'mcp.tool == "write_file"\', action: deny }']));
    const configPath = join(dir, 'tapwire.yaml');
    writeFileSync(configPath, `policies: [${JSON.stringify(policyPath)}]\nroutes:\n  files: { protocol: mcp, command: ${JSON.stringify(process.execPath)} }\n`);
    const dbPath = join(dir, 'wrap.db');
    const target = join(dir, 'wrapped.txt');
    const refused = await oneLine([CLI, 'wrap', '--route', 'files', '--config', configPath, '--db', dbPath, '--', process.execPath, STDIO_SERVER], writeLine(target));
    const refusal = JSON.parse(refused) as { id: null; error: { data: { rule: string } } };
    assert.deepEqual([refusal.id, refusal.error.data.rule], [null, 'unreadable']);
    assert.equal(existsSync(target), false, 'the server never saw the line');
    const db = openDatabase(dbPath, { readonly: true });
    try {
      const [recorded] = listExchanges(db);
      assert.deepEqual([recorded!.status, recorded!.policy_rule, recorded!.method], ['denied', 'unreadable', '(invalid)']);
      assert.match(String(recorded!.policy_reason), /nested deeper than 512 levels/);
    } finally {
      db.close();
    }
  });

  test('a command route refuses the POST and records it', async (t) => {
    const tapwire = await startWithPolicy(t, `routes:\n  files: { protocol: mcp, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(STDIO_SERVER)}] }`, rules(['rules:', '  - { name: no-writes, when: \'mcp.tool == "write_file"\', action: deny }']));
    const target = join(dir, 'routed.txt');
    const response = await fetch(`${tapwire.url}/files/mcp`, { method: 'POST', headers: MCP_HEADERS, body: writeLine(target) });
    assert.equal(response.status, 403);
    assert.equal(existsSync(target), false);
    const [recorded] = await tapwire.stop();
    assert.deepEqual([recorded!.status, recorded!.policy_rule], ['denied', 'unreadable']);
  });
});
