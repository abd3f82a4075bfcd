// Builds the CEL context of an exchange: one function for a live exchange (request phase:
// the record so far and the agent's body; response phase: the body the upstream sent) and
// for a recorded one read back from SQLite, so policies, `policy test`, the TUI filter,
// replay selection and exports all see the same values. Every declared field is present:
// absent ones hold the empty value of their type ("" / 0 / false / {} / []), so a rule never
// fails because this protocol has no such field. Objects are Maps (the evaluator copies
// plain objects on every access), integers are BigInt, timestamps are protobuf Timestamps.
// The variables one protocol fills in (llm.*, mcp.*, a2a.*, and jsonrpc.* for the JSON-RPC
// ones) come from that protocol's ProtocolContext, which the caller passes in: this file
// knows no protocol by name.
import { jsonValue, obj } from '../core/json-body.js';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Exchange } from '../core/exchange.js';
import type { Bindings } from './cel.js';
import { int, parseJson, str, toCel, type CelJson, type Json } from './context-values.js';
import { streamText } from './stream-text.js';
import { scopesOf } from './identity.js';
import { PROTOCOL_ROOTS, VOCABULARY, type Leaf, type Open, type Struct } from './vocabulary.js';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** One side of an exchange as the builder needs it: headers and the (decoded) body. */
export interface ContextPayload {
  headers?: Headers | null;
  body?: Buffer | string | null;
}

/** What the context is built from: the exchange (live or recorded) and what surrounds it. */
export interface ContextSource {
  exchange: Pick<Exchange, 'protocol' | 'agent' | 'route'> & Partial<Exchange>;
  request?: ContextPayload | null;
  response?: ContextPayload | null;
  /** The SSE events of a streamed response, whose text makes up response.text (see streamText). */
  events?: readonly { data: string }[] | null;
  /** response.text when the caller already assembled it (a live stream, event by event). */
  responseText?: string;
  /** The agent's labels (live calls: the config's); none: those recorded with the exchange. */
  agentLabels?: Readonly<Record<string, string>>;
  routeUpstream?: string;
  /** HTTP path under the route (live calls; recorded LLM calls carry it in exchange.method). */
  path?: string;
  /** The verified token's claims (identity.jwt's, or an MCP route's OAuth token's): jwt.claims and identity.*. */
  jwtClaims?: Readonly<Record<string, unknown>> | null;
  /**
   * What each protocol adds to the context, by protocol name (protocols/registry.ts). Required:
   * policies/ cannot import the protocols, and a context built without them would judge every
   * call with empty protocol variables.
   */
  protocols: ProtocolContexts;
}

/** The exchange and its request body, as a protocol's variables are read from them. */
export interface ProtocolContextInput {
  exchange: ContextSource['exchange'];
  /** The request body, when it is a JSON object. */
  body: Json | null;
  /** The JSON-RPC method (jsonrpc.method; "" for a protocol that does not speak JSON-RPC). */
  rpcMethod: string;
  /** The JSON-RPC params, when they are an object. */
  params: Json | null;
  /** True when the exchange's method is an HTTP request line ("POST /path"), as on HTTP-level records. */
  httpLine: boolean;
}

/** What one protocol adds to the CEL context of its exchanges. */
export interface ProtocolContext {
  /** For a protocol that speaks JSON-RPC: the request's method and params, which jsonrpc.* shows. */
  jsonRpc?(exchange: ContextSource['exchange'], body: Json | null): { method: string; params: unknown };
  /** The protocol's own variables, each a root of the vocabulary that PROTOCOL_ROOTS gives to it. */
  bindings(input: ProtocolContextInput): Record<string, Map<string, CelJson>>;
}

export type ProtocolContexts = Readonly<Partial<Record<string, ProtocolContext>>>;

function text(body: Buffer | string | null | undefined): string {
  if (body === null || body === undefined) return '';
  return typeof body === 'string' ? body : body.toString('utf8');
}

/** identity.*: who the verified token says the caller is (the OAuth client acting for them: client_id, or OIDC's azp). */
function identityOf(claims: Readonly<Record<string, unknown>>): Map<string, CelJson> {
  return new Map<string, CelJson>([
    ['subject', str(claims.sub)],
    ['issuer', str(claims.iss)],
    ['client_id', str(claims.client_id) || str(claims.azp)],
    ['scopes', scopesOf(claims)],
    ['claims', toCel(claims)],
  ]);
}

