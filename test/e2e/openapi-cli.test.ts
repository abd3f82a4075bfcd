// `tapwire run` with an openapi route whose document is bad, as a user meets it with the
// built CLI: one message naming file:line:col and the JSON pointer of each problem (or the
// include entry that names nothing), exit code 2, no stack trace, nothing listening.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { PETSTORE_SPEC } from '../support/openapi.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-openapi-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(route: string): { status: number | null; stderr: string } {
  const config = join(dir, 'tapwire.yaml');
  writeFileSync(config, `listen: 127.0.0.1:0\nstore: { path: ${JSON.stringify(join(dir, 'tapwire.db'))} }\nroutes:\n  api:\n${route}`);
  return runCli(['run', '--config', config], dir);
}

describe('tapwire run with a bad OpenAPI document', () => {
  test('a document that does not validate: file:line:col and the JSON pointer, exit 2', () => {
    writeFileSync(join(dir, 'bad.yaml'), "openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\npaths:\n  /pets:\n    get:\n      responses:\n        '200':\n          descriptionx: ok\n");
    // The spec path is relative to the config file.
    const result = run('    protocol: openapi\n    spec: bad.yaml\n    upstream: http://127.0.0.1:9\n');
    assert.equal(result.status, 2, result.stderr);
    assert.ok(result.stderr.includes(`routes.api.spec: invalid OpenAPI document\n${join(dir, 'bad.yaml')}:9:9: /paths/~1pets/get/responses/200: must have required property 'description'`), result.stderr);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  test('YAML that does not parse, a missing file, an include naming nothing: exit 2 each', () => {
    writeFileSync(join(dir, 'syntax.yaml'), 'openapi: 3.0.3\ninfo: [\n');
    const syntax = run('    protocol: openapi\n    spec: syntax.yaml\n');
    assert.equal(syntax.status, 2, syntax.stderr);
    assert.match(syntax.stderr, /syntax\.yaml:\d+:\d+: /);
    const missing = run('    protocol: openapi\n    spec: nowhere.yaml\n');
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /routes\.api\.spec: cannot read the OpenAPI document .*nowhere\.yaml: ENOENT/);
    const include = run(`    protocol: openapi\n    spec: ${JSON.stringify(PETSTORE_SPEC)}\n    include: { operations: [findPet] }\n`);
    assert.equal(include.status, 2, include.stderr);
    assert.match(include.stderr, /^tapwire: routes\.api\.include\.operations\[0\]: no operation findPet; operations: findPets, addPet, find pet by id, deletePet/);
  });
});
