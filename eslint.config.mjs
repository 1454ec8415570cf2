// Lint, including the workflow sandbox boundary: workflow and shared code may not reach Node,
// the network, or the non-workflow Temporal packages (type-only imports excepted).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`]));

export default tseslint.config(
  { ignores: ['lib/', 'node_modules/', '.temporal/', '.data/', 'bench/results/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
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
          ].map((name) => ({ name, message: 'not allowed in the workflow sandbox (src/workflows, src/shared)' })),
          patterns: [
            {
              group: [
                '**/activities',
                '**/activities/**',
                '**/worker',
                '**/client',
                '**/config',
                '**/testing',
                '**/cli',
              ],
              allowTypeImports: true,
              message: 'workflow and shared code may import these for types only',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'workflows never read process (configuration is injected)' },
        { name: 'Buffer', message: 'Buffer does not exist in the workflow sandbox' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
