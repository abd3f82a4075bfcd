// Builds the CEL context of an exchange: one function for a live exchange (request phase:
// the record so far and the agent's body; response phase: the body the upstream sent) and
// for a recorded one read back from SQLite, so policies, `policy test`, the TUI filter,
// replay selection and exports all see the same values. Every declared field is present:
// absent ones hold the empty value of their type ("" / 0 / false / {} / []), so a rule never
// fails because this protocol has no such field. Objects are Maps (the evaluator copies
// plain objects on every access), integers are BigInt, timestamps are protobuf Timestamps.
import { jsonValue, parseJson as parseWireJson } from '../core/json-body.js';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Exchange } from '../core/exchange.js';
import { messageTexts } from '../protocols/a2a/facts.js';
import type { Bindings } from './cel.js';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** One side of an exchange as the builder needs it: headers and the (decoded) body. */
export interface ContextPayload {
  headers?: Headers | null;
  body?: Buffer | string | null;
}

/** What the context is built from: the exchange (live or recorded) and what surrounds it. */
export interface ContextSource {
  exchange: Pick<Exchange, 'protocol' | 'agent' | 'route'> & Partial<Exchange>;
  request?: ContextPayload | null;
  response?: ContextPayload | null;
  /** The SSE events of a streamed response, whose text makes up response.text (see streamText). */
  events?: readonly { data: string }[] | null;
  /** response.text when the caller already assembled it (a live stream, event by event). */
  responseText?: string;
  agentLabels?: Readonly<Record<string, string>>;
  routeUpstream?: string;
  /** HTTP path under the route (live calls; recorded LLM calls carry it in exchange.method). */
  path?: string;
  jwtClaims?: Readonly<Record<string, unknown>> | null;
}

type CelJson = bigint | number | string | boolean | null | CelJson[] | Map<string, CelJson>;

/** JSON as CEL values: objects as Maps, whole numbers stay doubles as in JSON (CEL compares 3 == 3.0). */
export function toCel(value: unknown): CelJson {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(toCel);
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return value;
    case 'object':
      return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toCel(v)]));
    default:
      return null;
  }
}

function text(body: Buffer | string | null | undefined): string {
  if (body === null || body === undefined) return '';
  return typeof body === 'string' ? body : body.toString('utf8');
}

function parseJson(body: string): unknown {
  if (body === '') return null;
  try {
    return parseWireJson(body);
  } catch {
    return null;
  }
}

type Json = Record<string, unknown>;
function asObject(value: unknown): Json | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
}
function str(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}
function int(value: number | null | undefined): bigint {
  return typeof value === 'number' && Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
}
function headerMap(headers: Headers | null | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) map.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value);
  }
  return map;
}

/**
 * The text one SSE event adds to a streamed answer: the generated text of LLM stream
 * events (OpenAI chat and completions chunks, Responses API deltas, Anthropic content
 * deltas), or null for an event that is not one of those.
 */
export function eventText(data: string): string | null {
  const event = asObject(parseJson(data));
  if (!event) return null;
  if (Array.isArray(event.choices)) {
    return event.choices.map((c) => {
      const choice = asObject(c);
      return str(asObject(choice?.delta)?.content) || str(choice?.text);
    }).join('');
  }
  const delta = event.delta;
  if (typeof delta === 'string') return delta;
  const d = asObject(delta);
  if (d) return str(d.text) || str(d.partial_json) || str(d.thinking);
  return null;
}

/** response.text of a stream: the text its LLM events carry, or else the events' data, one per line. */
export function streamText(events: readonly { data: string }[]): string {
  let out = '';
  let generated = false;
  for (const event of events) {
    const piece = eventText(event.data);
    if (piece !== null) {
      out += piece;
      generated = true;
    }
  }
  return generated ? out : events.map((event) => event.data).join('\n');
}

/**
 * mcp.server: the MCP server a message went to or came from. A federated route records it
 * in details.server (empty for what goes to all its servers); on any other route the route
 * is the server.
 */
function mcpServer(e: Pick<Exchange, 'route'> & Partial<Exchange>): string {
  if (e.details) {
    const details = asObject(parseJson(e.details));
    if (details && typeof details.server === 'string') return details.server;
  }
  return e.route;
}

