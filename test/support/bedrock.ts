// Test helpers for Bedrock: the runtime SDK client as an agent configures it, the AWS event
// stream frames a captured answer is served in, and a SigV4 check of what an upstream received.
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { Hash } from '@smithy/hash-node';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { encodeEventFrame } from '../../core/eventstream.js';
import type { ReceivedRequest } from './upstream.js';

/** The agent's own AWS credentials: its SDK signs with them. */
export const AGENT_KEY_ID = 'AKIAAGENTOWNKEY00001';
export const AGENT_SECRET = 'agent-own-secret-access-key-0001';

/**
 * The client as an agent configures it, pointed at `endpoint`. The SDK's default handler for
 * this client speaks HTTP/2, which neither aimock nor tapwire's listener serve: HTTP/1.1 here.
 */
export function bedrockClient(endpoint: string, maxAttempts = 3, credentials: AwsCredentials = { accessKeyId: AGENT_KEY_ID, secretAccessKey: AGENT_SECRET }): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint,
    maxAttempts,
    credentials,
    requestHandler: new NodeHttpHandler(),
  });
}

/**
 * The `x-amzn-errortype` header of the answer an AWS SDK error came from (the SDK keeps the
 * raw response on the error as `$response`): AWS sends the exception's type there, and the
 * SDK reads it before the body.
 */
export function errorTypeHeader(error: unknown): string | undefined {
  const response = (error as { $response?: { headers?: Record<string, string> } } | null)?.$response;
  return response?.headers?.['x-amzn-errortype'];
}

/** InvokeModelWithResponseStream's frames as Bedrock sends them: each chunk `{bytes: base64 of the model's JSON}` (encodeEventFrame encodes it). */
export function invokeStreamFrames(chunks: readonly unknown[]): Buffer {
  return Buffer.concat(chunks.map((chunk) => encodeEventFrame('chunk', JSON.stringify(chunk))));
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The Authorization header AWS would compute for `received` (as the upstream got it, at
 * `origin`) with `credentials`: the headers its signature names, signed again at its own
 * x-amz-date. Equal to the received one only when the signature verifies.
 */
export async function expectedAuthorization(received: ReceivedRequest, origin: string, credentials: AwsCredentials, region: string): Promise<string> {
  const authorization = String(received.headers.authorization ?? '');
  const names = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const headers = Object.fromEntries(names.map((name) => [name, String(received.headers[name] ?? '')]));
  const url = new URL(received.url, origin);
  const amzDate = String(received.headers['x-amz-date']);
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13)}`);
  const signer = new SignatureV4({ service: 'bedrock', region, sha256: Hash.bind(null, 'sha256'), credentials });
  const signed = await signer.sign(
    {
      method: received.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: received.body,
    },
    { signingDate },
  );
  return String(signed.headers.authorization);
}
