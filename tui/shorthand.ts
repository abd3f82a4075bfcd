// The mitmproxy-style filter shorthand (`~proto mcp & !~denied`), compiled to a CEL
// expression over the shared vocabulary. The CEL is what runs and what the TUI shows;
// the shorthand is only a faster way to type the common cases.
import { ExpressionError } from '../policies/cel.js';

type Arg = 'text' | 'number' | 'none';

interface Shorthand {
  arg: Arg;
  help: string;
  cel: (value: string) => string;
}

const quote = (value: string): string => JSON.stringify(value);

/** Every shorthand filter: its argument and the CEL it stands for. */
export const SHORTHANDS: Readonly<Record<string, Shorthand>> = {
  proto: { arg: 'text', help: 'protocol is llm, mcp, a2a or http', cel: (v) => `protocol == ${quote(v)}` },
  route: { arg: 'text', help: 'route name is', cel: (v) => `route.name == ${quote(v)}` },
  agent: { arg: 'text', help: 'agent name is', cel: (v) => `agent.name == ${quote(v)}` },
  tool: { arg: 'text', help: 'MCP tool name contains', cel: (v) => `mcp.tool.contains(${quote(v)})` },
  model: { arg: 'text', help: 'LLM model contains', cel: (v) => `llm.model.contains(${quote(v)})` },
  target: { arg: 'text', help: 'target (tool, model, resource, skill) contains', cel: (v) => `exchange.target.contains(${quote(v)})` },
  method: {
    arg: 'text',
    help: 'MCP/A2A method or HTTP path contains',
    cel: (v) => `(mcp.method.contains(${quote(v)}) || a2a.method.contains(${quote(v)}) || request.path.contains(${quote(v)}))`,
  },
  status: {
    arg: 'text',
    help: 'status ok|error|denied|aborted, or an HTTP status code',
    cel: (v) => (/^\d{3}$/.test(v) ? `exchange.http_status == ${v}` : `exchange.status == ${quote(v)}`),
  },
  session: { arg: 'text', help: 'MCP session / A2A context id is', cel: (v) => `exchange.session_id == ${quote(v)}` },
  id: { arg: 'text', help: 'exchange id starts with', cel: (v) => `exchange.id.startsWith(${quote(v)})` },
  slow: { arg: 'number', help: 'took longer than N ms', cel: (v) => `exchange.duration_ms > ${Number(v).toFixed(1)}` },
  tokens: { arg: 'number', help: 'more than N tokens in and out', cel: (v) => `usage.total_tokens > ${Math.trunc(Number(v))}` },
  text: { arg: 'text', help: 'response text contains', cel: (v) => `response.text.contains(${quote(v)})` },
  denied: { arg: 'none', help: 'refused by a policy', cel: () => 'exchange.status == "denied"' },
  error: { arg: 'none', help: 'failed (status error)', cel: () => 'exchange.status == "error"' },
  s2c: { arg: 'none', help: 'sent by the server (MCP sampling, elicitation, notifications)', cel: () => 'direction == "server_to_client"' },
  stream: { arg: 'none', help: 'streamed LLM call', cel: () => 'llm.stream' },
};

/** True when the input is shorthand rather than CEL: its first term starts with `~`. */
export function isShorthand(input: string): boolean {
  return /^[\s!(]*~/.test(input);
}

type Token = { kind: '&' | '|' | '!' | '(' | ')'; at: number } | { kind: 'filter'; name: string; at: number } | { kind: 'word'; text: string; at: number };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if ('&|!()'.includes(c)) {
      tokens.push({ kind: c as '&', at: i });
      i++;
    } else if (c === '~') {
      const name = /^~([a-z0-9]*)/.exec(input.slice(i))![1]!;
      if (!name) throw new ExpressionError('expected a filter name after ~', i);
      tokens.push({ kind: 'filter', name, at: i });
      i += name.length + 1;
    } else if (c === '"' || c === "'") {
      const end = input.indexOf(c, i + 1);
      if (end < 0) throw new ExpressionError('unterminated quoted value', i);
      tokens.push({ kind: 'word', text: input.slice(i + 1, end), at: i });
      i = end + 1;
    } else {
      const word = /^[^\s&|!()]+/.exec(input.slice(i))![0];
      tokens.push({ kind: 'word', text: word, at: i });
      i += word.length;
    }
  }
  return tokens;
}

/** Compiles shorthand to CEL; throws ExpressionError with the 0-based offset of the problem. */
export function shorthandToCel(input: string): string {
  const tokens = tokenize(input);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const end = input.length;

  // Each part carries its precedence (0: ||, 1: &&, 2: a comparison, 3: a group or negation),
  // so parentheses appear only where CEL needs them.
  const orExpr = (): Part => {
    const parts = [andExpr()];
    while (peek()?.kind === '|') {
      pos++;
      parts.push(andExpr());
    }
    return parts.length === 1 ? parts[0]! : { cel: parts.map((p) => p.cel).join(' || '), prec: 0 };
  };
  const andExpr = (): Part => {
    const parts = [notExpr()];
    // `~a ~b` means `~a & ~b`, as in mitmproxy.
    for (let t = peek(); t && t.kind !== '|' && t.kind !== ')'; t = peek()) {
      if (t.kind === '&') pos++;
      parts.push(notExpr());
    }
    return parts.length === 1 ? parts[0]! : { cel: parts.map((p) => wrap(p, 1)).join(' && '), prec: 1 };
  };
  const notExpr = (): Part => {
    if (peek()?.kind === '!') {
      pos++;
      return { cel: `!${wrap(notExpr(), 3)}`, prec: 3 };
    }
    return atom();
  };
  const atom = (): Part => {
    const t = peek();
    if (!t) throw new ExpressionError('expected a filter such as ~proto mcp', end);
    pos++;
    if (t.kind === '(') {
      const inner = orExpr();
      if (peek()?.kind !== ')') throw new ExpressionError('expected )', peek()?.at ?? end);
      pos++;
      return { cel: `(${inner.cel})`, prec: 3 };
    }
    if (t.kind === 'word') throw new ExpressionError(`unexpected "${t.text}": filters start with ~ (known: ${knownNames()})`, t.at);
    if (t.kind !== 'filter') throw new ExpressionError(`unexpected ${t.kind}`, t.at);
    const filter = SHORTHANDS[t.name];
    if (!filter) throw new ExpressionError(`unknown filter ~${t.name} (known: ${knownNames()})`, t.at);
    if (filter.arg === 'none') return { cel: filter.cel(''), prec: 2 };
    const value = peek();
    if (value?.kind !== 'word') throw new ExpressionError(`~${t.name} needs a value (${filter.help})`, value?.at ?? end);
    pos++;
    if (filter.arg === 'number' && !/^\d+(\.\d+)?$/.test(value.text)) throw new ExpressionError(`~${t.name} needs a number, got "${value.text}"`, value.at);
    return { cel: filter.cel(value.text), prec: 2 };
  };

  const cel = orExpr().cel;
  const rest = peek();
  if (rest) throw new ExpressionError(`unexpected ${rest.kind === 'word' ? `"${rest.text}"` : rest.kind}`, rest.at);
  return cel;
}

interface Part {
  cel: string;
  prec: number;
}

function wrap(part: Part, min: number): string {
  return part.prec < min ? `(${part.cel})` : part.cel;
}

function knownNames(): string {
  return Object.keys(SHORTHANDS).map((n) => `~${n}`).join(' ');
}
