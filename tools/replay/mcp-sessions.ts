// Replaying MCP calls: each recorded session inside a fresh one (its recorded initialize
// first, when it had one, then notifications/initialized), its calls in recorded order, then
// its end (DELETE). The session's own DELETE and notifications/initialized are not replayed
// on their own: the replay opens and ends its own session.
import type { ExchangeRecord } from '../../core/exchange.js';
import type { HeaderMap } from '../../core/headers.js';
import { classify } from '../../core/jsonrpc.js';
import { recordedBody, recordedJson } from '../../store/bodies.js';
import type { RecordLookup, ReplayContext, ReplayPlan, ReplayUnit } from './plan.js';
import { replayHeaders, send, type Sent } from './send.js';

/** What a Streamable HTTP POST must carry; records made over stdio (command servers, `tapwire wrap`) have no headers at all. */
const MCP_POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function header(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * MCP calls grouped into the sessions they are replayed in: by route and recorded session,
 * and a new one at each recorded initialize. A federated route's per-server records share
 * the agent's session id, and a server that went down and came back was initialized again
 * within it: what followed belongs to that second session.
 */
export class McpSessions implements ReplayPlan {
  private readonly current = new Map<string, ExchangeRecord[]>();
  private readonly sessions: ExchangeRecord[][] = [];

  constructor(
    private readonly replay: ReplayContext,
    private readonly lookup: RecordLookup,
  ) {}

  add(record: ExchangeRecord): null {
    if (record.exchange.method === 'DELETE' || record.exchange.method === 'notifications/initialized') {
      this.replay.skip(record, 'part of the session: the replay opens and ends its own');
      return null;
    }
    const key = `${record.exchange.route}\u0000${record.exchange.session_id ?? ''}`;
    let session = this.current.get(key);
    if (!session || record.exchange.method === 'initialize') {
      session = [];
      this.current.set(key, session);
      this.sessions.push(session);
    }
    session.push(record);
    return null;
  }

  async finish(): Promise<ReplayUnit[]> {
    const units: ReplayUnit[] = [];
    for (const records of this.sessions) {
      const initialize = records.find((r) => r.exchange.method === 'initialize') ?? (await this.lookup.sessionInitialize(records[0]!.exchange));
      units.push(() => this.replaySession(records, initialize));
    }
    return units;
  }

  /** Notes a call's replay: its JSON-RPC answer (redacted) against the recorded one. Returns the answer unredacted. */
  private noteAnswer(record: ExchangeRecord, sent: Sent): unknown {
    const bytes = mcpAnswer(sent, record);
    this.replay.note(record, sent, null, recordedJson(this.replay.recorded(record).response), bytes && parsed(this.replay.live(record, {}, bytes, null).body));
    return mcpAnswerJson(sent, record);
  }

  /** One recorded session: a fresh session (its recorded initialize, when it had one), its calls in order, then its end. */
  private async replaySession(records: ExchangeRecord[], initialize: ExchangeRecord | null): Promise<void> {
    const replay = this.replay;
    const first = records[0]!;
    const url = replay.url(first, replay.options.paths?.[first.exchange.route] ?? '');
    let session: string | undefined;
    let version: string | undefined;
    const sessionHeaders = (record: ExchangeRecord, replayOf: string | null): Record<string, string | string[]> => ({
      ...MCP_POST_HEADERS,
      ...(version ? { 'mcp-protocol-version': version } : {}),
      ...replayHeaders(record, replayOf),
      ...(session ? { 'mcp-session-id': session } : {}),
    });
    try {
      if (initialize) {
        const sent = await send(url, 'POST', sessionHeaders(initialize, initialize.exchange.id), recordedBody(initialize.request)?.bytes ?? null);
        const answer = records.includes(initialize) ? this.noteAnswer(initialize, sent) : mcpAnswerJson(sent, initialize);
        // Without a session the calls would only be refused: they are reported as not sent, with the reason.
        if (sent.status >= 400) throw new Error(`its initialize was answered HTTP ${sent.status}`);
        const result = answer as { result?: { protocolVersion?: unknown }; error?: { code?: unknown } } | null;
        if (!result?.result) throw new Error(result?.error ? `its initialize was answered with JSON-RPC error ${String(result.error.code)}` : 'its initialize got no answer');
        session = header(sent.headers, 'mcp-session-id');
        // The version this server agreed to, for the messages that had none recorded (initialized, DELETE).
        if (typeof result.result.protocolVersion === 'string') version = result.result.protocolVersion;
        const initialized = Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
        await send(url, 'POST', sessionHeaders(initialize, null), initialized);
      }
      for (const record of records) {
        if (record === initialize) continue;
        try {
          this.noteAnswer(record, await send(url, 'POST', sessionHeaders(record, record.exchange.id), recordedBody(record.request)?.bytes ?? null));
        } catch (err) {
          replay.note(record, null, (err as Error).message, null, null);
        }
      }
    } catch (err) {
      for (const record of records) if (!replay.noted(record)) replay.note(record, null, `the fresh session could not be started: ${(err as Error).message}`, null, null);
    } finally {
      if (session) await send(url, 'DELETE', sessionHeaders(first, null), null).catch(() => undefined);
    }
  }
}

/** The JSON-RPC answer to `record`'s request in an MCP response: the JSON body, or the data of the SSE event carrying it. */
function mcpAnswer(sent: Sent, record: ExchangeRecord): Buffer | null {
  if (!sent.events) return sent.body;
  const request = classify(recordedJson(record.request));
  const id = request.kind === 'request' ? request.id : undefined;
  for (const event of sent.events) {
    try {
      const message = classify(JSON.parse(event.data) as unknown);
      if (message.kind === 'response' && message.id === id) return Buffer.from(event.data);
    } catch {
      // not JSON: not the answer
    }
  }
  return null;
}

/** The JSON-RPC answer to `record`'s request, parsed; null when the response had none. */
function mcpAnswerJson(sent: Sent, record: ExchangeRecord): unknown {
  const bytes = mcpAnswer(sent, record);
  return bytes && parsed(bytes);
}

/** A body as JSON, else as text. */
function parsed(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return bytes.toString('utf8');
  }
}
