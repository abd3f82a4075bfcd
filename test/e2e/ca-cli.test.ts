// `tapwire ca` with the built CLI: the local CA is made at first use (key 0600 in a 0700
// directory), kept across runs, replaced by --rotate; the lines it prints
// are what agents need (and never a token); a key others can read, or a bad config, is one
// line on stderr and exit 2.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../support/cli.js';

const ROUTE = 'routes:\n  openai: { protocol: llm, provider: openai, upstream: "https://api.openai.com" }\n';

function setUp(t: { after(fn: () => void): void }, extra = ''): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-ca-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'tapwire.yaml');
  writeFileSync(config, `${ROUTE}proxy:\n  listen: 127.0.0.1:4999\n  intercept: [api.openai.com]\n  ca_dir: state/ca\n${extra}`);
  return { dir, config };
}

/** The `export NAME=value` lines printed, as a map. */
function exported(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('tapwire ca', () => {
  test('makes the CA at first use, keeps it, prints what agents need; --rotate replaces it', (t) => {
    const { dir, config } = setUp(t);
    const ca = join(dir, 'state', 'ca');
    const first = runCli(['ca', '-c', config], dir);
    assert.equal(first.status, 0, first.stderr);
    const cert = join(ca, 'tapwire-ca.pem');
    const bundle = join(ca, 'tapwire-ca-bundle.pem');
    assert.deepEqual(exported(first.stdout), {
      HTTPS_PROXY: 'http://127.0.0.1:4999',
      NODE_EXTRA_CA_CERTS: cert,
      SSL_CERT_FILE: bundle,
      REQUESTS_CA_BUNDLE: bundle,
      CURL_CA_BUNDLE: bundle,
    });
    assert.match(first.stdout, new RegExp(`^# tapwire CA certificate: ${cert}$`, 'm'));
    assert.equal(statSync(join(ca, 'tapwire-ca-key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(ca).mode & 0o777, 0o700);
    const x509 = new X509Certificate(readFileSync(cert));
    assert.ok(x509.ca, 'a CA certificate');
    assert.ok(readFileSync(bundle, 'utf8').endsWith(readFileSync(cert, 'utf8')), 'the bundle ends with the CA');

    const again = runCli(['ca', '-c', config], dir);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(new X509Certificate(readFileSync(cert)).fingerprint256, x509.fingerprint256, 'the same CA');
    const key = readFileSync(join(ca, 'tapwire-ca-key.pem'), 'utf8');

    const rotated = runCli(['ca', '-c', config, '--rotate'], dir);
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.match(rotated.stdout, /\(new\)/);
    assert.notEqual(new X509Certificate(readFileSync(cert)).fingerprint256, x509.fingerprint256, 'a new CA');
    assert.notEqual(readFileSync(join(ca, 'tapwire-ca-key.pem'), 'utf8'), key, 'a new key');
    assert.equal(statSync(join(ca, 'tapwire-ca-key.pem')).mode & 0o777, 0o600);
    for (const out of [first, again, rotated]) assert.ok(!out.stdout.includes('PRIVATE KEY') && !out.stderr.includes('PRIVATE KEY'));
  });

  test('with auth.tokens the proxy URL asks for the token from the environment, never printing it', (t) => {
    const token = 'agent-token-7e3a9c5b1d0f2e48';
    const { dir, config } = setUp(t, `auth: { tokens: ["${token}"] }\n`);
    const out = runCli(['ca', '-c', config], dir);
    assert.equal(out.status, 0, out.stderr);
    assert.equal(exported(out.stdout).HTTPS_PROXY, 'http://tapwire:${TAPWIRE_TOKEN}@127.0.0.1:4999');
    assert.ok(!out.stdout.includes(token));
  });

  test('a key others can read, or a bad config: one line, exit 2', (t) => {
    const { dir, config } = setUp(t);
    assert.equal(runCli(['ca', '-c', config], dir).status, 0);
    const key = join(dir, 'state', 'ca', 'tapwire-ca-key.pem');
    chmodSync(key, 0o644);
    const loose = runCli(['ca', '-c', config], dir);
    assert.equal(loose.status, 2);
    assert.equal(loose.stderr, `tapwire: the CA key ${key} can be read by others (mode 644): chmod 600 it, or make a new CA with tapwire ca --rotate\n`);
    writeFileSync(config, `${ROUTE}proxy:\n  intercept: [api.anthropic.com]\n`);
    const bad = runCli(['ca', '-c', config], dir);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^tapwire: invalid config\n.*proxy\.intercept\[0\]: no route's upstream is on api\.anthropic\.com/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });
});
