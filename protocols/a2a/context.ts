// What A2A adds to the CEL context (policies/context.ts): jsonrpc.* (the HTTP+JSON binding
// sends the params as the body itself), and a2a.* (the v1.0 method, the task, the context,
// the text of the message sent).
import type { ProtocolContext } from '../../policies/context.js';
import { obj } from '../../core/json-body.js';
import { str, type CelJson } from '../../policies/context-values.js';
import { messageTexts } from './facts.js';

export const a2aContext: ProtocolContext = {
  jsonRpc: (_e, body) => ({ method: str(body?.method), params: body && !('jsonrpc' in body) ? body : body?.params }),
  bindings({ exchange: e, rpcMethod, params: p, httpLine }) {
    const message = obj(p?.message) ?? obj(p?.request);
    return {
      a2a: new Map<string, CelJson>([
        // The v1.0 method name the record carries (SendMessage, GetTask, ...), whatever the version and binding.
        ['method', httpLine ? rpcMethod : str(e.method) || rpcMethod],
        ['task_id', e.task_id ?? (str(message?.taskId) || str(p?.id))],
        ['context_id', str(message?.contextId) || str(p?.contextId)],
        ['text', message ? messageTexts(message).join('\n') : ''],
      ]),
    };
  },
};
