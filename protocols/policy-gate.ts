// The policy gate, the same for every protocol: before a call is forwarded it checks the
// agent's identity, refuses (fail-closed) a body the rules cannot read, then asks the call's
// facts for their protocol's request-phase decision and answer review (protocols/<name>/gate.ts,
// through CallFacts.admit). A refused call never reaches the upstream: the agent gets the
// protocol's error (refuse()) and the refusal is recorded (recordRefusal(), also used by MCP
// over stdio). A call an approve rule matched is held (hold()) until a person decides, then
// goes on or is refused like any other. Calls let through may get an observer wrapper: ResponsePolicyObserver applies
// response-phase rules to a body or stream (recorded as the agent received it), and
// DelegatingObserver is the base of a protocol's own answer reviews.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange, ExchangeEvent, Payload } from '../core/exchange.js';
import { decodedHeaders } from '../core/encoding.js';
import { errorHeadersOf } from '../core/error-headers.js';
import type { HeaderMap } from '../core/headers.js';
import { jsonBody } from '../core/json-body.js';
import type { ExchangeObserver, ForwardOutcome, RecordSink, Replacement, ResponseHead } from './observer.js';
import type { Route } from './route.js';
import type { CallFacts, ProtocolCall } from './protocol.js';
import type { SseEvent } from '../core/sse.js';
import { sseText } from '../core/sse-text.js';
import type { Bindings } from '../policies/cel.js';
import type { ContextSource, ProtocolContexts } from '../policies/context.js';
import { eventText } from '../policies/stream-text.js';
import type { RuleSet } from '../policies/rule-set.js';
import { stamp, type Decision } from '../policies/decision.js';
import type { IdentityVerifier } from '../policies/identity.js';
import { settledDecision, unheld, type Approvals } from '../policies/approvals.js';
import type { TransformOutcome } from '../policies/transform.js';
import type { RequestRewrite } from '../policies/rewrite.js';

export interface GateOptions {
  agentLabels: Record<string, string>;
  /** Verifies the agent's identity token when the config has an identity section. */
  identity: IdentityVerifier | null;
  /** Redacts headers for the record. */
  redact: (headers: IncomingMessage['headers']) => HeaderMap;
  sink: RecordSink;
  /** What each protocol adds to the CEL context (protocols/registry.ts). */
  protocols: ProtocolContexts;
  /** Where calls wait for approval; without it, a call an approve rule matches is refused. */
  approvals?: Approvals;
}

/** A held call as the person deciding sees it. */
export interface HoldSubject {
  /** The method as the person should read it (a JSON-RPC method); the exchange's otherwise. */
  method?: string;
  /** The tool, model, resource or skill. */
  target: string | null;
  /** What the call asks it to do: a tool's arguments, an LLM request's body. */
  arguments: unknown;
}

/**
 * What keeps an agent waiting for approval from giving up (MCP: progress notifications or
 * SSE comments on the call's response): started when the call is held, stopped when it is settled.
 */
export interface KeepAlive {
  start(): void;
  stop(): void;
}

/**
 * Where the answers to a call travel when not on its own response (MCP's legacy HTTP+SSE:
 * the session's GET stream, the POST itself gets 202).
 */
export interface AnswerChannel {
  /** Sends JSON-RPC messages on it; false when it is gone. */
  send(messages: readonly unknown[]): boolean;
}

export interface GateCall {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  /** The path under the route, without the query. */
  path: string;
  exchange: Exchange;
  /** The body as the upstream reads it (readable-body.ts): decoded, or as received when `cannotRead`. */
  body: Buffer | null;
  /** Why tapwire could not decode the body (its content-encoding or charset); null when it could. */
  cannotRead: string | null;
  /** The verified identity's claims, set by admit(). */
  jwtClaims?: Record<string, unknown> | null;
  /** Where a JSON-RPC refusal goes instead of the call's own response, if anywhere else. */
  answerStream?: AnswerChannel | null;
  /** What the transform rules change before the call is forwarded, set by transform(). */
  rewrite?: RequestRewrite | null;
}

