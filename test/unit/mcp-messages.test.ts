// Every kind of MCP message tapwire writes in a server's place (refusals of tools/call and
// of other requests, response-phase refusals, filtered lists, the JSON-RPC errors of the
// stdio and upstream failures), validated for each protocol revision tapwire speaks. The
// spec's schema.json files cannot be fetched here (no network but npm) and fetched
// third-party files may not be committed, so the official SDKs judge, each as its client
// does: the v1 SDK (@modelcontextprotocol/sdk, whose zod schemas cover 2024-11-05 to
// 2025-11-25) and the v2 client pinned to 2026-07-28 (whose decoder requires `resultType`,
// and `ttlMs`/`cacheScope` on lists). A real client of each revision talks to a scripted
// server through tapwire's policy gate: the envelope of every answer is parsed as the
// SDK's transports parse it, the result by the client with the method's schema.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client as V2Client, parseJSONRPCMessage, ProtocolError } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { JSONRPCMessageSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { PolicyGate } from '../../protocols/policy-gate.js';
import { admitMessage } from '../../protocols/mcp/gate.js';
import { PROTOCOL_CONTEXTS } from '../../protocols/registry.js';
import { PolicySet } from '../../policies/engine.js';
import { parsePolicyFile } from '../../policies/file.js';
import { classify, CONNECTION_CLOSED, errorResponse, INTERNAL_ERROR, type JsonRpcMessage } from '../../core/jsonrpc.js';
import { requiresResultType } from '../../protocols/mcp/revision.js';

const REVISIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'] as const;
type Revision = (typeof REVISIONS)[number];

const POLICY = parsePolicyFile(
  [
    'rules:',
    '  - { name: no-forbidden, when: \'mcp.method == "tools/call" && mcp.tool == "forbidden"\', action: deny, message: not this one }',
    '  - { name: no-prompts, when: \'mcp.method == "prompts/get"\', action: deny, message: no prompts }',
    '  - { name: no-secrets, phase: response, when: \'mcp.method == "tools/call" && response.text.contains("secret")\', action: deny, message: a secret }',
    '',
  ].join('\n'),
  'p.yaml',
);

type Message = Record<string, unknown>;
type Request = Extract<JsonRpcMessage, { kind: 'request' }>;

/** What the scripted server answers each request with (a result, or a whole message for `errorFor`). */
function serverResult(revision: Revision, request: Request): Message {
  const modern = requiresResultType(revision) ? { resultType: 'complete' } : {};
  const params = (request.params ?? {}) as { name?: string; arguments?: { msg?: string } };
  switch (request.method) {
    case 'initialize':
      return { protocolVersion: revision, capabilities: { tools: {}, prompts: {} }, serverInfo: { name: 'scripted', version: '1' } };
    case 'server/discover':
      return { ...modern, ttlMs: 0, cacheScope: 'private', supportedVersions: [revision], capabilities: { tools: {}, prompts: {} }, serverInfo: { name: 'scripted', version: '1' } };
    case 'tools/list': {
      const tools = ['echo', 'forbidden', 'crash'].map((name) => ({ name, inputSchema: { type: 'object' } }));
      return { ...modern, ...(requiresResultType(revision) ? { ttlMs: 0, cacheScope: 'private' } : {}), tools };
    }
    case 'tools/call':
      return { ...modern, content: [{ type: 'text', text: params.arguments?.msg ?? '' }] };
    default:
      return { ...modern };
  }
}

/** The JSON-RPC errors tapwire writes for requests the server never answers, as stdio-wrap.ts, stdio-session.ts and observer.ts build them. */
const failures: Record<string, (id: string | number) => Message> = {
  server_exited: (id) => errorResponse(id, CONNECTION_CLOSED, 'tapwire: the MCP server exited (code 1)', { tapwire_error: 'server_exited', exit_code: 1, signal: null }),
  upstream_invalid_jsonrpc: (id) => errorResponse(id, INTERNAL_ERROR, 'tapwire: the MCP server behind route "r" answered with something that is not JSON-RPC', { tapwire_error: 'upstream_invalid_jsonrpc' }),
};

/**
 * A client transport whose server is scripted: each request goes through tapwire's policy
 * gate as `tapwire wrap` sends it (stdio: no headers) or as an HTTP route does (with the
 * MCP-Protocol-Version header from 2025-06-18), and every answer is parsed by `envelope`.
 */
class GatedTransport<Parsed> {
  onmessage?: (message: Parsed) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** Every answer the client received, as sent. */
  readonly answers: Message[] = [];
  private readonly gate = new PolicyGate(() => new PolicySet([POLICY]), { agentLabels: {}, identity: null, redact: () => ({}), sink: () => undefined, protocols: PROTOCOL_CONTEXTS });

