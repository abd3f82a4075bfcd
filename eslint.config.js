// Lint configuration: typescript-eslint's recommended type-aware rules over all sources, and the layer rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers, bottom first (docs/architecture.md). A folder may import its own files and the
 * folders of lower layers, never a folder of its own layer or a higher one; nothing imports
 * test/ or bench/. core/ has a stricter rule of its own (it is flat: no `../` at all).
 */
const LAYERS = [['core'], ['config'], ['policies', 'store', 'telemetry'], ['protocols'], ['proxy'], ['tools'], ['tui', 'demo'], ['cli']];
const OUTSIDE = ['test', 'bench'];
const CORE_MESSAGE = 'core/ depends on nothing else in tapwire: import only from core/, node: or npm packages.';

/**
 * The record store's SQLite backend is the only code that knows SQLite: everything else reads
 * and writes through store/record-store.ts, so a second backend is one folder (test/ and
 * bench/ may still open the file, as they may import anything).
 */
const SQLITE_FOLDER = 'store/sqlite';
const SQLITE_MESSAGE = `only the SQLite backend (${SQLITE_FOLDER}/) may import better-sqlite3: read and write the record through store/record-store.ts.`;
const SQLITE_IMPORT = { name: 'better-sqlite3', message: SQLITE_MESSAGE };
const SQLITE_DYNAMIC = { selector: "ImportExpression[source.value='better-sqlite3']", message: SQLITE_MESSAGE };

/**
 * One rule block per folder above core/: an import whose relative path names a folder the
 * layering forbids is reported, whatever the path's shape (`../proxy/x.js`,
 * `../../proxy/x.js`, `../core/../proxy/x.js`): a path that reaches a folder names it. So no
 * subfolder anywhere may share a name with a layer folder. Each block also forbids
 * better-sqlite3, except the one for the SQLite backend's folder (after store/'s, so it wins).
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
          const block = (files, sqlite) => ({
            files: [`${files}/**/*.ts`],
            rules: {
              'no-restricted-imports': ['error', { patterns: [{ regex: `^\\.{1,2}/(?:.*/)?(?:${names})(?:/|$)`, message }], paths: sqlite ? [] : [SQLITE_IMPORT] }],
              // no-restricted-imports does not see import(): the same rules for dynamic imports.
              'no-restricted-syntax': [
                'error',
                { selector: `ImportExpression[source.value=/^\\.{1,2}\\/(.*\\/)?(${names})(\\/|$)/]`, message },
                ...(sqlite ? [] : [SQLITE_DYNAMIC]),
              ],
            },
          });
          return SQLITE_FOLDER.startsWith(`${folder}/`) ? [block(folder, false), block(SQLITE_FOLDER, true)] : [block(folder, false)];
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
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*'], message: CORE_MESSAGE }], paths: [SQLITE_IMPORT] }],
      // no-restricted-imports does not see import(): the same rules for dynamic imports.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression[source.value=/^\\.\\.\\//]', message: CORE_MESSAGE }, SQLITE_DYNAMIC],
    },
  },
  ...layerRules(),
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
