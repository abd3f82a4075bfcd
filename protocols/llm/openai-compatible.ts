// Servers that speak OpenAI's wire format under their own name (Groq, Mistral, DeepSeek,
// OpenRouter, Together, Fireworks, vLLM): the OpenAI adapter with the provider's name, so the
// record, policies (`llm.provider`) and spans (gen_ai.provider.name, the GenAI conventions'
// name where they list one) say whose call it was, and the provider's own prices.
// A route names one with `provider:`; nothing in a path tells them apart from OpenAI.
import type { LlmAdapter } from './adapter.js';
import { openaiAdapter } from './openai.js';
import { prefixed, sourced } from './price-source.js';
import type { Price } from './pricing.js';
import { anthropicAdapter } from './anthropic.js';
import { geminiAdapter } from './gemini.js';

/** The OpenAI format under `provider`'s name and prices (gen_ai.provider.name: `genAiProvider`, else the name). */
export function openaiCompatible(provider: string, prices: Readonly<Record<string, Price>>, genAiProvider?: string): LlmAdapter {
  return { ...openaiAdapter, provider, prices, ...(genAiProvider === undefined ? {} : { genAiProvider }) };
}

// USD per million tokens. Reasoning tokens are output tokens on all of these (billed as
// output). How each was checked: docs/providers.md, "Where prices come from".
const GENAI_PRICES = 'https://github.com/pydantic/genai-prices/blob/47df840a5ab10bbcffb8e5ac01b9899032245d1b/prices/providers';

const GROQ_PRICING = 'https://groq.com/pricing';
const GROQ_PRICES = {
  ...sourced(
    { url: GROQ_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [`${GENAI_PRICES}/groq.yml`, 'https://docs.rs/crate/aicost/latest/source/src/data/data_groq.rs'] },
    {
      'openai/gpt-oss-120b': { input: 0.15, output: 0.6, cache_read: 0.075 },
      'openai/gpt-oss-20b': { input: 0.075, output: 0.3, cache_read: 0.0375 },
      'llama-3.3-70b-versatile': { input: 0.59, output: 0.79 },
      'llama-3.1-8b-instant': { input: 0.05, output: 0.08 },
      'meta-llama/llama-4-scout-17b-16e-instruct': { input: 0.11, output: 0.34 },
      'qwen/qwen3-32b': { input: 0.29, output: 0.59 },
    },
  ),
  ...sourced({ url: GROQ_PRICING, date: '2026-08-21', checked: 'unverified', against: [`${GENAI_PRICES}/groq.yml`] }, {
    'meta-llama/llama-4-maverick-17b-128e-instruct': { input: 0.2, output: 0.6 },
    'moonshotai/kimi-k2-instruct': { input: 1, output: 3, cache_read: 0.5 },
  }),
};

// Mistral's `-latest` names (Medium 3.5, Large 3, Small 4, Devstral 2 … as of mid-2026): a
// dated snapshot of an older generation has other prices, so families are not listed by prefix.
const MISTRAL_PRICING = 'https://mistral.ai/pricing#api-pricing';
const PUTER_MISTRAL = 'https://developer.puter.com/tutorials/mistral-api-pricing/';
const MISTRAL_PRICES = {
  ...sourced({ url: MISTRAL_PRICING, date: '2026-09-14', checked: 'cross-checked', against: [PUTER_MISTRAL, 'https://docs.sim.ai/models/mistral/mistral-medium-3.md'] }, {
    'mistral-medium-latest': { input: 1.5, output: 7.5 },
  }),
  ...sourced({ url: MISTRAL_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [PUTER_MISTRAL, `${GENAI_PRICES}/mistral.yml`] }, {
    'mistral-large-latest': { input: 0.5, output: 1.5 },
    'mistral-small-latest': { input: 0.1, output: 0.3 },
    'codestral-latest': { input: 0.3, output: 0.9 },
    'devstral-latest': { input: 0.4, output: 2 },
    'ministral-8b-latest': { input: 0.15, output: 0.15 },
    'ministral-3b-latest': { input: 0.1, output: 0.1 },
  }),
  ...sourced({ url: MISTRAL_PRICING, date: '2026-08-21', checked: 'cross-checked', against: [`${GENAI_PRICES}/mistral.yml`, 'https://www.lava.so/docs/gateway/providers/mistral', PUTER_MISTRAL] }, {
    'magistral-medium-latest': { input: 2, output: 5 },
    'magistral-small-latest': { input: 0.5, output: 1.5 },
    'pixtral-large-latest': { input: 2, output: 6 },
  }),
  ...sourced({ url: MISTRAL_PRICING, date: '2026-08-21', checked: 'unverified', against: [`${GENAI_PRICES}/mistral.yml`] }, {
    'mistral-embed': { input: 0.1, output: 0 },
  }),
};

