// Unbalanced brackets in a CEL expression, found by a scan that skips string and bytes
// literals and comments. The parser reports an unclosed `(` far from it ("found = but
// expecting end of input" at column 3 of `a == (1 + 2`); this names the bracket instead.

const CLOSING: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const OPENING: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

interface BracketProblem {
  message: string;
  /** 0-based offset of the bracket at fault. */
  offset: number;
}

/** The first unbalanced bracket of `source`, or null when they all pair up. */
export function bracketProblem(source: string): BracketProblem | null {
  const open: { char: string; offset: number }[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i);
      i = end < 0 ? source.length : end + 1;
    } else if (c === '"' || c === "'") {
      i = afterString(source, i);
    } else if (CLOSING[c]) {
      open.push({ char: c, offset: i++ });
    } else if (OPENING[c]) {
      const last = open.pop();
      if (!last) return { message: `'${c}' without a matching '${OPENING[c]}'`, offset: i };
      if (last.char !== OPENING[c]) return { message: `unclosed '${last.char}': found '${c}' before its '${CLOSING[last.char]}'`, offset: last.offset };
      i++;
    } else i++;
  }
  const unclosed = open.pop();
  return unclosed ? { message: `unclosed '${unclosed.char}'`, offset: unclosed.offset } : null;
}

/** The offset after the string literal opening at `start` (triple quotes, raw prefixes, escapes). */
function afterString(source: string, start: number): number {
  const quote = source[start]!;
  const raw = /[rR]/.test(source[start - 1] ?? ''); // r"...", br"..."
  const delimiter = source.startsWith(quote.repeat(3), start) ? quote.repeat(3) : quote;
  let i = start + delimiter.length;
  while (i < source.length) {
    if (!raw && source[i] === '\\') i += 2;
    else if (source.startsWith(delimiter, i)) return i + delimiter.length;
    else if (delimiter.length === 1 && source[i] === '\n') return i; // an unterminated string: the parser says so
    else i++;
  }
  return source.length;
}
