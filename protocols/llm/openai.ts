// OpenAI wire format: Chat Completions, Responses, Embeddings and legacy Completions.
// Streamed chat calls that did not ask for usage get `stream_options.include_usage` added
// upstream; the usage chunk that adds and the `"usage":null` it adds to every other chunk are
// taken back out, so the agent sees exactly the stream it asked for. A route whose upstream
// sends usage unasked (add_stream_usage: false) gets the agent's request and stream unchanged.
import { num, obj, str } from '../../core/json-body.js';
import type { SseEvent } from '../../core/sse.js';
import { contentText, safeParseJson, type LlmAdapter, type LlmCall, type RequestFacts, type UpstreamTraits } from './adapter.js';
import type { Price } from './pricing.js';
import { sourced } from './price-source.js';
import type { ResponseFacts, Usage } from './usage.js';

type Json = Record<string, unknown>;

function chatUsage(u: Json | null): Usage | null {
  if (!u) return null;
  return {
    input_tokens: num(u.prompt_tokens),
    output_tokens: num(u.completion_tokens),
    cache_read_tokens: num(obj(u.prompt_tokens_details)?.cached_tokens),
    cache_write_tokens: null,
    reasoning_tokens: num(obj(u.completion_tokens_details)?.reasoning_tokens),
  };
}

function responsesUsage(u: Json | null): Usage | null {
  if (!u) return null;
  return {
    input_tokens: num(u.input_tokens),
    output_tokens: num(u.output_tokens),
    cache_read_tokens: num(obj(u.input_tokens_details)?.cached_tokens),
    cache_write_tokens: null,
    reasoning_tokens: num(obj(u.output_tokens_details)?.reasoning_tokens),
  };
}

function readError(body: Json, facts: ResponseFacts): void {
  const error = obj(body.error);
  if (!error) return;
  facts.error_code = str(error.code) ?? str(error.type);
  facts.error_message = str(error.message);
}

function messagesText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  return messages.map((m) => contentText(obj(m)?.content)).join('\n');
}

function responsesInputText(body: Json): string {
  const input = body.input;
  const instructions = str(body.instructions) ?? '';
  if (typeof input === 'string') return `${instructions}\n${input}`;
  return `${instructions}\n${messagesText(input)}`;
}

function chatFacts(body: Json, stream: boolean): RequestFacts {
  return { provider: 'openai', operation: 'chat', model: str(body.model), stream, inputText: () => messagesText(body.messages) };
}

/** Removes the `"usage":null` member the upstream adds to chunks once include_usage is on. */
const USAGE_NULL = /,\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,\s*/;

/**
 * The request body with include_usage turned on. Without stream_options, the member is
 * spliced in after the opening brace, sparing a re-serialisation of the whole request.
 */
function withUsageRequested(raw: Buffer, body: Json): Buffer {
  const streamOptions = obj(body.stream_options);
  if (body.stream_options === undefined) {
    const brace = raw.indexOf(0x7b); // "{"
    if (brace !== -1) return Buffer.concat([raw.subarray(0, brace + 1), INCLUDE_USAGE_MEMBER, raw.subarray(brace + 1)]);
  }
  return Buffer.from(JSON.stringify({ ...body, stream_options: { ...streamOptions, include_usage: true } }));
}

const INCLUDE_USAGE_MEMBER = Buffer.from('"stream_options":{"include_usage":true},');