/** The CEL bindings of an exchange. */
export function buildContext(source: ContextSource): Bindings {
  const e = source.exchange;
  const requestText = text(source.request?.body);
  // A Buffer is the live request body: its one parse is shared with the gate and the observer.
  const requestBody = source.request?.body;
  const requestJson = Buffer.isBuffer(requestBody) ? (jsonValue(requestBody) ?? null) : parseJson(requestText);
  const body = asObject(requestJson);
  const isJsonRpc = e.protocol === 'mcp' || e.protocol === 'a2a';
  const rpcMethod = isJsonRpc ? str(body?.method) || (e.protocol === 'mcp' ? str(e.method) : '') : '';
  // A2A over HTTP+JSON sends the params as the body itself.
  const params = isJsonRpc ? (body && !('jsonrpc' in body) && e.protocol === 'a2a' ? body : body?.params) : undefined;
  const p = asObject(params);

  // "POST /openai/v1/chat/completions" on LLM and HTTP records; the JSON-RPC method on MCP ones.
  const httpLine = /^([A-Z]+) (\S+)$/.exec(e.method ?? '');
  const path = source.path ?? httpLine?.[2] ?? '';

  const mcpMethod = e.protocol === 'mcp' ? rpcMethod : '';
  const mcp = new Map<string, CelJson>([
    ['method', mcpMethod],
    ['tool', mcpMethod === 'tools/call' ? str(p?.name) || str(e.target) : ''],
    ['arguments', mcpMethod === 'tools/call' || mcpMethod === 'prompts/get' ? toCel(p?.arguments ?? {}) : new Map()],
    ['resource', mcpMethod.startsWith('resources/') ? str(p?.uri) || str(e.target) : ''],
    ['prompt', mcpMethod === 'prompts/get' ? str(p?.name) || str(e.target) : ''],
    ['session', e.protocol === 'mcp' ? (e.session_id ?? '') : ''],
    ['server', e.protocol === 'mcp' ? mcpServer(e) : ''],
  ]);

  const message = asObject(p?.message) ?? asObject(p?.request);
  const a2a = new Map<string, CelJson>([
    // The v1.0 method name the record carries (SendMessage, GetTask, ...), whatever the version and binding.
    ['method', e.protocol === 'a2a' ? (httpLine ? rpcMethod : str(e.method) || rpcMethod) : ''],
    ['task_id', e.protocol === 'a2a' ? (e.task_id ?? (str(message?.taskId) || str(p?.id))) : ''],
    ['context_id', e.protocol === 'a2a' ? str(message?.contextId) || str(p?.contextId) : ''],
    ['text', e.protocol === 'a2a' && message ? messageTexts(message).join('\n') : ''],
  ]);

  const isLlm = e.protocol === 'llm';
  const maxTokens = body?.max_tokens ?? body?.max_completion_tokens ?? body?.max_output_tokens;
  const llm = new Map<string, CelJson>([
    ['provider', isLlm ? (e.provider ?? '') : ''],
    ['operation', isLlm ? (e.operation ?? '') : ''],
    ['model', isLlm ? (e.model ?? str(body?.model)) : ''],
    ['stream', isLlm && body?.stream === true],
    ['max_tokens', isLlm && typeof maxTokens === 'number' ? int(maxTokens) : 0n],
    ['messages', isLlm ? toCel(Array.isArray(body?.messages) ? body.messages : Array.isArray(body?.input) ? body.input : []) : []],
    ['tools', isLlm && Array.isArray(body?.tools) ? toCel(body.tools) : []],
  ]);

  const responseText = source.response?.body != null ? text(source.response.body) : (source.responseText ?? streamText(source.events ?? []));
  const response = new Map<string, CelJson>([
    ['status', int(e.http_status)],
    ['headers', headerMap(source.response?.headers)],
    ['body', source.response?.body != null ? toCel(parseJson(responseText)) : null],
    ['text', responseText],
    ['error', new Map([['code', e.error_code ?? ''], ['message', e.error_message ?? '']])],
  ]);
  const input = e.input_tokens ?? 0;
  const output = e.output_tokens ?? 0;
  const usage = new Map<string, CelJson>([
    ['input_tokens', int(input)],
    ['output_tokens', int(output)],
    ['total_tokens', int(input + output)],
    ['cost_usd', e.cost_usd ?? 0],
    ['estimated', e.tokens_estimated === 1],
  ]);
  const started = e.started_at ?? Date.now();
  return {
    protocol: e.protocol,
    direction: e.direction ?? 'client_to_server',
    agent: new Map<string, CelJson>([['name', e.agent], ['labels', new Map(Object.entries(source.agentLabels ?? {}))]]),
    route: new Map([['name', e.route], ['upstream', source.routeUpstream ?? '']]),
    request: new Map<string, CelJson>([
      ['method', httpLine?.[1] ?? (isJsonRpc ? 'POST' : '')],
      ['path', path],
      ['headers', headerMap(source.request?.headers)],
      ['body', toCel(requestJson)],
    ]),
    jsonrpc: new Map<string, CelJson>([
      ['method', rpcMethod],
      ['id', isJsonRpc ? str(body?.id) || (e.jsonrpc_id ?? '') : ''],
      ['params', isJsonRpc ? toCel(params ?? {}) : new Map()],
    ]),
    mcp,
    a2a,
    llm,
    response,
    usage,
    jwt: new Map([['claims', toCel(source.jwtClaims ?? {})]]),
    exchange: new Map<string, unknown>([
      ['id', e.id ?? ''],
      ['status', e.status ?? 'ok'],
      ['started_at', timestampFromMs(started)],
      ['duration_ms', e.duration_ms ?? 0],
      ['ttfb_ms', e.ttfb_ms ?? 0],
      ['target', e.target ?? ''],
      ['session_id', e.session_id ?? ''],
      ['http_status', int(e.http_status)],
      ['error_code', e.error_code ?? ''],
      ['replay_of', e.replay_of ?? ''],
    ]),
    // The exchange's own start, so a recorded exchange is judged as it was live.
    now: timestampFromMs(started),
  };
}
