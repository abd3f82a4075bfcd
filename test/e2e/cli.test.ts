// The tapwire command as a user runs it: help and version, config errors on stderr with a
// non-zero exit, `tapwire run` recording a call and flushing it on SIGTERM, and the config
// it picks up from its directory.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LLMock } from '@copilotkit/aimock';
import Database from 'better-sqlite3';
import { freePort, runCli, startCli, type RunningCli } from '../support/cli.js';

const PKG = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('tapwire CLI', () => {
  let dir: string;
  let mock: LLMock;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-cli-'));
    mock = new LLMock({ host: '127.0.0.1', port: 0 });
    mock.onMessage('ping', { content: 'pong', usage: { prompt_tokens: 3, completion_tokens: 1 } });
    await mock.start();
  });
  after(async () => {
    await mock.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('--version and --help', () => {
    const version = runCli(['--version']);
    assert.equal(version.status, 0);
    assert.equal(version.stdout.trim(), PKG.version);
    const help = runCli(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /run \[options\]\s+start the sidecar/);
    const runHelp = runCli(['run', '--help']);
    assert.match(runHelp.stdout, /--config <file>/);
    assert.match(runHelp.stdout, /--db <file>/);
  });

  test('a bad config exits 2 naming the file, line and field', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'routes:\n  openai:\n    protocol: llm\n    upstream: https://api.openai.com\n    retries: 3\n');
    const result = runCli(['run', '--config', file]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:\\d+: routes\\.openai\\.retries: unknown key`));
  });

  test('a database from a newer tapwire is refused with a clear message', () => {
    const path = join(dir, 'newer.db');
    const db = new Database(path);
    db.pragma('user_version = 999');
    db.close();
    const result = runCli(['run', '--db', path, '--listen', '127.0.0.1:0']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /schema version 999.*written by a newer tapwire/);
  });

  test('an address in use is reported, not thrown', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const { port } = blocker.address() as { port: number };
    const result = runCli(['run', '--db', join(dir, 'inuse.db'), '--listen', `127.0.0.1:${port}`]);
    blocker.close();
    assert.equal(result.status, 2);
    assert.match(result.stderr, /cannot listen: .*EADDRINUSE/);
  });

  test('run records a call, logs it as JSON, and flushes it on SIGTERM', async () => {
    const port = await freePort();
    const dbPath = join(dir, 'run.db');
    const configPath = join(dir, 'tapwire.yaml');
    writeFileSync(configPath, `agent: { name: e2e }\nroutes:\n  openai: { protocol: llm, upstream: "${mock.url}/v1" }\n`);
    const { child, stdout } = await startCli(['--config', configPath, '--db', dbPath, '--listen', `127.0.0.1:${port}`]);
    const response = await fetch(`http://127.0.0.1:${port}/openai/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-e2e-secret' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
    });
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    assert.equal(body.choices[0]?.message.content, 'pong');

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    const lines = stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const logged = lines.find((l) => l.msg === 'exchange');
    assert.equal(logged?.route, 'openai');
    assert.equal(logged?.target, 'gpt-4o-mini');
    assert.ok(lines.some((l) => l.msg === 'stopped' && l.recorded === 1));

    assert.equal(statSync(dbPath).mode & 0o777, 0o600);
    const db = new Database(dbPath, { readonly: true });
    const rows = db.prepare('SELECT agent, route, model, status, input_tokens, output_tokens FROM exchanges').all();
    const headers = db.prepare("SELECT headers FROM payloads WHERE kind = 'request'").pluck().get() as string;
    db.close();
    assert.deepEqual(rows, [{ agent: 'e2e', route: 'openai', model: 'gpt-4o-mini', status: 'ok', input_tokens: 3, output_tokens: 1 }]);
    assert.equal((JSON.parse(headers) as Record<string, string>).authorization, '[redacted]');
  });

  test('run uses ./tapwire.yaml when no --config is given, --no-config ignores it, and the start log says which config is in force', async (t) => {
    const here = join(dir, 'with-config');
    const elsewhere = join(dir, 'without-config');
    mkdirSync(here);
    mkdirSync(elsewhere);
    const port = await freePort();
    writeFileSync(join(here, 'tapwire.yaml'), `listen: 127.0.0.1:${port}\nroutes:\n  local: { protocol: llm, upstream: "${mock.url}/v1" }\n`);
    const routesOf = async (url: string): Promise<string[]> => ((await (await fetch(`${url}/_tapwire/health`)).json()) as { routes: string[] }).routes;
    const started: RunningCli[] = [];
    // A failed assertion must not leave a sidecar running (and the test runner waiting on it).
    t.after(() => started.forEach((running) => running.child.kill('SIGKILL')));
    const start = async (args: string[], cwd: string): Promise<RunningCli> => {
      const running = await startCli(args, process.env, cwd);
      started.push(running);
      return running;
    };
    const stop = async (running: RunningCli): Promise<Record<string, unknown>[]> => {
      running.child.kill('SIGTERM');
      await once(running.child, 'exit');
      return running.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    };

    const found = await start(['--db', join(here, 'found.db')], here);
    assert.deepEqual(await routesOf(`http://127.0.0.1:${port}`), ['local']);
    assert.ok((await stop(found)).some((l) => l.msg === `config: ${join(here, 'tapwire.yaml')}`), 'the log names the file in force');

    const otherPort = await freePort();
    const ignored = await start(['--no-config', '--db', join(here, 'ignored.db'), '--listen', `127.0.0.1:${otherPort}`], here);
    assert.deepEqual(await routesOf(`http://127.0.0.1:${otherPort}`), ['openai', 'anthropic']);
    assert.ok((await stop(ignored)).some((l) => typeof l.msg === 'string' && l.msg.startsWith('config: none (--no-config')));

    const none = await start(['--db', join(elsewhere, 'none.db'), '--listen', `127.0.0.1:${otherPort}`], elsewhere);
    assert.ok((await stop(none)).some((l) => typeof l.msg === 'string' && l.msg.startsWith('config: none (no --config and no ./tapwire.yaml')));

    // A broken ./tapwire.yaml is not skipped: it stops the start like a --config file would.
    writeFileSync(join(elsewhere, 'tapwire.yaml'), 'routes:\n  local: { protocol: llm }\n');
    const broken = runCli(['run', '--db', join(elsewhere, 'broken.db')], elsewhere);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /^tapwire\.yaml:2:\d+: routes\.local\.upstream: missing/m);
  });
});
