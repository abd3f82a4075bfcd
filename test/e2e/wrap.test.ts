// `tapwire wrap` as an MCP client runs it: the v1 SDK's StdioClientTransport launches
// tapwire in place of the server and gets the same results as from the server itself;
// bytes pass both ways untouched; exit codes, signals and server crashes reach the client;
// every message is in the record once tapwire has exited.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Exchange, ExchangeRecord } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { getExchangeRecord, listExchanges } from '../../store/sqlite/queries.js';
import { until } from '../support/upstream.js';
import { EVERYTHING, everythingSession, isProgressOfThreeSteps, isRunning, withoutProgress, type EverythingResults } from '../support/mcp-everything.js';
import { CLI } from '../support/cli.js';

const TEST_SERVER = fileURLToPath(new URL('../support/mcp-stdio-server.js', import.meta.url));

function recorded(dbPath: string): { exchanges: Exchange[]; record: (id: string) => ExchangeRecord } {
  const db = openDatabase(dbPath, { readonly: true });
  try {
    const exchanges = listExchanges(db);
    const records = new Map(exchanges.map((e) => [e.id, getExchangeRecord(db, e.id)!]));
    return { exchanges, record: (id) => records.get(id)! };
  } finally {
    db.close();
  }
}

/** An SDK client on tapwire wrap; `close()` waits until tapwire itself has exited. */
async function wrappedClient(args: string[]): Promise<{ client: Client; close: () => Promise<void>; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'wrap', ...args], stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'wrap-test', version: '1.0.0' });
  await client.connect(transport);
  const pid = transport.pid!;
  return {
    client,
    stderr: () => stderr,
    async close(): Promise<void> {
      await client.close();
      await until(() => !isRunning(pid), 'tapwire wrap to exit', 15_000);
    },
  };
}