  constructor(
    private readonly revision: Revision,
    private readonly carrier: 'stdio' | 'http',
    private readonly envelope: (message: Message) => Parsed,
  ) {}

  async start(): Promise<void> {}
  close(): Promise<void> {
    this.onclose?.();
    return Promise.resolve();
  }

  send(message: unknown): Promise<void> {
    const request = classify(message);
    if (request.kind !== 'request') return Promise.resolve();
    const answer = this.answer(request);
    this.answers.push(answer);
    const parsed = this.envelope(answer);
    queueMicrotask(() => this.onmessage?.(parsed));
    return Promise.resolve();
  }

  private answer(request: Request): Message {
    const failure = failures[(request.params as { name?: string } | undefined)?.name ?? ''];
    if (failure) return failure(request.id);
    const headers = this.carrier === 'http' && this.revision >= '2025-06-18' ? { 'mcp-protocol-version': this.revision } : {};
    const body = Buffer.from(JSON.stringify(request.raw));
    const admission = admitMessage(this.gate, { agent: 'a', route: 'r', sessionId: 's', request, body, headers, httpStatus: this.carrier === 'http' ? 200 : null });
    if ('refusal' in admission) return admission.refusal;
    const answer = { jsonrpc: '2.0', id: request.id, result: serverResult(this.revision, request) };
    return admission.review?.(answer) ?? answer;
  }
}

/** What a client of `revision` got for each message tapwire wrote; it throws if its SDK refused one. */
interface Seen {
  listed: string[];
  refused: unknown;
  withheld: unknown;
  promptError: number;
  failureCodes: number[];
  answers: Message[];
}

function codeOf(err: unknown): number {
  if (err instanceof McpError || err instanceof ProtocolError) return err.code;
  throw err;
}

/** What both SDKs' clients offer that a session here uses. */
interface SessionClient {
  listTools(): Promise<{ tools: { name: string }[] }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  getPrompt(params: { name: string }): Promise<unknown>;
  close(): Promise<void>;
}

/** The calls every session makes, and what the client made of each answer. */
async function exercise(client: SessionClient, transport: { answers: Message[] }): Promise<Seen> {
  const listed = (await client.listTools()).tools.map((tool) => tool.name);
  const refused = await client.callTool({ name: 'forbidden', arguments: {} });
  const withheld = await client.callTool({ name: 'echo', arguments: { msg: 'a secret' } });
  const promptError = await client.getPrompt({ name: 'p' }).then(() => 0, codeOf);
  const failureCodes = await Promise.all(Object.keys(failures).map((name) => client.callTool({ name, arguments: {} }).then(() => 0, codeOf)));
  await client.close();
  return { listed, refused, withheld, promptError, failureCodes, answers: transport.answers };
}

async function session(revision: Revision, carrier: 'stdio' | 'http'): Promise<Seen> {
  if (requiresResultType(revision)) {
    const transport = new GatedTransport(revision, carrier, (m) => parseJSONRPCMessage(m));
    const client = new V2Client({ name: 't', version: '1' }, { versionNegotiation: { mode: { pin: revision } } });
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion(), revision);
    return exercise(client, transport);
  }
  const transport = new GatedTransport(revision, carrier, (m) => JSONRPCMessageSchema.parse(m));
  const client = new V1Client({ name: 't', version: '1' });
  await client.connect(transport);
  assert.equal(client.getServerVersion()?.name, 'scripted');
  return exercise(client, transport);
}

describe('the MCP messages tapwire writes, validated by the official SDKs per revision', () => {
  for (const revision of REVISIONS) {
    for (const carrier of ['stdio', 'http'] as const) {
      test(`${revision} over ${carrier}: refusals, filtered lists and errors are what a client of that revision accepts`, async () => {
        const seen = await session(revision, carrier);
        assert.deepEqual(seen.listed, ['echo', 'crash']);
        assert.deepEqual(seen.refused, { content: [{ type: 'text', text: 'tapwire policy no-forbidden: not this one' }], isError: true });
        assert.deepEqual(seen.withheld, { content: [{ type: 'text', text: 'tapwire policy no-secrets: a secret' }], isError: true });
        assert.equal(seen.promptError, -32040);
        assert.deepEqual(seen.failureCodes, [CONNECTION_CLOSED, INTERNAL_ERROR]);
        // On the wire: resultType on every result tapwire wrote from 2026-07-28, and never before.
        const refusals = seen.answers.filter((a) => JSON.stringify(a).includes('tapwire policy') && 'result' in a);
        assert.equal(refusals.length, 2);
        for (const refusal of refusals) {
          assert.equal((refusal.result as Message).resultType, requiresResultType(revision) ? 'complete' : undefined);
        }
      });
    }
  }
});
