// Bedrock's InvokeModel and InvokeModelWithResponseStream: the body is the model family's own.
// Anthropic's Messages bodies are read by the Anthropic adapter; Amazon Nova's have Converse's
// shapes; every other family (Llama, Mistral, Titan, Cohere, …) is read for its text, with
// usage from what Bedrock adds to any model's answer: the `x-amzn-bedrock-*-token-count`
// headers of a whole answer, the `amazon-bedrock-invocationMetrics` of a stream's last chunk.
// A stream's chunks arrive as event-stream frames of `{bytes: base64 of the family's JSON}`,
// which core/eventstream.ts decodes.
import type { HeaderMap } from '../../core/headers.js';
import { num, obj, str } from '../../core/json-body.js';
import type { SseEvent } from '../../core/sse.js';
import { safeParseJson, type LlmCall, type UpstreamTraits } from './adapter.js';
import { anthropicAdapter } from './anthropic.js';
import { BEDROCK, bedrockUsage, conversePrompt, foldConverseEvent, readConverseAnswer, readErrorBody, readErrorHead, readStreamException } from './bedrock-converse.js';
import type { ResponseFacts } from './usage.js';

type Json = Record<string, unknown>;

/** How one family's body is read: a whole answer, and one decoded stream chunk (true when it carried output). */
interface Family {
  prompt(body: Json): string;
  answer(body: Json, facts: ResponseFacts): void;
  chunk(chunk: Json, facts: ResponseFacts): boolean;
}

/** The family's JSON in a stream's `chunk` event (core/eventstream.ts decoded its base64 `bytes`). */
function chunkJson(event: SseEvent): Json | null {
  return event.event === 'chunk' ? obj(safeParseJson(event.data)) : null;
}

function headerNumber(headers: HeaderMap, name: string): number | null {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined || value.trim() === '' ? null : num(Number(value));
}

/** InvokeModel's token counts, which Bedrock sends as headers whatever the model. */
function headerUsage(headers: HeaderMap, facts: ResponseFacts): void {
  if (facts.usage) return;
  facts.usage = bedrockUsage({
    inputTokenCount: headerNumber(headers, 'x-amzn-bedrock-input-token-count'),
    outputTokenCount: headerNumber(headers, 'x-amzn-bedrock-output-token-count'),
    cacheReadInputTokenCount: headerNumber(headers, 'x-amzn-bedrock-cache-read-input-token-count'),
    cacheWriteInputTokenCount: headerNumber(headers, 'x-amzn-bedrock-cache-write-input-token-count'),
  });
}

/** Anthropic's Messages body, read by the Anthropic adapter (its stream chunks are its SSE events' data). */
function anthropicFamily(body: Json, raw: Buffer, upstream: UpstreamTraits): Family | null {
  const inner = anthropicAdapter.describe('/v1/messages', body, raw, upstream);
  if (!inner) return null;
  return {
    prompt: () => inner.request.inputText(),
    answer: (b, facts) => inner.readBody(b, facts),
    chunk: (chunk, facts) => inner.observeEvent({ event: str(chunk.type), data: JSON.stringify(chunk), id: null, retry: null, raw: '' }, facts),
  };
}

/** Amazon Nova's body: Converse's shapes, its stream chunks `{contentBlockDelta: {...}}` and the like. */
const novaFamily: Family = {
  prompt: conversePrompt,
  answer: readConverseAnswer,
  chunk(chunk: Json, facts: ResponseFacts): boolean {
    let output = false;
    for (const [type, payload] of Object.entries(chunk)) {
      const p = obj(payload);
      if (p && foldConverseEvent(type, p, facts)) output = true;
    }
    return output;
  },
};

/** The list of generations some families answer with: Mistral's `outputs`, Titan's `results`, Cohere's `generations`. */
function generations(body: Json): Json[] {
  const list = [body.outputs, body.results, body.generations].find(Array.isArray) as unknown[] | undefined;
  return (list ?? []).map(obj).filter((item): item is Json => item !== null);
}

