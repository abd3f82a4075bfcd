// `tapwire policy check` on approve rules a user got wrong, and `tapwire approvals` when the
// sidecar is not there or wants a token: each one line naming what is wrong (file:line:col
// for a policy), exit code 2, never a stack trace.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { CLI, freePort, runCli } from '../support/cli.js';
import { startTestSidecarFor } from '../support/sidecar.js';

const dir = mkdtempSync(join(tmpdir(), 'tapwire-approvals-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI as a child process, not blocking this one (whose sidecar it calls). */
async function runCliAsync(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env });
    return { status: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('tapwire policy check on approve rules', () => {
  test('an approve rule judging the response, approve: on a deny rule, a zero timeout: each at its line and column', () => {
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      [
        'rules:',
        '  - name: late',
        '    when: response.text.contains("rm")',
        '    action: approve',
        '  - name: stray',
        '    when: mcp.tool == "x"',
        '    action: deny',
        '    approve: { timeout: 5m }',
        '  - name: zero',
        '    when: mcp.tool == "z"',
        '    action: approve',
        '    approve: { timeout: 0s }',
        '',
      ].join('\n'),
    );
    const result = runCli(['policy', 'check', file]);
    assert.equal(result.status, 2);
    assert.equal(
      result.stderr,
      [
        `${file}:2:5: rules[0] (late): phase: a call is held for approval before it is forwarded: an approve rule is a request-phase rule (leave phase out, and judge the request only)`,
        `${file}:8:14: rules[1] (stray): approve: only approve rules have approve`,
        `${file}:12:14: rules[2] (zero): approve: timeout: a call needs some time to be approved in (e.g. 5m)`,
        '',
      ].join('\n'),
    );
  });

  test('durations that are not durations, and keys approve does not have', () => {
    const file = join(dir, 'durations.yaml');
    writeFileSync(file, 'rules:\n  - name: slow\n    when: mcp.tool == "y"\n    action: approve\n    approve: { timeout: 5 minutes, remember: forever, for: everyone }\n');
    const result = runCli(['policy', 'check', file]);
    assert.equal(result.status, 2);
    assert.equal(
      result.stderr,
      [
        `${file}:5:25: rules[0].approve.timeout: a duration such as 30s, 1m, 1h or 1d`,
        `${file}:5:46: rules[0].approve.remember: a duration such as 30s, 1m, 1h or 1d`,
        `${file}:5:60: rules[0].approve.for: unknown key`,
        '',
      ].join('\n'),
    );
  });
});

describe('tapwire approvals', () => {
  test('no sidecar at --url: one line, exit 2', async () => {
    const port = await freePort();
    const result = runCli(['approvals', 'list', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(result.status, 2);
    assert.equal(result.stderr, `tapwire: cannot reach the sidecar's admin endpoint at http://127.0.0.1:${port} (ECONNREFUSED): is tapwire running there? (--url, or --config for its admin.listen)\n`);
  });

  test('admin.token: refused without it (exit 2), listed with it; an unknown id is one line, exit 2', async (t) => {
    const token = 'approvals-admin-token-0123';
    const tapwire = await startTestSidecarFor(t, `admin: { token: ${token} }\nroutes: {}\n`);
    const url = tapwire.sidecar.adminUrl;
    const refused = await runCliAsync(['approvals', '--url', url]);
    assert.deepEqual([refused.status, refused.stderr], [2, `tapwire: ${url}: the admin endpoints need Authorization: Bearer <admin.token> (--token, TAPWIRE_ADMIN_TOKEN, or --config with admin.token)\n`]);
    const listed = await runCliAsync(['approvals', '--url', url], { ...process.env, TAPWIRE_ADMIN_TOKEN: token });
    assert.deepEqual([listed.status, listed.stdout], [0, 'no calls are held for approval\n']);
    const unknown = await runCliAsync(['approvals', 'deny', '01NOSUCHCALL', '--url', url, '--token', token]);
    assert.deepEqual([unknown.status, unknown.stderr], [2, `tapwire: ${url}: no call is held for approval under id 01NOSUCHCALL (it was settled, expired, or never held)\n`]);
  });
});