// DeepSeek bills peak hours (01:00-04:00 and 06:00-10:00 UTC) at twice the off-peak rate; the
// rate of a call's hour is not in its answer, so these are the peak rates, an upper bound (a
// `pricing:` entry states off-peak ones). deepseek-v4-flash is a legacy name served by
// deepseek-flash at its price; deepseek-chat and deepseek-reasoner were retired on 2026-07-24,
// priced as DeepSeek-V3.2 was when they answered.
const DEEPSEEK_PRICING = 'https://api-docs.deepseek.com/quick_start/pricing';
const DEEPSEEK_PRICES = {
  ...sourced({ url: DEEPSEEK_PRICING, date: '2026-12-06', checked: 'official' }, {
    'deepseek-flash': { input: 0.3, output: 1.2, cache_read: 0.006 },
    'deepseek-v4-flash': { input: 0.3, output: 1.2, cache_read: 0.006 },
    'deepseek-v4-pro': { input: 1.32, output: 3.96, cache_read: 0.044 },
  }),
  ...sourced(
    {
      url: DEEPSEEK_PRICING,
      date: '2025-12-09',
      checked: 'cross-checked',
      against: ['https://raw.githubusercontent.com/RooCodeInc/Roo-Code/main/packages/types/src/providers/deepseek.ts', 'https://www.getmaxim.ai/bifrost/model-library/compare/deepseek/deepseek-reasoner'],
    },
    {
      'deepseek-chat': { input: 0.28, output: 0.42, cache_read: 0.028 },
      'deepseek-reasoner': { input: 0.28, output: 0.42, cache_read: 0.028 },
    },
  ),
};

// Together's catalog lists its rates per model; only Llama 3.3 70B's agrees across the sources
// tapwire could read: the others are estimates, until a `pricing:` entry states them.
const TOGETHER_PRICING = 'https://www.together.ai/pricing';
const TOGETHER_PRICES = {
  ...sourced(
    {
      url: TOGETHER_PRICING,
      date: '2026-08-21',
      checked: 'cross-checked',
      against: [`${GENAI_PRICES}/together.yml`, 'https://github.com/api-evangelist/together-ai/blob/39cbb800463588b99440617dd26aa14514ae3080/plans/together-ai-plans-pricing.yml'],
    },
    { 'meta-llama/Llama-3.3-70B-Instruct-Turbo': { input: 0.88, output: 0.88 } },
  ),
  ...sourced({ url: TOGETHER_PRICING, date: '2026-08-21', checked: 'unverified', against: [`${GENAI_PRICES}/together.yml`] }, {
    'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo': { input: 0.18, output: 0.18 },
    'meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo': { input: 3.5, output: 3.5 },
  }),
  ...sourced({ url: TOGETHER_PRICING, date: '2026-12-06', checked: 'unverified', against: ['https://github.com/braintrustdata/braintrust-proxy/issues/566'] }, {
    'openai/gpt-oss-120b': { input: 0.15, output: 0.6 },
  }),
  ...sourced({ url: TOGETHER_PRICING, date: '2025-11-15', checked: 'unverified' }, {
    'openai/gpt-oss-20b': { input: 0.05, output: 0.2 },
    'deepseek-ai/DeepSeek-V3': { input: 1.25, output: 1.25 },
    'deepseek-ai/DeepSeek-R1': { input: 3, output: 7 },
    'Qwen/Qwen2.5-72B-Instruct-Turbo': { input: 1.2, output: 1.2 },
  }),
};

