// The soak: mixed LLM / MCP / A2A traffic from many concurrent clients through one tapwire
// process, with real peers on both sides: the openai SDK calling aimock (plain and streamed
// chat completions), v1 MCP SDK clients calling a v1 SDK server over Streamable HTTP (echo
// tools/call, sessions opened and ended with DELETE), and @a2a-js/sdk clients sending
// messages to an SDK agent. It checks that every request succeeds (each kind is first
// called directly, to show it succeeds there), that each request has exactly one exchange
// row, and samples tapwire's resident memory, as it is and right after a full garbage
// collection (V8 lets its heap grow for a long while before it collects, so only the
// collected figure tells retained memory from garbage not yet freed). Used by `npm run soak` (bench/soak.ts, full
// size) and by test/reliability/soak.test.ts (the --quick size).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Task } from '@a2a-js/sdk';
import OpenAI from 'openai';
import { z } from 'zod';
import type { Exchange } from '../../core/exchange.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { listExchanges } from '../../store/sqlite/queries.js';
import { startA2aAgent, sendRequest, v1Client } from './a2a.js';
import { startAimock } from './aimock.js';
import { connectClient, startStreamableServer } from './mcp.js';
import { integrityCheck } from './store-faults.js';
import { startTapwireProcess } from './tapwire-process.js';

export interface SoakOptions {
  clients: number;
  durationMs: number;
  /** How often tapwire's memory is sampled. */
  sampleIntervalMs: number;
  /** MCP tools/call per session before the client ends it and opens another. */
  callsPerSession: number;
  /** The kinds of client, taken in turn (default all three): one kind alone shows whose memory grows. */
  kinds?: SoakKind[];
}

export type SoakKind = 'llm' | 'mcp' | 'a2a';

export const FULL_SOAK: SoakOptions = { clients: 200, durationMs: 60_000, sampleIntervalMs: 2000, callsPerSession: 20 };
export const QUICK_SOAK: SoakOptions = { clients: 50, durationMs: 12_000, sampleIntervalMs: 500, callsPerSession: 10 };

export interface MemoryGrowth {
  baselineBytes: number;
  finalBytes: number;
  /** finalBytes / baselineBytes - 1 */
  growth: number;
}

export interface SoakResult {
  options: SoakOptions;
  /** Requests each kind of client completed (succeeded or failed). */
  requests: { llm: number; mcp: number; a2a: number };
  /** Requests that failed through tapwire, and the first few reasons. */
  failed: number;
  failures: string[];
  /** Exchange rows per kind of request, and every disagreement between requests and rows. */
  rows: { llm: number; mcp: number; a2a: number; total: number; byStatus: Record<string, number> };
  mismatches: string[];
  memory: {
    /** [ms since the start, RSS bytes as found, RSS bytes right after a full garbage collection] */
    samples: [number, number, number][];
    /** RSS after garbage collection: the medians of the first and second half of the samples taken after warm-up (the first 40% of the run). */
    collected: MemoryGrowth;
    /** The same for RSS as found. */
    raw: MemoryGrowth;
  };
  integrity: string;
  exitCode: number | null;
  /** Completed requests per second, all kinds (a measurement, never a test assertion). */
  requestsPerSecond: number;
}

const ANSWER = 'Soak answer from the mock model.';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!;
}

function echoServer(): McpServer {
  const mcp = new McpServer({ name: 'soak-fixture', version: '1.0.0' });
  mcp.registerTool('echo', { description: 'Echoes its message', inputSchema: { msg: z.string() } }, ({ msg }) => ({ content: [{ type: 'text', text: msg }] }));
  return mcp;
}

function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content;
  return content?.[0]?.text ?? '';
}

