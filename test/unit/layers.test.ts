// The layer rule (docs/architecture.md): core/ depends on nothing else in tapwire. ESLint's
// Node API runs the repository's own eslint.config.js on probe snippets placed in core/ (an
// import leaving core/ is reported, one inside core/ or of a package is not) and on the real
// core/ files (none leaves core/ today).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { REPO } from '../support/grafana.js';

const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

// The probes are not files of the TypeScript project, and the layer rule needs no types: the
// type-aware rules are switched off so ESLint can lint text that exists nowhere on disk.
const eslint = new ESLint({ cwd: REPO, overrideConfig: tseslint.configs.disableTypeChecked });

async function layerViolations(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  assert.ok(result, 'ESLint returned no result');
  const parseErrors = result.messages.filter((m) => m.fatal === true);
  assert.deepEqual(parseErrors, [], 'the probe must parse');
  return result.messages.filter((m) => m.ruleId !== null && LAYER_RULES.has(m.ruleId)).map((m) => `${m.line}:${m.ruleId}`);
}

describe('layers: core/ depends on nothing else in tapwire', () => {
  test('an import from core/ into another folder is reported, static, type-only, re-export or dynamic', async () => {
    const probe = [
      "import { startSidecar } from '../sidecar/sidecar.js';",
      "import type { Store } from '../store/db.js';",
      "export { compile } from '../policies/compile.js';",
      "export const later = import('../tui/tui.js');",
      'export type { Store };',
      'void startSidecar;',
    ].join('\n');
    assert.deepEqual(await layerViolations(probe, 'core/layer-probe.ts'), [
      '1:no-restricted-imports',
      '2:no-restricted-imports',
      '3:no-restricted-imports',
      '4:no-restricted-syntax',
    ]);
  });

  test('imports inside core/, of node: modules and of npm packages are allowed', async () => {
    const probe = [
      "import { newExchangeId } from './exchange.js';",
      "import { randomBytes } from 'node:crypto';",
      "import pino from 'pino';",
      "export const later = import('./sse.js');",
      'void [newExchangeId, randomBytes, pino];',
    ].join('\n');
    assert.deepEqual(await layerViolations(probe, 'core/layer-probe.ts'), []);
  });

  test('the rule applies to core/ only: the same import from sidecar/ is not reported', async () => {
    const probe = "import { openStore } from '../store/db.js';\nvoid openStore;";
    assert.deepEqual(await layerViolations(probe, 'sidecar/layer-probe.ts'), []);
  });

  test('no file under core/ imports from outside core/', async () => {
    const results = await eslint.lintFiles(['core/']);
    assert.ok(results.length >= 12, `expected the core/ files, linted ${results.length}`);
    const violations = results.flatMap((r) =>
      r.messages.filter((m) => m.fatal === true || (m.ruleId !== null && LAYER_RULES.has(m.ruleId))).map((m) => `${r.filePath}:${m.line} ${m.message}`),
    );
    assert.deepEqual(violations, []);
  });
});
