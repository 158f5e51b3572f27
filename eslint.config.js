import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/cache/**', 'bench/results/**', 'test-results/**', 'release/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.cts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      // node:test's test/describe return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  ...svelte.configs['flat/recommended'],
  {
    files: ['renderer/**/*.svelte', 'renderer/**/*.svelte.ts'],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
        extraFileExtensions: ['.svelte'],
        parser: tseslint.parser,
      },
      globals: { ...globals.browser },
    },
  },
  {
    files: ['renderer/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node } },
  },
  // Who may import whom (docs/architecture.md, "The parts"). One rule per folder; a later block for the same files
  // replaces an earlier one, so each block lists everything its folder must not import.
  ...importRules(),
);

/** A `no-restricted-imports` pattern: these module paths, with why. */
function banned(group, message, extra = {}) {
  return { group, message, ...extra };
}

function importRules() {
  const electron = { name: 'electron', message: 'Only electron/shell may import Electron.' };
  // Patterns match the import specifier as written: '../server/x.js' as well as '../../electron/server/x.js'.
  const server = banned(['**/server/*', '**/server/**'], 'electron/server is the browser-mode transport; share code through electron/transport.');
  const shell = banned(['**/shell/*', '**/shell/**'], 'electron/shell is the desktop transport; share code through electron/transport.');
  const cli = banned(['**/cli/*', '**/cli/**'], 'Nothing imports the CLI.');
  const renderer = banned(['**/renderer/**'], 'The UI talks to the core only through the API contract.');
  const app = banned(['**/electron/**', '**/renderer/**'], 'training/ knows nothing of the app: no core, no transports, no UI.');
  const tests = banned(['**/test/**'], 'Benchmarks import no test code; shared fixtures live in bench/fixtures.');
  // `electron` (the package) is a path; the folders are patterns.
  const rule = (...bans) => ({
    '@typescript-eslint/no-restricted-imports': ['error', { paths: bans.filter((b) => b.name), patterns: bans.filter((b) => b.group) }],
  });
  return [
    { files: ['electron/core/**/*.ts'], rules: rule(electron, server, shell, cli, renderer) },
    { files: ['electron/transport/**/*.ts'], rules: rule(electron, server, shell, cli, renderer) },
    { files: ['electron/server/**/*.ts'], rules: rule(electron, shell, cli, renderer) },
    { files: ['electron/shell/**/*.ts', 'electron/shell/**/*.cts'], rules: rule(server, cli, renderer) },
    { files: ['electron/cli/**/*.ts'], rules: rule(electron, shell, renderer) },
    { files: ['training/**/*.ts'], rules: rule(electron, app) },
    { files: ['bench/**/*.ts'], rules: rule(electron, tests) },
    {
      files: ['renderer/src/**/*.ts', 'renderer/src/**/*.svelte'],
      rules: rule(
        { name: 'electron', message: 'The UI runs in a sandboxed page: it talks to the core only through the API.' },
        banned(['**/electron/**', '!**/electron/core/api/contract.js'], 'The UI imports only the API contract, and only its types.'),
        banned(['**/electron/core/api/contract.js'], 'The UI imports only types from the contract: use `import type`.', { allowTypeImports: true }),
        banned(['**/training/**', 'node:*'], 'The UI runs in a browser: no training code, no Node modules.'),
      ),
    },
  ];
}
