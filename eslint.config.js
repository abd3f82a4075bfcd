// Lint configuration: typescript-eslint's recommended type-aware rules over all sources, and the layer rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers, bottom first (docs/architecture.md). A folder may import its own files and the
 * folders of lower layers, never a folder of its own layer or a higher one; nothing imports
 * test/, bench/ or build/. core/ has a stricter rule of its own (it is flat: no `../` at all).
 */
const LAYERS = [['core'], ['config'], ['policies', 'store', 'telemetry'], ['protocols'], ['proxy'], ['tools'], ['tui', 'demo'], ['cli']];
const OUTSIDE = ['test', 'bench', 'build'];
const CORE_MESSAGE = 'core/ depends on nothing else in tapwire: import only from core/, node: or npm packages.';

/**
 * Database drivers, each importable from one folder only. The record store's SQLite backend is
 * the only code that knows SQLite, its PostgreSQL backend the only code that knows PostgreSQL:
 * everything else reads and writes through store/record-store.ts, so a backend is one folder. The fleet's shared limit counters
 * (policies/redis/) are the only code that talks to Redis: the engine counts through
 * policies/limits.ts's LimitCounter. test/ and bench/ may import anything.
 */
const DRIVERS = [
  { folder: 'store/sqlite', name: 'better-sqlite3', use: 'read and write the record through store/record-store.ts' },
  { folder: 'store/postgres', name: 'pg', use: 'read and write the record through store/record-store.ts' },
  { folder: 'policies/redis', name: 'ioredis', use: "count limits through policies/limits.ts's LimitCounter" },
];
const driverMessage = (d) => `only ${d.folder}/ may import ${d.name}: ${d.use}.`;
/** The driver rules for files under `folder`: every driver but the one that folder owns. */
const driverImports = (folder) => DRIVERS.filter((d) => d.folder !== folder).map((d) => ({ name: d.name, message: driverMessage(d) }));
const driverDynamic = (folder) =>
  DRIVERS.filter((d) => d.folder !== folder).map((d) => ({ selector: `ImportExpression[source.value='${d.name}']`, message: driverMessage(d) }));

/**
 * One rule block per folder above core/: an import whose relative path names a folder the
 * layering forbids is reported, whatever the path's shape (`../proxy/x.js`,
 * `../../proxy/x.js`, `../core/../proxy/x.js`): a path that reaches a folder names it. So no
 * subfolder anywhere may share a name with a layer folder. Each block also forbids the
 * database drivers, except for a driver's own folder (a block after its layer's, so it wins).
 */
function layerRules() {
  return LAYERS.flatMap((layer, level) =>
    level === 0
      ? []
      : layer.flatMap((folder) => {
          const below = LAYERS.slice(0, level).flat();
          const forbidden = [...LAYERS.flat().filter((f) => f !== folder && !below.includes(f)), ...OUTSIDE];
          const names = forbidden.join('|');
          const message = `${folder}/ may import only ${folder}/ and the layers below it (${below.join(', ')}): see docs/architecture.md.`;
          const block = (files) => ({
            files: [`${files}/**/*.ts`],
            rules: {
              'no-restricted-imports': ['error', { patterns: [{ regex: `^\\.{1,2}/(?:.*/)?(?:${names})(?:/|$)`, message }], paths: driverImports(files) }],
              // no-restricted-imports does not see import(): the same rules for dynamic imports.
              'no-restricted-syntax': [
                'error',
                { selector: `ImportExpression[source.value=/^\\.{1,2}\\/(.*\\/)?(${names})(\\/|$)/]`, message },
                ...driverDynamic(files),
              ],
            },
          });
          return [block(folder), ...DRIVERS.filter((d) => d.folder.startsWith(`${folder}/`)).map((d) => block(d.folder))];
        }),
  );
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // node:test's describe/test return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'suite', 'test', 'it'], package: 'node:test' }] },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Layers (docs/architecture.md): core/ is the bottom layer and depends on nothing else in
  // the project, so no import from a core file may leave core/ (node: and npm packages are fine).
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*'], message: CORE_MESSAGE }], paths: driverImports('core') }],
      // no-restricted-imports does not see import(): the same rules for dynamic imports.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression[source.value=/^\\.\\.\\//]', message: CORE_MESSAGE }, ...driverDynamic('core')],
    },
  },
  ...layerRules(),
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
