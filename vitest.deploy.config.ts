import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run test:deploy`: the production build (tests/deploy*.test.ts) compiled and started as the
// Dockerfile runs it. Slower than `npm test` should wait for (a build, then a server process: 20-40 s
// on two busy cores), so `npm test` excludes it and .ci/run runs it.
export default defineConfig({
  resolve: {
    // One copy of graphql, as in the main config.
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) }],
  },
  test: {
    include: ['tests/deploy*.test.ts'],
    // The server process starts on a copy of the migrated PGlite template this builds once.
    globalSetup: ['tests/helpers/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
