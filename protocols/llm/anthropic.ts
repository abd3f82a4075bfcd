// Anthropic wire format: Messages (streamed and not) and count_tokens. Anthropic counts
// `input_tokens` without the cached part, so the cache reads and writes are added back to
// follow the GenAI convention. In streams, `message_start` carries the first usage and
// `message_delta` the cumulative totals, which win.
import { num, obj, str } from '../../core/json-body.js';
import type { SseEvent } from '../../core/sse.js';
import { contentText, safeParseJson, type LlmAdapter, type LlmCall } from './adapter.js';
import type { Price } from './pricing.js';
import { sourced } from './price-source.js';
import type { ResponseFacts, Usage } from './usage.js';

type Json = Record<string, unknown>;

function usageOf(u: Json | null, previous: Usage | null): Usage | null {
  if (!u) return previous;
  const uncached = num(u.input_tokens);
  const cacheRead = num(u.cache_read_input_tokens) ?? previous?.cache_read_tokens ?? null;
  const cacheWrite = num(u.cache_creation_input_tokens) ?? previous?.cache_write_tokens ?? null;
  const input =
    uncached === null ? (previous?.input_tokens ?? null) : uncached + (cacheRead ?? 0) + (cacheWrite ?? 0);
  return {
    input_tokens: input,
    output_tokens: num(u.output_tokens) ?? previous?.output_tokens ?? null,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    reasoning_tokens: null,
  };
}

function readError(body: Json, facts: ResponseFacts): void {
  if (body.type !== 'error') return;
  const error = obj(body.error);
  facts.error_code = str(error?.type);
  facts.error_message = str(error?.message);
}

function promptText(body: Json): string {
  const system = body.system;
  const systemText = typeof system === 'string' ? system : contentText(system);
  const messages = Array.isArray(body.messages) ? body.messages.map((m) => contentText(obj(m)?.content)).join('\n') : '';
  return `${systemText}\n${messages}`;
}

function messagesCall(body: Json): LlmCall {
  let text = '';
  return {
    request: { provider: 'anthropic', operation: 'chat', model: str(body.model), stream: body.stream === true, inputText: () => promptText(body) },
    upstreamBody: null,
    observeEvent(event: SseEvent, facts: ResponseFacts): boolean {
      const data = obj(safeParseJson(event.data));
      if (!data) return false;
      switch (data.type) {
        case 'message_start': {
          const message = obj(data.message);
          facts.response_id = str(message?.id);
          facts.response_model = str(message?.model);
          facts.usage = usageOf(obj(message?.usage), facts.usage);
          return false;
        }
        case 'content_block_delta': {
          const delta = obj(data.delta);
          const piece = str(delta?.text) ?? str(delta?.partial_json) ?? str(delta?.thinking) ?? '';
          text += piece;
          facts.output_text = text;
          return true;
        }
        case 'message_delta': {
          const stop = str(obj(data.delta)?.stop_reason);
          if (stop) facts.finish_reasons = [stop];
          facts.usage = usageOf(obj(data.usage), facts.usage);
          return false;
        }
        case 'error':
          readError(data, facts);
          return false;
        default:
          return false;
      }
    },
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (!b) return;
      readError(b, facts);
      if (b.type === 'error') return;
      facts.response_id = str(b.id);
      facts.response_model = str(b.model);
      const stop = str(b.stop_reason);
      facts.finish_reasons = stop ? [stop] : [];
      facts.usage = usageOf(obj(b.usage), null);
      facts.output_text = Array.isArray(b.content)
        ? b.content.map((block) => str(obj(block)?.text) ?? JSON.stringify(obj(block)?.input ?? '')).join('')
        : '';
    },
  };
}

function countTokensCall(body: Json): LlmCall {
  return {
    // count_tokens costs nothing and generates nothing: its answer is a count, not usage.
    request: { provider: 'anthropic', operation: 'count_tokens', model: str(body.model), stream: false, inputText: () => promptText(body) },
    upstreamBody: null,
    observeEvent: () => false,
    rewriteEvent: null,
    readBody(json: unknown, facts: ResponseFacts): void {
      const b = obj(json);
      if (b) readError(b, facts);
      facts.usage = { input_tokens: 0, output_tokens: 0, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null };
    },
  };
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 413: 'request_too_large', 504: 'timeout_error' };

