// Opt-in message content on spans (telemetry.capture_content): the GenAI conventions'
// gen_ai.input.messages / gen_ai.output.messages / gen_ai.system_instructions for LLM calls
// and gen_ai.tool.call.arguments / gen_ai.tool.call.result for MCP tools/call, as JSON
// strings, built from the record after the policies' redact rules have masked it, each
// capped at CONTENT_MAX_CHARS.
import type { Attributes } from '@opentelemetry/api';

/** The longest content attribute, in characters; longer ones are cut and end with TRUNCATED_MARK. */
export const CONTENT_MAX_CHARS = 16 * 1024;
export const TRUNCATED_MARK = '…[truncated]';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function capped(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > CONTENT_MAX_CHARS ? text.slice(0, CONTENT_MAX_CHARS - TRUNCATED_MARK.length) + TRUNCATED_MARK : text;
}

function put(attributes: Attributes, key: string, value: unknown): void {
  if (value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0)) attributes[key] = capped(value);
}

/** One content item (OpenAI part or Anthropic block) as a GenAI message part. */
function part(item: unknown): Json {
  if (typeof item === 'string') return { type: 'text', content: item };
  if (!isObject(item)) return { type: 'unknown' };
  switch (item.type) {
    case 'text':
    case 'input_text':
    case 'output_text':
      return { type: 'text', content: item.text };
    case 'tool_use':
      return { type: 'tool_call', id: item.id, name: item.name, arguments: item.input };
    case 'tool_result':
      return { type: 'tool_call_response', id: item.tool_use_id, response: item.content };
    case 'thinking':
      return { type: 'reasoning', content: item.thinking };
    default:
      // Images, audio and files: their kind only, never their (large) data.
      return { type: typeof item.type === 'string' ? item.type : 'unknown' };
  }
}

function parts(content: unknown): Json[] {
  if (content === undefined || content === null) return [];
  return Array.isArray(content) ? content.map(part) : [part(content)];
}

/** OpenAI tool_calls on an assistant message, as tool_call parts. */
function toolCalls(message: Json): Json[] {
  if (!Array.isArray(message.tool_calls)) return [];
  return message.tool_calls.filter(isObject).map((call) => {
    const fn = isObject(call.function) ? call.function : {};
    return { type: 'tool_call', id: call.id, name: fn.name, arguments: fn.arguments };
  });
}

function message(m: Json): Json {
  if (m.role === 'tool') return { role: 'tool', parts: [{ type: 'tool_call_response', id: m.tool_call_id, response: m.content }] };
  return { role: m.role, parts: [...parts(m.content), ...toolCalls(m)] };
}

/** Content attributes of an LLM call: the request's messages, its system instructions, and the (non-streamed) answer. */
export function llmContent(request: Json, response: Json, attributes: Attributes): void {
  const input = Array.isArray(request.messages) ? request.messages : typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : request.input;
  if (Array.isArray(input)) put(attributes, 'gen_ai.input.messages', input.filter(isObject).map(message));
  put(attributes, 'gen_ai.system_instructions', request.system !== undefined ? parts(request.system) : request.instructions !== undefined ? parts(request.instructions) : null);
  let output: Json[] = [];
  if (Array.isArray(response.choices)) {
    // OpenAI Chat Completions
    output = response.choices.filter(isObject).map((c) => ({ ...message(isObject(c.message) ? c.message : {}), finish_reason: c.finish_reason }));
  } else if (response.type === 'message' && Array.isArray(response.content)) {
    // Anthropic Messages
    output = [{ role: response.role, parts: parts(response.content), finish_reason: response.stop_reason }];
  } else if (Array.isArray(response.output)) {
    // OpenAI Responses
    output = response.output.filter((o): o is Json => isObject(o) && o.type === 'message').map((o) => ({ role: o.role, parts: parts(o.content) }));
  }
  put(attributes, 'gen_ai.output.messages', output);
}

/** Content attributes of an MCP tools/call: its arguments and its result (or JSON-RPC error). */
export function toolContent(request: Json, response: Json, attributes: Attributes): void {
  const params = isObject(request.params) ? request.params : {};
  put(attributes, 'gen_ai.tool.call.arguments', params.arguments);
  put(attributes, 'gen_ai.tool.call.result', response.result ?? response.error);
}