const FIREWORKS_PRICING = 'https://fireworks.ai/pricing';
const FIREWORKS_PRICES = {
  ...sourced(
    {
      url: FIREWORKS_PRICING,
      date: '2026-08-21',
      checked: 'cross-checked',
      against: [`${GENAI_PRICES}/fireworks.yml`, 'https://www.lava.so/docs/gateway/providers/fireworks', 'https://mastra.ai/en/models/providers/fireworks-ai'],
    },
    {
      'accounts/fireworks/models/gpt-oss-120b': { input: 0.15, output: 0.6 },
      'accounts/fireworks/models/gpt-oss-20b': { input: 0.07, output: 0.3 },
    },
  ),
  ...sourced(
    { url: FIREWORKS_PRICING, date: '2026-12-06', checked: 'cross-checked', against: ['https://www.getmaxim.ai/bifrost/llm-cost-calculator/provider/fireworks_ai.md', 'https://mastra.ai/en/models/providers/fireworks-ai'] },
    {
      'accounts/fireworks/models/deepseek-v3': { input: 0.9, output: 0.9 },
      'accounts/fireworks/models/deepseek-r1': { input: 3, output: 8 },
    },
  ),
  ...sourced({ url: FIREWORKS_PRICING, date: '2026-08-21', checked: 'unverified', against: ['https://www.lava.so/docs/gateway/providers/fireworks', `${GENAI_PRICES}/fireworks.yml`] }, {
    'accounts/fireworks/models/llama-v3p3-70b-instruct': { input: 0.9, output: 0.9 },
    'accounts/fireworks/models/llama-v3p1-8b-instruct': { input: 0.2, output: 0.2 },
  }),
};

// OpenRouter charges its providers' list prices (its fee is on credits, not tokens): OpenAI's
// and Google's models under their OpenRouter names, Anthropic's with dots in the version, each
// keeping the source its price was checked against.
const OPENROUTER_ANTHROPIC: Readonly<Record<string, string>> = {
  'claude-fable-5.2': 'claude-fable-5-2',
  'claude-fable-5.1': 'claude-fable-5-1',
  'claude-fable-5': 'claude-fable-5',
  'claude-opus-5.5': 'claude-opus-5-5',
  'claude-opus-5': 'claude-opus-5',
  'claude-opus-4.8': 'claude-opus-4-8',
  'claude-opus-4.7': 'claude-opus-4-7',
  'claude-opus-4.6': 'claude-opus-4-6',
  'claude-opus-4.5': 'claude-opus-4-5',
  'claude-opus-4.1': 'claude-opus-4-1',
  'claude-opus-4': 'claude-opus-4',
  'claude-sonnet-5.5': 'claude-sonnet-5-5',
  'claude-sonnet-5': 'claude-sonnet-5',
  'claude-sonnet-4.6': 'claude-sonnet-4-6',
  'claude-sonnet-4.5': 'claude-sonnet-4-5',
  'claude-sonnet-4': 'claude-sonnet-4',
  'claude-3.7-sonnet': 'claude-3-7-sonnet',
  'claude-haiku-5.5': 'claude-haiku-5-5',
  'claude-haiku-4.5': 'claude-haiku-4-5',
  'claude-3.5-haiku': 'claude-3-5-haiku',
};

const OPENROUTER_PRICES: Readonly<Record<string, Price>> = {
  ...prefixed('openai/', openaiAdapter.prices),
  ...prefixed('google/', geminiAdapter.prices),
  ...Object.fromEntries(
    Object.entries(OPENROUTER_ANTHROPIC).flatMap(([name, model]) => {
      const price = anthropicAdapter.prices[model];
      return price ? [[`anthropic/${name}`, price]] : [];
    }),
  ),
};

export const groqAdapter = openaiCompatible('groq', GROQ_PRICES);
export const mistralAdapter = openaiCompatible('mistral', MISTRAL_PRICES, 'mistral_ai');
export const deepseekAdapter = openaiCompatible('deepseek', DEEPSEEK_PRICES);
export const openrouterAdapter = openaiCompatible('openrouter', OPENROUTER_PRICES);
export const togetherAdapter = openaiCompatible('together', TOGETHER_PRICES);
export const fireworksAdapter = openaiCompatible('fireworks', FIREWORKS_PRICES);
/** A self-hosted server: no list prices (a `pricing:` entry gives its models one). */
export const vllmAdapter = openaiCompatible('vllm', {});
