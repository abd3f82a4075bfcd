// Google Gemini API wire format: generateContent, streamGenerateContent (SSE with `alt=sse`,
// else one JSON array of the same chunks), countTokens, embedContent and batchEmbedContents,
// the model named by the path (`/v1beta/models/{model}:{operation}`). `usageMetadata` counts
// the prompt with its cached part (as the GenAI conventions do) but the candidates without
// the thoughts, which are billed as output: they are added back, and kept as reasoning tokens.
// Credentials (`x-goog-api-key`, `?key=`) are the record's redaction's business, not this file's.
import { num, obj, str } from '../../core/json-body.js';
import type { SseEvent } from '../../core/sse.js';
import { contentText, safeParseJson, type LlmAdapter, type LlmCall } from './adapter.js';
import type { Price } from './pricing.js';
import { sourced } from './price-source.js';
import type { ResponseFacts, Usage } from './usage.js';

type Json = Record<string, unknown>;

/** `…/models/{model}:{method}` (or a tuned model), the model and the API method. */
const GEMINI_PATH = /\/(models|tunedModels)\/([^/:]+):(generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)$/;

const OPERATIONS: Record<string, string> = {
  generateContent: 'generate_content',
  streamGenerateContent: 'generate_content',
  countTokens: 'count_tokens',
  embedContent: 'embeddings',
  batchEmbedContents: 'embeddings',
};

function usageOf(u: Json | null): Usage | null {
  if (!u) return null;
  const prompt = num(u.promptTokenCount);
  const toolPrompt = num(u.toolUsePromptTokenCount) ?? 0;
  const candidates = num(u.candidatesTokenCount);
  const thoughts = num(u.thoughtsTokenCount);
  return {
    input_tokens: prompt === null ? null : prompt + toolPrompt,
    output_tokens: candidates === null && thoughts === null ? null : (candidates ?? 0) + (thoughts ?? 0),
    cache_read_tokens: num(u.cachedContentTokenCount),
    cache_write_tokens: null,
    reasoning_tokens: thoughts,
  };
}

function readError(body: Json, facts: ResponseFacts): boolean {
  const error = obj(body.error);
  if (!error) return false;
  facts.error_code = str(error.status) ?? (num(error.code) === null ? null : String(error.code));
  facts.error_message = str(error.message);
  return true;
}

/** The text of `contents` (Content objects, one Content, or a string), with the system instruction. */
function contentsText(body: Json): string {
  const contents = body.contents;
  const list = Array.isArray(contents) ? contents : [contents];
  const text = list.map((c) => (typeof c === 'string' ? c : contentText(obj(c)?.parts))).join('\n');
  const system = contentText(obj(body.systemInstruction ?? body.system_instruction)?.parts);
  return system ? `${system}\n${text}` : text;
}

/** The parts' text and function-call arguments of one candidate. */
function candidateText(candidate: Json | null): string {
  const parts = obj(candidate?.content)?.parts;
  if (!Array.isArray(parts)) return '';
  return parts
    .map((part) => {
      const p = obj(part);
      const call = obj(p?.functionCall);
      return str(p?.text) ?? (call ? JSON.stringify(call.args ?? {}) : '');
    })
    .join('');
}

function generateCall(model: string | null, body: Json, stream: boolean): LlmCall {
  const candidateTexts = new Map<number, string>();
  /** Folds one GenerateContentResponse (a whole answer or a stream chunk); true when it carried output. */
  const fold = (chunk: Json, facts: ResponseFacts): boolean => {
    if (readError(chunk, facts)) return false;
    facts.response_id ??= str(chunk.responseId);
    facts.response_model ??= str(chunk.modelVersion);
    // Each chunk's usageMetadata is the total so far: the last one wins.
    const usage = usageOf(obj(chunk.usageMetadata));
    if (usage) facts.usage = usage;
    let output = false;
    for (const item of Array.isArray(chunk.candidates) ? chunk.candidates : []) {
      const candidate = obj(item);
      const index = num(candidate?.index) ?? 0;
      const text = candidateText(candidate);
      if (text) {
        output = true;
        candidateTexts.set(index, (candidateTexts.get(index) ?? '') + text);
      }
      const finish = str(candidate?.finishReason);
      if (finish) facts.finish_reasons[index] = finish;
    }
    facts.output_text = [...candidateTexts.values()].join('\n');
    return output;
  };
  return {
    request: { provider: 'gemini', operation: 'generate_content', model, stream, inputText: () => contentsText(body) },
    upstreamBody: null,
    observeEvent(event: SseEvent, facts: ResponseFacts): boolean {
      const chunk = obj(safeParseJson(event.data));
      return chunk ? fold(chunk, facts) : false;
    },
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      // A stream without `alt=sse` is one JSON array of chunks; an error or answer is one object.
      for (const chunk of Array.isArray(json) ? json : [json]) {
        const c = obj(chunk);
        if (c) fold(c, facts);
      }
    },
  };
}

