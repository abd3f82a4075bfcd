// Azure OpenAI: OpenAI's wire format under `/openai/deployments/{deployment}/…?api-version=`
// (the deployment in the path, the body's `model` ignored by Azure) and the v1 API under
// `/openai/v1/…` (the deployment as the body's `model`). The record's `model` is the
// deployment the call addressed, what a policy's `llm.model` sees before the answer; its
// `response_model` is the model Azure answered with, which prices the call. The `api-key`
// header is a credential the record redacts (core/headers.ts).
import type { LlmAdapter, LlmCall, UpstreamTraits } from './adapter.js';
import { openaiAdapter } from './openai.js';
import { sourced } from './price-source.js';

/** `…/openai/deployments/{deployment}/{operation}`: the deployment, and the OpenAI path after it. */
const DEPLOYMENT_PATH = /\/openai\/deployments\/([^/]+)(\/.+)$/;

// Global deployments are billed at OpenAI's list prices (Data Zone and regional deployments
// cost about 10% more: a `pricing:` entry states them). Azure's pricing page is not among the
// stored copies tapwire could read: OpenAI's prices, re-stamped with Azure's page, are
// cross-checked where articles quoting Azure's rate card agree with them (the GPT-4.1 and 4o
// families) and estimates elsewhere (docs/providers.md, "Where prices come from").
const AZURE_PRICING = 'https://azure.microsoft.com/en-us/pricing/details/cognitive-services/openai-service/';
const QUOTED_ON_AZURE = ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4o', 'gpt-4o-mini'];
const AZURE_PRICES = {
  ...sourced({ url: AZURE_PRICING, date: '2026-12-06', checked: 'unverified', against: ['https://developers.openai.com/api/docs/pricing'] }, openaiAdapter.prices),
  ...sourced(
    {
      url: AZURE_PRICING,
      date: '2026-12-06',
      checked: 'cross-checked',
      against: [
        'https://explore.oreate.ai/posts/breaking-down-gpt41-pricing-on-azure-openai-service',
        'https://redresscompliance.com/azure-openai-enterprise-pricing-guide',
        'https://amnic.com/blogs/understanding-the-true-cost-of-azure-openai',
      ],
    },
    Object.fromEntries(QUOTED_ON_AZURE.flatMap((model) => (openaiAdapter.prices[model] ? [[model, openaiAdapter.prices[model]]] : []))),
  ),
};

export const azureOpenaiAdapter: LlmAdapter = {
  ...openaiAdapter,
  provider: 'azure_openai',
  genAiProvider: 'azure.ai.openai',
  prices: AZURE_PRICES,
  describe(path: string, body: unknown, raw: Buffer, upstream: UpstreamTraits): LlmCall | null {
    const deployment = DEPLOYMENT_PATH.exec(path);
    const call = openaiAdapter.describe(deployment ? deployment[2]! : path, body, raw, upstream);
    if (call && deployment) call.request = { ...call.request, model: deployment[1]! };
    return call;
  },
  // The v1 API's paths are OpenAI's (Groq's base URL is …/openai/v1 too): only a route's `provider` names it.
  recognises: (path: string): boolean => DEPLOYMENT_PATH.test(path),
};
