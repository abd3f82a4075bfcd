// Unit tests of the a2a route options in tapwire.yaml: signed_cards takes strip or pass, and
// only a2a routes have it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../config/config.js';

const route = (protocol: string, signedCards: string) =>
  `routes:\n  planner:\n    protocol: ${protocol}\n    upstream: http://127.0.0.1:9000\n    signed_cards: ${signedCards}\n`;

describe('a2a route config', () => {
  test('signed_cards: pass is accepted on an a2a route; unset means strip', () => {
    assert.equal(parseConfig(route('a2a', 'pass'), 't.yaml').routes.planner!.signed_cards, 'pass');
    assert.equal(parseConfig('routes:\n  planner: { protocol: a2a, upstream: "http://127.0.0.1:9000" }\n', 't.yaml').routes.planner!.signed_cards, undefined);
  });

  test('signed_cards on another protocol, or with another value, is an error naming the field', () => {
    assert.throws(() => parseConfig(route('llm', 'pass'), 't.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /t\.yaml:\d+:\d+: routes\.planner\.signed_cards: only routes with protocol a2a have signed_cards/);
      return true;
    });
    assert.throws(() => parseConfig(route('a2a', 'keep'), 't.yaml'), /routes\.planner\.signed_cards: .*"strip"\|"pass"/);
  });
});