function countTokensCall(model: string | null, body: Json): LlmCall {
  const request = obj(body.generateContentRequest) ?? body;
  return {
    // countTokens costs nothing and generates nothing: its answer is a count, not usage.
    request: { provider: 'gemini', operation: 'count_tokens', model, stream: false, inputText: () => contentsText(request) },
    upstreamBody: null,
    observeEvent: () => false,
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (b && readError(b, facts)) return;
      facts.usage = { input_tokens: 0, output_tokens: 0, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null };
    },
  };
}

function embedCall(model: string | null, body: Json): LlmCall {
  const requests = Array.isArray(body.requests) ? body.requests.map(obj) : [body];
  return {
    request: { provider: 'gemini', operation: 'embeddings', model, stream: false, inputText: () => requests.map((r) => contentText(obj(r?.content)?.parts)).join('\n') },
    upstreamBody: null,
    observeEvent: () => false,
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (!b || readError(b, facts)) return;
      // The Gemini API reports no usage for embeddings (tokens are estimated) unless it sends usageMetadata.
      const usage = usageOf(obj(b.usageMetadata));
      if (usage) facts.usage = { ...usage, output_tokens: null };
    },
  };
}

/** google.rpc status names for the HTTP statuses tapwire answers, so @google/genai reads its usual errors. */
const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** Gemini's error body: `{error: {code, message, status}}`, tapwire's reason in a google.rpc.ErrorInfo. */
function googleError(code: number, message: string, reason: string): unknown {
  return {
    error: {
      code,
      message,
      status: GOOGLE_STATUS[code] ?? 'INTERNAL',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'tapwire' }],
    },
  };
}

