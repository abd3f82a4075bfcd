// Integration test of signed agent cards through tapwire: an @a2a-js/sdk 1.3.0 agent signs
// its cards (ES256, the key served as a JWKS on 127.0.0.1 and named by the `jku` header).
// With signed_cards: strip (the default) the agent's client gets a card pointing at tapwire,
// without signatures, and the record says the signature was valid and stripped. With
// signed_cards: pass the card arrives byte for byte as signed and still verifies.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import { generateAgentCardSignature, verifyAgentCardSignature, type AgentCard } from '@a2a-js/sdk';
import type { Exchange } from '../../core/exchange.js';
import { one } from '../support/mcp.js';
import { closedPortUrl } from '../support/upstream.js';
import { AGENT_NAME, sendRequest, startA2aAgent, startA2aTapwire, v1Client } from '../support/a2a.js';

interface Signer {
  jku: string;
  sign: ReturnType<typeof generateAgentCardSignature>;
  verify: ReturnType<typeof verifyAgentCardSignature>;
}

/** An ES256 key, its JWKS served on 127.0.0.1 (or `jku` pointing where nothing listens), and the SDK's signer and verifier. */
async function startSigner(t: TestContext, reachable = true): Promise<Signer> {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  let jku = `${await closedPortUrl()}/.well-known/jwks.json`;
  if (reachable) {
    const jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => jwks.close(() => resolve())));
    jku = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  }
  return {
    jku,
    sign: generateAgentCardSignature(privateKey, { alg: 'ES256', kid: 'k1', typ: 'JOSE', jku }),
    verify: verifyAgentCardSignature(() => Promise.resolve(publicKey)),
  };
}

function details(e: Exchange): { version?: string; card?: Record<string, unknown> & { signature?: { verdict: string } }; warnings?: string[] } {
  return JSON.parse(e.details ?? '{}') as ReturnType<typeof details>;
}

/** The SDK logs each failed signature at debug level; keep test output quiet. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const debug = console.debug;
  console.debug = () => undefined;
  try {
    return await run();
  } finally {
    console.debug = debug;
  }
}

describe('signed agent cards through tapwire', () => {
  test('signed_cards: strip (default): the client gets a rewritten card without signatures; the record says valid and stripped', async (t) => {
    const signer = await startSigner(t);
    const agent = await startA2aAgent({ sign: signer.sign });
    t.after(() => agent.close());
    const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin } });

    // The agent's SDK client works through tapwire, building itself from the rewritten card.
    const client = await v1Client(`${tapwire.url}/planner/`, 'JSONRPC');
    const task = await client.sendMessage(sendRequest('hello'));
    assert.equal('id' in task && task.status?.state !== undefined, true);

    const res = await fetch(`${tapwire.url}/planner/.well-known/agent-card.json`, { headers: { 'A2A-Version': '1.0' } });
    const card = (await res.json()) as AgentCard;
    assert.equal(card.name, AGENT_NAME);
    assert.equal(card.signatures, undefined, 'the signatures are gone');
    assert.ok(card.supportedInterfaces.every((i) => i.url.startsWith(`${tapwire.url}/planner/a2a/`)));
    // A client that insists on a signature notices.
    await assert.rejects(quietly(() => signer.verify(card)), /No signatures found/);

    // The v0.3 (hybrid) form a client without A2A-Version gets carries the signature of the v1.0 form.
    const hybrid = (await (await fetch(`${tapwire.url}/planner/.well-known/agent-card.json`)).json()) as { url: string; signatures?: unknown };
    assert.deepEqual([hybrid.url, hybrid.signatures], [`${tapwire.url}/planner/a2a/jsonrpc`, undefined]);

    const exchanges = await tapwire.stop();
    const cards = exchanges.filter((e) => e.method === 'GetAgentCard');
    assert.equal(cards.length, 3);
    for (const e of cards) {
      const d = details(e);
      assert.equal(d.card?.action, 'rewritten');
      assert.equal(d.card?.signatures_stripped, true);
      assert.ok(d.warnings?.some((w) => w.startsWith('signatures stripped')));
    }
    const verdicts = cards.map((e) => [details(e).version, details(e).card?.signature?.verdict]);
    assert.deepEqual(verdicts, [['1.0', 'valid'], ['1.0', 'valid'], ['0.3', 'unverifiable']]);
    assert.ok(one(exchanges, { method: 'SendMessage' }).task_id);
  });

  test('signed_cards: pass: the card arrives byte for byte as the agent signed it and still verifies', async (t) => {
    const signer = await startSigner(t);
    const agent = await startA2aAgent({ sign: signer.sign });
    t.after(() => agent.close());
    const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin, signed_cards: 'pass' } });

    const res = await fetch(`${tapwire.url}/planner/.well-known/agent-card.json`, { headers: { 'A2A-Version': '1.0' } });
    assert.ok(res.headers.get('etag'), "the agent's ETag is kept: nothing changed");
    const bytes = Buffer.from(await res.arrayBuffer());
    const card = JSON.parse(bytes.toString('utf8')) as AgentCard;
    await quietly(() => signer.verify(card));
    assert.ok(card.supportedInterfaces.every((i) => i.url.startsWith(agent.origin)), 'the URLs still name the agent');

    const [e] = await tapwire.stop();
    const upstreamBytes = Buffer.from(tapwire.record(e!.id).response!.body!);
    assert.deepEqual(bytes, upstreamBytes, 'the agent received exactly what the upstream sent');
    const d = details(e!);
    assert.deepEqual([d.card?.action, d.card?.signature?.verdict], ['passed', 'valid']);
    assert.ok(d.warnings?.some((w) => w.includes('bypass tapwire')));
  });

  test("a signer's key that cannot be fetched: the card is still served, and recorded as unverifiable", async (t) => {
    const signer = await startSigner(t, false);
    const agent = await startA2aAgent({ sign: signer.sign });
    t.after(() => agent.close());
    const tapwire = await startA2aTapwire(t, { planner: { upstream: agent.origin } });
    const res = await fetch(`${tapwire.url}/planner/.well-known/agent-card.json`, { headers: { 'A2A-Version': '1.0' } });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    // The v0.3 (hybrid) form carries the signature of the v1.0 form: tapwire cannot check it there.
    const hybrid = await fetch(`${tapwire.url}/planner/.well-known/agent-card.json`);
    assert.equal(hybrid.status, 200);
    await hybrid.body?.cancel();
    const exchanges = await tapwire.stop();
    for (const e of exchanges) assert.equal(details(e).card?.signature?.verdict, 'unverifiable');
  });
});
