// What an MCP message means for the record: the target of a request (tool, resource,
// prompt), the text whose tokens it costs the agent's context window, and whether a
// result is an error.
import { obj, str } from '../../core/json-body.js';

export interface McpRequestFacts {
  target: string | null;
  /** Text counted as input tokens: tool arguments, prompt arguments. */
  inputText: string;
  /** The progress token the client attached, to link progress notifications. */
  progressToken: string | number | null;
}

export function requestFacts(method: string, params: unknown): McpRequestFacts {
  const p = obj(params);
  const meta = obj(p?._meta);
  const token = meta?.progressToken;
  const progressToken = typeof token === 'string' || typeof token === 'number' ? token : null;
  switch (method) {
    case 'tools/call':
      return { target: str(p?.name), inputText: p?.arguments === undefined ? '' : JSON.stringify(p.arguments), progressToken };
    case 'prompts/get':
      return { target: str(p?.name), inputText: p?.arguments === undefined ? '' : JSON.stringify(p.arguments), progressToken };
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return { target: str(p?.uri), inputText: '', progressToken };
    case 'sampling/createMessage':
    case 'elicitation/create':
      return { target: null, inputText: JSON.stringify(p?.messages ?? p?.message ?? ''), progressToken };
    default:
      return { target: null, inputText: '', progressToken };
  }
}

export interface McpResultFacts {
  /** Text counted as output tokens: what the result puts into the agent's context. */
  outputText: string;
  /** Tokens are also broken down per tool for tools/list: name -> text of its definition. */
  toolDefinitions: Map<string, string> | null;
  /** A tool result with isError: its first text, as the error message. */
  toolError: string | null;
  /** 2026-07-28: "complete" or "input_required". */
  resultType: string | null;
}

function contentText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => {
      const p = obj(part);
      if (!p) return '';
      if (typeof p.text === 'string') return p.text;
      const resource = obj(p.resource);
      if (resource && typeof resource.text === 'string') return resource.text;
      return p.type === 'text' ? '' : JSON.stringify(p);
    })
    .join('\n');
}

export function resultFacts(method: string, result: unknown): McpResultFacts {
  const r = obj(result);
  const facts: McpResultFacts = { outputText: '', toolDefinitions: null, toolError: null, resultType: str(r?.resultType) };
  if (!r) return facts;
  switch (method) {
    case 'tools/list': {
      const tools = Array.isArray(r.tools) ? r.tools : [];
      facts.toolDefinitions = new Map(tools.map((t, i) => [str(obj(t)?.name) ?? `#${i}`, JSON.stringify(t)]));
      facts.outputText = JSON.stringify(tools);
      break;
    }
    case 'tools/call': {
      facts.outputText = contentText(r.content) + (r.structuredContent === undefined ? '' : JSON.stringify(r.structuredContent));
      if (r.isError === true) facts.toolError = contentText(r.content).slice(0, 500) || 'the tool reported an error';
      break;
    }
    case 'resources/read':
      facts.outputText = Array.isArray(r.contents) ? r.contents.map((c) => str(obj(c)?.text) ?? str(obj(c)?.blob) ?? '').join('\n') : '';
      break;
    case 'prompts/get':
      facts.outputText = Array.isArray(r.messages) ? r.messages.map((m) => contentText([obj(m)?.content])).join('\n') : '';
      break;
    case 'prompts/list':
      facts.outputText = JSON.stringify(r.prompts ?? []);
      break;
    case 'resources/list':
      facts.outputText = JSON.stringify(r.resources ?? []);
      break;
    case 'resources/templates/list':
      facts.outputText = JSON.stringify(r.resourceTemplates ?? []);
      break;
    case 'sampling/createMessage':
      facts.outputText = contentText([r.content]);
      break;
    default:
      break;
  }
  return facts;
}