/** What a call let through is forwarded with: the protocol's observer, wrapped when rules must see the answer. */
export type Admission = (observer: ExchangeObserver) => ExchangeObserver;

export const unchanged: Admission = (observer) => observer;

/** A refused request as it came, for its record: its headers and body, and whether tapwire could read (decode) that body. */
export interface RefusedRequest {
  headers: IncomingMessage['headers'];
  body: Buffer | null;
  read: boolean;
}

export class PolicyGate {
  constructor(
    /** The policies in force (they change when their files do). */
    readonly policies: () => RuleSet,
    private readonly options: GateOptions,
  ) {}

  /** The CEL context of a call as the rules see it, with the agent's labels and identity. */
  context(call: { jwtClaims?: Record<string, unknown> | null }, source: Omit<ContextSource, 'agentLabels' | 'jwtClaims' | 'protocols'>): Bindings {
    return this.policies().context({ ...source, agentLabels: this.options.agentLabels, jwtClaims: call.jwtClaims ?? null, protocols: this.options.protocols });
  }

  /**
   * Decides a call before its observer is made and it is forwarded. Returns null when it
   * was refused (the agent has its answer and the refusal is recorded).
   */
  async admit(received: ProtocolCall, facts: CallFacts): Promise<Admission | null> {
    const { req, res, route, path, exchange, readable, cannotRead } = received;
    const call: GateCall = { req, res, route, path, exchange, body: readable, cannotRead, answerStream: facts.answerStream ?? null };
    const identity = this.options.identity;
    if (received.tokenClaims !== undefined) call.jwtClaims = received.tokenClaims;
    else if (identity) {
      const verified = await identity.verify(call.req.headers);
      if ('claims' in verified) call.jwtClaims = verified.claims;
      else if (call.route.config.require_identity) {
        const decision: Decision = { outcome: 'deny', rule: 'identity', reason: verified.problem, retryAfterSeconds: null, findings: [] };
        this.refuse(call, call.exchange, decision, facts.identityRefusal(`tapwire: ${verified.problem}`), 401);
        return null;
      }
    }
    const set = this.policies();
    const why = facts.unreadable();
    if (why !== null) {
      const decision = set.unreadable(call.exchange.protocol, why);
      if (decision.outcome !== 'allow') {
        this.refuse(call, call.exchange, decision, facts.unreadableRefusal(decision), null);
        return null;
      }
      // Monitor mode, or no request-phase rule for this protocol: forwarded as received.
      stamp(call.exchange, decision);
      return unchanged;
    }
    // Awaited: a call held for approval is transformed (call.rewrite) only once it is approved.
    const admission = await facts.admit(this, set, call);
    received.rewrite = call.rewrite ?? null;
    return admission;
  }

  /** A header's value as the record keeps it (a credential masked). */
  recordedHeader(name: string, value: string): string {
    return String(this.options.redact({ [name]: value })[name]);
  }

  /**
   * Runs the transform rules on a call the request-phase rules let through, `source` being
   * the call as they saw it (`bindings`: its context, if already built): refused when one
   * cannot be applied (the caller answers and records it as any refusal), else what
   * changes is left on `call.rewrite` for forwarding.
   */
  transform(set: RuleSet, call: GateCall, source: Omit<ContextSource, 'agentLabels' | 'jwtClaims' | 'protocols' | 'request'>, bindings?: Bindings): TransformOutcome {
    const protocol = source.exchange.protocol;
    if (!set.transforms(protocol)) return { rewrite: null, findings: [] };
    const outcome = set.transform({
      protocol,
      headers: call.req.headers,
      body: call.body,
      context: (headers, body) => this.context(call, { ...source, request: { headers, body } }),
      ...(bindings ? { bindings } : {}),
      recorded: (name, value) => this.recordedHeader(name, value),
    });
    if ('rewrite' in outcome) call.rewrite = outcome.rewrite;
    return outcome;
  }

