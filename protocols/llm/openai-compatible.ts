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

// USD per million tokens. Reasoning tokens are output tokens on all of these (billed as output).

const GROQ_PRICES = sourced({ url: 'https://groq.com/pricing', date: '2026-06-04' }, {
  'openai/gpt-oss-120b': { input: 0.15, output: 0.6, cache_read: 0.075 },
  'openai/gpt-oss-20b': { input: 0.075, output: 0.3, cache_read: 0.0375 },
  'llama-3.3-70b-versatile': { input: 0.59, output: 0.79 },
  'llama-3.1-8b-instant': { input: 0.05, output: 0.08 },
  'meta-llama/llama-4-maverick-17b-128e-instruct': { input: 0.2, output: 0.6 },
  'meta-llama/llama-4-scout-17b-16e-instruct': { input: 0.11, output: 0.34 },
  'moonshotai/kimi-k2-instruct': { input: 1, output: 3, cache_read: 0.5 },
  'qwen/qwen3-32b': { input: 0.29, output: 0.59 },
});

// Mistral's `-latest` names: a dated snapshot of an older generation has other prices, so
// families are not listed by prefix.
const MISTRAL_PRICES = sourced({ url: 'https://mistral.ai/pricing#api-pricing', date: '2026-06' }, {
  'mistral-medium-latest': { input: 1.5, output: 7.5 },
  'mistral-large-latest': { input: 0.5, output: 1.5 },
  'mistral-small-latest': { input: 0.1, output: 0.3 },
  'magistral-medium-latest': { input: 2, output: 5 },
  'magistral-small-latest': { input: 0.5, output: 1.5 },
  'codestral-latest': { input: 0.3, output: 0.9 },
  'devstral-latest': { input: 0.4, output: 2 },
  'ministral-8b-latest': { input: 0.15, output: 0.15 },
  'ministral-3b-latest': { input: 0.1, output: 0.1 },
  'pixtral-large-latest': { input: 2, output: 6 },
  'mistral-embed': { input: 0.1, output: 0 },
});

// DeepSeek-V3.2 behind both names: deepseek-reasoner's reasoning tokens are output tokens.
const DEEPSEEK_PRICES = sourced({ url: 'https://api-docs.deepseek.com/quick_start/pricing', date: '2025-09-29' }, {
  'deepseek-chat': { input: 0.28, output: 0.42, cache_read: 0.028 },
  'deepseek-reasoner': { input: 0.28, output: 0.42, cache_read: 0.028 },
});

const TOGETHER_PRICES = sourced({ url: 'https://www.together.ai/pricing', date: '2025-11' }, {
  'meta-llama/Llama-3.3-70B-Instruct-Turbo': { input: 0.88, output: 0.88 },
  'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo': { input: 0.18, output: 0.18 },
  'meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo': { input: 3.5, output: 3.5 },
  'deepseek-ai/DeepSeek-V3': { input: 1.25, output: 1.25 },
  'deepseek-ai/DeepSeek-R1': { input: 3, output: 7 },
  'Qwen/Qwen2.5-72B-Instruct-Turbo': { input: 1.2, output: 1.2 },
  'openai/gpt-oss-120b': { input: 0.15, output: 0.6 },
  'openai/gpt-oss-20b': { input: 0.05, output: 0.2 },
});

const FIREWORKS_PRICES = sourced({ url: 'https://fireworks.ai/pricing', date: '2025-11' }, {
  'accounts/fireworks/models/llama-v3p3-70b-instruct': { input: 0.9, output: 0.9 },
  'accounts/fireworks/models/llama-v3p1-8b-instruct': { input: 0.2, output: 0.2 },
  'accounts/fireworks/models/deepseek-v3': { input: 0.9, output: 0.9 },
  'accounts/fireworks/models/deepseek-r1': { input: 3, output: 8 },
  'accounts/fireworks/models/gpt-oss-120b': { input: 0.15, output: 0.6 },
  'accounts/fireworks/models/gpt-oss-20b': { input: 0.07, output: 0.3 },
});

// OpenRouter charges its providers' list prices (its fee is on credits, not tokens): OpenAI's
// and Google's models under their OpenRouter names; Anthropic's with dots in the version.
const OPENROUTER_ANTHROPIC: Readonly<Record<string, string>> = {
  'claude-opus-4.5': 'claude-opus-4-5',
  'claude-opus-4.1': 'claude-opus-4-1',
  'claude-opus-4': 'claude-opus-4',
  'claude-sonnet-4.5': 'claude-sonnet-4-5',
  'claude-sonnet-4': 'claude-sonnet-4',
  'claude-3.7-sonnet': 'claude-3-7-sonnet',
  'claude-haiku-4.5': 'claude-haiku-4-5',
  'claude-3.5-haiku': 'claude-3-5-haiku',
};

const OPENROUTER_PRICES = sourced({ url: 'https://openrouter.ai/models', date: '2025-11-15' }, {
  ...prefixed('openai/', openaiAdapter.prices),
  ...prefixed('google/', geminiAdapter.prices),
  ...Object.fromEntries(
    Object.entries(OPENROUTER_ANTHROPIC).flatMap(([name, model]) => {
      const price = anthropicAdapter.prices[model];
      return price ? [[`anthropic/${name}`, price]] : [];
    }),
  ),
});

export const groqAdapter = openaiCompatible('groq', GROQ_PRICES);
export const mistralAdapter = openaiCompatible('mistral', MISTRAL_PRICES, 'mistral_ai');
export const deepseekAdapter = openaiCompatible('deepseek', DEEPSEEK_PRICES);
export const openrouterAdapter = openaiCompatible('openrouter', OPENROUTER_PRICES);
export const togetherAdapter = openaiCompatible('together', TOGETHER_PRICES);
export const fireworksAdapter = openaiCompatible('fireworks', FIREWORKS_PRICES);
/** A self-hosted server: no list prices (a `pricing:` entry gives its models one). */
export const vllmAdapter = openaiCompatible('vllm', {});
