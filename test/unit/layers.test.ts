// The layer rules (docs/architecture.md): core/ depends on nothing else in tapwire, config/ on
// core/ only, and every folder above on the layers below it. ESLint's Node API runs the
// repository's own eslint.config.js on probe snippets placed in a layer's folder (an import of
// a higher layer, a sibling of the same layer, test/ or bench/ is reported; one of a lower layer,
// of the folder itself or of a package is not) and on the real files (none breaks its rule);
// better-sqlite3 may be imported under store/sqlite/ only, pg under store/postgres/ only, ioredis
// under policies/redis/ only.
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

  test('the core/ rule applies to core/ only: the same import from proxy/ is not reported', async () => {
    const probe = "import { openStore } from '../store/db.js';\nvoid openStore;";
    assert.deepEqual(await layerViolations(probe, 'proxy/layer-probe.ts'), []);
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

describe('layers: config/ depends on core/ only', () => {
  test('an import from config/ into a folder other than core/ is reported, static, type-only, re-export or dynamic', async () => {
    const probe = [
      "import { EventLog } from '../protocols/observer.js';",
      "import type { Store } from '../store/db.js';",
      "export { compile } from '../policies/compile.js';",
      "export const later = import('../tui/tui.js');",
      "import { log } from '../core/../proxy/route.js';",
      'export type { Store };',
      'void [EventLog, log];',
    ].join('\n');
    assert.deepEqual(await layerViolations(probe, 'config/layer-probe.ts'), [
      '1:no-restricted-imports',
      '2:no-restricted-imports',
      '3:no-restricted-imports',
      '4:no-restricted-syntax',
      '5:no-restricted-imports',
    ]);
  });

  test('imports of core/, inside config/, of node: modules and of npm packages are allowed', async () => {
    const probe = [
      "import { log } from '../core/log.js';",
      "import type { ExchangeRecord } from '../core/exchange.js';",
      "import { telemetrySchema } from './telemetry.js';",
      "import { readFileSync } from 'node:fs';",
      "import { z } from 'zod';",
      "export const later = import('../core/sse.js');",
      'export type { ExchangeRecord };',
      'void [log, telemetrySchema, readFileSync, z];',
    ].join('\n');
    assert.deepEqual(await layerViolations(probe, 'config/layer-probe.ts'), []);
  });

  test('no file under config/ imports from outside config/ and core/', async () => {
    const results = await eslint.lintFiles(['config/']);
    assert.ok(results.length >= 2, `expected the config/ files, linted ${results.length}`);
    const violations = results.flatMap((r) =>
      r.messages.filter((m) => m.fatal === true || (m.ruleId !== null && LAYER_RULES.has(m.ruleId))).map((m) => `${r.filePath}:${m.line} ${m.message}`),
    );
    assert.deepEqual(violations, []);
  });
});

describe('layers: every folder imports only its own files and the layers below it', () => {
  test('protocols/ may not import proxy/, tools/, tui/, demo/, cli/, test/ or bench/, from any depth, static or dynamic', async () => {
    const probe = [
      "import { startSidecar } from '../../proxy/sidecar.js';",
      "import type { ReplayResult } from '../../tools/replay.js';",
      "export { TuiApp } from '../../tui/app.js';",
      "import { upstreamFor } from '../../test/support/upstream.js';",
      "import { x } from '../../core/../cli/cli.js';",
      "export const later = import('../../demo/run.js');",
      'export type { ReplayResult };',
      'void [startSidecar, upstreamFor, x];',
    ].join('\n');
    assert.deepEqual(await layerViolations(probe, 'protocols/llm/layer-probe.ts'), [
      '1:no-restricted-imports',
      '2:no-restricted-imports',
      '3:no-restricted-imports',
      '4:no-restricted-imports',
      '5:no-restricted-imports',
      '6:no-restricted-syntax',
    ]);
  });

  test('protocols/ may import core/, config/, policies/, store/, telemetry/ and its own files', async () => {
    const probe = [
      "import { jsonBody } from '../../core/json-body.js';",
      "import type { Config } from '../../config/config.js';",
      "import { PolicySet } from '../../policies/engine.js';",
      "import { Telemetry } from '../../telemetry/telemetry.js';",
      "import { McpTracker } from '../mcp/tracker.js';",
      "import { usage } from './usage.js';",
      "export const later = import('../../store/record-store.js');",
      'export type { Config };',
      'void [jsonBody, PolicySet, Telemetry, McpTracker, usage];',
    ].join('\n');
    assert.deepEqual(await layerViolations(probe, 'protocols/llm/layer-probe.ts'), []);
  });

  test('siblings of one layer do not import each other: policies/, store/ and telemetry/', async () => {
    const probe = "import { openStore } from '../store/db.js';\nexport const later = import('../telemetry/telemetry.js');\nvoid openStore;";
    assert.deepEqual(await layerViolations(probe, 'policies/layer-probe.ts'), ['1:no-restricted-imports', '2:no-restricted-syntax']);
    const back = "import { PolicySet } from '../../policies/engine.js';\nvoid PolicySet;";
    assert.deepEqual(await layerViolations(back, 'store/sqlite/layer-probe.ts'), ['1:no-restricted-imports']);
  });

  test('the top layer, cli/, may import every layer; tui/ may not import cli/', async () => {
    const probe = "import { TuiApp } from '../../tui/app.js';\nimport { startSidecar } from '../../proxy/sidecar.js';\nvoid [TuiApp, startSidecar];";
    assert.deepEqual(await layerViolations(probe, 'cli/commands/layer-probe.ts'), []);
    const up = "import { tuiCommand } from '../cli/commands/tui.js';\nvoid tuiCommand;";
    assert.deepEqual(await layerViolations(up, 'tui/layer-probe.ts'), ['1:no-restricted-imports']);
  });

  test('no file of any layer breaks its rule', async () => {
    const folders = ['core/', 'config/', 'policies/', 'store/', 'telemetry/', 'protocols/', 'proxy/', 'tools/', 'tui/', 'demo/', 'cli/'];
    const results = await eslint.lintFiles(folders);
    assert.ok(results.length >= 100, `expected every source file, linted ${results.length}`);
    const violations = results.flatMap((r) =>
      r.messages.filter((m) => m.fatal === true || (m.ruleId !== null && LAYER_RULES.has(m.ruleId))).map((m) => `${r.filePath}:${m.line} ${m.message}`),
    );
    assert.deepEqual(violations, []);
  });
});

describe('layers: only the SQLite backend imports better-sqlite3', () => {
  const probe = ["import Database from 'better-sqlite3';", "export const later = import('better-sqlite3');", 'void Database;'].join('\n');

  test('better-sqlite3 imported from tui/, from store/ itself or from core/ is reported, static or dynamic', async () => {
    for (const file of ['tui/layer-probe.ts', 'store/layer-probe.ts', 'core/layer-probe.ts', 'tools/deeper/layer-probe.ts']) {
      assert.deepEqual(await layerViolations(probe, file), ['1:no-restricted-imports', '2:no-restricted-syntax'], file);
    }
  });

  test('the same imports under store/sqlite/ are not reported, and the layer rule still holds there', async () => {
    assert.deepEqual(await layerViolations(probe, 'store/sqlite/layer-probe.ts'), []);
    assert.deepEqual(await layerViolations("import { Recording } from '../../proxy/recording.js';\nvoid Recording;", 'store/sqlite/layer-probe.ts'), ['1:no-restricted-imports']);
  });

  test('no file outside store/sqlite/ imports better-sqlite3', async () => {
    const results = await eslint.lintFiles(['core/', 'config/', 'policies/', 'store/', 'telemetry/', 'protocols/', 'proxy/', 'tools/', 'tui/', 'demo/', 'cli/']);
    assert.ok(results.length >= 120, `expected every source file, linted ${results.length}`);
    const violations = results.flatMap((r) => r.messages.filter((m) => m.fatal === true || m.message.includes('better-sqlite3')).map((m) => `${r.filePath}:${m.line} ${m.message}`));
    assert.deepEqual(violations, []);
  });
});

describe('layers: only the shared limit counters import ioredis', () => {
  const probe = ["import { Redis } from 'ioredis';", "export const later = import('ioredis');", 'void Redis;'].join('\n');

  test('ioredis imported from policies/ itself, from store/sqlite/, proxy/ or core/ is reported, static or dynamic', async () => {
    for (const file of ['policies/layer-probe.ts', 'store/sqlite/layer-probe.ts', 'proxy/layer-probe.ts', 'core/layer-probe.ts']) {
      assert.deepEqual(await layerViolations(probe, file), ['1:no-restricted-imports', '2:no-restricted-syntax'], file);
    }
  });

  test('the same imports under policies/redis/ are not reported; better-sqlite3 and the layer rule still are', async () => {
    assert.deepEqual(await layerViolations(probe, 'policies/redis/layer-probe.ts'), []);
    assert.deepEqual(await layerViolations("import Database from 'better-sqlite3';\nvoid Database;", 'policies/redis/layer-probe.ts'), ['1:no-restricted-imports']);
    assert.deepEqual(await layerViolations("import { Recording } from '../../proxy/recording.js';\nvoid Recording;", 'policies/redis/layer-probe.ts'), ['1:no-restricted-imports']);
  });

  test('no file outside policies/redis/ imports ioredis', async () => {
    const results = await eslint.lintFiles(['core/', 'config/', 'policies/', 'store/', 'telemetry/', 'protocols/', 'proxy/', 'tools/', 'tui/', 'demo/', 'cli/']);
    const violations = results.flatMap((r) => r.messages.filter((m) => m.fatal === true || m.message.includes('ioredis')).map((m) => `${r.filePath}:${m.line} ${m.message}`));
    assert.deepEqual(violations, []);
  });
});

describe('layers: only the PostgreSQL backend imports pg', () => {
  const probe = ["import pg from 'pg';", "export const later = import('pg');", 'void pg;'].join('\n');

  test('pg imported from tui/, from store/ itself, from store/sqlite/ or from core/ is reported, static or dynamic', async () => {
    for (const file of ['tui/layer-probe.ts', 'store/layer-probe.ts', 'store/sqlite/layer-probe.ts', 'core/layer-probe.ts', 'proxy/deeper/layer-probe.ts']) {
      assert.deepEqual(await layerViolations(probe, file), ['1:no-restricted-imports', '2:no-restricted-syntax'], file);
    }
  });

  test('the same imports under store/postgres/ are not reported; better-sqlite3 there is, and the layer rule still holds', async () => {
    assert.deepEqual(await layerViolations(probe, 'store/postgres/layer-probe.ts'), []);
    const sqlite = ["import Database from 'better-sqlite3';", 'void Database;'].join('\n');
    assert.deepEqual(await layerViolations(sqlite, 'store/postgres/layer-probe.ts'), ['1:no-restricted-imports']);
    assert.deepEqual(await layerViolations("import { Recording } from '../../proxy/recording.js';\nvoid Recording;", 'store/postgres/layer-probe.ts'), ['1:no-restricted-imports']);
  });

  test('no file outside store/postgres/ imports pg', async () => {
    const results = await eslint.lintFiles(['core/', 'config/', 'policies/', 'store/', 'telemetry/', 'protocols/', 'proxy/', 'tools/', 'tui/', 'demo/', 'cli/']);
    const violations = results.flatMap((r) => r.messages.filter((m) => m.fatal === true || m.message.includes('may import pg')).map((m) => `${r.filePath}:${m.line} ${m.message}`));
    assert.deepEqual(violations, []);
  });
});
