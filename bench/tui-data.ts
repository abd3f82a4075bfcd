// Synthetic traffic for the TUI bench: `n` exchanges (a mix of LLM calls, MCP tool calls and
// notifications, A2A sends; some errors and policy denials) with small request bodies,
// written through the SQLite backend's own insert code in large transactions, started_at
// spread over the hours before `endMs`. It writes SQLite directly (store/sqlite/), the one
// bench file that does: filling millions of rows fast is a matter of SQLite's own settings.
import { blankExchange, type ExchangeRecord } from '../core/exchange.js';
import { openDatabase } from '../store/sqlite/db.js';
import { prepareInsert } from '../store/sqlite/insert.js';

const MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5', 'o3-mini'];
const TOOLS = ['read_file', 'write_file', 'search', 'delete_file', 'list_directory', 'fetch_url'];

/** The i-th synthetic exchange, deterministic in i. */
export function syntheticRecord(i: number, startedAt: number): ExchangeRecord {
  const kind = i % 10;
  const protocol = kind < 5 ? 'llm' : kind < 9 ? 'mcp' : 'a2a';
  const route = protocol === 'llm' ? (i % 3 === 0 ? 'anthropic' : 'openai') : protocol === 'mcp' ? 'fs' : 'planner';
  const e = blankExchange({ agent: `agent-${i % 4}`, route, protocol, started_at: startedAt });
  e.duration_ms = 20 + ((i * 7919) % 3000);
  e.ended_at = startedAt + Math.round(e.duration_ms);
  e.ttfb_ms = e.duration_ms / 3;
  e.http_status = 200;
  let body: object;
  if (protocol === 'llm') {
    const model = MODELS[i % MODELS.length]!;
    e.provider = route;
    e.operation = 'chat';
    e.model = e.target = e.response_model = model;
    e.method = route === 'anthropic' ? 'POST /v1/messages' : 'POST /v1/chat/completions';
    e.input_tokens = 100 + (i % 900);
    e.output_tokens = 10 + ((i * 31) % 1500);
    e.cost_usd = (e.input_tokens * 0.15 + e.output_tokens * 0.6) / 1_000_000;
    e.streamed = i % 2 === 0 ? 1 : 0;
    body = { model, stream: e.streamed === 1, messages: [{ role: 'user', content: `question ${i}` }] };
  } else if (protocol === 'mcp') {
    const notification = kind === 8;
    e.session_id = `session-${Math.floor(i / 200)}`;
    e.method = notification ? 'notifications/progress' : 'tools/call';
    e.direction = notification ? 'server_to_client' : 'client_to_server';
    e.target = notification ? null : TOOLS[i % TOOLS.length]!;
    e.jsonrpc_id = notification ? null : String(i);
    e.input_tokens = 20 + (i % 200);
    e.output_tokens = 40 + (i % 400);
    e.tokens_estimated = 1;
    body = notification
      ? { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: i, progress: 1 } }
      : { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: e.target, arguments: { path: `/data/file-${i}.txt` } } };
  } else {
    e.session_id = `context-${Math.floor(i / 100)}`;
    e.method = 'SendMessage';
    e.target = 'planner';
    e.jsonrpc_id = String(i);
    body = { jsonrpc: '2.0', id: i, method: 'message/send', params: { message: { role: 'user', parts: [{ kind: 'text', text: `plan ${i}` }] } } };
  }
  if (i % 97 === 0) {
    e.status = 'denied';
    e.http_status = protocol === 'llm' ? 403 : 200;
    e.policy_rule = 'no-destructive-tools';
    e.policy_action = 'deny';
    e.policy_reason = 'destructive tools need a human';
  } else if (i % 53 === 0) {
    e.status = 'error';
    e.http_status = 500;
    e.error_code = 'http_500';
    e.error_message = 'upstream failed';
  }
  const text = JSON.stringify(body);
  e.request_bytes = text.length;
  return {
    exchange: e,
    request: { headers: { 'content-type': 'application/json', authorization: '[redacted]' }, body: Buffer.from(text), body_size: text.length, truncated: false },
    response: null,
    events: [],
  };
}

/** Writes `n` synthetic exchanges into a new database at `path`, ending at `endMs`. */
export function fillDatabase(path: string, n: number, endMs = Date.now()): void {
  const db = openDatabase(path);
  try {
    db.pragma('synchronous = OFF');
    const insert = prepareInsert(db);
    const batch = 20_000;
    // About 20 exchanges a second: a million spans the last half day.
    const spacing = 50;
    for (let start = 0; start < n; start += batch) {
      const records: ExchangeRecord[] = [];
      for (let i = start; i < Math.min(n, start + batch); i++) records.push(syntheticRecord(i, endMs - (n - i) * spacing));
      insert(records);
    }
  } finally {
    db.close();
  }
}