/** The text of any other family's answer or chunk: Llama's `generation`, Titan's `outputText`, Cohere's `text`, or the generations'. */
function otherText(body: Json): string {
  const direct = str(body.generation) ?? str(body.outputText) ?? str(body.completion) ?? str(body.text);
  return direct ?? generations(body).map((item) => str(item.text) ?? str(item.outputText) ?? '').join('');
}

function stopReason(item: Json | undefined): string | null {
  return item ? (str(item.stop_reason) ?? str(item.finish_reason) ?? str(item.completionReason)) : null;
}

/** Llama names its counts and stop reason in the body; the others leave usage to Bedrock's headers and metrics. */
function otherFacts(body: Json, facts: ResponseFacts): void {
  const prompt = num(body.prompt_token_count);
  const generated = num(body.generation_token_count);
  if (prompt !== null || generated !== null) {
    facts.usage = { input_tokens: prompt, output_tokens: generated, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null };
  }
  const stop = stopReason(body) ?? stopReason(generations(body)[0]);
  if (stop) facts.finish_reasons = [stop];
}

const otherFamily: Family = {
  prompt: (body) => str(body.prompt) ?? str(body.inputText) ?? str(body.message) ?? conversePrompt(body),
  answer(body: Json, facts: ResponseFacts): void {
    facts.output_text = otherText(body);
    otherFacts(body, facts);
  },
  chunk(chunk: Json, facts: ResponseFacts): boolean {
    const piece = otherText(chunk);
    facts.output_text += piece;
    otherFacts(chunk, facts);
    return piece !== '';
  },
};

/** Titan's embeddings: `inputText` in, `embedding` and `inputTextTokenCount` out (other embedders: Bedrock's headers). */
const embeddingFamily: Family = {
  prompt: (body) => str(body.inputText) ?? (Array.isArray(body.texts) ? body.texts.filter((t) => typeof t === 'string').join('\n') : ''),
  answer(body: Json, facts: ResponseFacts): void {
    const input = num(body.inputTextTokenCount);
    if (input !== null) facts.usage = { input_tokens: input, output_tokens: null, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null };
  },
  chunk: () => false,
};

function familyOf(model: string, body: Json, raw: Buffer, upstream: UpstreamTraits): Family | null {
  if (model.includes('anthropic.') || body.anthropic_version !== undefined) return anthropicFamily(body, raw, upstream);
  if (model.includes('amazon.nova') || body.schemaVersion === 'messages-v1') return novaFamily;
  if (model.includes('embed')) return embeddingFamily;
  return otherFamily;
}

export function invokeCall(model: string, body: Json, raw: Buffer, stream: boolean, upstream: UpstreamTraits): LlmCall | null {
  const family = familyOf(model, body, raw, upstream);
  if (!family) return null;
  const operation = family === embeddingFamily ? 'embeddings' : 'chat';
  return {
    request: { provider: BEDROCK, operation, model, stream, inputText: () => family.prompt(body) },
    upstreamBody: null,
    observeEvent(event: SseEvent, facts: ResponseFacts): boolean {
      if (readStreamException(event, facts)) return false;
      const chunk = chunkJson(event);
      if (!chunk) return false;
      const output = family.chunk(chunk, facts);
      // Bedrock's own count, on the last chunk of every family's stream: used when the family's gave none.
      const metrics = bedrockUsage(obj(chunk['amazon-bedrock-invocationMetrics']));
      if (metrics && !facts.usage) facts.usage = metrics;
      return output;
    },
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      // Bedrock's errors are its own `{message}` whatever the family.
      if (b && !readErrorBody(b, facts)) family.answer(b, facts);
    },
    readHead(headers: HeaderMap, facts: ResponseFacts): void {
      readErrorHead(headers, facts);
      headerUsage(headers, facts);
    },
  };
}
