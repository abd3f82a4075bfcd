// Property-based test (fast-check) of the policy gate on a policed MCP route in front of the
// real v1 SDK server (createMcpExpressApp, which reads gzip, deflate, br, UTF-16 and a
// byte-order mark): over arbitrary request bodies, content codings and charsets, no request
// reached the server without a policy decision recorded, and the tool a rule denies never ran.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startExpressMcpServer, type ExpressMcpServer } from '../support/mcp-express.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';

const CODINGS: Record<string, (b: Buffer) => Buffer> = { identity: (b) => b, gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync, zstd: (b) => b };
const CHARSETS: Record<string, (text: string) => Buffer> = {
  '': (t) => Buffer.from(t),
  'utf-8': (t) => Buffer.from(t),
  'utf-16le': (t) => Buffer.from(t, 'utf16le'),
  'utf-16': (t) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(t, 'utf16le')]),
  'iso-8859-1': (t) => Buffer.from(t, 'latin1'),
};

/** A tools/call of rm or echo with arbitrary arguments, `_meta` nested up to 700 deep, or arbitrary text. */
const bodyText = fc.oneof(
  fc.record({ tool: fc.constantFrom('rm', 'echo'), args: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })), depth: fc.nat({ max: 700 }) }).map(({ tool, args, depth }) => {
    const meta = depth > 0 ? `,"_meta":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : '';
    return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${tool}","arguments":${JSON.stringify(args)}${meta}}}`;
  }),
  fc.string({ maxLength: 200 }),
);

describe('policed MCP route properties', () => {
  let server: ExpressMcpServer;
  let tapwire: TestSidecar;

  before(async () => {
    server = await startExpressMcpServer();
    const dir = mkdtempSync(join(tmpdir(), 'tapwire-policed-'));
    const policy = join(dir, 'policy.yaml');
    // `seen` records a decision on every call it judges; `no-rm` refuses rm.
    writeFileSync(policy, ['rules:', '  - { name: no-rm, when: \'mcp.tool == "rm"\', action: deny }', '  - { name: seen, when: "true", action: audit }', ''].join('\n'));
    tapwire = await startTestSidecar(`policies: [${JSON.stringify(policy)}]\nroutes:\n  m: { protocol: mcp, upstream: "${new URL(server.url).origin}" }`, process.env, { dir });
  });
  after(async () => {
    await tapwire.stop();
    tapwire.cleanup();
    await server.close();
  });

  test('every request the server received had a policy decision recorded, and rm never ran', async () => {
    await fc.assert(
      fc.asyncProperty(bodyText, fc.boolean(), fc.constantFrom(...Object.keys(CHARSETS)), fc.constantFrom(...Object.keys(CODINGS)), async (text, bom, charset, coding) => {
        const encoded = CHARSETS[charset]!(text);
        const body = CODINGS[coding]!(bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), encoded]) : encoded);
        const headers: Record<string, string> = { 'content-type': `application/json${charset ? `; charset=${charset}` : ''}`, accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
        if (coding !== 'identity') headers['content-encoding'] = coding;
        const ranBefore = server.ran.length;
        const response = await fetch(`${tapwire.url}/m/mcp`, { method: 'POST', headers, body });
        await response.arrayBuffer();
        assert.ok(!server.ran.slice(ranBefore).includes('rm'), 'rm did not run');
      }),
      { numRuns: 150 },
    );
    const exchanges = await tapwire.stop();
    // Each call that reached the server ran through the rules (`seen` flagged it); the others were refused.
    const judged = exchanges.filter((e) => e.policy_rule === 'seen' && e.policy_action === 'audit');
    assert.equal(judged.length, server.posts, 'one recorded decision per request the server received');
    assert.ok(judged.every((e) => e.method === 'tools/call' && e.target === 'echo'));
    assert.ok(exchanges.every((e) => e.policy_rule !== null), 'every call has a decision recorded');
  });
});