interface RawWrap {
  write(text: string | Buffer): void;
  endStdin(): void;
  stdout(): Buffer;
  stderr(): string;
  /** Resolves with tapwire's exit code once it has exited and its stdout has closed. */
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** Runs tapwire wrap with raw pipes, for exact bytes, exit codes and signals. */
function startRaw(args: string[]): RawWrap {
  const child = spawn(process.execPath, [CLI, 'wrap', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => undefined);
  const stdoutClosed = once(child.stdout, 'close');
  const exited = (once(child, 'exit') as Promise<[number | null]>).then(async ([code]) => {
    await stdoutClosed;
    return code;
  });
  return {
    write: (text) => child.stdin.write(text),
    endStdin: () => child.stdin.end(),
    stdout: () => Buffer.concat(out),
    stderr: () => stderr,
    exited,
    kill: (signal) => child.kill(signal),
  };
}

/** The JSON-RPC messages in what tapwire wrote to stdout. */
function messagesOf(stdout: Buffer): Record<string, unknown>[] {
  return stdout
    .toString()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const line = (value: unknown): string => `${JSON.stringify(value)}\n`;
const INITIALIZE = line({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const INITIALIZED = line({ jsonrpc: '2.0', method: 'notifications/initialized' });

describe('tapwire wrap', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-wrap-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an SDK client gets the same results through tapwire as from server-everything itself, and every message is recorded', async () => {
    const direct = new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'pipe' });
    const directClient = new Client({ name: 'wrap-test', version: '1.0.0' });
    await directClient.connect(direct);
    let expected: EverythingResults;
    try {
      expected = await everythingSession(directClient);
    } finally {
      await directClient.close();
    }

    const dbPath = join(dir, 'everything.db');
    const wrapped = await wrappedClient(['--route', 'fs', '--db', dbPath, '--', process.execPath, EVERYTHING, 'stdio']);
    let got: EverythingResults;
    try {
      got = await everythingSession(wrapped.client);
    } finally {
      await wrapped.close();
    }
    assert.deepEqual(withoutProgress(got), withoutProgress(expected));
    assert.ok(isProgressOfThreeSteps(got.progress) && isProgressOfThreeSteps(expected.progress), 'the progress notifications the client saw are in order');
    assert.match(wrapped.stderr(), /Starting default \(STDIO\) server/, "the server's stderr passes through");

    const { exchanges, record } = recorded(dbPath);
    const sessions = new Set(exchanges.map((e) => e.session_id));
    assert.equal(sessions.size, 1, 'one session id per wrap process');
    assert.match([...sessions][0]!, /^[0-9a-f-]{36}$/);
    assert.ok(exchanges.every((e) => e.route === 'fs' && e.protocol === 'mcp'));
    const requests = exchanges.filter((e) => e.jsonrpc_id !== null && e.direction === 'client_to_server');
    assert.deepEqual(
      requests.map((e) => [e.method, e.target, e.status]).sort(),
      [
        ['initialize', null, 'ok'],
        ['prompts/get', 'simple-prompt', 'ok'],
        ['prompts/list', null, 'ok'],
        ['resources/list', null, 'ok'],
        ['resources/read', got.resourceUri, 'ok'],
        ['tools/call', 'echo', 'ok'],
        ['tools/call', 'get-sum', 'ok'],
        ['tools/call', 'trigger-long-running-operation', 'ok'],
        ['tools/list', null, 'ok'],
      ].sort(),
    );
    const ids = requests.map((e) => Number(e.jsonrpc_id)).sort((a, b) => a - b);
    assert.deepEqual(ids, [...ids.keys()], 'the SDK numbers its requests 0, 1, 2, ...');

    const toolsList = requests.find((e) => e.method === 'tools/list')!;
    assert.equal(toolsList.tokens_estimated, 1);
    assert.ok(toolsList.output_tokens! > 100);
    const perTool = (JSON.parse(toolsList.details!) as { tool_tokens: Record<string, number> }).tool_tokens;
    assert.ok(perTool.echo! > 0 && perTool['get-sum']! > 0);

    const echo = requests.find((e) => e.target === 'echo')!;
    const echoRecord = record(echo.id);
    const echoRequest = JSON.parse(echoRecord.request!.body!.toString()) as { params: { arguments: { message: string } } };
    assert.equal(echoRequest.params.arguments.message, 'hello through tapwire');
    assert.match(echoRecord.response!.body!.toString(), /Echo: hello through tapwire/);
    assert.equal(echo.request_bytes, echoRecord.request!.body!.length);

    const longRunning = requests.find((e) => e.target === 'trigger-long-running-operation')!;
    const progress = exchanges.filter((e) => e.method === 'notifications/progress');
    assert.equal(progress.length, 3, 'every progress notification the server sent');
    assert.equal(record(longRunning.id).events.length, progress.length, 'progress notifications are events of their request');
    assert.ok(progress.every((e) => e.direction === 'server_to_client' && e.target === 'trigger-long-running-operation'));
    assert.ok(exchanges.some((e) => e.method === 'notifications/initialized' && e.direction === 'client_to_server'));
  });

  test('bytes pass both ways untouched, split or not; lines that are not JSON-RPC pass and are recorded as invalid', async () => {
    // A server that answers each request line with oddly spaced JSON ending in \r\n, says so
    // on stderr, and answers a line it cannot parse with a line that is not JSON either.
    const server = `
      let buffer = '';
      process.stdin.on('data', (chunk) => {
        buffer += chunk;
        for (let i = buffer.indexOf('\\n'); i !== -1; i = buffer.indexOf('\\n')) {
          const text = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          let message;
          try { message = JSON.parse(text); } catch { process.stdout.write('server says: ' + text + '\\n'); continue; }
          process.stdout.write('{ "jsonrpc" : "2.0",  "id" : ' + JSON.stringify(message.id) + ', "result" : { "seen" : ' + JSON.stringify(text) + ' , "ü" : "✓" } }\\r\\n');
          process.stderr.write('answered ' + message.id + '\\n');
        }
      });
      process.stdin.on('end', () => process.exit(0));`;
    const request = '{"jsonrpc":"2.0",   "id":"a-1","method":"tools/list" , "params":{"é":"😀"}}\n';
    const junk = 'hello, not json\n';
    const input = Buffer.from(request + junk);
    const answer = `{ "jsonrpc" : "2.0",  "id" : "a-1", "result" : { "seen" : ${JSON.stringify(request.trimEnd())} , "ü" : "✓" } }\r\n`;
    const expected = Buffer.from(answer + `server says: ${junk}`);
    const dbPath = join(dir, 'bytes.db');
    const wrap = startRaw(['--route', 'raw', '--db', dbPath, '--', process.execPath, '-e', server]);
    // Chunk edges inside a line and inside a multi-byte character: the relay must not care.
    const emoji = input.indexOf(Buffer.from('😀'));
    for (const chunk of [input.subarray(0, 7), input.subarray(7, emoji + 2), input.subarray(emoji + 2)]) wrap.write(chunk);
    await until(() => wrap.stdout().length >= expected.length, 'both answers');
    wrap.endStdin();
    assert.equal(await wrap.exited, 0);
    assert.ok(wrap.stdout().equals(expected), `stdout was ${JSON.stringify(wrap.stdout().toString())}`);
    assert.match(wrap.stderr(), /answered a-1/);

    const { exchanges, record } = recorded(dbPath);
    const call = exchanges.find((e) => e.method === 'tools/list')!;
    assert.deepEqual([call.direction, call.jsonrpc_id, call.status], ['client_to_server', '"a-1"', 'ok']);
    assert.ok(record(call.id).request!.body!.equals(Buffer.from(request.trimEnd())), 'the request line, byte for byte');
    assert.ok(record(call.id).response!.body!.equals(Buffer.from(answer.slice(0, -1))), 'the answer line, byte for byte (its \\r kept)');
    const invalid = exchanges.filter((e) => e.method === '(invalid)');
    assert.deepEqual(
      invalid.map((e) => [e.direction, e.status, e.error_code]).sort(),
      [
        ['client_to_server', 'error', 'invalid_jsonrpc'],
        ['server_to_client', 'error', 'invalid_jsonrpc'],
      ],
    );
    const junkRecord = invalid.find((e) => e.direction === 'client_to_server')!;
    assert.equal(record(junkRecord.id).request!.body!.toString(), junk.trimEnd());
  });

  test("closing stdin closes the server's stdin, and tapwire exits with the server's code", async () => {
    const wrap = startRaw(['--route', 'raw', '--db', join(dir, 'code.db'), '--', process.execPath, '-e', "process.stdin.resume(); process.stdin.on('end', () => process.exit(7))"]);
    wrap.endStdin();
    assert.equal(await wrap.exited, 7);
    assert.equal(wrap.stdout().length, 0, 'tapwire writes nothing of its own to stdout');
  });

  test('SIGTERM is forwarded to the server; a server killed by a signal gives 128 + its number', async () => {
    const graceful = startRaw(['--route', 'raw', '--db', join(dir, 'term.db'), '--', process.execPath, '-e',
      "process.on('SIGTERM', () => { process.stderr.write('got SIGTERM\\n'); process.exit(4); }); process.stderr.write('ready\\n'); setInterval(() => {}, 1000);"]);
    await until(() => graceful.stderr().includes('ready'), 'the server to start', 15_000);
    graceful.kill('SIGTERM');
    assert.equal(await graceful.exited, 4);
    assert.match(graceful.stderr(), /got SIGTERM/);

    const killed = startRaw(['--route', 'raw', '--db', join(dir, 'kill.db'), '--', process.execPath, '-e', "process.kill(process.pid, 'SIGKILL')"]);
    assert.equal(await killed.exited, 128 + 9);
  });

  test('a server that dies with a request pending: the client gets a JSON-RPC error, the record has it, tapwire exits with its code', async () => {
    const dbPath = join(dir, 'crash.db');
    const wrap = startRaw(['--route', 'crashy', '--db', dbPath, '--', process.execPath, TEST_SERVER]);
    wrap.write(INITIALIZE);
    await until(() => messagesOf(wrap.stdout()).some((m) => m.id === 0), 'the initialize answer', 15_000);
    wrap.write(INITIALIZED + line({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'exit', arguments: { code: 3 } } }));
    assert.equal(await wrap.exited, 3);
    const answer = messagesOf(wrap.stdout()).find((m) => m.id === 1) as { error: { code: number; message: string; data: Record<string, unknown> } };
    assert.equal(answer.error.code, -32000);
    assert.match(answer.error.message, /exited with code 3/);
    assert.deepEqual(answer.error.data, { tapwire_error: 'server_exited', exit_code: 3, signal: null });

    const { exchanges, record } = recorded(dbPath);
    const call = exchanges.find((e) => e.method === 'tools/call')!;
    assert.deepEqual([call.target, call.status, call.error_code], ['exit', 'error', 'server_exited']);
    assert.match(call.error_message!, /exited with code 3 before answering/);
    assert.deepEqual(JSON.parse(record(call.id).response!.body!.toString()), answer);
  });

