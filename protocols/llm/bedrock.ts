// AWS Bedrock runtime wire format: Converse and ConverseStream (bedrock-converse.ts),
// InvokeModel and InvokeModelWithResponseStream (bedrock-invoke.ts), the model named by the
// path (`/model/{modelId}/{operation}`, the SDK escapes its `:`), streams in the binary event
// stream (core/eventstream.ts frames them). Errors tapwire answers are Bedrock's own
// (`x-amzn-errortype`'s type as `__type`, which the AWS SDK reads from the body too), so the
// SDK raises AccessDeniedException, ThrottlingException, … A route's AWS credentials and the
// re-signing of calls are the proxy's business (proxy/aws-signing.ts), not this file's.
import { withErrorHeaders } from '../../core/error-headers.js';
import { obj } from '../../core/json-body.js';
import type { LlmAdapter, LlmCall, UpstreamTraits } from './adapter.js';
import { BEDROCK, converseCall } from './bedrock-converse.js';
import { invokeCall } from './bedrock-invoke.js';
import { sourced } from './price-source.js';
import type { Price } from './pricing.js';

const BEDROCK_PATH = /\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;

/** The model id as Bedrock reads it: the path segment unescaped (`anthropic.claude-…-v1%3A0`). */
function modelId(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Bedrock's exception for each HTTP status tapwire answers with: the AWS SDK names its error after it. */
const BEDROCK_ERRORS: Record<number, string> = {
  400: 'ValidationException',
  401: 'UnrecognizedClientException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  408: 'ModelTimeoutException',
  413: 'ValidationException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  503: 'ServiceUnavailableException',
  504: 'ModelTimeoutException',
};

/**
 * Bedrock's error body (`{message}`, with the type as `__type`), carrying the `x-amzn-errortype`
 * header AWS sends it with: the AWS SDKs read the type from that header first, the body after.
 */
function bedrockError(type: string, message: string): unknown {
  return withErrorHeaders({ __type: type, message }, { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
}

// USD per million tokens, on-demand, Standard tier, US regions. Anthropic's cache_write is the
// 5-minute cache; Nova's cache reads are 75% off and its cache writes cost the input price.
// Cross-region inference profiles (`us.`, `eu.`, `global.` …) are priced as their model, and
// an Anthropic answer's own `model` name (InvokeModel) as its Bedrock id. Bedrock's pricing
// page is not among the stored copies tapwire could read (docs/providers.md, "Where prices
// come from"): Claude's prices are Anthropic's list prices, which Bedrock charges on its
// global endpoint, cross-checked, as are Nova's; the others are the dataset's, unverified. Batch,
// provisioned throughput and latency-optimised tiers differ: `pricing:` overrides.
const BEDROCK_PRICING = 'https://aws.amazon.com/bedrock/pricing/';
const CROSS_CHECKS = {
  genaiPrices: 'https://github.com/pydantic/genai-prices/blob/47df840a5ab10bbcffb8e5ac01b9899032245d1b/prices/providers/aws.yml',
  anthropic: 'https://platform.claude.com/docs/en/about-claude/pricing',
  apify: 'https://apify.com/apify/aws-bedrock-proxy',
  pricingCalculator: 'https://huggingface.co/spaces/Presidentlin/llm-pricing-calculator/commit/915784a89ab583f94bce7cdd61d156c62b745aaa',
};
const BASE_PRICES: Readonly<Record<string, Price>> = {
  ...sourced({ url: BEDROCK_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.anthropic] }, {
    'anthropic.claude-fable-5': { input: 10, output: 50, cache_read: 1, cache_write: 12.5 },
    'anthropic.claude-opus-5': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'anthropic.claude-opus-4-8': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'anthropic.claude-opus-4-7': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'anthropic.claude-opus-4-6': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'anthropic.claude-opus-4-5': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
    'anthropic.claude-opus-4-1': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
    'anthropic.claude-opus-4': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
    'anthropic.claude-sonnet-5': { input: 2, output: 10, cache_read: 0.2, cache_write: 2.5 },
    'anthropic.claude-sonnet-4-6': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'anthropic.claude-sonnet-4-5': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'anthropic.claude-sonnet-4': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'anthropic.claude-3-7-sonnet': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'anthropic.claude-haiku-4-5': { input: 1, output: 5, cache_read: 0.1, cache_write: 1.25 },
    'anthropic.claude-3-5-haiku': { input: 0.8, output: 4, cache_read: 0.08, cache_write: 1 },
    'anthropic.claude-3-haiku': { input: 0.25, output: 1.25 },
  }),
  // After the dataset's commit: Anthropic's list prices (anthropic.ts), which a Bedrock reseller's regional rates (+10%) confirm.
  ...sourced({ url: BEDROCK_PRICING, date: '2026-12-06', checked: 'cross-checked', against: [CROSS_CHECKS.anthropic, CROSS_CHECKS.apify] }, {
    'anthropic.claude-opus-5-5': { input: 4, output: 20, cache_read: 0.2, cache_write: 5 },
    'anthropic.claude-sonnet-5-5': { input: 2, output: 10, cache_read: 0.1, cache_write: 2.5 },
    'anthropic.claude-haiku-5-5': {
      input: 0.1,
      output: 0.5,
      cache_read: 0.01,
      cache_write: 0.125,
      long_context: { above_input_tokens: 100_000, input: 0.5, output: 2.5, cache_read: 0.05, cache_write: 0.625 },
    },
  }),
  ...sourced({ url: BEDROCK_PRICING, date: '2026-12-06', checked: 'unverified', against: [CROSS_CHECKS.anthropic] }, {
    'anthropic.claude-fable-5-1': { input: 10, output: 50, cache_read: 0.25, cache_write: 12.5 },
  }),
  ...sourced({ url: BEDROCK_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [CROSS_CHECKS.genaiPrices, CROSS_CHECKS.pricingCalculator] }, {
    'amazon.nova-premier': { input: 2.5, output: 12.5, cache_read: 0.625 },
    'amazon.nova-pro': { input: 0.8, output: 3.2, cache_read: 0.2 },
    'amazon.nova-lite': { input: 0.06, output: 0.24, cache_read: 0.015 },
    'amazon.nova-micro': { input: 0.035, output: 0.14, cache_read: 0.00875 },
  }),
  ...sourced({ url: BEDROCK_PRICING, date: '2026-08-21', checked: 'unverified', against: [CROSS_CHECKS.genaiPrices] }, {
    'anthropic.claude-3-5-sonnet': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
    'meta.llama4-maverick-17b-instruct': { input: 0.24, output: 0.97 },
    'meta.llama4-scout-17b-instruct': { input: 0.17, output: 0.66 },
    'meta.llama3-3-70b-instruct': { input: 0.72, output: 0.72 },
    'meta.llama3-1-70b-instruct': { input: 0.72, output: 0.72 },
    'meta.llama3-1-8b-instruct': { input: 0.22, output: 0.22 },
    'mistral.mistral-large-2402': { input: 4, output: 12 },
    'mistral.mixtral-8x7b-instruct': { input: 0.45, output: 0.7 },
    'mistral.mistral-7b-instruct': { input: 0.15, output: 0.2 },
    'deepseek.r1': { input: 1.35, output: 5.4 },
  }),
  // In no source tapwire could read: kept so these calls are not unpriced, until a `pricing:` entry states them.
  ...sourced({ url: BEDROCK_PRICING, date: '2025-11-15', checked: 'unverified' }, {
    'amazon.titan-embed-text-v2': { input: 0.02, output: 0 },
    'cohere.command-r-plus': { input: 3, output: 15 },
    'cohere.command-r': { input: 0.5, output: 1.5 },
  }),
};

/**
 * Claude 4.5 and later cost 10% more on Bedrock's regional endpoints (an in-region id or a
 * geography's profile, `us.`, `eu.` …) than on its `global.` profiles.
 */
const REGIONAL_PREMIUM = new Set(
  Object.keys(BASE_PRICES).filter((id) => /^anthropic\.claude-(opus-4-[5-9]|sonnet-4-[5-9]|haiku-4-5|(opus|sonnet|haiku|fable|mythos)-5)/.test(id)),
);

/** The geographies of Bedrock's cross-region inference profiles (`us.anthropic.claude-…`). */
const PROFILE_PREFIXES = ['us', 'us-gov', 'eu', 'apac', 'jp', 'au', 'ca'];

/** `price` at 1.1x, the regional endpoints' rates (to the micro-dollar, as Bedrock lists them). */
function regional(price: Price): Price {
  const scale = <T extends object>(rates: T): T =>
    Object.fromEntries(Object.entries(rates).map(([key, value]) => [key, typeof value === 'number' && key !== 'above_input_tokens' ? Math.round(value * 1.1 * 1e6) / 1e6 : value])) as T;
  return { ...scale(price), ...(price.long_context ? { long_context: scale(price.long_context) } : {}) };
}

/**
 * Each model under its id, its inference profiles' ids, and (Anthropic's) the name its own
 * answers give. A `global.` profile has the list price; the others, and an answer's own name
 * (whose endpoint the answer does not say), have the regional one where Bedrock charges it.
 */
function withProfiles(base: Readonly<Record<string, Price>>): Readonly<Record<string, Price>> {
  const out: Record<string, Price> = {};
  for (const [id, price] of Object.entries(base)) {
    const local = REGIONAL_PREMIUM.has(id) ? regional(price) : price;
    out[id] = local;
    out[`global.${id}`] = price;
    for (const geo of PROFILE_PREFIXES) out[`${geo}.${id}`] = local;
    if (id.startsWith('anthropic.')) out[id.slice('anthropic.'.length)] = local;
  }
  return out;
}

export const bedrockAdapter: LlmAdapter = {
  provider: BEDROCK,
  genAiProvider: 'aws.bedrock',
  prices: withProfiles(BASE_PRICES),
  addsStreamUsage: false,
  describe(path: string, body: unknown, raw: Buffer, upstream: UpstreamTraits): LlmCall | null {
    const match = BEDROCK_PATH.exec(path);
    const b = obj(body);
    if (!match || !b) return null;
    const model = modelId(match[1] ?? '');
    switch (match[2]) {
      case 'converse':
        return converseCall(model, b, false);
      case 'converse-stream':
        return converseCall(model, b, true);
      case 'invoke':
        return invokeCall(model, b, raw, false, upstream);
      default:
        return invokeCall(model, b, raw, true, upstream);
    }
  },
  recognises: (path: string): boolean => BEDROCK_PATH.test(path),
  errorBody(status: number, _code: string, message: string): unknown {
    return bedrockError(BEDROCK_ERRORS[status] ?? 'InternalServerException', message);
  },
  policyError(message: string, limited: boolean): unknown {
    return bedrockError(limited ? 'ThrottlingException' : 'AccessDeniedException', message);
  },
  authenticationError(message: string): unknown {
    return bedrockError('UnrecognizedClientException', message);
  },
  // A Bedrock stream is never edited (core/eventstream.ts frames it read-only): no error event is spliced in.
  streamErrorEvent: null,
};