// USD per million tokens, standard tier (cache_read: cache hits; cache_write: 5-minute cache
// writes — 1-hour writes cost more, and the usage tapwire reads does not tell them apart).
// Checked as docs/providers.md ("Where prices come from") says; tapwire.yaml's `pricing:`
// overrides and adds.
const CLAUDE_PRICING = 'https://platform.claude.com/docs/en/about-claude/pricing';
const CROSS_CHECKS = {
  claudit: 'https://github.com/kurofune/claudit/releases/tag/v1.9.2',
  promptFuel: 'https://github.com/TheKrush/PromptFuel/releases/tag/v1.0.23',
  claudeUsage: 'https://github.com/phuryn/claude-usage/releases/tag/v1.5.7',
  genaiPrices: 'https://github.com/pydantic/genai-prices/blob/47df840a5ab10bbcffb8e5ac01b9899032245d1b/prices/providers/anthropic.yml',
};
const ANTHROPIC_PRICES: Readonly<Record<string, Price>> = {
  // The stored copy of the pricing page lists Fable 5.1 (released 2026-09-01) but not Opus 5.5
  // (2026-09-22); the page itself carries no date.
  ...sourced({ url: CLAUDE_PRICING, date: '2026-09-01', checked: 'official' }, {
    'claude-fable-5-1': { input: 10, output: 50, cache_read: 0.25, cache_write: 12.5 },
    'claude-mythos-5-1': { input: 10, output: 50, cache_read: 0.25, cache_write: 12.5 },
    'claude-fable-5': { input: 10, output: 50, cache_read: 1, cache_write: 12.5 },
    'claude-mythos-5': { input: 10, output: 50, cache_read: 1, cache_write: 12.5 },
    'claude-opus-5': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'claude-opus-4-8': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'claude-opus-4-7': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'claude-opus-4-6': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'claude-opus-4-5': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'claude-opus-4-1': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
    'claude-opus-4': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
  }),
  // An earlier stored copy of the same page (up to Opus 4.6 and Sonnet 4.6), the rows the newer copy's excerpt lacks.
  ...sourced({ url: 'https://platform.claude.com/docs/en/docs/about-claude/pricing', date: '2026-12-06', checked: 'official' }, {
    'claude-sonnet-4-6': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-sonnet-4-5': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-sonnet-4': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-3-7-sonnet': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'claude-haiku-4-5': { input: 1, output: 5, cache_read: 0.1, cache_write: 1.25 },
    'claude-3-5-haiku': { input: 0.8, output: 4, cache_read: 0.08, cache_write: 1 },
    'claude-3-opus': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
    'claude-3-haiku': { input: 0.25, output: 1.25, cache_read: 0.03, cache_write: 0.3 },
  }),
  ...sourced({ url: 'https://platform.claude.com/docs/zh-CN/models/sonnet-5/overview', date: '2026-12-06', checked: 'official' }, {
    'claude-sonnet-5': { input: 2, output: 10, cache_read: 0.2, cache_write: 2.5 },
  }),
  // The 5.5 generation came after the stored pricing page: Opus 5.5's $4/$20 is on Anthropic's
  // model pages, its cache rates and Sonnet 5.5's cache-read cut (to $0.10 on 2026-10-07) and
  // Haiku 5.5 (its rates up to 100k prompt tokens, and 5x above) agree across these sources.
  ...sourced({ url: CLAUDE_PRICING, date: '2026-12-01', checked: 'cross-checked', against: [CROSS_CHECKS.claudit, CROSS_CHECKS.promptFuel, CROSS_CHECKS.claudeUsage] }, {
    'claude-opus-5-5': { input: 4, output: 20, cache_read: 0.2, cache_write: 5 },
    'claude-sonnet-5-5': { input: 2, output: 10, cache_read: 0.1, cache_write: 2.5 },
    'claude-haiku-5-5': {
      input: 0.1,
      output: 0.5,
      cache_read: 0.01,
      cache_write: 0.125,
      long_context: { above_input_tokens: 100_000, input: 0.5, output: 2.5, cache_read: 0.05, cache_write: 0.625 },
    },
  }),
  // Fable and Mythos 5.2: $8/$40 on Anthropic's own model page (official); the cache read agrees with a tracker that checked the pricing page.
  ...sourced(
    { url: 'https://platform.claude.com/docs/id/models/sonnet-5/overview.md', date: '2026-12-01', checked: 'official', against: [CROSS_CHECKS.claudeUsage] },
    {
      'claude-fable-5-2': { input: 8, output: 40, cache_read: 0.2, cache_write: 10 },
      'claude-mythos-5-2': { input: 8, output: 40, cache_read: 0.2, cache_write: 10 },
    },
  ),
  // Retired, no longer on the page; the rates it had, as the dataset keeps them.
  ...sourced({ url: CLAUDE_PRICING, date: '2026-07-29', checked: 'unverified', against: [CROSS_CHECKS.genaiPrices] }, {
    'claude-3-5-sonnet': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
  }),
};

export const anthropicAdapter: LlmAdapter = {
  provider: 'anthropic',
  prices: ANTHROPIC_PRICES,
  addsStreamUsage: false,
  describe(path: string, body: unknown): LlmCall | null {
    const b = obj(body);
    if (!b) return null;
    if (path.endsWith('/messages/count_tokens')) return countTokensCall(b);
    if (path.endsWith('/messages')) return messagesCall(b);
    return null;
  },
  recognises: (path: string): boolean => /\/messages(\/count_tokens)?$/.test(path),
  errorBody(status: number, _code: string, message: string): unknown {
    // Anthropic's own error types for these statuses, so its SDK raises its usual error class.
    const type = ANTHROPIC_ERROR_TYPES[status] ?? 'api_error';
    return { type: 'error', error: { type, message } };
  },
  policyError(message: string, limited: boolean): unknown {
    return { type: 'error', error: { type: limited ? 'rate_limit_error' : 'permission_error', message } };
  },
  authenticationError(message: string): unknown {
    return { type: 'error', error: { type: 'authentication_error', message } };
  },
  streamErrorEvent: 'error',
};
