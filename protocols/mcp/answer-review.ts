// The review of MCP answers on their way to the agent: the answer to a request the gate let
// through is replaced by what its review makes of it (a list without what the rules would
// deny, a response-phase refusal), on an HTTP route's body or stream (McpAnswerPolicyObserver)
// or wherever the answers travel by id (AnswerReviews: stdio lines, a legacy HTTP+SSE stream).
import type { HeaderMap } from '../../core/headers.js';
import { idKey, type JsonRpcId } from '../../core/jsonrpc.js';
import type { SseEvent } from '../../core/sse.js';
import { sseText } from '../../core/sse-text.js';
import { safeParseJson } from '../llm/adapter.js';
import type { ExchangeObserver, Replacement, ResponseHead } from '../observer.js';
import { DelegatingObserver } from '../policy-gate.js';

/** What the agent gets instead of the server's answer to a request let through; null leaves it unchanged. */
export type AnswerReview = (answer: Record<string, unknown>) => Record<string, unknown> | null;

/** What the agent gets instead of an answer tapwire could not decode (`why`); null lets it through. */
export type UnreadableAnswer = (why: string) => Record<string, unknown> | null;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Finds the answer to one MCP request, as a JSON body or an SSE event, and sends the
 * agent what `rewrite` makes of it instead (null leaves it unchanged). The tracker still
 * records what the server answered.
 */
export class McpAnswerPolicyObserver extends DelegatingObserver {
  /** The answer was seen (and reviewed). */
  private answered = false;
  constructor(
    inner: ExchangeObserver,
    private readonly id: JsonRpcId,
    private readonly rewrite: AnswerReview,
    private readonly unreadable: UnreadableAnswer,
  ) {
    super(inner);
  }

  private rewritten(text: string): ReviewedAnswer | null {
    const message = safeParseJson(text);
    if (!isAnswer(message) || message.id !== this.id) return null;
    this.answered = true;
    return reviewedAnswer(this.rewrite(message));
  }

  // A refusal replaces the answer before the protocol's observer reads it, so the tracker records what the agent receives.
  override onEvent(event: SseEvent, offsetMs: number): string | null | undefined {
    const answer = event.data === '' || event.event === 'endpoint' ? null : this.rewritten(event.data);
    if (answer === null) return this.inner.onEvent(event, offsetMs);
    const sent = { ...event, data: answer.text };
    const inner = this.inner.onEvent(answer.refused ? sent : event, offsetMs);
    return (answer.refused ? inner : undefined) ?? sseText({ event: sent.event, event_id: sent.id, data: sent.data });
  }

  reviewBody(head: ResponseHead, body: Buffer): Replacement | null {
    const answer = head.status >= 300 ? null : this.rewritten(body.toString('utf8'));
    if (answer === null) return this.inner.reviewBody?.(head, body) ?? null;
    const replacement = answerReplacement(head, answer.text);
    return this.inner.reviewBody?.(head, answer.refused ? replacement.body : body) ?? replacement;
  }

  unreadableBody(head: ResponseHead, why: string): Replacement | null {
    if (head.status >= 300) return null;
    const refusal = this.unreadable(why);
    if (!refusal) return null;
    const replacement = answerReplacement(head, JSON.stringify(refusal));
    // The tracker records the refusal as the answer the agent received.
    this.inner.reviewBody?.(head, replacement.body);
    return replacement;
  }

  unreadableStream(why: string): string | null {
    if (this.answered) return null;
    const refusal = this.unreadable(why);
    return refusal ? `data: ${JSON.stringify(refusal)}\n\n` : null;
  }
}

/**
 * An MCP GET stream on a policed route. Defining unreadableStream makes the forwarder decode
 * a compressed stream and send it decoded, event by event, so the answers on it are reviewed
 * (LegacyStream.reviews) before they are sent. What does not decode is never sent; nothing
 * ends the stream in its place (the answers it would have carried belong to no request the
 * forwarder knows of).
 */
export class DecodedStreamObserver extends DelegatingObserver {
  unreadableStream(): string | null {
    return null;
  }
}

/** The server's response with `data` as its body instead. */
function answerReplacement(head: ResponseHead, data: string): Replacement {
  const headers: HeaderMap = {};
  for (const [name, value] of Object.entries(head.headers)) {
    if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding'].includes(name.toLowerCase())) headers[name] = value;
  }
  return { status: head.status, headers, body: Buffer.from(data) };
}

/**
 * An answer the agent gets instead of the server's: its JSON text, and whether it is a
 * refusal. A refusal is recorded as sent (what the rule blocked is stored nowhere); a
 * filtered list keeps the server's own answer in the record.
 */
export interface ReviewedAnswer {
  text: string;
  refused: boolean;
}

export function reviewedAnswer(replacement: Record<string, unknown> | null): ReviewedAnswer | null {
  if (!replacement) return null;
  const refused = 'error' in replacement || (isObject(replacement.result) && replacement.result.isError === true);
  return { text: JSON.stringify(replacement), refused };
}

function isAnswer(message: unknown): message is Record<string, unknown> & { id: JsonRpcId } {
  return isObject(message) && (typeof message.id === 'string' || typeof message.id === 'number') && ('result' in message || 'error' in message);
}

/**
 * The reviews the answers to stdio requests let through are waiting for, by request id:
 * each server answer with a pending id is reviewed once, as McpAnswerPolicyObserver reviews
 * an HTTP route's answer.
 */
export class AnswerReviews {
  private readonly pending = new Map<string, AnswerReview>();

  expect(id: JsonRpcId, review: AnswerReview): void {
    this.pending.set(idKey(id), review);
  }

  /** What the client gets instead of this server message, or null to send it unchanged. */
  answer(message: unknown): ReviewedAnswer | null {
    if (this.pending.size === 0 || !isAnswer(message)) return null;
    const key = idKey(message.id);
    const review = this.pending.get(key);
    if (!review) return null;
    this.pending.delete(key);
    return reviewedAnswer(review(message));
  }
}