function chatCall(body: Json, raw: Buffer, upstream: UpstreamTraits): LlmCall {
  const stream = body.stream === true;
  const addUsage = upstream.addStreamUsage && stream && obj(body.stream_options)?.include_usage !== true;
  const upstreamBody = addUsage ? withUsageRequested(raw, body) : null;
  const choiceText = new Map<number, string>();
  // The chunk observeEvent parsed last: rewriteEvent, called next for the same event, reuses it.
  let lastChunk: Json | null = null;
  let usageChunkRemoved = false;
  return {
    request: chatFacts(body, stream),
    upstreamBody,
    observeEvent(event: SseEvent, facts: ResponseFacts): boolean {
      lastChunk = null;
      if (event.data === '[DONE]') return false;
      const chunk = obj(safeParseJson(event.data));
      lastChunk = chunk;
      if (!chunk) return false;
      if (chunk.error) readError(chunk, facts);
      facts.response_id ??= str(chunk.id);
      facts.response_model ??= str(chunk.model);
      const usage = chatUsage(obj(chunk.usage));
      if (usage) facts.usage = usage;
      let output = false;
      for (const choice of Array.isArray(chunk.choices) ? chunk.choices : []) {
        const c = obj(choice);
        const delta = obj(c?.delta);
        const index = num(c?.index) ?? 0;
        // Chat deltas carry `delta.content`; legacy completion chunks carry `text`.
        const text = str(delta?.content) ?? str(c?.text) ?? '';
        if (text || delta?.tool_calls || delta?.refusal || delta?.reasoning_content) output = true;
        if (text) choiceText.set(index, (choiceText.get(index) ?? '') + text);
        const toolArgs = Array.isArray(delta?.tool_calls)
          ? delta.tool_calls.map((t) => str(obj(obj(t)?.function)?.arguments) ?? '').join('')
          : '';
        if (toolArgs) choiceText.set(index, (choiceText.get(index) ?? '') + toolArgs);
        const finish = str(c?.finish_reason);
        if (finish) facts.finish_reasons[index] = finish;
      }
      // One choice (the usual case) needs no join: the accumulated string is the text.
      facts.output_text = choiceText.size === 1 ? (choiceText.values().next().value ?? '') : [...choiceText.values()].join('\n');
      return output;
    },
    rewriteEvent: addUsage
      ? (event: SseEvent): string | null => {
          const chunk = lastChunk;
          if (!chunk || !('usage' in chunk)) return event.raw;
          // include_usage adds one usage-only chunk: only that one is taken out. A usage the
          // upstream sends anyway (on a chunk with choices, or a usage chunk besides) passes.
          if (!usageChunkRemoved && Array.isArray(chunk.choices) && chunk.choices.length === 0 && obj(chunk.usage)) {
            usageChunkRemoved = true;
            return null;
          }
          return event.raw.replace(USAGE_NULL, '');
        }
      : null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (!b) return;
      readError(b, facts);
      facts.response_id = str(b.id);
      facts.response_model = str(b.model);
      facts.usage = chatUsage(obj(b.usage));
      const choices = Array.isArray(b.choices) ? b.choices.map(obj) : [];
      facts.finish_reasons = choices.map((c) => str(c?.finish_reason) ?? '').filter(Boolean);
      facts.output_text = choices
        .map((c) => {
          const message = obj(c?.message);
          const calls = Array.isArray(message?.tool_calls) ? message.tool_calls.map((t) => str(obj(obj(t)?.function)?.arguments) ?? '') : [];
          return [contentText(message?.content), str(c?.text) ?? '', ...calls].join('');
        })
        .join('\n');
    },
  };
}

function readResponseObject(response: Json | null, facts: ResponseFacts): void {
  if (!response) return;
  facts.response_id = str(response.id) ?? facts.response_id;
  facts.response_model = str(response.model) ?? facts.response_model;
  const usage = responsesUsage(obj(response.usage));
  if (usage) facts.usage = usage;
  const status = str(response.status);
  const incomplete = str(obj(response.incomplete_details)?.reason);
  if (status && status !== 'in_progress' && status !== 'queued') facts.finish_reasons = [incomplete ?? status];
  const error = obj(response.error);
  if (error) {
    facts.error_code = str(error.code);
    facts.error_message = str(error.message);
  }
  if (Array.isArray(response.output) && !facts.output_text) {
    facts.output_text = response.output.map((item) => contentText(obj(item)?.content) || (str(obj(item)?.arguments) ?? '')).join('\n');
  }
}

function responsesCall(body: Json): LlmCall {
  const stream = body.stream === true;
  let text = '';
  return {
    request: { provider: 'openai', operation: 'chat', model: str(body.model), stream, inputText: () => responsesInputText(body) },
    upstreamBody: null,
    observeEvent(event: SseEvent, facts: ResponseFacts): boolean {
      const data = obj(safeParseJson(event.data));
      if (!data) return false;
      const type = str(data.type) ?? event.event ?? '';
      if (type === 'error') readError({ error: data }, facts);
      if (type.startsWith('response.') && obj(data.response)) readResponseObject(obj(data.response), facts);
      if (type.endsWith('.delta')) {
        const delta = str(data.delta);
        if (delta) text += delta;
        facts.output_text = text;
        return true;
      }
      return false;
    },
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (!b) return;
      readError(b, facts);
      if (!b.error) readResponseObject(b, facts);
    },
  };
}

function embeddingsCall(body: Json): LlmCall {
  const input = body.input;
  const inputText = (): string => (typeof input === 'string' ? input : Array.isArray(input) ? input.filter((i) => typeof i === 'string').join('\n') : '');
  return {
    request: { provider: 'openai', operation: 'embeddings', model: str(body.model), stream: false, inputText },
    upstreamBody: null,
    observeEvent: () => false,
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (!b) return;
      readError(b, facts);
      facts.response_model = str(b.model);
      const u = obj(b.usage);
      if (u) facts.usage = { input_tokens: num(u.prompt_tokens), output_tokens: null, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null };
    },
  };
}

