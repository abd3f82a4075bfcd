// Ollama's native API: /api/chat, /api/generate and /api/embed. A call streams unless its
// body says `"stream": false`, and a stream is JSON lines (application/x-ndjson), not SSE:
// the lines pass through untouched, are watched as they pass for the first one carrying
// output (time to first token), and are read whole when the stream ends. Usage is the last line's `prompt_eval_count` and `eval_count`; a
// thinking model's thoughts are counted in `eval_count` (Ollama does not report them apart).
// Errors are `{"error": "..."}`, which the `ollama` client raises as its ResponseError.
// Ollama's OpenAI-compatible /v1 API is the `ollama` provider's other format (providers.ts).
import { num, obj, str } from '../../core/json-body.js';
import { contentText, type LlmAdapter, type LlmCall } from './adapter.js';
import { openaiCompatible } from './openai-compatible.js';
import type { ResponseFacts } from './usage.js';

type Json = Record<string, unknown>;

const OLLAMA_PATH = /\/api\/(chat|generate|embed)$/;

function readError(line: Json, facts: ResponseFacts): boolean {
  const message = str(line.error);
  if (message === null) return false;
  facts.error_code = 'ollama_error';
  facts.error_message = message;
  return true;
}

/** The generated text of one chat or generate line: the message's content and tool-call arguments, or `response`. */
function lineText(line: Json): string {
  const message = obj(line.message);
  const calls = Array.isArray(message?.tool_calls) ? message.tool_calls.map((t) => JSON.stringify(obj(obj(t)?.function)?.arguments ?? {})) : [];
  return [str(message?.content) ?? str(line.response) ?? '', str(message?.thinking) ?? str(line.thinking) ?? '', ...calls].join('');
}

function generationCall(operation: 'chat' | 'text_completion', body: Json): LlmCall {
  const inputText = (): string =>
    operation === 'chat'
      ? (Array.isArray(body.messages) ? body.messages.map((m) => contentText(obj(m)?.content)).join('\n') : '')
      : `${str(body.system) ?? ''}\n${str(body.prompt) ?? ''}`;
  return {
    // Ollama streams unless told not to.
    request: { provider: 'ollama', operation, model: str(body.model), stream: body.stream !== false, inputText },
    upstreamBody: null,
    jsonLines: true,
    outputInLine: (line: unknown): boolean => {
      const value = obj(line);
      return value !== null && lineText(value) !== '';
    },
    observeEvent: () => false,
    rewriteEvent: null,
    readBody(lines: unknown, facts: ResponseFacts): void {
      let text = '';
      for (const item of Array.isArray(lines) ? lines : [lines]) {
        const line = obj(item);
        if (!line || readError(line, facts)) continue;
        facts.response_model ??= str(line.model);
        text += lineText(line);
        if (line.done === true) {
          const reason = str(line.done_reason);
          if (reason) facts.finish_reasons = [reason];
          const input = num(line.prompt_eval_count);
          const output = num(line.eval_count);
          if (input !== null || output !== null) {
            facts.usage = { input_tokens: input, output_tokens: output, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null };
          }
        }
      }
      facts.output_text = text;
    },
  };
}

function embedCall(body: Json): LlmCall {
  const input = body.input;
  const inputText = (): string => (typeof input === 'string' ? input : Array.isArray(input) ? input.filter((i) => typeof i === 'string').join('\n') : '');
  return {
    request: { provider: 'ollama', operation: 'embeddings', model: str(body.model), stream: false, inputText },
    upstreamBody: null,
    jsonLines: true,
    observeEvent: () => false,
    rewriteEvent: null,
    readBody(lines: unknown, facts: ResponseFacts): void {
      const line = obj(Array.isArray(lines) ? lines[0] : lines);
      if (!line || readError(line, facts)) return;
      facts.response_model = str(line.model);
      const input = num(line.prompt_eval_count);
      if (input !== null) facts.usage = { input_tokens: input, output_tokens: null, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null };
    },
  };
}

export const ollamaAdapter: LlmAdapter = {
  provider: 'ollama',
  // A local model has no list price: a `pricing:` entry gives one (Ollama's cloud models are billed by subscription).
  prices: {},
  addsStreamUsage: false,
  describe(path: string, body: unknown): LlmCall | null {
    const match = OLLAMA_PATH.exec(path);
    const b = obj(body);
    if (!match || !b) return null;
    if (match[1] === 'embed') return embedCall(b);
    return generationCall(match[1] === 'chat' ? 'chat' : 'text_completion', b);
  },
  recognises: (path: string): boolean => OLLAMA_PATH.test(path),
  errorBody(_status: number, _code: string, message: string): unknown {
    return { error: message };
  },
  policyError(message: string): unknown {
    return { error: message };
  },
  authenticationError(message: string): unknown {
    return { error: message };
  },
  // For SSE streams, which Ollama's native API never sends: a response rule reviews its JSON-lines stream whole.
  streamErrorEvent: null,
};

/** Ollama's OpenAI-compatible API (/v1/chat/completions, …), under Ollama's name. */
export const ollamaOpenaiAdapter = openaiCompatible('ollama', {});
