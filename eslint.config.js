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
 * One rule block per folder above core/: an import whose relative path names a folder the
 * layering forbids is reported, whatever the path's shape (`../proxy/x.js`,
 * `../../proxy/x.js`, `../core/../proxy/x.js`): a path that reaches a folder names it. So no
 * subfolder anywhere may share a name with a layer folder.
 */
function layerRules() {
  return LAYERS.flatMap((layer, level) =>
    level === 0
      ? []
      : layer.map((folder) => {
          const below = LAYERS.slice(0, level).flat();
          const forbidden = [...LAYERS.flat().filter((f) => f !== folder && !below.includes(f)), ...OUTSIDE];
          const names = forbidden.join('|');
          const message = `${folder}/ may import only ${folder}/ and the layers below it (${below.join(', ')}): see docs/architecture.md.`;
          return {
            files: [`${folder}/**/*.ts`],
            rules: {
              'no-restricted-imports': ['error', { patterns: [{ regex: `^\\.{1,2}/(?:.*/)?(?:${names})(?:/|$)`, message }] }],
              // no-restricted-imports does not see import(): the same rule for dynamic imports.
              'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/^\\.{1,2}\\/(.*\\/)?(${names})(\\/|$)/]`, message }],
            },
          };
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
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*'], message: CORE_MESSAGE }] }],
      // no-restricted-imports does not see import(): the same rule for dynamic imports.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression[source.value=/^\\.\\.\\//]', message: CORE_MESSAGE }],
    },
  },
  ...layerRules(),
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