// USD per million tokens, Gemini Developer API paid tier, text/image/video input (cache_read:
// context caching, storage billed apart; long_context: the Pro models' rates for a prompt
// above 200k tokens, for the whole call). Audio input costs more. The pricing page itself is
// not among the stored copies tapwire could read: every entry is cross-checked (docs/providers.md,
// "Where prices come from"); a `pricing:` entry in tapwire.yaml overrides (without a tier).
const GEMINI_PRICING = 'https://ai.google.dev/gemini-api/docs/pricing';
const CROSS_CHECKS = {
  genaiPrices: 'https://github.com/pydantic/genai-prices/blob/47df840a5ab10bbcffb8e5ac01b9899032245d1b/prices/providers/google.yml',
  copilot: 'https://github.com/github/docs/blob/024f6b0f8c266054134f13dd7d122d8b80d25315/data/tables/copilot/models-and-pricing.yml',
  morph: 'https://www.morphllm.com/gemini-api-pricing',
  aifreeapi: 'https://www.aifreeapi.com/en/posts/gemini-api-token-pricing',
  // Two dated readings of Google's pricing page, its price texts quoted verbatim.
  transcriptOct: 'https://github.com/api-evangelist/deepmind/blob/47a9772bdb46163b5e5560285bbc88bb11b86073/plans/deepmind-plans-pricing.yml',
  transcriptSep: 'https://github.com/api-evangelist/gemini/blob/3a1090a4ad91e16a9f699089bb900a5d134f8c41/plans/gemini-plans-pricing.yml',
};
const PRO_TIER = (input: number, output: number, cacheRead: number): Price => ({
  input,
  output,
  cache_read: cacheRead,
  long_context: { above_input_tokens: 200_000, input: input * 2, output: output * 1.5, cache_read: cacheRead * 2 },
});
const GEMINI_PRICES: Readonly<Record<string, Price>> = {
  ...sourced({ url: GEMINI_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.copilot] }, {
    'gemini-3.1-pro': PRO_TIER(2, 12, 0.2),
    'gemini-3.5-flash': { input: 1.5, output: 9, cache_read: 0.15 },
    // Promotional until 2027-01-01, then $1.50/$7.50 (the dataset's dated entry).
    'gemini-3.6-flash': { input: 0.75, output: 3.75, cache_read: 0.075 },
    'gemini-3.7-flash': { input: 0.75, output: 3.75, cache_read: 0.075 },
  }),
  ...sourced({ url: GEMINI_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.morph, CROSS_CHECKS.aifreeapi] }, {
    'gemini-3-pro': PRO_TIER(2, 12, 0.2),
    'gemini-3-flash': { input: 0.5, output: 3, cache_read: 0.05 },
    'gemini-3.1-flash-lite': { input: 0.25, output: 1.5, cache_read: 0.025 },
    'gemini-2.5-pro': PRO_TIER(1.25, 10, 0.125),
    'gemini-2.5-flash': { input: 0.3, output: 2.5, cache_read: 0.03 },
    'gemini-2.5-flash-lite': { input: 0.1, output: 0.4, cache_read: 0.01 },
    'gemini-2.0-flash': { input: 0.1, output: 0.4, cache_read: 0.025 },
  }),
  ...sourced({ url: GEMINI_PRICING, date: '2026-10-07', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.transcriptOct] }, {
    'gemini-3.5-flash-lite': { input: 0.3, output: 2.5, cache_read: 0.03 },
    'gemini-embedding-2': { input: 0.2, output: 0 },
  }),
  // $0.75/$3.75 through 2026-12-31, then $1.50/$7.50; its cache rate is not quoted (cached tokens at the input rate).
  ...sourced({ url: GEMINI_PRICING, date: '2026-10-07', checked: 'cross-checked', against: [CROSS_CHECKS.transcriptOct, CROSS_CHECKS.transcriptSep] }, {
    'gemini-3.8-flash': { input: 0.75, output: 3.75 },
  }),
  // Deprecated (2.0 Flash-Lite shut down 2026-06-01) or only in the dataset: estimates until a `pricing:` entry states them.
  ...sourced({ url: GEMINI_PRICING, date: '2026-08-21', checked: 'unverified', against: [CROSS_CHECKS.genaiPrices] }, {
    'gemini-2.0-flash-lite': { input: 0.075, output: 0.3 },
    'gemini-embedding-001': { input: 0.15, output: 0 },
  }),
};

export const geminiAdapter: LlmAdapter = {
  provider: 'gemini',
  genAiProvider: 'gcp.gemini',
  prices: GEMINI_PRICES,
  addsStreamUsage: false,
  describe(path: string, body: unknown): LlmCall | null {
    const match = GEMINI_PATH.exec(path);
    const b = obj(body);
    if (!match || !b) return null;
    const [, collection, name, method] = match;
    // A tuned model keeps its collection in its name: it is priced by no built-in entry.
    const model = name === undefined ? null : collection === 'tunedModels' ? `tunedModels/${name}` : name;
    switch (OPERATIONS[method ?? '']) {
      case 'generate_content':
        return generateCall(model, b, method === 'streamGenerateContent');
      case 'count_tokens':
        return countTokensCall(model, b);
      case 'embeddings':
        return embedCall(model, b);
      default:
        return null;
    }
  },
  recognises: (path: string): boolean => GEMINI_PATH.test(path),
  errorBody(status: number, code: string, message: string): unknown {
    return googleError(status, message, code);
  },
  policyError(message: string, limited: boolean): unknown {
    return limited ? googleError(429, message, 'policy_limited') : googleError(403, message, 'policy_denied');
  },
  authenticationError(message: string): unknown {
    return googleError(401, message, 'invalid_identity');
  },
  // A refused stream ends with a plain data event holding the error body: @google/genai throws an ApiError on it.
  streamErrorEvent: null,
};