function completionsCall(body: Json, raw: Buffer, upstream: UpstreamTraits): LlmCall {
  const call = chatCall(body, raw, upstream);
  const prompt = body.prompt;
  call.request = {
    ...call.request,
    operation: 'text_completion',
    inputText: () => (typeof prompt === 'string' ? prompt : Array.isArray(prompt) ? prompt.filter((p) => typeof p === 'string').join('\n') : ''),
  };
  return call;
}

// USD per million tokens, Standard processing (cache_read: cached input; cache_write: the
// GPT-5.6 and later families' cache writes, 1.25x input; long_context: the whole call's rates
// above 272k input tokens — 2x input and cache, 1.5x output). Batch, Flex, Fast and regional
// processing differ. Checked as docs/providers.md ("Where prices come from") says;
// tapwire.yaml's `pricing:` overrides and adds.
const OPENAI_PRICING = 'https://developers.openai.com/api/docs/pricing';
const modelPage = (id: string): string => `https://developers.openai.com/api/docs/models/${id}`;
const CROSS_CHECKS = {
  genaiPrices: 'https://github.com/pydantic/genai-prices/blob/47df840a5ab10bbcffb8e5ac01b9899032245d1b/prices/providers/openai.yml',
  copilot: 'https://github.com/github/docs/blob/024f6b0f8c266054134f13dd7d122d8b80d25315/data/tables/copilot/models-and-pricing.yml',
  codexometer: 'https://github.com/merefield/codexometer/releases/tag/v0.18.4',
  promptFuel: 'https://github.com/TheKrush/PromptFuel/releases/tag/v1.0.21',
  codexManager: 'https://github.com/amine123max/Codex-Manager/releases/tag/0.4.7',
  subSwitch: 'https://github.com/KZCFG/AILSA-SubSwitch/releases/tag/v1.0.0-g',
  tokenMeter: 'https://github.com/prefect12/codex-token-meter/releases/tag/v0.2.22',
  litellm: 'https://github.com/BerriAI/litellm/discussions/39633',
  openrouter: 'https://openrouter.ai/openai/o1-pro',
  openrouterO3: 'https://openrouter.ai/openai/o3-pro',
  sciCode: 'https://huggingface.co/SciCode/dataset-builder/blob/main/data3/show_pricing.py',
  apiyi: 'https://docs.apiyi.com/models/index.md',
  rooCode: 'https://github.com/RooCodeInc/Roo-Code/pull/2691',
  openaiModels: 'https://docs.rs/crate/openai-models/0.1.1/source/src/lib.rs',
};

/** A price whose long-context rates are OpenAI's usual: 2x input and cache, 1.5x output above 272k input tokens. */
function tiered(input: number, output: number, cacheRead: number, cacheWrite?: number): Price {
  const times = (rate: number, factor: number): number => Math.round(rate * factor * 1e6) / 1e6;
  const long = { above_input_tokens: 272_000, input: times(input, 2), output: times(output, 1.5), cache_read: times(cacheRead, 2) };
  if (cacheWrite === undefined) return { input, output, cache_read: cacheRead, long_context: long };
  return { input, output, cache_read: cacheRead, cache_write: cacheWrite, long_context: { ...long, cache_write: times(cacheWrite, 2) } };
}

