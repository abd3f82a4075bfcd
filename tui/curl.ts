// The selected exchange as a curl script that sends the recorded request again through the
// sidecar's route. Everything taken from the record is data to the shell, never code: words
// single-quoted, the body written to curl's stdin by printf (so a body starting with @ names
// no file, and a large one is no argument), comments with control characters escaped (a
// newline would end the comment). A path holding $(…) or a tool name holding a newline runs
// nothing. Credentials stay as the record holds them ("[redacted]"): the script says which
// headers need the real value, and never carries one.
import type { ExchangeRecord } from '../core/exchange.js';
import { REDACTED } from '../core/headers.js';

/** Headers curl or the HTTP stack sets itself. */
const SKIP = new Set(['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'accept-encoding', 'traceparent', 'tracestate']);

/** An HTTP field name (RFC 9110 token): anything else could not have been sent, and `-H @file` would read a file. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A single-quoted shell word. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** C0 and C1 controls, DEL, and the Unicode line and paragraph separators. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
}

/** Recorded text inside a `#` comment: control and line-separating characters escaped (a newline would end the comment). */
function commentText(text: string): string {
  return [...text].map((c) => (isControl(c.charCodeAt(0)) ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('');
}

/** A printf format that writes exactly `body`: `\` and `%` doubled, control bytes (and bytes of invalid UTF-8) in octal. */
function printfFormat(body: Buffer): string {
  const text = body.toString('utf8');
  const exact = Buffer.from(text, 'utf8').equals(body);
  const octal = (byte: number): string => `\\${byte.toString(8).padStart(3, '0')}`;
  if (!exact) return [...body].map((b) => (b >= 0x20 && b < 0x7f ? escapePrintable(String.fromCharCode(b)) : octal(b))).join('');
  // Tabs and newlines stay as they are, so a JSON body stays readable.
  const literal = (c: string): boolean => c === '\t' || c === '\n' || (c.charCodeAt(0) >= 0x20 && c !== '\u007f');
  return [...text].map((c) => (literal(c) ? escapePrintable(c) : octal(c.charCodeAt(0)))).join('');
}

function escapePrintable(c: string): string {
  return c === '\\' ? '\\\\' : c === '%' ? '%%' : c;
}

/**
 * curl for the recorded request, against `${TAPWIRE_URL}` (the sidecar, default
 * http://127.0.0.1:4100) and the exchange's route. LLM and HTTP records carry the path under
 * the route; JSON-RPC records (MCP, A2A) do not, so those post to the route's root.
 */
export function curlCommand(record: ExchangeRecord): string {
  const e = record.exchange;
  const http = /^([A-Z]+) (\S+)$/.exec(e.method ?? '');
  const verb = http?.[1] ?? 'POST';
  const path = http?.[2] ?? '';
  const recorded = Object.entries(record.request?.headers ?? {}).filter(([name]) => !SKIP.has(name.toLowerCase()));
  const headers = recorded.filter(([name]) => HEADER_NAME.test(name));
  const redacted = headers.filter(([, value]) => value === REDACTED).map(([name]) => name);
  const body = record.request?.body;
  const lines = [
    '#!/bin/sh',
    `# tapwire exchange ${commentText(e.id)}: ${commentText(`${e.protocol} ${e.method ?? ''} ${e.target ?? ''} (${e.status})`)}, recorded ${new Date(e.started_at).toISOString()}`,
    ...(redacted.length > 0 ? [`# ${commentText(redacted.join(', '))}: redacted in the record; put the real value in before sending`] : []),
    ...(headers.length < recorded.length ? [`# ${recorded.length - headers.length} recorded header(s) with a name HTTP does not allow are left out`] : []),
    ...(http ? [] : ['# JSON-RPC records do not keep the path under the route: add it to the URL if the server needs one (e.g. /mcp)']),
    ...(record.request?.truncated ? ['# the recorded body was truncated: this is not the whole request'] : []),
    ...(body && body.length > 0 ? ['# the body, byte for byte, on curl\'s stdin (printf: \\\\ is \\, %% is %, \\NNN an octal byte)', `printf ${shellQuote(printfFormat(body))} |`] : []),
    `curl -sS -X ${shellQuote(verb)} "\${TAPWIRE_URL:-http://127.0.0.1:4100}"${shellQuote(`/${e.route}${path}`)} \\`,
    ...headers.map(([name, value]) => `  -H ${shellQuote(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`)} \\`),
  ];
  if (body && body.length > 0) lines.push('  --data-binary @-');
  else lines[lines.length - 1] = lines[lines.length - 1]!.replace(/ \\$/, '');
  return `${lines.join('\n')}\n`;
}
