// The CEL vocabulary as a tree of declared fields: what policies, the TUI filter, replay
// selection and exports may name. The load-time checker rejects anything outside it, and
// the context builder (context.ts) fills in exactly these fields, never leaving one out.
export type Leaf = 'string' | 'int' | 'double' | 'bool' | 'timestamp' | 'dyn';
/** A field whose contents come from the wire (bodies, headers, claims): any key beneath is allowed. */
export type Open = 'map' | 'list';
export interface Struct {
  readonly [field: string]: Field;
}
export type Field = Leaf | Open | Struct;

export type Phase = 'request' | 'response';

/** The top-level variables, with the fields each declares. */
export const VOCABULARY: Struct = {
  protocol: 'string',
  direction: 'string',
  agent: { name: 'string', labels: 'map' },
  route: { name: 'string', upstream: 'string' },
  request: { method: 'string', path: 'string', headers: 'map', body: 'dyn' },
  jsonrpc: { method: 'string', id: 'string', params: 'dyn' },
  mcp: { method: 'string', tool: 'string', arguments: 'dyn', resource: 'string', prompt: 'string', session: 'string', server: 'string' },
  a2a: { method: 'string', task_id: 'string', context_id: 'string', text: 'string' },
  llm: { provider: 'string', operation: 'string', model: 'string', stream: 'bool', max_tokens: 'int', messages: 'list', tools: 'list' },
  response: { status: 'int', headers: 'map', body: 'dyn', text: 'string', error: { code: 'string', message: 'string' } },
  usage: { input_tokens: 'int', output_tokens: 'int', total_tokens: 'int', cost_usd: 'double', estimated: 'bool' },
  jwt: { claims: 'map' },
  identity: { subject: 'string', issuer: 'string', client_id: 'string', scopes: 'list', claims: 'map' },
  exchange: {
    id: 'string',
    status: 'string',
    started_at: 'timestamp',
    duration_ms: 'double',
    ttfb_ms: 'double',
    target: 'string',
    session_id: 'string',
    http_status: 'int',
    error_code: 'string',
    replay_of: 'string',
  },
  now: 'timestamp',
};

/** Variables only known once the response is in: naming one makes a rule a response-phase rule. */
export const RESPONSE_ONLY = new Set(['response', 'usage']);

/** The variables whose fields only one protocol fills in. */
export const PROTOCOL_ROOTS: Readonly<Record<string, 'llm' | 'mcp' | 'a2a'>> = { llm: 'llm', mcp: 'mcp', a2a: 'a2a' };
