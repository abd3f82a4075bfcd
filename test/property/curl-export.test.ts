// The TUI's curl export run by a shell (fast-check): for any recorded route, path, method,
// target (model, tool), status, header names and values and body bytes, the generated script
// passes `sh -n`, and run with only a recording `curl` stub on PATH it executes that stub
// once and nothing else, with exactly the recorded values as its arguments and the body,
// byte for byte, on its stdin. Plus the planted commands of the issue: $(…), backticks,
// newlines and quotes in the path, the tool name and a header; a body starting with @.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { blankExchange, type ExchangeRecord } from '../../core/exchange.js';
import { curlCommand } from '../../tui/curl.js';

interface Planted {
  route: string;
  verb: string;
  path: string;
  method: string | null;
  target: string;
  status: string;
  headers: [string, string][];
  body: Buffer;
}

function record(p: Planted): ExchangeRecord {
  const exchange = { ...blankExchange({ agent: 'a', route: p.route, protocol: 'http' }), method: p.method ?? `${p.verb} ${p.path}`, target: p.target, status: p.status as 'ok' };
  return { exchange, request: { headers: Object.fromEntries(p.headers), body: p.body, body_size: p.body.length, truncated: false }, response: null, events: [] };
}

/** What curl must be given for a record whose method is "VERB /path" and whose header names are HTTP tokens. */
function expectedArgs(p: Planted): string[] {
  const verb = p.method === null ? p.verb : 'POST';
  const path = p.method === null ? p.path : '';
  return ['-sS', '-X', verb, `http://sidecar.test/${p.route}${path}`, ...p.headers.flatMap(([n, v]) => ['-H', `${n}: ${v}`]), ...(p.body.length > 0 ? ['--data-binary', '@-'] : [])];
}

describe('curl export under a shell', () => {
  let dir: string;
  let stubs: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tapwire-curl-'));
    stubs = join(dir, 'bin');
    mkdirSync(stubs);
    // The only program on PATH: records its arguments (NUL-separated), its stdin, and that it ran.
    writeFileSync(join(stubs, 'curl'), '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done > "$OUT/argv"\n/bin/cat > "$OUT/stdin"\nprintf x >> "$OUT/calls"\n');
    chmodSync(join(stubs, 'curl'), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  let runs = 0;
  /** Checks the script with sh -n, runs it with the stub, and returns what curl got. */
  function runScript(script: string): { args: string[]; stdin: Buffer; stderr: string } {
    const out = mkdtempSync(join(dir, `run-${++runs}-`));
    const file = join(out, 'export.curl.sh');
    writeFileSync(file, script);
    const syntax = spawnSync('/bin/sh', ['-n', file], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, `sh -n: ${syntax.stderr}\n${script}`);
    const run = spawnSync('/bin/sh', [file], { cwd: out, env: { PATH: stubs, OUT: out, TAPWIRE_URL: 'http://sidecar.test' }, encoding: 'utf8' });
    assert.equal(run.status, 0, `exit ${run.status}: ${run.stderr}\n${script}`);
    assert.equal(readFileSync(join(out, 'calls'), 'utf8'), 'x', 'curl ran exactly once');
    const args = readFileSync(join(out, 'argv'), 'utf8').split('\0').slice(0, -1);
    const stdin = readFileSync(join(out, 'stdin'));
    rmSync(out, { recursive: true, force: true });
    return { args, stdin, stderr: run.stderr };
  }

  const noNul = (s: string): string => s.replace(/\0/g, '');
  const text = fc.string({ unit: 'binary', maxLength: 24 }).map(noNul);
  const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,12}$/);
  const planted = fc.record({
    route: text,
    verb: fc.constantFrom('GET', 'POST', 'DELETE', 'PATCH'),
    path: fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }).map((s) => `/${noNul(s).replace(/\s/g, '')}`),
    method: fc.option(text, { nil: null }),
    target: text,
    status: text,
    headers: fc.uniqueArray(fc.tuple(token, text), { maxLength: 4, selector: ([n]) => n.toLowerCase() }).map((hs) => hs.filter(([n]) => !['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'accept-encoding', 'traceparent', 'tracestate'].includes(n.toLowerCase()))),
    body: fc.oneof(fc.string({ unit: 'binary', maxLength: 64 }).map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b))),
  });

  test('any recorded strings: sh -n passes, only curl runs, with exactly the recorded arguments and body', () => {
    fc.assert(
      fc.property(planted, (p) => {
        // A method that is not "VERB /path" posts to the route's root: the property generates both.
        const plant: Planted = p.method !== null && /^([A-Z]+) (\S+)$/.test(p.method) ? { ...p, method: null } : p;
        const { args, stdin, stderr } = runScript(curlCommand(record(plant)));
        assert.equal(stderr, '');
        assert.deepEqual(args, expectedArgs(plant));
        assert.deepEqual(stdin, plant.body);
      }),
      { numRuns: 150, seed: 20261123 },
    );
  });

  test('planted commands: $(…), backticks, newlines and quotes run nothing; a body starting with @ reads no file', () => {
    const marker = join(dir, 'pwned');
    const plant = `$(/usr/bin/touch ${marker})\`/usr/bin/touch ${marker}\`'; /usr/bin/touch ${marker}; '`;
    const p: Planted = {
      route: `fs${plant}`,
      verb: 'POST',
      path: `/v1/$(/usr/bin/touch${'${IFS}'}${marker})/\`id\``,
      method: null,
      target: `read_file\n/usr/bin/touch ${marker}\n${plant}`,
      status: 'ok\n/usr/bin/touch ' + marker,
      headers: [['x-note', `it's ${plant}\n/usr/bin/touch ${marker}`]],
      body: Buffer.from(`@/etc/passwd\n${plant}\n%s \\n \\000 '`),
    };
    const script = curlCommand(record(p));
    const { args, stdin } = runScript(script);
    assert.equal(existsSync(marker), false, 'no planted command ran');
    assert.deepEqual(args, expectedArgs(p));
    assert.deepEqual(stdin, p.body, 'the body reached curl as recorded, not the file it names');
    assert.match(script, /^# tapwire exchange \S+: http POST \/v1\/.* read_file\\u000a\/usr\/bin\/touch /m, 'the target\'s newline is escaped in the comment');
    // A method with a newline: the comment stays one line, and the call goes to the route's root.
    const tool = runScript(curlCommand(record({ ...p, method: `tools/call\n/usr/bin/touch ${marker}` })));
    assert.equal(existsSync(marker), false);
    assert.equal(tool.args[3], `http://sidecar.test/${p.route}`);
  });

  test('a header name HTTP does not allow is left out, and the script says so', () => {
    const p: Planted = { route: 'r', verb: 'GET', path: '/x', method: null, target: '', status: 'ok', headers: [['x-ok', '1'], ['@/etc/passwd', 'v'], ['bad\nname', 'v']], body: Buffer.alloc(0) };
    const script = curlCommand(record(p));
    assert.match(script, /# 2 recorded header\(s\) with a name HTTP does not allow are left out/);
    assert.deepEqual(runScript(script).args, ['-sS', '-X', 'GET', 'http://sidecar.test/r/x', '-H', 'x-ok: 1']);
  });
});
