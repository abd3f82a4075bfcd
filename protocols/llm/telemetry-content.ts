// An LLM call's message content on its span (telemetry.capture_content), in the GenAI
// conventions' shapes: gen_ai.input.messages, gen_ai.system_instructions and
// gen_ai.output.messages, read from OpenAI (Chat Completions, Responses) and Anthropic
// (Messages) bodies. The cap and its mark are telemetry's (telemetry/content.ts).
import type { Attributes } from '@opentelemetry/api';
import { putContent } from '../../telemetry/content.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
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
  if (Array.isArray(input)) putContent(attributes, 'gen_ai.input.messages', input.filter(isObject).map(message));
  putContent(attributes, 'gen_ai.system_instructions', request.system !== undefined ? parts(request.system) : request.instructions !== undefined ? parts(request.instructions) : null);
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
  putContent(attributes, 'gen_ai.output.messages', output);
}
