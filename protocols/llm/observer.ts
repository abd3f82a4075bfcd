// The LLM adapter's observer: picks the wire format, reads request facts from the body
// (parsed once), learns usage from the response, estimates tokens when none came back,
// prices the call, and sets the exchange's LLM columns.
import { httpRecord, type ExchangeObserver, type ForwardOutcome, type RecordSink } from '../observer.js';
import type { SseEvent } from '../../core/sse.js';
import { obj } from '../../core/json-body.js';
import { responseValue, safeParseJson, type LlmAdapter, type LlmCall, type UpstreamTraits } from './adapter.js';
import type { RouteConfig } from '../../config/config.js';
import type { PriceBook } from './pricing.js';
import { estimateTokens } from '../../core/tokenizer.js';
import { emptyFacts, type ResponseFacts } from './usage.js';
import { LineSplitter } from '../../core/lines.js';

/** What route `config` says about its upstream (add_stream_usage defaults to true). */
export function upstreamTraits(config: RouteConfig | undefined): UpstreamTraits {
  return { addStreamUsage: config?.add_stream_usage ?? true };
}

export class LlmObserver implements ExchangeObserver {
  readonly upstreamBody: Buffer | null;
  readonly editsStream: boolean;
  readonly readsBody = true;
  private readonly call: LlmCall | null;
  private readonly facts: ResponseFacts = emptyFacts();
  private firstOutputMs: number | null = null;
  /** A JSON-lines stream's lines, until the first that carries output. */
  private lines: LineSplitter | null = null;

  constructor(
    private readonly adapter: LlmAdapter,
    /** The call as the adapter described it (LlmCallFacts: parsed once, shared with the gate); null when it did not. */
    call: LlmCall | null,
    private readonly prices: PriceBook,
    private readonly sink: RecordSink,
    /** The body is read decoded but forwarded as received (compressed, UTF-16): it cannot be rewritten. */
    decoded = false,
    /** The request's query without credentials (Gemini's `alt=sse`, Azure's `api-version`): kept in `details` for replay. */
    private readonly query = '',
  ) {
    this.call = call && decoded ? { ...call, upstreamBody: null, rewriteEvent: null } : call;
    this.upstreamBody = this.call?.upstreamBody ?? null;
    this.editsStream = this.call?.rewriteEvent != null;
  }

  onEvent(event: SseEvent, offsetMs: number): string | null | undefined {
    if (!this.call) return undefined;
    if (this.call.observeEvent(event, this.facts) && this.firstOutputMs === null) this.firstOutputMs = offsetMs;
    return this.call.rewriteEvent?.(event);
  }

  onBodyData(chunk: Buffer, offsetMs: number): void {
    const outputInLine = this.call?.request.stream ? this.call.outputInLine : undefined;
    if (!outputInLine || this.firstOutputMs !== null) return;
    this.lines ??= new LineSplitter();
    if (this.lines.push(chunk).some((line) => outputInLine(safeParseJson(line.bytes.toString('utf8'))))) {
      this.firstOutputMs = offsetMs;
      this.lines = null;
    }
  }

  async finish(outcome: ForwardOutcome): Promise<void> {
    try {
      await this.readFacts(outcome);
    } catch (err) {
      outcome.exchange.error_message ??= `tapwire could not read the response: ${(err as Error).message}`;
    }
    this.sink(httpRecord(outcome));
  }

  private async readFacts({ exchange, head, body }: ForwardOutcome): Promise<void> {
    exchange.provider = this.adapter.provider;
    // Other facts may be there already (how an approval was settled).
    if (this.query) exchange.details = JSON.stringify({ ...obj(exchange.details ? safeParseJson(exchange.details) : null), query: this.query });
    const call = this.call;
    if (!call) return;
    const { request } = call;
    exchange.operation = request.operation;
    exchange.model = request.model;
    exchange.target = request.model;
    exchange.streamed = request.stream ? 1 : 0;
    exchange.ttft_ms = this.firstOutputMs;
    if (body) call.readBody(responseValue(call, body), this.facts);
    if (head) call.readHead?.(head.headers, this.facts);
    const facts = this.facts;
    exchange.response_model = facts.response_model;
    exchange.response_id = facts.response_id;
    exchange.finish_reasons = facts.finish_reasons.length > 0 ? JSON.stringify(facts.finish_reasons.filter(Boolean)) : null;
    if (facts.error_code || facts.error_message) {
      exchange.error_code ??= facts.error_code;
      exchange.error_message ??= facts.error_message;
      if (exchange.status === 'ok') exchange.status = 'error';
    }
    let usage = facts.usage;
    const answered = head !== null && head.status < 400 && exchange.status === 'ok';
    if (!usage && answered) {
      usage = {
        input_tokens: await estimateTokens(request.inputText()),
        output_tokens: request.operation === 'embeddings' ? null : await estimateTokens(facts.output_text),
        cache_read_tokens: null,
        cache_write_tokens: null,
        reasoning_tokens: null,
      };
      exchange.tokens_estimated = 1;
    }
    if (usage) {
      Object.assign(exchange, usage);
      exchange.cost_usd = this.prices.cost(this.adapter.provider, facts.response_model ?? request.model, usage);
    }
  }

  errorBody(status: number, code: string, message: string): unknown {
    return this.adapter.errorBody(status, code, message);
  }
}