function headerMap(headers: Headers | null | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) map.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value);
  }
  return map;
}

/** The empty value of each field of `struct`: what a protocol's variables hold on another protocol's exchange. */
function emptyStruct(struct: Struct): Map<string, CelJson> {
  return new Map(Object.entries(struct).map(([name, field]) => [name, typeof field === 'string' ? emptyLeaf(field) : emptyStruct(field)]));
}

function emptyLeaf(field: Leaf | Open): CelJson {
  switch (field) {
    case 'string':
      return '';
    case 'int':
      return 0n;
    case 'double':
      return 0;
    case 'bool':
      return false;
    case 'list':
      return [];
    default:
      // map and dyn (mcp.arguments): an empty map.
      return new Map();
  }
}

/** The labels recorded with an exchange (JSON object text), their string values only; none: empty. */
function recordedLabels(json: string | null | undefined): Map<string, string> {
  const labels = obj(json ? parseJson(json) : null) ?? {};
  return new Map(Object.entries(labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/**
 * The CEL bindings of one exchange. The evaluator reads a variable by property access, so each
 * root is a getter that builds it on first read and keeps it: a live call's context is built
 * several times (request, response, the record's review) and its rules name few roots, so the
 * request body's CEL copy or the parsed response is never built when no rule reads it. The
 * protocol roots (llm, mcp, a2a) are getters added below from the vocabulary.
 */
class ExchangeBindings {
  readonly protocol: string;
  readonly direction: string;
  readonly route: Map<string, string>;
  /** The exchange's own start, so a recorded exchange is judged as it was live. */
  readonly now: ReturnType<typeof timestampFromMs>;
  readonly #source: ContextSource;
  readonly #httpLine: RegExpExecArray | null;
  #requestJson?: { value: unknown };
  #rpc?: { value: { method: string; params: unknown } | null };
  #roots?: Record<string, Map<string, CelJson>>;
  #responseText?: string;
  #agent?: Map<string, CelJson>;
  #request?: Map<string, CelJson>;
  #jsonrpc?: Map<string, CelJson>;
  #response?: Map<string, CelJson>;
  #usage?: Map<string, CelJson>;
  #jwt?: Map<string, CelJson>;
  #identity?: Map<string, CelJson>;
  #exchange?: Map<string, unknown>;

  constructor(source: ContextSource) {
    const e = source.exchange;
    this.#source = source;
    // "POST /openai/v1/chat/completions" on LLM and HTTP records; the JSON-RPC method on MCP ones.
    this.#httpLine = /^([A-Z]+) (\S+)$/.exec(e.method ?? '');
    this.protocol = e.protocol;
    this.direction = e.direction ?? 'client_to_server';
    this.route = new Map([['name', e.route], ['upstream', source.routeUpstream ?? '']]);
    this.now = timestampFromMs(e.started_at ?? Date.now());
  }

  #requestValue(): unknown {
    if (!this.#requestJson) {
      // A Buffer is the live request body: its one parse is shared with the gate and the observer.
      const body = this.#source.request?.body;
      this.#requestJson = { value: Buffer.isBuffer(body) ? (jsonValue(body) ?? null) : parseJson(text(body)) };
    }
    return this.#requestJson.value;
  }

  #body(): Json | null {
    return obj(this.#requestValue());
  }

  #rpcCall(): { method: string; params: unknown } | null {
    const e = this.#source.exchange;
    this.#rpc ??= { value: this.#source.protocols[e.protocol]?.jsonRpc?.(e, this.#body()) ?? null };
    return this.#rpc.value;
  }

  /** A protocol root: the exchange's protocol fills its own, the others hold their empty values. */
  protocolRoot(root: string, declared: Struct): Map<string, CelJson> {
    if (!this.#roots) {
      const e = this.#source.exchange;
      const rpc = this.#rpcCall();
      const input = { exchange: e, body: this.#body(), rpcMethod: rpc?.method ?? '', params: obj(rpc?.params), httpLine: this.#httpLine !== null };
      this.#roots = this.#source.protocols[e.protocol]?.bindings(input) ?? {};
    }
    return (this.#roots[root] ??= emptyStruct(declared));
  }

  #text(): string {
    const source = this.#source;
    this.#responseText ??= source.response?.body != null ? text(source.response.body) : (source.responseText ?? streamText(source.events ?? []));
    return this.#responseText;
  }

  get agent(): Map<string, CelJson> {
    const { exchange: e, agentLabels } = this.#source;
    this.#agent ??= new Map<string, CelJson>([['name', e.agent], ['labels', agentLabels ? new Map(Object.entries(agentLabels)) : recordedLabels(e.agent_labels)]]);
    return this.#agent;
  }

  get request(): Map<string, CelJson> {
    const source = this.#source;
    this.#request ??= new Map<string, CelJson>([
      ['method', this.#httpLine?.[1] ?? (this.#rpcCall() ? 'POST' : '')],
      ['path', source.path ?? this.#httpLine?.[2] ?? ''],
      ['headers', headerMap(source.request?.headers)],
      ['body', toCel(this.#requestValue())],
    ]);
    return this.#request;
  }

  get jsonrpc(): Map<string, CelJson> {
    if (!this.#jsonrpc) {
      const rpc = this.#rpcCall();
      this.#jsonrpc = new Map<string, CelJson>([
        ['method', rpc?.method ?? ''],
        ['id', rpc ? str(this.#body()?.id) || (this.#source.exchange.jsonrpc_id ?? '') : ''],
        ['params', rpc ? toCel(rpc.params ?? {}) : new Map()],
      ]);
    }
    return this.#jsonrpc;
  }

  get response(): Map<string, CelJson> {
    if (!this.#response) {
      const { exchange: e, response } = this.#source;
      this.#response = new Map<string, CelJson>([
        ['status', int(e.http_status)],
        ['headers', headerMap(response?.headers)],
        ['body', response?.body != null ? toCel(parseJson(this.#text())) : null],
        ['text', this.#text()],
        ['error', new Map([['code', e.error_code ?? ''], ['message', e.error_message ?? '']])],
      ]);
    }
    return this.#response;
  }

  get usage(): Map<string, CelJson> {
    if (!this.#usage) {
      const e = this.#source.exchange;
      const input = e.input_tokens ?? 0;
      const output = e.output_tokens ?? 0;
      this.#usage = new Map<string, CelJson>([
        ['input_tokens', int(input)],
        ['output_tokens', int(output)],
        ['total_tokens', int(input + output)],
        ['cost_usd', e.cost_usd ?? 0],
        ['estimated', e.tokens_estimated === 1],
      ]);
    }
    return this.#usage;
  }

  get jwt(): Map<string, CelJson> {
    this.#jwt ??= new Map([['claims', toCel(this.#source.jwtClaims ?? {})]]);
    return this.#jwt;
  }

  get identity(): Map<string, CelJson> {
    this.#identity ??= identityOf(this.#source.jwtClaims ?? {});
    return this.#identity;
  }

  get exchange(): Map<string, unknown> {
    if (!this.#exchange) {
      const e = this.#source.exchange;
      this.#exchange = new Map<string, unknown>([
        ['id', e.id ?? ''],
        ['status', e.status ?? 'ok'],
        ['started_at', this.now],
        ['duration_ms', e.duration_ms ?? 0],
        ['ttfb_ms', e.ttfb_ms ?? 0],
        ['target', e.target ?? ''],
        ['session_id', e.session_id ?? ''],
        ['http_status', int(e.http_status)],
        ['error_code', e.error_code ?? ''],
        ['replay_of', e.replay_of ?? ''],
      ]);
    }
    return this.#exchange;
  }
}

for (const root of Object.keys(PROTOCOL_ROOTS)) {
  const declared = VOCABULARY[root]!;
  if (typeof declared === 'string') continue;
  Object.defineProperty(ExchangeBindings.prototype, root, {
    get(this: ExchangeBindings) {
      return this.protocolRoot(root, declared);
    },
  });
}

/** The CEL bindings of an exchange (see ExchangeBindings): read a root by name, or list them all with contextRoots. */
export function buildContext(source: ContextSource): Bindings {
  return new ExchangeBindings(source) as unknown as Bindings;
}

/** Every root of a context by name, each built: for a caller that copies the whole context (policy tests' overlays). */
export function contextRoots(bindings: Bindings): Map<string, unknown> {
  return new Map(Object.keys(VOCABULARY).map((name) => [name, bindings[name]]));
}
