// Unit tests of agent-card handling: tapwire's canonical form of a card equals what
// @a2a-js/sdk signs (so SDK-signed cards verify without the SDK), and interface URLs of
// every card shape are rewritten to the tapwire route.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalizeAgentCard, type AgentCard } from '@a2a-js/sdk';
import { canonicalCardV1 } from '../../protocols/a2a/canonical.js';
import { rewriteCard, type UrlMapping } from '../../protocols/a2a/card.js';

const base = {
  name: 'Planner',
  description: 'plans',
  version: '1.0.0',
  supportedInterfaces: [
    { url: 'http://up:9000/a2a/jsonrpc', protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
    { url: 'http://up:9000/a2a/rest', protocol_binding: 'HTTP+JSON', protocolVersion: '0.3' },
  ],
  capabilities: { streaming: false, pushNotifications: true, extensions: [{ uri: 'urn:x', required: false, params: { a: '', b: [1, { c: null }] } }] },
  securitySchemes: {
    key: { apiKeySecurityScheme: { location: 'header', name: 'x-key', description: '' } },
    oauth: { oauth2_security_scheme: { flows: { authorizationCode: { authorizationUrl: 'https://a', tokenUrl: 'https://t', scopes: { read: 'Read' }, pkceRequired: false } } } },
    http: { httpAuthSecurityScheme: { scheme: 'bearer', bearer_format: 'JWT' } },
  },
  securityRequirements: [{ schemes: { key: { list: [] }, oauth: { list: ['read'] } } }],
  defaultInputModes: ['text'],
  default_output_modes: ['text', 'application/json'],
  skills: [{ id: 'plan', name: 'Plan', description: '', tags: ['p'], examples: [], input_modes: ['text'] }],
  provider: { organization: 'acme', url: 'https://acme.example' },
  documentationUrl: '',
  iconUrl: 'https://acme.example/icon.png',
  signatures: [{ protected: 'x', signature: 'y' }],
  // v0.3 fields of a hybrid card, and unknown fields: not covered by the signature.
  url: 'http://up:9000/a2a/jsonrpc',
  additionalInterfaces: [{ url: 'http://up:9000/a2a/rest', transport: 'HTTP+JSON' }],
  preferredTransport: 'JSONRPC',
  protocolVersion: '0.3',
  somethingNew: { x: 1 },
};

describe('agent card canonical form', () => {
  test('matches @a2a-js/sdk canonicalizeAgentCard for v1.0, hybrid and minimal cards', () => {
    const cards: Record<string, unknown>[] = [
      base,
      { name: 'Min', supportedInterfaces: [] },
      { ...base, capabilities: { extendedAgentCard: true }, securitySchemes: { m: { mtlsSecurityScheme: {} }, o: { openIdConnectSecurityScheme: { openIdConnectUrl: 'https://o' } } } },
      { ...base, skills: [{ id: 7, name: 'Seven', securityRequirements: [{ schemes: {} }] }] },
    ];
    for (const card of cards) assert.equal(canonicalCardV1(card), canonicalizeAgentCard(card as unknown as AgentCard));
  });
});

describe('agent card rewriting', () => {
  const mapping: UrlMapping = { upstreamOrigin: 'http://up:9000', upstreamBasePath: '', routeUrl: 'http://127.0.0.1:4100/planner' };

  test('rewrites v0.3 url, additionalInterfaces and v1.0 supportedInterfaces; keeps other URLs', () => {
    const out = rewriteCard({ ...base, supportedInterfaces: [...base.supportedInterfaces, { url: 'https://elsewhere/a2a' }] }, mapping, true);
    assert.equal(out.card.url, 'http://127.0.0.1:4100/planner/a2a/jsonrpc');
    assert.deepEqual(
      (out.card.additionalInterfaces as { url: string }[]).map((i) => i.url),
      ['http://127.0.0.1:4100/planner/a2a/rest'],
    );
    assert.deepEqual(
      (out.card.supportedInterfaces as { url: string }[]).map((i) => i.url),
      ['http://127.0.0.1:4100/planner/a2a/jsonrpc', 'http://127.0.0.1:4100/planner/a2a/rest', 'https://elsewhere/a2a'],
    );
    assert.deepEqual(out.outside, ['https://elsewhere/a2a']);
    assert.equal(out.rewritten.length, 4);
    assert.equal(out.card.signatures, undefined);
    assert.deepEqual(out.card.provider, base.provider);
    assert.equal(base.url, 'http://up:9000/a2a/jsonrpc', 'the input card is not changed');
  });

  test('an upstream with a base path maps only URLs under it', () => {
    const withPath: UrlMapping = { ...mapping, upstreamBasePath: '/agents/planner' };
    const out = rewriteCard({ name: 'P', url: 'http://up:9000/agents/planner/rpc', additionalInterfaces: [{ url: 'http://up:9000/other' }] }, withPath, false);
    assert.equal(out.card.url, 'http://127.0.0.1:4100/planner/rpc');
    assert.deepEqual(out.outside, ['http://up:9000/other']);
  });
});
