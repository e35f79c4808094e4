import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm test`: every suite on in-memory PGlite. Browser tests (tests/e2e) and the compiled server
// (tests/deploy*.test.ts) run separately.
export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (main) and ESM (module). Node, and so Apollo and graphql-tools, load the CJS
    // build; Vite would pick the ESM one for our files, and two copies of graphql refuse to mix.
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) }],
  },
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    // The browser tests and the compiled-server test have configs of their own (test:e2e, test:deploy).
    exclude: ['tests/e2e/**', 'tests/deploy*.test.ts', 'node_modules/**'],
    globalSetup: ['tests/helpers/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite instances are memory-hungry WASM; two cores, so a few files at a time is the sweet spot.
    maxWorkers: 4,
  },
});
