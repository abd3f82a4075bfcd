// Credentials in URL query strings (?key=, ?api_key=, ?access_token=, X-Amz-Signature=, sig=)
// masked wherever a URL can reach the record: header values (an upstream's redirect
// `location`, `link`, `referer`), bodies (a redirect page or an error echoing the URL),
// stream events and the text columns. The query string of the request itself is stored
// only without its credential parameters (an LLM call's `details.query`, which replay sends
// again; the method column holds the path alone); these are URLs the record carries.
import type { ExchangeRecord, Payload } from './exchange.js';
import { isCredentialName, REDACTED } from './headers.js';

/**
 * One query parameter: its separator (`?`, `&`, `;` as in `&amp;`, percent-encoded `%3F` or
 * `%26`, JSON-escaped `\u0026`), its name, `=` (or `%3D`) and its value. Linear: every
 * quantifier is a single character class, and a match starts only at a separator.
 */
const QUERY_PARAM = /([?&;]|%3[fF]|%26|\\u0026)([A-Za-z0-9_.~+-]{1,200})(=|%3[dD])((?:(?!%26)[^&#\s"'<>\\])*)/g;

/** Query parameter names that hold a credential: the credential header words, and `key`, `sig`, `pwd`, `pass` as words. */
const QUERY_CREDENTIAL = /(^|[-_.])(key|sig|pwd|pass)([-_.]|$)/i;

function isCredentialParam(name: string): boolean {
  return isCredentialName(name) || QUERY_CREDENTIAL.test(name);
}

/** `text` with the values of credential query parameters masked; the same string when there are none. */
function maskQueryCredentials(text: string): string {
  // Most text holds no query at all: skip the scan.
  if (!text.includes('=') && !/%3d/i.test(text)) return text;
  return text.replace(QUERY_PARAM, (whole, separator: string, name: string, equals: string, value: string) =>
    value !== '' && value !== REDACTED && isCredentialParam(name) ? `${separator}${name}${equals}${REDACTED}` : whole,
  );
}

function maskPayload(payload: Payload | null): void {
  if (!payload) return;
  for (const [name, value] of Object.entries(payload.headers)) {
    payload.headers[name] = Array.isArray(value) ? value.map(maskQueryCredentials) : maskQueryCredentials(value);
  }
  if (!payload.body) return;
  // latin1 maps each byte to one character and back: a body that is not UTF-8 keeps its bytes.
  const text = payload.body.toString('latin1');
  const masked = maskQueryCredentials(text);
  if (masked !== text) payload.body = Buffer.from(masked, 'latin1');
}

/**
 * The query string of a request URL (`rest`: path and query) without its credential
 * parameters, for a replay to send again (the route supplies the credentials); '' when none is left.
 */
export function queryWithoutCredentials(rest: string): string {
  const mark = rest.indexOf('?');
  if (mark === -1) return '';
  return rest
    .slice(mark + 1)
    .split('&')
    .filter((param) => {
      const name = param.split('=', 1)[0]!;
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // a malformed escape: judged as written
      }
      return param !== '' && !isCredentialParam(decoded);
    })
    .join('&');
}

/** Masks query credentials everywhere in a record a URL can be: headers, bodies, events, text columns. */
export function redactQueryCredentials(record: ExchangeRecord): void {
  maskPayload(record.request);
  maskPayload(record.response);
  for (const event of record.events) event.data = maskQueryCredentials(event.data);
  const e = record.exchange;
  if (e.target !== null) e.target = maskQueryCredentials(e.target);
  if (e.error_message !== null) e.error_message = maskQueryCredentials(e.error_message);
  if (e.details !== null) e.details = maskQueryCredentials(e.details);
}
