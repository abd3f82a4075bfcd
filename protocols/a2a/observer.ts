// The A2A flow's observer: one record per HTTP call. It names the call with its v1.0 method
// (either version, either binding), follows the task (id, context, final state) through the
// answer or the SSE stream, estimates the tokens of the message parts sent and received,
// reads A2A errors, rewrites agent cards so the agent keeps calling through tapwire, and
// checks the signatures of signed cards.
import type { RouteConfig } from '../../config/config.js';
import { forwardableHeaders } from '../../core/headers.js';
import { classify, errorResponse, idText, INTERNAL_ERROR } from '../../core/jsonrpc.js';
import { estimateTokens } from '../../core/tokenizer.js';
import { httpRecord, type ExchangeObserver, type ForwardOutcome, type RecordSink, type Replacement, type ResponseHead } from '../observer.js';
import type { Route } from '../route.js';
import type { SseEvent } from '../../core/sse.js';
import { isAgentCard, isSigned, rewriteCard, type UrlMapping } from './card.js';
import type { AgentDirectory } from './directory.js';
import { errorFacts, payloadFacts, requestFacts, type A2aError, type PayloadFacts, type RequestFacts, type TaskState } from './facts.js';
import type { CardSignatureVerifier, SignatureCheck } from './signatures.js';
import { CARD_METHODS, type A2aCall } from './wire.js';
import { parseJson } from '../../core/json-body.js';
import { approvalIn } from '../../policies/decision.js';

/** What a route does with a signed card: strip its signatures and rewrite it, or pass it unmodified. */
export type SignedCardMode = NonNullable<RouteConfig['signed_cards']>;

/** Calls that carry messages or tasks: their parts are counted as tokens. */
const MESSAGE_METHODS = new Set(['SendMessage', 'SendStreamingMessage', 'GetTask', 'ListTasks', 'CancelTask', 'SubscribeToTask']);

/** How long a record waits for the agent's name (a background card fetch) before it is written without one. */
const NAME_WAIT_MS = 2000;

export interface A2aObserverOptions {
  route: Route;
  /** What the call is (A2aCallFacts: described once, shared with the gate). */
  call: A2aCall;
  a2aVersion: string | null;
  /** Where the agent reaches this route on tapwire, e.g. http://127.0.0.1:4100/planner */
  routeUrl: string;
  signedCards: SignedCardMode;
  directory: AgentDirectory;
  verifier: CardSignatureVerifier;
  sink: RecordSink;
  /** Set when the agent asked for one card path and tapwire fetched another (agent.json → agent-card.json). */
  cardPathServed?: string;
}

/** What tapwire did with a card that passed through. */
interface CardHandling {
  action: 'rewritten' | 'passed' | 'unchanged';
  interfaces_rewritten: number;
  /** Interface URLs outside the route's upstream: calls to them bypass tapwire. */
  outside?: string[];
  signed: boolean;
  signature?: SignatureCheck;
  signatures_stripped?: boolean;
}

export class A2aObserver implements ExchangeObserver {
  readonly upstreamBody = null;
  readonly editsStream = false;
  readonly readsBody = true;
  readonly reviewBody?: (head: ResponseHead, body: Buffer) => Replacement | null;
  private readonly call: A2aCall;
  private readonly sent: RequestFacts;
  private readonly received: PayloadFacts = { taskId: null, contextId: null, state: null, texts: [] };
  private error: A2aError | null = null;
  private firstEventMs: number | null = null;
  private card: CardHandling | null = null;
  private signedCard: Record<string, unknown> | null = null;
  private readonly warnings: string[] = [];

  constructor(private readonly options: A2aObserverOptions) {
    const { route, directory } = options;
    this.call = options.call;
    this.sent = requestFacts(this.call.method, this.call.params, this.call.pathTaskId);
    if (this.call.method && CARD_METHODS.has(this.call.method)) this.reviewBody = (head, body) => this.reviewCard(head, body);
    else directory.prefetch(route);
  }

  /** Rewrites a card answer (the well-known card, or an extended card over either binding). */
  private reviewCard(head: ResponseHead, body: Buffer): Replacement | null {
    if (head.status !== 200) return null;
    let parsed: unknown;
    try {
      parsed = parseJson(body.toString('utf8'));
    } catch {
      return null;
    }
    const jsonRpc = this.call.binding === 'JSONRPC';
    const card = jsonRpc ? (parsed as { result?: unknown }).result : parsed;
    if (!isAgentCard(card)) return null;
    const { route, directory, signedCards } = this.options;
    directory.learn(route, card, this.call.method === 'GetExtendedAgentCard');
    const signed = isSigned(card);
    if (signed) this.signedCard = card;
    const mapping: UrlMapping = { upstreamOrigin: route.upstream.origin, upstreamBasePath: route.basePath, routeUrl: this.options.routeUrl };
    const rewrite = rewriteCard(card, mapping, signed && signedCards === 'strip');
    const outside = rewrite.outside.length > 0 ? { outside: rewrite.outside } : {};
    if (rewrite.outside.length > 0) {
      this.warnings.push(`${rewrite.outside.length} interface URL(s) of the card are outside the route's upstream and were left as they are: calls to them bypass tapwire`);
    }
    if (rewrite.rewritten.length === 0) {
      this.card = { action: 'unchanged', interfaces_rewritten: 0, signed, ...outside };
      return null;
    }
    if (signed && signedCards === 'pass') {
      this.card = { action: 'passed', interfaces_rewritten: 0, signed, ...outside };
      this.warnings.push("signed card passed unmodified (signed_cards: pass): its interface URLs name the upstream, so the agent's calls to it bypass tapwire");
      return null;
    }
    this.card = { action: 'rewritten', interfaces_rewritten: rewrite.rewritten.length, signed, ...outside };
    if (signed) {
      this.card.signatures_stripped = true;
      this.warnings.push(
        'signatures stripped from the rewritten card: rewriting its interface URLs to tapwire invalidates them (set signed_cards: pass on the route to pass signed cards unmodified)',
      );
    }
    const out = jsonRpc ? { ...(parsed as Record<string, unknown>), result: rewrite.card } : rewrite.card;
    return {
      status: head.status,
      // The body changed: its length and entity tag are the upstream's no longer. Vary stays.
      headers: forwardableHeaders(head.headers, ['content-length', 'etag', 'content-md5']),
      body: Buffer.from(JSON.stringify(out)),
    };
  }

