// WWW-Authenticate Bearer challenges (RFC 6750 §3, RFC 9728 §5.1): the ones tapwire sends as
// a gateway, and the upstream's, relayed with resource_metadata pointed at tapwire so the
// client discovers through tapwire (which then decides whether the upstream's metadata may
// be presented as tapwire's: resource-metadata.ts).

export interface Challenge {
  /** No error code for a request that carried no token (RFC 6750 §3.1). */
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
  description?: string;
  /** The scopes the call needs. */
  scope?: readonly string[];
  resourceMetadata: string;
}

/** A quoted-string parameter's value: no quote or backslash to escape, no control characters. */
function quoted(value: string): string {
  return `"${[...value].map((c) => (c === '"' || c === '\\' || c < ' ' || c === '\u007f' ? "'" : c)).join('')}"`;
}

export function bearerChallenge(challenge: Challenge): string {
  const params: string[] = [];
  if (challenge.error) params.push(`error=${quoted(challenge.error)}`);
  if (challenge.description) params.push(`error_description=${quoted(challenge.description)}`);
  if (challenge.scope && challenge.scope.length > 0) params.push(`scope=${quoted(challenge.scope.join(' '))}`);
  params.push(`resource_metadata=${quoted(challenge.resourceMetadata)}`);
  return `Bearer ${params.join(', ')}`;
}

const RESOURCE_METADATA = /(\bresource_metadata\s*=\s*)("(?:[^"\\]|\\.)*"|[^\s,]+)/gi;

/** An upstream's challenge with its resource_metadata (when it names one) replaced by `url`; everything else as the upstream wrote it. */
export function pointedAt(header: string, url: string): string {
  return header.replace(RESOURCE_METADATA, (_match, name: string) => `${name}${quoted(url)}`);
}