  /**
   * Holds a call an approve rule matched (`decision`, outcome approve) until a person
   * decides, its rule's timeout passes, the agent goes away or the sidecar stops. Returns
   * the decision to go on with: allow when approved, else deny; either carries the verdict,
   * which the record keeps. Other calls are not held up meanwhile.
   */
  async hold(call: GateCall, set: RuleSet, decision: Decision, subject: HoldSubject, keepAlive?: KeepAlive): Promise<Decision> {
    const approvals = this.options.approvals;
    if (!approvals || !decision.approve) return unheld(decision, 'here');
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    call.res.once('close', onClose);
    keepAlive?.start();
    const held = { route: call.exchange.route, protocol: call.exchange.protocol, method: subject.method ?? call.exchange.method, target: subject.target, arguments: subject.arguments, rule: decision.rule ?? '', reason: decision.reason, policyVersion: set.version };
    const verdict = await approvals.hold(call.exchange.id, held, decision.approve, gone.signal);
    keepAlive?.stop();
    call.res.off('close', onClose);
    return settledDecision(decision, verdict);
  }

  /**
   * Answers a refused call and records it. `httpStatus` null: 403, or 429 for a limit. A
   * JSON-RPC answer (`httpStatus` 200) to a call whose answers travel elsewhere (MCP's legacy
   * HTTP+SSE) goes there, and the call gets what that transport's POSTs get, 202 Accepted.
   */
  refuse(call: GateCall, exchange: Exchange, decision: Decision, answer: unknown, httpStatus: number | null): void {
    const status = httpStatus ?? (decision.outcome === 'limit' ? 429 : 403);
    const text = JSON.stringify(answer);
    const headers: Record<string, string> = { ...refusalHeaders(decision), ...errorHeadersOf(answer), 'content-length': String(Buffer.byteLength(text)) };
    if (status === 401) headers['www-authenticate'] = 'Bearer';
    if (status === 200 && call.answerStream?.send(Array.isArray(answer) ? answer : [answer])) {
      call.res.writeHead(202, { 'content-type': 'text/plain; charset=utf-8', 'x-tapwire-policy': headers['x-tapwire-policy']! });
      call.res.end('Accepted');
    } else {
      call.res.writeHead(status, headers);
      call.res.end(text);
    }
    exchange.http_status = status;
    this.recordRefusal(exchange, decision, { headers: call.req.headers, body: call.body, read: call.cannotRead === null }, {
      headers,
      body: Buffer.from(text),
      body_size: Buffer.byteLength(text),
      truncated: false,
    });
  }

  /** Records a refused call: its request, and the answer the agent got instead (`response`). */
  recordRefusal(exchange: Exchange, decision: Decision, request: RefusedRequest, response: Payload): void {
    const stored = this.refusedRequest(request);
    stamp(exchange, decision);
    exchange.ended_at = Date.now();
    exchange.duration_ms = exchange.ended_at - exchange.started_at;
    exchange.request_bytes = stored.body_size;
    exchange.response_bytes = response.body_size;
    this.options.sink({ exchange, request: stored, response, events: [] });
  }

  /**
   * A refused request as its record stores it, for redaction to see inside: `body` as read
   * (decoded, so its headers say DECODED_FROM_HEADER instead of content-encoding), or, when
   * tapwire could not read it and it came compressed, no bytes at all: what redaction cannot
   * read is not stored.
   */
  private refusedRequest({ headers, body, read }: RefusedRequest): Payload {
    const redacted = this.options.redact(headers);
    const size = body?.length ?? 0;
    if (headers['content-encoding'] === undefined) return { headers: redacted, body, body_size: size, truncated: false };
    if (read) return { headers: decodedHeaders(redacted), body, body_size: size, truncated: false };
    return { headers: redacted, body: null, body_size: size, truncated: size > 0 };
  }
}

