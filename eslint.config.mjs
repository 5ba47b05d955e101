// @ts-check
// The linter: JavaScript's and TypeScript's recommended rules (typescript-eslint without type information, so a
// run takes seconds) over the sources, tests, benchmarks, scripts and the pages' browser scripts. Undefined names
// are tsc's to find (`npm run typecheck` checks the browser scripts too), so no-undef is off.
import eslint from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "artifacts/", "cache/", "typechain-types/", "coverage/", "test-artifacts/", ".data/", "src/web/public/vendor/"] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  // Layout is Prettier's: the rules that would argue with it are off.
  prettier,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      "no-undef": "off",
      // An argument or binding named with a leading underscore is unused on purpose (an interface's shape).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // zod's default for "no params" is an empty object schema.
      "@typescript-eslint/no-empty-object-type": ["error", { allowObjectTypes: "always" }],
    },
  },
  {
    // Hardhat loads its config with plain require; the CLI's entry point and the test setup register TypeScript.
    files: ["hardhat.config.ts", "bin/**/*.js", "test/setup.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // A global a page's plain script defines is declared with `declare var`.
    files: ["**/*.d.ts"],
    rules: { "no-var": "off" },
  },
  {
    // chai's property assertions (`.to.be.empty`, `.to.be.true`) are expressions by design; tests read answers'
    // JSON as it comes.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-expressions": "off", "@typescript-eslint/no-explicit-any": "off" },
  },
);
