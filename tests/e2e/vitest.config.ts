import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Browser tests (`npm run test:e2e`): real HTTP servers and headless Chromium (/usr/bin/chromium via
// playwright-core). `npm test` excludes this folder.
export default defineConfig({
  // The config lives in tests/e2e; resolve test paths from the repository root.
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: {
    // One copy of graphql, as in the main config, for suites that start the real server.
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL('../../node_modules/graphql/index.js', import.meta.url)) }],
  },
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    // Suites that start the real server copy the migrated PGlite template this builds once.
    globalSetup: ['tests/helpers/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One browser at a time: two cores.
    maxWorkers: 1,
    fileParallelism: false,
  },
});
