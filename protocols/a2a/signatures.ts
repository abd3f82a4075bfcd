// Verifies the JWS signatures of a signed agent card (detached payload: the canonical card)
// with the signer's key, fetched from the `jku` its protected header names. The verdict is
// recorded; it never blocks the card. A key that cannot be fetched in time makes the card
// 'unverifiable', not 'invalid'.
import * as jose from 'jose';
import { canonicalCardAsSent, canonicalCardV1 } from './canonical.js';

export type SignatureVerdict = 'valid' | 'invalid' | 'unverifiable';

export interface SignatureCheck {
  verdict: SignatureVerdict;
  /** How many signatures the card carries. */
  signatures: number;
  /** Why, in a sentence (for the record). */
  detail: string;
  /** From the protected header of the signature that decided the verdict. */
  kid: string | null;
  jku: string | null;
}

interface SignatureEntry {
  protected: string;
  signature: string;
  header?: jose.JWSHeaderParameters;
}

function entriesOf(card: Record<string, unknown>): SignatureEntry[] {
  const list = Array.isArray(card.signatures) ? (card.signatures as unknown[]) : [];
  return list.filter(
    (s): s is SignatureEntry =>
      s !== null && typeof s === 'object' && typeof (s as SignatureEntry).protected === 'string' && typeof (s as SignatureEntry).signature === 'string',
  );
}

/** True for the v0.3 form of a card (what a dual-version server sends without `A2A-Version: 1.0`). */
function isV03Form(card: Record<string, unknown>): boolean {
  return typeof card.url === 'string' || (typeof card.protocolVersion === 'string' && card.protocolVersion.startsWith('0.'));
}

export class CardSignatureVerifier {
  private readonly keySets = new Map<string, ReturnType<typeof jose.createRemoteJWKSet>>();

  /** `timeoutMs` bounds each fetch of a signer's key set. */
  constructor(private readonly timeoutMs = 3000) {}

  private keySet(jku: string): ReturnType<typeof jose.createRemoteJWKSet> {
    let set = this.keySets.get(jku);
    if (!set) {
      set = jose.createRemoteJWKSet(new URL(jku), { timeoutDuration: this.timeoutMs, cooldownDuration: 30_000 });
      this.keySets.set(jku, set);
    }
    return set;
  }

  async verify(card: Record<string, unknown>): Promise<SignatureCheck> {
    const entries = entriesOf(card);
    const checks: SignatureCheck[] = [];
    // Signed by @a2a-js/sdk 1.x (the v1.0 proto form), or over the card as sent (the v0.3 specification).
    const payloads = [...new Set([canonicalCardV1(card), canonicalCardAsSent(card)])].map((p) => jose.base64url.encode(p));
    for (const entry of entries) {
      const check = await this.verifyOne(entry, payloads, entries.length);
      if (check.verdict === 'valid') return check;
      checks.push(check);
    }
    if (checks.length === 0) {
      return { verdict: 'invalid', signatures: 0, detail: 'the card has no well-formed signature', kid: null, jku: null };
    }
    const invalid = checks.find((c) => c.verdict === 'invalid');
    if (invalid && isV03Form(card)) {
      return {
        ...invalid,
        verdict: 'unverifiable',
        detail: 'the signature does not match this v0.3 form of the card; dual-version servers sign the v1.0 form (fetch it with A2A-Version: 1.0)',
      };
    }
    return invalid ?? checks[0]!;
  }

  private async verifyOne(entry: SignatureEntry, payloads: string[], count: number): Promise<SignatureCheck> {
    let header: jose.ProtectedHeaderParameters;
    try {
      header = jose.decodeProtectedHeader({ protected: entry.protected, signature: entry.signature, payload: '' });
    } catch (err) {
      return { verdict: 'invalid', signatures: count, detail: `malformed protected header: ${(err as Error).message}`, kid: null, jku: null };
    }
    const kid = typeof header.kid === 'string' ? header.kid : null;
    const jku = typeof header.jku === 'string' ? header.jku : null;
    const result = (verdict: SignatureVerdict, detail: string): SignatureCheck => ({ verdict, signatures: count, detail, kid, jku });
    if (!header.alg || !kid || !header.typ) return result('invalid', 'the protected header lacks alg, kid or typ');
    if (!jku) return result('unverifiable', "the protected header names no jku, so tapwire cannot fetch the signer's key");
    if (!/^https?:\/\//i.test(jku)) return result('unverifiable', `jku ${jku} is not an http(s) URL`);
    for (const payload of payloads) {
      try {
        await jose.flattenedVerify({ protected: entry.protected, signature: entry.signature, payload, ...(entry.header ? { header: entry.header } : {}) }, this.keySet(jku));
        return result('valid', `signature by ${kid} verified with the key from ${jku}`);
      } catch (err) {
        if (err instanceof jose.errors.JWSSignatureVerificationFailed) continue;
        if (err instanceof jose.errors.JWKSNoMatchingKey) return result('unverifiable', `${jku} has no key ${kid} for ${header.alg}`);
        return result('unverifiable', `cannot fetch the signer's key from ${jku}: ${(err as Error).message}`);
      }
    }
    return result('invalid', `the signature by ${kid} does not match the card`);
  }
}
