// Header handling between agent and upstream: hop-by-hop headers stay on their own hop,
// and credentials never reach the record in clear.
import type { IncomingHttpHeaders } from 'node:http';

export type HeaderMap = Record<string, string | string[]>;

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect', 'http2-settings',
]);

/**
 * `tapwire replay` names the exchange a request replays in this header; the sidecar records
 * it as `replay_of` and never forwards it.
 */
export const REPLAY_OF_HEADER = 'x-tapwire-replay-of';

/**
 * Credential headers the name rule below does not catch (or that must hold whatever it
 * becomes): the providers' documented auth headers. Azure OpenAI, Pinecone and Qdrant take
 * `api-key`; Google `x-goog-api-key`; Azure Functions `x-functions-key`; Azure API
 * Management and Azure AI services `ocp-apim-subscription-key`; Datadog
 * `dd-application-key`; Honeycomb `x-honeycomb-team`; New Relic `x-insert-key` and
 * `x-license-key`. Most others (OpenAI, Cohere, Mistral, Groq, AWS Bedrock keys ...) use
 * `authorization`; AWS's `x-amz-security-token` and ElevenLabs' `xi-api-key` match the rule.
 */
export const DEFAULT_REDACTED = [
  'authorization', 'x-api-key', 'api-key', 'cookie', 'set-cookie', 'proxy-authorization', 'x-goog-api-key',
  'x-functions-key', 'ocp-apim-subscription-key', 'dd-application-key', 'x-honeycomb-team', 'x-insert-key', 'x-license-key',
];

export const REDACTED = '[redacted]';

/**
 * Header names that carry a credential whatever the service calls them (x-auth-token,
 * x-amz-security-token, x-custom-api-key ...): a whole word of the name says so. "tokens"
 * is not one, so rate-limit headers such as x-ratelimit-remaining-tokens stay readable.
 */
const CREDENTIAL_NAME = /(^|[-_])(auth|authorization|token|secret|password|passwd|api[-_]?key|apikey|access[-_]?key|private[-_]?key|credentials?|cookie|signature)([-_]|$)/i;

/** True when a name (of a header or a query parameter) has a credential word in it. */
export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

export function isCredentialHeader(name: string, redacted: ReadonlySet<string>): boolean {
  return redacted.has(name) || isCredentialName(name);
}

/**
 * Copies headers for the next hop: drops hop-by-hop headers, those the Connection header
 * names, and `drop` (e.g. content-length when the body was rewritten).
 */
export function forwardableHeaders(headers: IncomingHttpHeaders | HeaderMap, drop: readonly string[] = []): HeaderMap {
  const named = headers.connection;
  const listed = new Set(
    (Array.isArray(named) ? named.join(',') : (named ?? '')).split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
  );
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name) || drop.includes(name) || name === REPLAY_OF_HEADER) continue;
    out[name] = value;
  }
  return out;
}

/** A copy of `headers` with every credential header's value replaced. */
export function redactHeaders(headers: IncomingHttpHeaders | HeaderMap, redacted: ReadonlySet<string>): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = isCredentialHeader(name, redacted) ? REDACTED : value;
  }
  return out;
}
