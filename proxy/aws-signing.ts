// AWS SigV4 for routes with `aws` credentials (Bedrock): a signature covers the host, the path
// and the body, so the one an agent made for tapwire's address cannot reach AWS. Each call is
// signed again with the route's credentials, after every header tapwire sends is final; the
// agent's signature headers are dropped first. Signed with @smithy/signature-v4, the signer
// the AWS SDKs use. The credentials live here and in the config only: never in a record.
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsSigningConfig } from '../config/config.js';
import type { HeaderMap } from '../core/headers.js';
import type { Route } from '../protocols/route.js';

/** What an agent's own SigV4 signature put on its request: replaced, never forwarded. */
const AGENT_SIGNATURE = ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'];

export class AwsSigner {
  private readonly signer: SignatureV4;

  constructor(aws: AwsSigningConfig) {
    this.signer = new SignatureV4({
      service: aws.service,
      region: aws.region,
      sha256: Hash.bind(null, 'sha256'),
      credentials: { accessKeyId: aws.access_key_id, secretAccessKey: aws.secret_access_key, sessionToken: aws.session_token },
    });
  }

  /** The headers to send `upstream` for `method` `path` (with its query) and `body`: the agent's signature replaced by the route's. */
  async sign(method: string, upstream: URL, path: string, headers: HeaderMap, body: Buffer | null): Promise<HeaderMap> {
    const unsigned: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!AGENT_SIGNATURE.includes(name)) unsigned[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    unsigned.host = upstream.host;
    const queryAt = path.indexOf('?');
    const query: Record<string, string | string[]> = {};
    if (queryAt >= 0) {
      for (const [name, value] of new URLSearchParams(path.slice(queryAt + 1))) {
        const seen = query[name];
        query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
      }
    }
    const signed = await this.signer.sign({
      method,
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port === '' ? undefined : Number(upstream.port),
      path: queryAt >= 0 ? path.slice(0, queryAt) : path,
      query,
      headers: unsigned,
      body: body ?? undefined,
    });
    return signed.headers;
  }
}

const signers = new WeakMap<Route, AwsSigner>();

/** The signer of a route with `aws` credentials (one per route), or null. */
export function routeSigner(route: Route): AwsSigner | null {
  const aws = route.aws;
  if (!aws) return null;
  let signer = signers.get(route);
  if (!signer) signers.set(route, (signer = new AwsSigner(aws)));
  return signer;
}
