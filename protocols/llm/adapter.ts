// The contract every LLM wire format implements: read the request's facts, learn usage and
// results from a JSON body or from SSE events, and (when it changed the request) edit the
// stream back into what the agent asked for.
import type { SseEvent } from '../../core/sse.js';
import type { HeaderMap } from '../../core/headers.js';
import type { ResponseFacts } from './usage.js';
import { jsonValue, parseJson } from '../../core/json-body.js';
import type { RouteConfig } from '../../config/config.js';
import type { Price } from './pricing.js';

/** A provider's name, as a route's `provider` names it (providers.ts lists them). */
export type Provider = NonNullable<RouteConfig['provider']>;

export interface RequestFacts {
  provider: Provider;
  /** GenAI operation name: chat, text_completion, embeddings, count_tokens; null when unknown. */
  operation: string | null;
  model: string | null;
  stream: boolean;
  /** The prompt text, for a token estimate when the provider reports no usage. */
  inputText: () => string;
}

export interface LlmCall {
  request: RequestFacts;
  /** A replacement request body for upstream, or null to send the agent's bytes unchanged. */
  upstreamBody: Buffer | null;
  /** Folds one SSE event into `facts`; returns true when the event carries generated output. */
  observeEvent(event: SseEvent, facts: ResponseFacts): boolean;
  /**
   * Present only when upstreamBody changed what the stream will contain: maps an upstream
   * event to the raw text to send the agent instead (null drops the event).
   */
  rewriteEvent: ((event: SseEvent) => string | null) | null;
  /** Fills `facts` from a complete (non-streamed) JSON response body, success or error. */
  readBody(body: unknown, facts: ResponseFacts): void;
  /**
   * Reads the response's headers after its body or events: what a provider says only there
   * (Bedrock's error type, InvokeModel's token counts). Absent where the body says it all.
   */
  readHead?(headers: HeaderMap, facts: ResponseFacts): void;
  /** The response is JSON lines (Ollama's streams): readBody gets the array of its lines' values. */
  readonly jsonLines?: boolean;
  /** JSON lines: true when a line's value carries generated output (the first such line is the stream's time to first token). */
  readonly outputInLine?: (line: unknown) => boolean;
}

/** What a route's configuration says about its upstream. */
export interface UpstreamTraits {
  /**
   * A streamed chat call whose agent did not ask for usage may be sent with usage asked for
   * (and the stream edited back). False when the upstream sends usage unasked: adding the
   * request would make its usage chunk look like tapwire's own.
   */
  addStreamUsage: boolean;
}

export interface LlmAdapter {
  provider: Provider;
  /**
   * gen_ai.provider.name on spans and metrics when the conventions list this provider under
   * another name than tapwire's (`gcp.gemini` for `gemini`); absent: the provider's name.
   */
  readonly genAiProvider?: string;
  /** Built-in prices by model (USD per million tokens); a model matches its name or the longest entry prefixing it. */
  readonly prices: Readonly<Record<string, Price>>;
  /**
   * True when this format can ask for usage on streams whose agent did not (and edit it back
   * out): a route's add_stream_usage applies to it.
   */
  readonly addsStreamUsage: boolean;
  /**
   * Returns null when `path` is not an API this adapter understands (it is still forwarded).
   * `body` is the parsed request, `raw` its bytes.
   */
  describe(path: string, body: unknown, raw: Buffer, upstream: UpstreamTraits): LlmCall | null;
  /**
   * True when `path` names one of this provider's APIs: a route without `provider` is
   * recognised by it. Absent on the default format (OpenAI's), which takes the rest.
   */
  recognises?(path: string): boolean;
  /** The error body this provider's SDKs understand, for failures tapwire itself reports. */
  errorBody(status: number, code: string, message: string): unknown;
  /** The error body of a call a policy refused: its SDKs raise their permission error, or (`limited`) their rate-limit error. */
  policyError(message: string, limited: boolean): unknown;
  /** The error body of a call without a valid identity token: its SDKs raise their authentication error. */
  authenticationError(message: string): unknown;
  /** The SSE event name of the error event that ends a stream tapwire refuses (null: a plain data event). */
  readonly streamErrorEvent: string | null;
}

/** A response body as `call.readBody` takes it: its JSON value, or the values of its JSON lines. */
export function responseValue(call: LlmCall, body: Buffer): unknown {
  if (!call.jsonLines) return jsonValue(body);
  return body
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(safeParseJson);
}

export function safeParseJson(text: string): unknown {
  try {
    return parseJson(text);
  } catch {
    return undefined;
  }
}

/** Concatenates the text found in chat-style content (a string, or parts with `text`). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (typeof part === 'string') out += part;
    else if (part && typeof part === 'object') {
      const p = part as Record<string, unknown>;
      if (typeof p.text === 'string') out += p.text;
      else if (typeof p.content === 'string' || Array.isArray(p.content)) out += contentText(p.content);
    }
  }
  return out;
}
