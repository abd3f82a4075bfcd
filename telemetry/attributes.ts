// Names and attributes of an exchange's span, per the OpenTelemetry GenAI, MCP and A2A semantic
// conventions (v1.41 names, or the newer ones when opted in), read from the finished record.
// One function per protocol.
import type { Attributes } from '@opentelemetry/api';
import type { ExchangeRecord, Payload } from '../core/exchange.js';
import { llmContent, toolContent } from './content.js';
import { parseJson } from '../core/json-body.js';

/** Where a route sends its calls, for server.address / server.port and network.transport. */
export interface RouteTarget {
  address: string | null;
  port: number | null;
  /** True for a stdio MCP server tapwire runs (network.transport = pipe). */
  pipe: boolean;
}

export interface SpanOptions {
  /** Adds message content (prompts, answers, tool arguments and results): telemetry.capture_content. */
  captureContent: boolean;
  /** OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental: the newer GenAI and A2A names. */
  latestConventions: boolean;
}

export interface SpanDescription {
  name: string;
  attributes: Attributes;
}

/** The part of a JSON-RPC method or LLM operation before any argument, for span names. */
function withTarget(name: string, target: string | null): string {
  return target ? `${name} ${target}` : name;
}

function header(record: ExchangeRecord, name: string): string | undefined {
  const value = record.request?.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function set(attributes: Attributes, key: string, value: string | number | boolean | string[] | null | undefined): void {
  if (value !== null && value !== undefined) attributes[key] = value;
}

function finishReasons(text: string | null): string[] | null {
  if (!text) return null;
  try {
    const parsed = parseJson(text);
    return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === 'string') : null;
  } catch {
    return null;
  }
}