/** Why the rules cannot read a body its protocol reads as JSON (nested deeper than MAX_JSON_DEPTH included), or null. */
export function unreadableJson(body: Buffer): string | null {
  const json = jsonBody(body);
  return json.ok ? null : `the body is not JSON tapwire reads (${json.reason})`;
}

/** The answer to a call without a valid identity token on a route whose protocol has no error format of its own. */
export function identityRequired(message: string): unknown {
  return { error: { code: 'identity_required', message } };
}

/**
 * The longest retry-after, in seconds, a refusal lets the agent's SDK wait for. The Node
 * openai and @anthropic-ai/sdk clients sleep for whatever retry-after says before each of
 * their retries (two by default), so a day's token budget would hang the agent for days;
 * the Python clients honour retry-after only up to 60 s. Past this, the refusal says
 * `x-should-retry: false`, which both Node SDKs obey: they raise RateLimitError at once.
 */
const LONGEST_INVITED_RETRY_SECONDS = 60;

/** The headers of an HTTP refusal: the rule, and when (and whether) to retry. */
export function refusalHeaders(decision: Decision): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-tapwire-policy': decision.rule ?? 'policy' };
  const retryAfter = decision.retryAfterSeconds;
  if (retryAfter !== null) {
    headers['retry-after'] = String(retryAfter);
    if (retryAfter > LONGEST_INVITED_RETRY_SECONDS) headers['x-should-retry'] = 'false';
  }
  return headers;
}

/** The refusal of a call whose protocol has no error format of its own (plain HTTP, A2A's HTTP+JSON binding). */
export function httpError(decision: Decision): unknown {
  return { error: { code: decision.outcome === 'limit' ? 'policy_limited' : 'policy_denied', message: `tapwire policy ${decision.rule ?? ''}: ${decision.reason}`, rule: decision.rule } };
}

/** Delegates everything to the protocol's observer; subclasses add a review of the answer. */
export abstract class DelegatingObserver implements ExchangeObserver {
  constructor(protected readonly inner: ExchangeObserver) {}
  get upstreamBody(): Buffer | null {
    return this.inner.upstreamBody;
  }
  get editsStream(): boolean {
    return this.inner.editsStream;
  }
  get readsBody(): boolean {
    return this.inner.readsBody;
  }
  onResponseHead(head: ResponseHead): void {
    this.inner.onResponseHead?.(head);
  }
  onEvent(event: SseEvent, offsetMs: number): string | null | undefined {
    return this.inner.onEvent(event, offsetMs);
  }
  onBodyData(chunk: Buffer, offsetMs: number): void {
    this.inner.onBodyData?.(chunk, offsetMs);
  }
  finish(outcome: ForwardOutcome): Promise<void> | void {
    return this.inner.finish(outcome);
  }
  errorBody(status: number, code: string, message: string): unknown {
    return this.inner.errorBody(status, code, message);
  }
}

/** The event tapwire sends to end a stream it refuses to pass on. */
export type StreamEnd = Pick<ExchangeEvent, 'event' | 'data'>;

export interface ResponseReview {
  onHead(head: ResponseHead): void;
  /** A non-streamed body: the replacement to send instead, or null. */
  body(head: ResponseHead, body: Buffer): Replacement | null;
  /** The text of a stream so far (see streamText): the error event that ends it, or null. */
  events(text: string): StreamEnd | null;
  /** An answer tapwire could not decode (`why`): the refusal, as a body and as a stream's last event; null lets it through. */
  unreadable(why: string): { body: Replacement; event: StreamEnd } | null;
}

/**
 * Applies the response-phase rules: a non-streamed response is held and judged whole; a
 * stream is judged after each event on the events so far, and a refusal ends what the
 * agent receives with an error event. The record holds what the agent received: the
 * refusal instead of a refused body; of a refused stream, the events that passed and the
 * error event. What the rule blocked is not stored. The usage columns still count what
 * the upstream generated (it was spent).
 */