  onEvent(event: SseEvent, offsetMs: number): undefined {
    this.firstEventMs ??= offsetMs;
    let data: unknown;
    try {
      data = parseJson(event.data);
    } catch {
      return undefined;
    }
    this.read(data, event.event === 'error');
    return undefined;
  }

  /** Reads one answer: a JSON-RPC response, or a REST body or event (`isError` for REST error bodies). */
  private read(data: unknown, isError: boolean): void {
    if (this.call.binding === 'JSONRPC') {
      const message = classify(data);
      if (message.kind !== 'response') return;
      if (message.error) this.error ??= errorFacts(message.raw);
      else this.absorb(payloadFacts(message.result));
      return;
    }
    if (isError) this.error ??= errorFacts(data);
    else this.absorb(payloadFacts(data));
  }

  private absorb(facts: PayloadFacts): void {
    this.received.taskId ??= facts.taskId;
    this.received.contextId ??= facts.contextId;
    if (facts.state) this.received.state = facts.state;
    this.received.texts.push(...facts.texts);
  }

  async finish(outcome: ForwardOutcome): Promise<void> {
    try {
      await this.describe(outcome);
    } catch (err) {
      outcome.exchange.error_message ??= `tapwire could not read the A2A call: ${(err as Error).message}`;
    }
    this.options.sink(httpRecord(outcome));
  }

  private async describe({ exchange, head, body }: ForwardOutcome): Promise<void> {
    const call = this.call;
    const { route, directory, verifier } = this.options;
    if (call.method) exchange.method = call.method;
    exchange.jsonrpc_id = idText(call.jsonrpcId);
    const isCard = call.method !== null && CARD_METHODS.has(call.method);
    const contentType = head?.headers['content-type'];
    exchange.streamed = String(contentType ?? '').startsWith('text/event-stream') ? 1 : 0;
    if (exchange.streamed) exchange.ttft_ms = this.firstEventMs;
    else if (body && head) {
      let parsed: unknown;
      try {
        parsed = parseJson(body.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      if (parsed !== undefined && !(isCard && head.status < 400)) this.read(parsed, head.status >= 400);
    }
    exchange.task_id = this.received.taskId ?? this.sent.taskId;
    exchange.session_id = this.received.contextId ?? this.sent.contextId;
    exchange.task_state = this.received.state satisfies TaskState | null;
    if (this.error) {
      exchange.error_code ??= this.error.code;
      exchange.error_message ??= this.error.message;
      if (exchange.status === 'ok') exchange.status = 'error';
    }
    if (call.method && MESSAGE_METHODS.has(call.method) && head !== null) {
      exchange.input_tokens = await estimateTokens(this.sent.texts.join('\n'));
      exchange.output_tokens = await estimateTokens(this.received.texts.join('\n'));
      exchange.tokens_estimated = 1;
    }
    const name = await directory.agentName(route, NAME_WAIT_MS);
    exchange.target = name && this.sent.skill ? `${name}:${this.sent.skill}` : (name ?? this.sent.skill);
    if (this.signedCard && this.card) this.card.signature = await verifier.verify(this.signedCard);
    if (this.card?.signature && this.card.signature.verdict !== 'valid') {
      this.warnings.push(`card signature ${this.card.signature.verdict}: ${this.card.signature.detail}`);
    }
    // A call held for approval carries its verdict in the details from the gate: kept.
    const approval = approvalIn(exchange.details);
    exchange.details = JSON.stringify({
      ...(approval ? { approval } : {}),
      binding: call.binding,
      version: call.version,
      wire_method: call.wireMethod,
      ...(this.options.a2aVersion ? { a2a_version: this.options.a2aVersion } : {}),
      ...(call.tenant ? { tenant: call.tenant } : {}),
      ...(this.options.cardPathServed ? { card_path_served: this.options.cardPathServed } : {}),
      ...(this.error?.reason ? { error_reason: this.error.reason } : {}),
      ...(this.card ? { card: this.card } : {}),
      ...(this.warnings.length > 0 ? { warnings: this.warnings } : {}),
    });
  }

  errorBody(status: number, code: string, message: string): unknown {
    if (this.call.binding === 'JSONRPC') return errorResponse(this.call.jsonrpcId, INTERNAL_ERROR, message, { tapwire_error: code });
    if (this.call.binding === 'HTTP+JSON' && this.call.version === '0.3') return { code: INTERNAL_ERROR, message };
    return {
      error: {
        code: status,
        status: status === 504 ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE',
        message,
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: code, domain: 'tapwire' }],
      },
    };
  }
}