function artifactText(task: Task): string {
  const part = task.artifacts[0]?.parts[0]?.content;
  return part?.$case === 'text' ? part.value : '';
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const key = 'sk-soak';
  const mock = await startAimock([key], (m) => m.onMessage(/^soak /, { content: ANSWER, usage: { prompt_tokens: 9, completion_tokens: 6 } }));
  const mcpServer = await startStreamableServer(echoServer);
  const agent = await startA2aAgent();
  const dir = mkdtempSync(join(tmpdir(), 'tapwire-soak-'));
  try {
    // Each kind succeeds direct.
    const direct = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: key, maxRetries: 0 });
    const directAnswer = await direct.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'soak direct' }] });
    if (directAnswer.choices[0]?.message.content !== ANSWER) throw new Error('aimock did not answer directly');
    const directMcp = await connectClient('streamable', `${mcpServer.origin}/mcp`);
    if (textOf(await directMcp.client.callTool({ name: 'echo', arguments: { msg: 'direct' } })) !== 'direct') throw new Error('the MCP server did not answer directly');
    await directMcp.close(true);
    const directA2a = (await (await v1Client(`${agent.origin}/`, 'JSONRPC')).sendMessage(sendRequest('soak direct'))) as Task;
    if (artifactText(directA2a) !== 'echo: soak direct') throw new Error('the A2A agent did not answer directly');

    const yaml = [
      'log: { level: warn }',
      'routes:',
      '  openai: { protocol: llm, provider: openai, upstream: ' + mock.url + ' }',
      '  mcp: { protocol: mcp, upstream: ' + mcpServer.origin + ' }',
      '  planner: { protocol: a2a, upstream: ' + agent.origin + ' }',
    ].join('\n');
    const tapwire = await startTapwireProcess(dir, yaml, { inspect: true });
    const started = Date.now();
    const deadline = started + options.durationMs;
    const samples: [number, number, number][] = [];
    const sampler = (async () => {
      for (;;) {
        await sleep(options.sampleIntervalMs);
        if (Date.now() >= deadline) return;
        const raw = tapwire.rss();
        await tapwire.collectGarbage();
        samples.push([Date.now() - started, raw, tapwire.rss()]);
      }
    })();

    const requests = { llm: 0, mcp: 0, a2a: 0 };
    const failures: string[] = [];
    let failed = 0;
    const fail = (kind: string, err: unknown): void => {
      failed++;
      if (failures.length < 10) failures.push(`${kind}: ${err instanceof Error ? err.message : String(err)}`);
    };
    const llmIds: string[] = [];
    const mcpCalls = new Map<string, number>();
    const taskIds: string[] = [];

    const llmClient = async (c: number): Promise<void> => {
      const openai = new OpenAI({ baseURL: `${tapwire.url}/openai/v1`, apiKey: key, maxRetries: 0 });
      for (let n = 0; Date.now() < deadline; n++) {
        const messages = [{ role: 'user' as const, content: `soak ${c}-${n}` }];
        try {
          let id = '';
          let text = '';
          if (n % 2 === 1) {
            for await (const chunk of await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })) {
              id = chunk.id;
              text += chunk.choices[0]?.delta.content ?? '';
            }
          } else {
            const answer = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
            id = answer.id;
            text = answer.choices[0]?.message.content ?? '';
          }
          if (text !== ANSWER) throw new Error(`wrong answer: ${text}`);
          llmIds.push(id);
        } catch (err) {
          fail('llm', err);
        }
        requests.llm++;
      }
    };
    const mcpClient = async (c: number): Promise<void> => {
      while (Date.now() < deadline) {
        let session: Awaited<ReturnType<typeof connectClient>>;
        try {
          session = await connectClient('streamable', `${tapwire.url}/mcp/mcp`);
        } catch (err) {
          fail('mcp connect', err);
          requests.mcp++;
          continue;
        }
        const sessionId = session.sessionId() ?? '';
        for (let n = 0; n < options.callsPerSession && Date.now() < deadline; n++) {
          const msg = `soak ${c}-${sessionId}-${n}`;
          try {
            const text = textOf(await session.client.callTool({ name: 'echo', arguments: { msg } }));
            if (text !== msg) throw new Error(`wrong echo: ${text}`);
          } catch (err) {
            fail('mcp', err);
          }
          requests.mcp++;
          mcpCalls.set(sessionId, (mcpCalls.get(sessionId) ?? 0) + 1);
        }
        await session.close(true).catch((err: unknown) => fail('mcp close', err));
      }
    };
    const a2aClient = async (c: number): Promise<void> => {
      const client = await v1Client(`${tapwire.url}/planner/`, 'JSONRPC');
      for (let n = 0; Date.now() < deadline; n++) {
        const text = `soak ${c}-${n}`;
        try {
          const task = (await client.sendMessage(sendRequest(text))) as Task;
          if (artifactText(task) !== `echo: ${text}`) throw new Error(`wrong artifact: ${artifactText(task)}`);
          taskIds.push(task.id);
        } catch (err) {
          fail('a2a', err);
        }
        requests.a2a++;
      }
    };
    const clientsOf = { llm: llmClient, mcp: mcpClient, a2a: a2aClient };
    const kinds = (options.kinds ?? ['llm', 'mcp', 'a2a']).map((kind) => clientsOf[kind]);
    await Promise.all(Array.from({ length: options.clients }, (_, c) => kinds[c % kinds.length]!(c).catch((err: unknown) => fail('client', err))));
    const elapsedMs = Date.now() - started;
    await sampler;

    tapwire.child.kill('SIGTERM');
    const { code } = await tapwire.exited;
    const db = openDatabase(tapwire.dbPath, { readonly: true });
    let exchanges: Exchange[];
    try {
      exchanges = listExchanges(db);
    } finally {
      db.close();
    }

    // Every request has one row (a failed one a row with its error); the rows of those that
    // succeeded carry exactly the ids the clients received.
    const mismatches: string[] = [];
    const okIds = (rows: Exchange[], id: (e: Exchange) => string | null): string[] => rows.filter((e) => e.status === 'ok').map((e) => id(e) ?? '');
    const llmRows = exchanges.filter((e) => e.route === 'openai');
    if (llmRows.length !== requests.llm) mismatches.push(`llm: ${requests.llm} requests, ${llmRows.length} rows`);
    compareSets('llm response ids', llmIds, okIds(llmRows, (e) => e.response_id), mismatches);
    const callRows = exchanges.filter((e) => e.route === 'mcp' && e.method === 'tools/call');
    const rowsPerSession = new Map<string, number>();
    for (const e of callRows) rowsPerSession.set(e.session_id ?? '', (rowsPerSession.get(e.session_id ?? '') ?? 0) + 1);
    for (const [session, calls] of mcpCalls) {
      if (rowsPerSession.get(session) !== calls) mismatches.push(`mcp session ${session}: ${calls} tools/call made, ${rowsPerSession.get(session) ?? 0} rows`);
    }
    for (const session of rowsPerSession.keys()) if (!mcpCalls.has(session)) mismatches.push(`mcp rows for unknown session ${session}`);
    const sendRows = exchanges.filter((e) => e.route === 'planner' && e.method === 'SendMessage');
    if (sendRows.length !== requests.a2a) mismatches.push(`a2a: ${requests.a2a} requests, ${sendRows.length} rows`);
    compareSets('a2a task ids', taskIds, okIds(sendRows, (e) => e.task_id), mismatches);
    const byStatus: Record<string, number> = {};
    for (const e of exchanges) byStatus[e.status] = (byStatus[e.status] ?? 0) + 1;

    // Warm-up (code compiled, lazy modules such as the tokenizer loaded, pools and sessions
    // opened) takes the first 40%; on a busy machine that is seconds even in a short run.
    // Samples come less often than asked when the machine is busy, so the halves are of
    // the samples taken, not of the time.
    const settled = samples.filter(([t]) => t >= 0.4 * options.durationMs);
    if (settled.length < 2) throw new Error(`only ${settled.length} memory samples after warm-up: ${JSON.stringify(samples)}`);
    const half = Math.floor(settled.length / 2);
    const growthOf = (column: 1 | 2): MemoryGrowth => {
      const baselineBytes = median(settled.slice(0, half).map((sample) => sample[column]));
      const finalBytes = median(settled.slice(half).map((sample) => sample[column]));
      return { baselineBytes, finalBytes, growth: finalBytes / baselineBytes - 1 };
    };
    return {
      options,
      requests,
      failed,
      failures,
      rows: { llm: llmRows.length, mcp: callRows.length, a2a: sendRows.length, total: exchanges.length, byStatus },
      mismatches,
      memory: { samples, collected: growthOf(2), raw: growthOf(1) },
      integrity: integrityCheck(tapwire.dbPath),
      exitCode: code,
      requestsPerSecond: Math.round(((requests.llm + requests.mcp + requests.a2a) / elapsedMs) * 1000),
    };
  } finally {
    await mock.stop();
    await mcpServer.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each id a client received must be recorded exactly once, and no other id recorded. */
function compareSets(what: string, sent: string[], recorded: string[], mismatches: string[]): void {
  const counts = new Map<string, number>();
  for (const id of recorded) counts.set(id, (counts.get(id) ?? 0) + 1);
  if (sent.length !== recorded.length) mismatches.push(`${what}: ${sent.length} requests succeeded, ${recorded.length} rows with status ok`);
  for (const id of sent) {
    const n = counts.get(id) ?? 0;
    if (n !== 1) mismatches.push(`${what}: ${id} recorded ${n} times`);
    counts.delete(id);
  }
  for (const id of counts.keys()) mismatches.push(`${what}: ${id} recorded but no client received it`);
  mismatches.splice(20);
}
