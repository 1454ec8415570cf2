// Lint, including the workflow sandbox boundary: workflow and shared code may not reach Node, the
// network, or the non-workflow Temporal packages (type-only imports excepted).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`]));
const sandboxMessage = 'not allowed in the workflow sandbox (src/workflows, src/shared)';

export default defineConfig(
  { ignores: ['lib/', 'node_modules/', '.temporal/', '.data/', 'bench/results/', 'test-artifacts/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Promise mistakes are the costly ones here: an un-awaited activity, signal or client call
      // fails silently. These need type information; the rest of recommendedTypeChecked does not pay its way.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins,
            'undici',
            'ipaddr.js',
            'standardwebhooks',
            'zod',
            'ulid',
            'commander',
            '@temporalio/activity',
            '@temporalio/client',
            '@temporalio/worker',
            '@temporalio/testing',
          ].map((name) => ({ name, message: sandboxMessage })),
          patterns: [
            {
              // Every room of Node code: src/activities, client, worker, payloads, local,
              // observability, cli, the testing entry point, and common (below).
              group: [
                '**/activities',
                '**/activities/**',
                '**/client',
                '**/client/**',
                '**/worker',
                '**/worker/**',
                '**/payloads/**',
                '**/local/**',
                '**/observability',
                '**/observability/**',
                '**/cli',
                '**/cli/**',
                '**/testing',
              ],
              allowTypeImports: true,
              message: 'workflow and shared code may import these for types only',
            },
            {
              // src/common, by relative path only: a glob would catch @temporalio/common too.
              regex: '^(\\.{1,2}/)+common(/|$)',
              allowTypeImports: true,
              message: 'workflow and shared code may import these for types only',
            },
          ],
        },
      ],
      // The sandbox has a deterministic setTimeout, so only these two are banned.
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'workflows never read process (configuration is injected)' },
        { name: 'Buffer', message: 'Buffer does not exist in the workflow sandbox' },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: globals.nodeBuiltin },
  },
);