export class ResponsePolicyObserver extends DelegatingObserver {
  /** The stream's text so far, assembled as streamText does, one event at a time. */
  private generated = '';
  private raw = '';
  private anyGenerated = false;
  /** Events seen so far: the position in the record's events of the next one. */
  private seen = 0;
  /** A refused stream: how many events passed, and the error event that replaced the rest. */
  private cut: { passed: number; end: ExchangeEvent } | null = null;
  /** A refused body: what the agent received instead. */
  private replaced: Replacement | null = null;
  /** When the last event came, in ms: where a refusal of the undecodable rest goes in the record. */
  private lastOffsetMs = 0;
  constructor(
    inner: ExchangeObserver,
    private readonly review: ResponseReview,
  ) {
    super(inner);
  }
  override get editsStream(): boolean {
    return true;
  }
  override onResponseHead(head: ResponseHead): void {
    this.review.onHead(head);
    super.onResponseHead(head);
  }
  override onEvent(event: SseEvent, offsetMs: number): string | null | undefined {
    const inner = this.inner.onEvent(event, offsetMs);
    const index = this.seen++;
    this.lastOffsetMs = offsetMs;
    // Cut, or refused whole before it was read (an AWS event stream): judged no further.
    if (this.cut || this.replaced) return null;
    if (event.data === '') return inner;
    const piece = eventText(event.data);
    if (piece !== null) {
      this.generated += piece;
      this.anyGenerated = true;
    }
    this.raw += this.raw === '' ? event.data : `\n${event.data}`;
    const end = this.review.events(this.anyGenerated ? this.generated : this.raw);
    if (end === null) return inner;
    this.cut = { passed: index, end: { ...end, offset_ms: offsetMs, event_id: null } };
    // Nothing more is judged: the rest of the upstream's stream is dropped.
    this.generated = this.raw = '';
    return sseText(this.cut.end);
  }
  reviewBody(head: ResponseHead, body: Buffer): Replacement | null {
    const inner = this.inner.reviewBody?.(head, body) ?? null;
    if (inner || head.status >= 400) return inner;
    this.replaced = this.review.body(head, body);
    return this.replaced;
  }
  unreadableBody(head: ResponseHead, why: string): Replacement | null {
    if (head.status >= 400) return null;
    this.replaced = this.review.unreadable(why)?.body ?? null;
    return this.replaced;
  }
  unreadableStream(why: string): string | null {
    if (this.cut) return null;
    const refusal = this.review.unreadable(why);
    if (!refusal) return null;
    this.cut = { passed: this.seen, end: { ...refusal.event, offset_ms: this.lastOffsetMs, event_id: null } };
    return sseText(this.cut.end);
  }
  override finish(outcome: ForwardOutcome): Promise<void> | void {
    if (this.replaced) {
      const { headers, body } = this.replaced;
      outcome.response = { headers: { ...headers, 'content-length': String(body.length) }, body, body_size: body.length, truncated: false };
      outcome.exchange.response_bytes = body.length;
    } else if (this.cut && outcome.response) {
      outcome.events = [...outcome.events.slice(0, this.cut.passed), this.cut.end];
      outcome.response = { ...outcome.response, ...sentStream(outcome.events, outcome.response) };
      outcome.exchange.response_bytes = outcome.response.body_size;
    }
    return super.finish(outcome);
  }
}

/**
 * The body of a stream as the agent received it, from its recorded events, stored within
 * the same bound as the upstream's body was (`stored`: its record, perhaps truncated).
 */
function sentStream(events: readonly ExchangeEvent[], stored: Payload): Pick<Payload, 'body' | 'body_size' | 'truncated'> {
  const sent = Buffer.from(events.map(sseText).join(''));
  const bound = stored.truncated ? (stored.body?.length ?? 0) : Infinity;
  if (sent.length <= bound) return { body: sent, body_size: sent.length, truncated: false };
  return { body: sent.subarray(0, bound), body_size: sent.length, truncated: true };
}
