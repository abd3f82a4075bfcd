// Bedrock's Converse and ConverseStream (one request shape for every model on Bedrock), and
// the pieces InvokeModel shares with them: Bedrock's usage (input counted without its cached
// part, which is added back the GenAI way), its exceptions in a stream, its error type header.
// Amazon Nova's own InvokeModel body has Converse's shapes, so its reading lives here too.
import type { HeaderMap } from '../../core/headers.js';
import { num, obj, str } from '../../core/json-body.js';
import type { SseEvent } from '../../core/sse.js';
import { contentText, safeParseJson, type LlmCall } from './adapter.js';
import type { ResponseFacts, Usage } from './usage.js';

type Json = Record<string, unknown>;

/** The provider's name on the record, the span (`gen_ai.provider.name`) and in policies (`llm.provider`). */
export const BEDROCK = 'bedrock';

/**
 * Bedrock's usage: Converse names the cache counts `cache…InputTokens`, Nova's InvokeModel
 * `cache…InputTokenCount`, the invocation metrics `inputTokenCount`; `inputTokens` never
 * includes the cached tokens, which are added back.
 */
export function bedrockUsage(u: Json | null): Usage | null {
  if (!u) return null;
  const uncached = num(u.inputTokens) ?? num(u.inputTokenCount);
  const output = num(u.outputTokens) ?? num(u.outputTokenCount);
  if (uncached === null && output === null) return null;
  const cacheRead = num(u.cacheReadInputTokens) ?? num(u.cacheReadInputTokenCount);
  const cacheWrite = num(u.cacheWriteInputTokens) ?? num(u.cacheWriteInputTokenCount);
  return {
    // num(): a sum past the largest double is no count the record can hold.
    input_tokens: uncached === null ? null : num(uncached + (cacheRead ?? 0) + (cacheWrite ?? 0)),
    output_tokens: output,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    reasoning_tokens: null,
  };
}

/** The text of Converse content blocks: text, tool-call arguments, reasoning. */
export function blocksText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .map((item) => {
      const block = obj(item);
      const toolUse = obj(block?.toolUse);
      return str(block?.text) ?? (toolUse ? JSON.stringify(toolUse.input ?? {}) : (str(obj(obj(block?.reasoningContent)?.reasoningText)?.text) ?? ''));
    })
    .join('');
}

/** The prompt of a Converse (or Nova) request: its system blocks and its messages. */
export function conversePrompt(body: Json): string {
  const system = contentText(body.system);
  const messages = Array.isArray(body.messages) ? body.messages.map((m) => contentText(obj(m)?.content)).join('\n') : '';
  return system ? `${system}\n${messages}` : messages;
}

/** The error type AWS names in `x-amzn-errortype` ("ThrottlingException:http://…"), as its SDKs read it. */
export function awsErrorType(headers: HeaderMap): string | null {
  const raw = headers['x-amzn-errortype'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value ? (value.split(':')[0] ?? null) : null;
}

/** A Bedrock error answer's type, from its `x-amzn-errortype` header (the body's message is read with the body). */
export function readErrorHead(headers: HeaderMap, facts: ResponseFacts): void {
  const type = awsErrorType(headers);
  if (type) facts.error_code ??= type;
}

const ERROR_FIELDS = new Set(['message', 'Message', '__type']);

/** A Bedrock error body, `{message}` (with `__type` from tapwire and some AWS services): true when `body` is one. */
export function readErrorBody(body: Json, facts: ResponseFacts): boolean {
  const keys = Object.keys(body);
  if (keys.length === 0 || !keys.every((key) => ERROR_FIELDS.has(key))) return false;
  const type = str(body.__type);
  if (type) facts.error_code = type.split('#').pop()?.split(':')[0] ?? type;
  facts.error_message = str(body.message) ?? str(body.Message);
  return true;
}

/** An exception frame of a Bedrock stream (throttlingException, modelStreamErrorException, …): true when `event` is one. */
export function readStreamException(event: SseEvent, facts: ResponseFacts): boolean {
  const name = event.event;
  if (!name || !(name.endsWith('Exception') || name === 'error')) return false;
  const payload = obj(safeParseJson(event.data));
  facts.error_code = name === 'error' ? str(payload?.code) : name.charAt(0).toUpperCase() + name.slice(1);
  facts.error_message = str(payload?.message) ?? str(payload?.Message);
  return true;
}

/**
 * Folds one Converse stream event (its type, its payload) into `facts`; true when it carried
 * output. Nova's InvokeModel stream sends the same events as `{type: payload}` objects.
 */
export function foldConverseEvent(type: string | null, payload: Json, facts: ResponseFacts): boolean {
  switch (type) {
    case 'contentBlockDelta': {
      const delta = obj(payload.delta);
      const piece = str(delta?.text) ?? str(obj(delta?.toolUse)?.input) ?? str(obj(delta?.reasoningContent)?.text) ?? '';
      facts.output_text += piece;
      return piece !== '';
    }
    case 'messageStop': {
      const stop = str(payload.stopReason);
      if (stop) facts.finish_reasons = [stop];
      return false;
    }
    case 'metadata': {
      const usage = bedrockUsage(obj(payload.usage));
      if (usage) facts.usage = usage;
      return false;
    }
    default:
      return false;
  }
}

/** A whole Converse (or Nova InvokeModel) answer. */
export function readConverseAnswer(body: Json, facts: ResponseFacts): void {
  if (readErrorBody(body, facts)) return;
  const stop = str(body.stopReason);
  facts.finish_reasons = stop ? [stop] : [];
  facts.usage = bedrockUsage(obj(body.usage));
  facts.output_text = blocksText(obj(obj(body.output)?.message)?.content);
}

export function converseCall(model: string, body: Json, stream: boolean): LlmCall {
  return {
    request: { provider: BEDROCK, operation: 'chat', model, stream, inputText: () => conversePrompt(body) },
    upstreamBody: null,
    observeEvent(event: SseEvent, facts: ResponseFacts): boolean {
      if (readStreamException(event, facts)) return false;
      const payload = obj(safeParseJson(event.data));
      return payload ? foldConverseEvent(event.event, payload, facts) : false;
    },
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (b) readConverseAnswer(b, facts);
    },
    readHead: readErrorHead,
  };
}
