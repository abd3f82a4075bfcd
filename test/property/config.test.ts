// Property-based tests of the config loader (fast-check): any text, any YAML document and any
// tree of the config's own keys with values of any type is either a valid config or a
// ConfigError whose every line names the file (and, for a field, its line and path): never
// another exception. A YAML alias bomb is refused without being expanded.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../config/config.js';

function parsesOrExplains(text: string): void {
  try {
    parseConfig(text, 'prop.yaml', {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const lines = err.message.split('\n');
    assert.match(lines[0]!, /^invalid (config|YAML)$/);
    for (const line of lines.slice(1)) assert.match(line, /^prop\.yaml(:\d+:\d+)?: /, line);
  }
}

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string(), fc.constant('${UNSET_VARIABLE}'), fc.constant('${X:-fallback}'));
const route = fc.record(
  {
    protocol: fc.oneof(fc.constantFrom('llm', 'mcp', 'a2a', 'http'), anyValue),
    upstream: fc.oneof(fc.webUrl(), anyValue),
    command: anyValue,
    provider: fc.oneof(fc.constantFrom('openai', 'anthropic'), anyValue),
    headers: fc.oneof(fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }), anyValue),
    timeouts: fc.oneof(fc.record({ connect_ms: anyValue, response_ms: anyValue }, { requiredKeys: [] }), anyValue),
    require_identity: anyValue,
  },
  { requiredKeys: [] },
);
const configTree = fc.record(
  {
    listen: fc.oneof(fc.constantFrom('127.0.0.1:4100', '0.0.0.0:80', '[::1]:1'), anyValue),
    agent: fc.oneof(fc.record({ name: anyValue, labels: anyValue }, { requiredKeys: [] }), anyValue),
    store: fc.oneof(fc.record({ path: anyValue, max_body_bytes: anyValue, redact_headers: anyValue }, { requiredKeys: [] }), anyValue),
    auth: fc.oneof(fc.record({ tokens: anyValue, header: anyValue }, { requiredKeys: [] }), anyValue),
    admin: fc.oneof(fc.record({ listen: anyValue, token: anyValue }, { requiredKeys: [] }), anyValue),
    limits: fc.oneof(fc.record({ max_request_bytes: anyValue, headers_timeout_ms: anyValue, request_timeout_ms: anyValue }, { requiredKeys: [] }), anyValue),
    routes: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), route, { maxKeys: 3 }), anyValue),
    pricing: anyValue,
    policies: anyValue,
    telemetry: anyValue,
    [`unknown_${'key'}`]: anyValue,
  },
  { requiredKeys: [] },
);

describe('config loader properties', () => {
  test('any text is a config or a ConfigError naming the file', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), parsesOrExplains), { numRuns: 400 });
  });

  test('any tree of config keys with values of any type is a config or a ConfigError naming file, line and field', () => {
    fc.assert(fc.property(configTree, (tree) => parsesOrExplains(stringify(tree))), { numRuns: 400 });
  });

  test('a YAML alias bomb is refused, not expanded', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    assert.throws(() => parseConfig(`${levels.join('\n')}\nroutes: *l\n`, 'bomb.yaml', {}), ConfigError);
  });
});
