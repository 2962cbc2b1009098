// Lint: typescript-eslint's type-aware recommended rules over sources, tests and benchmarks.
// Formatting is Prettier's (.prettierrc.json); `npm run lint` runs both checks, `npm run format` fixes.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'eslint.config.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Hook taps and interface implementations are async so that a throw becomes a rejection, await or not.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read parsed JSON fixtures and wire captures (`any`) and hand methods of stubs to assertions.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // node-gtk has no type information: its GObject values are `any`, confined to this wrapper module.
    files: ['core/media/worker/gst.ts', 'types/node-gtk.d.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
