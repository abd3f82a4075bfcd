// AWS Bedrock runtime wire format: Converse and ConverseStream (bedrock-converse.ts),
// InvokeModel and InvokeModelWithResponseStream (bedrock-invoke.ts), the model named by the
// path (`/model/{modelId}/{operation}`, the SDK escapes its `:`), streams in the binary event
// stream (core/eventstream.ts frames them). Errors tapwire answers are Bedrock's own
// (`x-amzn-errortype`'s type as `__type`, which the AWS SDK reads from the body too), so the
// SDK raises AccessDeniedException, ThrottlingException, … A route's AWS credentials and the
// re-signing of calls are the proxy's business (proxy/aws-signing.ts), not this file's.
import type { LlmAdapter, LlmCall, UpstreamTraits } from './adapter.js';
import { BEDROCK, converseCall } from './bedrock-converse.js';
import { invokeCall } from './bedrock-invoke.js';
import type { Price } from './pricing.js';
import { obj } from './usage.js';

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

/** Bedrock's error body (`{message}`) with the type its `x-amzn-errortype` header carries (added where the body is sent). */
function bedrockError(type: string, message: string): unknown {
  return { __type: type, message };
}

// USD per million tokens, from "Amazon Bedrock pricing" (aws.amazon.com/bedrock/pricing),
// on-demand, US East (N. Virginia), as listed in November 2025. Anthropic's cache_write is the
// 5-minute cache; Nova's cache reads are 75% off and its cache writes cost the input price.
// Cross-region inference profiles (`us.`, `eu.`, `global.` …) are priced as their model, and
// an Anthropic answer's own `model` name (InvokeModel) as its Bedrock id. Other regions,
// batch, provisioned throughput and latency-optimised tiers differ: `pricing:` overrides.
const BASE_PRICES: Readonly<Record<string, Price>> = {
  'anthropic.claude-opus-4-5': { input: 5, output: 25, cache_read: 0.5, cache_write: 6.25 },
  'anthropic.claude-opus-4-1': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
  'anthropic.claude-opus-4': { input: 15, output: 75, cache_read: 1.5, cache_write: 18.75 },
  'anthropic.claude-sonnet-4-5': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
  'anthropic.claude-sonnet-4': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
  'anthropic.claude-3-7-sonnet': { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
  'anthropic.claude-3-5-sonnet': { input: 3, output: 15 },
  'anthropic.claude-haiku-4-5': { input: 1, output: 5, cache_read: 0.1, cache_write: 1.25 },
  'anthropic.claude-3-5-haiku': { input: 0.8, output: 4, cache_read: 0.08, cache_write: 1 },
  'anthropic.claude-3-haiku': { input: 0.25, output: 1.25 },
  'amazon.nova-premier': { input: 2.5, output: 12.5, cache_read: 0.625 },
  'amazon.nova-pro': { input: 0.8, output: 3.2, cache_read: 0.2 },
  'amazon.nova-lite': { input: 0.06, output: 0.24, cache_read: 0.015 },
  'amazon.nova-micro': { input: 0.035, output: 0.14, cache_read: 0.00875 },
  'amazon.titan-embed-text-v2': { input: 0.02, output: 0 },
  'meta.llama4-maverick-17b-instruct': { input: 0.24, output: 0.97 },
  'meta.llama4-scout-17b-instruct': { input: 0.17, output: 0.66 },
  'meta.llama3-3-70b-instruct': { input: 0.72, output: 0.72 },
  'meta.llama3-1-70b-instruct': { input: 0.72, output: 0.72 },
  'meta.llama3-1-8b-instruct': { input: 0.22, output: 0.22 },
  'mistral.mistral-large-2402': { input: 4, output: 12 },
  'mistral.mixtral-8x7b-instruct': { input: 0.45, output: 0.7 },
  'mistral.mistral-7b-instruct': { input: 0.15, output: 0.2 },
  'cohere.command-r-plus': { input: 3, output: 15 },
  'cohere.command-r': { input: 0.5, output: 1.5 },
  'deepseek.r1': { input: 1.35, output: 5.4 },
};

/** The geographies of Bedrock's cross-region inference profiles (`us.anthropic.claude-…`). */
const PROFILE_PREFIXES = ['us', 'us-gov', 'eu', 'apac', 'jp', 'au', 'ca', 'global'];

/** Each model under its id, its inference profiles' ids, and (Anthropic's) the name its own answers give. */
function withProfiles(base: Readonly<Record<string, Price>>): Readonly<Record<string, Price>> {
  const out: Record<string, Price> = {};
  for (const [id, price] of Object.entries(base)) {
    out[id] = price;
    for (const geo of PROFILE_PREFIXES) out[`${geo}.${id}`] = price;
    if (id.startsWith('anthropic.')) out[id.slice('anthropic.'.length)] = price;
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