  test('an SDK client whose call kills the server gets an McpError naming the signal, not a hang', async () => {
    const wrapped = await wrappedClient(['--route', 'crashy', '--db', join(dir, 'signal.db'), '--', process.execPath, TEST_SERVER]);
    try {
      const failure = await wrapped.client.callTool({ name: 'kill', arguments: { signal: 'SIGKILL' } }).then(
        () => assert.fail('the call should fail'),
        (err: unknown) => err,
      );
      assert.ok(failure instanceof McpError);
      assert.equal(failure.code, -32000);
      assert.match(failure.message, /tapwire: the MCP server was killed by SIGKILL before answering/);
    } finally {
      await wrapped.close();
    }
  });

  test("with --config the route's command, env and agent apply; nothing after -- is needed", async () => {
    const configPath = join(dir, 'tapwire.yaml');
    const dbPath = join(dir, 'config.db');
    writeFileSync(
      configPath,
      [
        'agent: { name: desktop }',
        'routes:',
        '  files:',
        '    protocol: mcp',
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: [${JSON.stringify(TEST_SERVER)}]`,
        '    env: { TAPWIRE_TEST_MARK: "from-config" }',
      ].join('\n'),
    );
    const wrapped = await wrappedClient(['--route', 'files', '--config', configPath, '--db', dbPath]);
    try {
      const result = await wrapped.client.callTool({ name: 'echo', arguments: { text: 'configured' } });
      assert.deepEqual(result.content, [{ type: 'text', text: 'configured' }]);
    } finally {
      await wrapped.close();
    }
    const { exchanges } = recorded(dbPath);
    assert.ok(exchanges.length > 0 && exchanges.every((e) => e.agent === 'desktop' && e.route === 'files'));
  });

  test("everything after the server's command is the server's, with no -- before it (launchers that drop --)", async () => {
    const configPath = join(dir, 'argv.yaml');
    const dbPath = join(dir, 'argv.db');
    writeFileSync(configPath, 'agent: { name: launched }\nroutes:\n  files: { protocol: mcp, command: unused }\n');
    const serverArgs = ['-y', '--db', 'server.db', '--config', 'server.yaml', '--route', 'theirs', '--', '--help'];
    const wrapped = await wrappedClient(['--config', configPath, '--route', 'files', '--db', dbPath, process.execPath, TEST_SERVER, ...serverArgs]);
    try {
      const result = await wrapped.client.callTool({ name: 'argv', arguments: {} });
      assert.deepEqual(result.content, [{ type: 'text', text: JSON.stringify(serverArgs) }]);
    } finally {
      await wrapped.close();
    }
    const { exchanges } = recorded(dbPath);
    assert.ok(exchanges.some((e) => e.target === 'argv'), "tapwire's own --db and --config were the ones before the command");
    assert.ok(exchanges.every((e) => e.agent === 'launched' && e.route === 'files'));
  });

  test('a route that is missing, not mcp, or has no command is refused with exit code 2', () => {
    const configPath = join(dir, 'routes.yaml');
    writeFileSync(configPath, 'routes:\n  api: { protocol: llm, upstream: "https://api.openai.com" }\n  remote: { protocol: mcp, upstream: "http://127.0.0.1:1/mcp" }\n');
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'wrap', ...args], { encoding: 'utf8', timeout: 20_000 });
    const missing = run(['--route', 'nope', '--config', configPath, '--', 'true']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no route "nope" in the config; routes: api, remote/);
    const notMcp = run(['--route', 'api', '--config', configPath, '--', 'true']);
    assert.equal(notMcp.status, 2);
    assert.match(notMcp.stderr, /route "api" has protocol llm; wrap needs an mcp route/);
    const noCommand = run(['--route', 'remote', '--config', configPath]);
    assert.equal(noCommand.status, 2);
    assert.match(noCommand.stderr, /route "remote" has no command: give the server's command after --/);
    const bare = run(['--route', 'fs']);
    assert.equal(bare.status, 2);
    assert.match(bare.stderr, /without --config, give the server's command after --/);
    assert.equal(missing.stdout + notMcp.stdout + noCommand.stdout + bare.stdout, '', 'nothing on stdout');
  });

  test('a command that cannot be started exits 127', async () => {
    const wrap = startRaw(['--route', 'raw', '--db', join(dir, 'enoent.db'), '--', join(dir, 'no-such-server')]);
    assert.equal(await wrap.exited, 127);
    assert.match(wrap.stderr(), /cannot start the MCP server/);
  });
});
