// What LLM calls add to the CEL context (policies/context.ts): llm.*, from the exchange's
// columns and the request body (model, stream, max_tokens, messages, tools).
import type { ProtocolContext } from '../../policies/context.js';
import { int, str, toCel, type CelJson } from '../../policies/context-values.js';

export const llmContext: ProtocolContext = {
  bindings({ exchange: e, body }) {
    const maxTokens = body?.max_tokens ?? body?.max_completion_tokens ?? body?.max_output_tokens;
    return {
      llm: new Map<string, CelJson>([
        ['provider', e.provider ?? ''],
        ['operation', e.operation ?? ''],
        ['model', e.model ?? str(body?.model)],
        ['stream', body?.stream === true],
        ['max_tokens', typeof maxTokens === 'number' ? int(maxTokens) : 0n],
        ['messages', toCel(Array.isArray(body?.messages) ? body.messages : Array.isArray(body?.input) ? body.input : [])],
        ['tools', Array.isArray(body?.tools) ? toCel(body.tools) : []],
      ]),
    };
  },
};