const OPENAI_PRICES: Readonly<Record<string, Price>> = {
  ...sourced({ url: modelPage('gpt-6.2-sol'), date: '2026-12-06', checked: 'official' }, { 'gpt-6.2-sol': tiered(2, 10, 0.1, 2.5) }),
  ...sourced({ url: modelPage('gpt-6-luna'), date: '2026-12-06', checked: 'official' }, { 'gpt-6-luna': tiered(0.1, 0.5, 0.01, 0.125) }),
  // The model page's promotional price, "at least until 2026-11-21"; the list price before it was $5/$30.
  ...sourced({ url: modelPage('gpt-5.6-sol'), date: '2026-12-06', checked: 'official' }, { 'gpt-5.6-sol': tiered(4, 20, 0.4, 5) }),
  ...sourced({ url: modelPage('gpt-5.6-luna'), date: '2026-12-06', checked: 'official' }, { 'gpt-5.6-luna': tiered(0.2, 1.2, 0.02, 0.25) }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-09-23', checked: 'cross-checked', against: [CROSS_CHECKS.codexometer, CROSS_CHECKS.promptFuel] }, {
    'gpt-6-sol': tiered(2, 10, 0.2, 2.5),
  }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-10-01', checked: 'cross-checked', against: [CROSS_CHECKS.codexManager, CROSS_CHECKS.subSwitch] }, {
    'gpt-6.1-sol': tiered(2, 10, 0.1),
  }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-09-05', checked: 'cross-checked', against: [CROSS_CHECKS.litellm, CROSS_CHECKS.tokenMeter] }, {
    'gpt-6-astra': tiered(10, 50, 1, 12.5),
  }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.copilot] }, {
    'gpt-5.6-terra': tiered(2, 12, 0.2, 2.5),
    'gpt-5.5': tiered(5, 30, 0.5),
    'gpt-5.4': tiered(2.5, 15, 0.25),
    'gpt-5.4-mini': { input: 0.75, output: 4.5, cache_read: 0.075 },
    'gpt-5.4-nano': { input: 0.2, output: 1.25, cache_read: 0.02 },
    'gpt-5.3-codex': { input: 1.75, output: 14, cache_read: 0.175 },
    'gpt-5-mini': { input: 0.25, output: 2, cache_read: 0.025 },
  }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.openrouter, CROSS_CHECKS.openrouterO3] }, {
    'o1-pro': { input: 150, output: 600 },
    'o3-pro': { input: 20, output: 80 },
  }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.apiyi] }, {
    'gpt-5.5-pro': { input: 30, output: 180 },
    'gpt-5.4-pro': { input: 30, output: 180, long_context: { above_input_tokens: 272_000, input: 60, output: 270 } },
  }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.sciCode, CROSS_CHECKS.openaiModels] }, {
    'gpt-5.2': { input: 1.75, output: 14, cache_read: 0.175 },
    'gpt-5.2-pro': { input: 21, output: 168 },
    'gpt-5.1': { input: 1.25, output: 10, cache_read: 0.125 },
    'gpt-5': { input: 1.25, output: 10, cache_read: 0.125 },
    'gpt-5-pro': { input: 15, output: 120 },
    'gpt-5-nano': { input: 0.05, output: 0.4, cache_read: 0.005 },
    'gpt-4.1': { input: 2, output: 8, cache_read: 0.5 },
    'gpt-4.1-mini': { input: 0.4, output: 1.6, cache_read: 0.1 },
    'gpt-4.1-nano': { input: 0.1, output: 0.4, cache_read: 0.025 },
    'gpt-4o': { input: 2.5, output: 10, cache_read: 1.25 },
    'gpt-4o-mini': { input: 0.15, output: 0.6, cache_read: 0.075 },
    o1: { input: 15, output: 60, cache_read: 7.5 },
  }),
  ...sourced({ url: OPENAI_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.rooCode] }, {
    'o4-mini': { input: 1.1, output: 4.4, cache_read: 0.275 },
  }),
  // Older models only the dataset still lists with these rates: estimates until a `pricing:` entry states them.
  ...sourced({ url: OPENAI_PRICING, date: '2026-08-21', checked: 'unverified', against: [CROSS_CHECKS.genaiPrices] }, {
    'gpt-4-turbo': { input: 10, output: 30 },
    'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
    'o1-mini': { input: 1.1, output: 4.4, cache_read: 0.55 },
    o3: { input: 2, output: 8, cache_read: 0.5 },
    'o3-mini': { input: 1.1, output: 4.4, cache_read: 0.55 },
    'text-embedding-3-small': { input: 0.02, output: 0 },
    'text-embedding-3-large': { input: 0.13, output: 0 },
    'text-embedding-ada-002': { input: 0.1, output: 0 },
  }),
};

export const openaiAdapter: LlmAdapter = {
  provider: 'openai',
  prices: OPENAI_PRICES,
  addsStreamUsage: true,
  describe(path: string, body: unknown, raw: Buffer, upstream: UpstreamTraits): LlmCall | null {
    const b = obj(body);
    if (!b) return null;
    if (path.endsWith('/chat/completions')) return chatCall(b, raw, upstream);
    if (path.endsWith('/responses')) return responsesCall(b);
    if (path.endsWith('/embeddings')) return embeddingsCall(b);
    if (path.endsWith('/completions')) return completionsCall(b, raw, upstream);
    return null;
  },
  errorBody(_status: number, code: string, message: string): unknown {
    return { error: { message, type: 'tapwire_gateway_error', param: null, code } };
  },
  policyError(message: string, limited: boolean): unknown {
    const code = limited ? 'rate_limit_exceeded' : 'policy_denied';
    return { error: { message, type: code, param: null, code } };
  },
  authenticationError(message: string): unknown {
    return { error: { message, type: 'invalid_request_error', param: null, code: 'invalid_identity' } };
  },
  streamErrorEvent: null,
};
