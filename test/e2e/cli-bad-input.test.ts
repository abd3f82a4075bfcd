// Bad input on the command line, as a user meets it with the built CLI: a --listen address
// that is out of range or has no host, a --db that is not a SQLite file or cannot be opened,
// and a command route whose command does not exist. Every command answers with one line on
// stderr and exit code 2, never a stack trace, and leaves the files it was given as they were.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blankExchange } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { prepareInsert } from '../../store/sqlite/insert.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import { REPO } from '../support/grafana.js';
import { runCli } from '../support/cli.js';

const POLICY = join(REPO, 'policies', 'examples', 'allowlist.yaml');

/** Every command that reads or writes a database, given `db`. */
function commandsWithDb(db: string): [name: string, args: string[]][] {
  return [
    ['run', ['run', '--no-config', '--db', db, '--listen', '127.0.0.1:0']],
    ['wrap', ['wrap', '--route', 'files', '--db', db, '--', process.execPath, '-e', '']],
    ['export', ['export', '--format', 'jsonl', '--db', db]],
    ['mock', ['mock', '--db', db, '--listen', '127.0.0.1:0']],
    ['replay', ['replay', '--db', db, '01ARZ3NDEKTSV4RRFFQ69G5FAV']],
    ['policy test', ['policy', 'test', POLICY, '--db', db]],
    ['tui', ['tui', '--db', db]],
    ['demo', ['demo', '--db', db, '--listen', '127.0.0.1:0']],
  ];
}

/** Every command that listens, given `listen` and an existing database. */
function commandsWithListen(listen: string, db: string): [name: string, args: string[]][] {
  return [
    ['run', ['run', '--no-config', '--db', db, '--listen', listen]],
    ['mock', ['mock', '--db', db, '--listen', listen]],
    ['demo', ['demo', '--db', db, '--listen', listen]],
  ];
}

function assertOneLineExit2(result: { status: number | null; stderr: string }, what: string, expected: RegExp): void {
  assert.equal(result.status, 2, `${what}: exit code 2\n${result.stderr}`);
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, expected, what);
  assert.doesNotMatch(result.stderr, /^\s+at /m, `${what}: no stack trace`);
}

describe('bad command-line input: one line, exit code 2, files untouched', () => {
  let dir: string;
  let good: string;
  const rowsOf = (path: string): string => {
    const db = openDatabase(path, { readonly: true });
    try {
      return JSON.stringify(listExchanges(db));
    } finally {
      db.close();
    }
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-bad-input-'));
    good = join(dir, 'good.db');
    const db = openDatabase(good);
    prepareInsert(db)(
      ['openai', 'anthropic'].map((route) => ({ exchange: { ...blankExchange({ agent: 'agent', route, protocol: 'llm' }), status: 'ok' }, request: null, response: null, events: [] })),
    );
    db.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a --db that is a text file: every command names --db and the file, and the file is unchanged', () => {
    const text = join(dir, 'notes.db');
    writeFileSync(text, 'these are my notes, not a database\n');
    for (const [name, args] of commandsWithDb(text)) {
      const result = runCli(args, dir);
      assertOneLineExit2(result, name, /^tapwire: --db: .*notes\.db is not a (SQLite|tapwire) database/);
      assert.equal(readFileSync(text, 'utf8'), 'these are my notes, not a database\n', `${name} left the file as it was`);
    }
  });

  test('a --db that cannot be opened (a directory): every command names --db and the path', () => {
    const folder = join(dir, 'folder.db');
    mkdirSync(folder);
    for (const [name, args] of commandsWithDb(folder)) {
      assertOneLineExit2(runCli(args, dir), name, /^tapwire: --db: .*folder\.db/);
    }
  });

  test('a --listen port out of range, or a port without a host: the flag and what it expects; the database is unchanged', () => {
    const before = rowsOf(good);
    for (const [name, args] of commandsWithListen('127.0.0.1:99999', good)) {
      assertOneLineExit2(runCli(args, dir), name, /^tapwire: --listen 127\.0\.0\.1:99999: port 99999 is out of range \(0 to 65535\)$/);
    }
    for (const [name, args] of commandsWithListen('4796', good)) {
      assertOneLineExit2(runCli(args, dir), name, /^tapwire: --listen 4796: expected HOST:PORT, e\.g\. 127\.0\.0\.1:4796$/);
    }
    assert.equal(rowsOf(good), before, 'the records are as they were');
    assert.equal((JSON.parse(before) as unknown[]).length, 2);
  });

  test('a command route whose command does not exist stops the start, naming the route and the command', () => {
    const config = join(dir, 'missing-command.yaml');
    const db = join(dir, 'never-created.db');
    writeFileSync(config, 'routes:\n  files:\n    protocol: mcp\n    command: no-such-binary-xyz\n    args: [--root, /srv]\n');
    assertOneLineExit2(runCli(['run', '--config', config, '--db', db, '--listen', '127.0.0.1:0'], dir), 'run', /^tapwire: routes\.files\.command: no-such-binary-xyz was not found on PATH$/);
    assert.equal(existsSync(db), false, 'stopped before the database was created');
    writeFileSync(config, 'routes:\n  files: { protocol: mcp, command: ./bin/server }\n');
    assertOneLineExit2(runCli(['run', '--config', config, '--db', db, '--listen', '127.0.0.1:0'], dir), 'run', /^tapwire: routes\.files\.command: \.\/bin\/server is not an executable file$/);
  });
});