/** A JSON object from recorded text (a body or the details column); {} when absent, truncated or not an object. */
function jsonObject(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const parsed = parseJson(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A recorded body as a JSON object, parsed once per span ({} when it was truncated or is not JSON). */
function bodyJson(payload: Payload | null): Record<string, unknown> {
  return payload?.body && !payload.truncated ? jsonObject(payload.body.toString('utf8')) : {};
}

function numberIn(body: Record<string, unknown>, ...keys: string[]): number | null {
  for (const key of keys) if (typeof body[key] === 'number' && Number.isFinite(body[key])) return body[key];
  return null;
}

/**
 * gen_ai.request.* parameters from an LLM request body: OpenAI Chat Completions and
 * Responses (`max_completion_tokens`, `max_output_tokens`, `stop`, `n`) and Anthropic
 * Messages (`top_k`, `stop_sequences`). Only what the request set is reported.
 */
function requestParameters(body: Record<string, unknown>, attributes: Attributes): void {
  set(attributes, 'gen_ai.request.max_tokens', numberIn(body, 'max_tokens', 'max_completion_tokens', 'max_output_tokens'));
  set(attributes, 'gen_ai.request.temperature', numberIn(body, 'temperature'));
  set(attributes, 'gen_ai.request.top_p', numberIn(body, 'top_p'));
  set(attributes, 'gen_ai.request.top_k', numberIn(body, 'top_k'));
  set(attributes, 'gen_ai.request.frequency_penalty', numberIn(body, 'frequency_penalty'));
  set(attributes, 'gen_ai.request.presence_penalty', numberIn(body, 'presence_penalty'));
  set(attributes, 'gen_ai.request.seed', numberIn(body, 'seed'));
  const n = numberIn(body, 'n');
  if (n !== null && n !== 1) set(attributes, 'gen_ai.request.choice.count', n);
  const stop = body.stop_sequences ?? body.stop;
  if (typeof stop === 'string') set(attributes, 'gen_ai.request.stop_sequences', [stop]);
  else if (Array.isArray(stop)) set(attributes, 'gen_ai.request.stop_sequences', stop.filter((s): s is string => typeof s === 'string'));
}

/** The GenAI operation of an LLM exchange (`chat` unless the adapter named another). */
export function llmOperation(record: ExchangeRecord): string {
  return record.exchange.operation ?? 'chat';
}

/** True when an MCP exchange is a request the client sent and the server answered (not a notification). */
export function isMcpClientRequest(record: ExchangeRecord): boolean {
  const e = record.exchange;
  return e.direction === 'client_to_server' && e.jsonrpc_id !== null && e.method !== null && !e.method.startsWith('(');
}

function llmSpan(record: ExchangeRecord, attributes: Attributes, options: SpanOptions): string {
  const e = record.exchange;
  const request = bodyJson(record.request);
  requestParameters(request, attributes);
  // A streamed answer is a series of events, not one document: its output is not captured.
  if (options.captureContent) llmContent(request, e.streamed === 1 ? {} : bodyJson(record.response), attributes);
  const operation = llmOperation(record);
  set(attributes, 'gen_ai.operation.name', operation);
  set(attributes, 'gen_ai.provider.name', e.provider);
  set(attributes, 'gen_ai.request.model', e.model);
  set(attributes, 'gen_ai.response.model', e.response_model);
  set(attributes, 'gen_ai.response.id', e.response_id);
  set(attributes, 'gen_ai.usage.input_tokens', e.input_tokens);
  set(attributes, 'gen_ai.usage.output_tokens', e.output_tokens);
  set(attributes, 'gen_ai.usage.cache_read.input_tokens', e.cache_read_tokens);
  // Renamed after v1.41 in the GenAI conventions repository.
  set(attributes, options.latestConventions ? 'gen_ai.usage.cache_write.input_tokens' : 'gen_ai.usage.cache_creation.input_tokens', e.cache_write_tokens);
  set(attributes, 'gen_ai.usage.reasoning.output_tokens', e.reasoning_tokens);
  set(attributes, 'gen_ai.response.finish_reasons', finishReasons(e.finish_reasons));
  set(attributes, 'gen_ai.request.stream', e.streamed === 1);
  if (e.ttft_ms !== null) set(attributes, 'gen_ai.response.time_to_first_chunk', e.ttft_ms / 1000);
  set(attributes, 'tapwire.cost_usd', e.cost_usd);
  set(attributes, 'tapwire.tokens_estimated', e.tokens_estimated === 1);
  return withTarget(operation, e.model);
}

function mcpSpan(record: ExchangeRecord, attributes: Attributes, route: RouteTarget, options: SpanOptions): string {
  const e = record.exchange;
  const method = e.method ?? '(unknown)';
  set(attributes, 'mcp.method.name', method);
  if (method === 'tools/call') {
    set(attributes, 'gen_ai.operation.name', 'execute_tool');
    set(attributes, 'gen_ai.tool.name', e.target);
    if (options.captureContent) toolContent(bodyJson(record.request), bodyJson(record.response), attributes);
  }
  set(attributes, 'mcp.session.id', e.session_id?.startsWith('conn-') ? null : e.session_id);
  set(attributes, 'mcp.protocol.version', header(record, 'mcp-protocol-version'));
  set(attributes, 'jsonrpc.request.id', e.jsonrpc_id);
  // A JSON-RPC error's code is recorded as the error code: it is the response's status code.
  if (e.error_code !== null && /^-?\d+$/.test(e.error_code)) set(attributes, 'rpc.response.status_code', e.error_code);
  set(attributes, 'network.transport', route.pipe ? 'pipe' : 'tcp');
  set(attributes, 'tapwire.direction', e.direction);
  return withTarget(method, e.target);
}

/** The A2A conventions' TaskState value (`TASK_STATE_INPUT_REQUIRED`) of a recorded state (`input-required`). */
function taskStateEnum(state: string | null): string | null {
  if (state === null) return null;
  return state === 'unknown' ? 'TASK_STATE_UNSPECIFIED' : `TASK_STATE_${state.toUpperCase().replace(/-/g, '_')}`;
}

function a2aSpan(record: ExchangeRecord, attributes: Attributes, options: SpanOptions): string {
  const e = record.exchange;
  const method = e.method ?? '(unknown)';
  const extra = jsonObject(e.details);
  // The record names the logical operation (SendMessage) whatever the protocol version sent.
  set(attributes, 'a2a.method.name', method);
  set(attributes, 'a2a.task.state', options.latestConventions ? taskStateEnum(e.task_state) : e.task_state);
  set(attributes, 'a2a.task.id', e.task_id);
  set(attributes, 'a2a.context.id', e.session_id);
  set(attributes, 'a2a.protocol.version', typeof extra.version === 'string' ? extra.version : null);
  // The target is "agent name:skill" or the agent name alone (protocols/a2a/observer.ts).
  set(attributes, 'gen_ai.agent.name', e.target?.split(':', 1)[0] || null);
  set(attributes, 'jsonrpc.request.id', e.jsonrpc_id);
  return withTarget(method, e.target);
}

/** The span name and attributes of a finished exchange. */
export function describeSpan(record: ExchangeRecord, route: RouteTarget, options: SpanOptions): SpanDescription {
  const e = record.exchange;
  const attributes: Attributes = { 'tapwire.exchange.id': e.id, 'tapwire.route': e.route, 'tapwire.protocol': e.protocol };
  set(attributes, 'tapwire.status', e.status);
  set(attributes, 'tapwire.policy.rule', e.policy_rule);
  set(attributes, 'tapwire.policy.action', e.policy_action);
  set(attributes, 'server.address', route.address);
  set(attributes, 'server.port', route.port);
  set(attributes, 'http.response.status_code', e.http_status);
  if (e.status !== 'ok') set(attributes, 'error.type', e.error_code ?? (e.status === 'aborted' ? 'aborted' : '_OTHER'));
  let name: string;
  if (e.protocol === 'llm') name = llmSpan(record, attributes, options);
  else if (e.protocol === 'mcp') name = mcpSpan(record, attributes, route, options);
  else if (e.protocol === 'a2a') name = a2aSpan(record, attributes, options);
  else name = e.method ?? 'HTTP';
  return { name, attributes };
}
