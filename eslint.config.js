// Lint configuration: typescript-eslint's recommended type-aware rules over all sources, and the layer rule.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../*'], message: 'core/ depends on nothing else in tapwire: import only from core/, node: or npm packages.' }] },
      ],
      // no-restricted-imports does not see import(): the same rule for dynamic imports.
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportExpression[source.value=/^\\.\\.\\//]",
          message: 'core/ depends on nothing else in tapwire: import only from core/, node: or npm packages.',
        },
      ],
    },
  },
  // config/ (the tapwire.yaml schema and loader) sits beside core/: it may import config/ and
  // core/ only, so every layer can read the configuration without depending on the proxy.
  // Both folders are flat, so the one path allowed out of config/ is ../core/<file>.
  {
    files: ['config/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.\\./(?!core/[\\w-][\\w.-]*$)', message: 'config/ depends on core/ only: import only from config/, core/, node: or npm packages.' }] },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportExpression[source.value=/^\\.\\.\\/(?!core\\/[\\w-][\\w.-]*$)/]",
          message: 'config/ depends on core/ only: import only from config/, core/, node: or npm packages.',
        },
      ],
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
