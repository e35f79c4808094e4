import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config';

// `npm run test:pg`: the same suites against the PostgreSQL server at DATABASE_URL (TEST_ENGINE=postgres
// is set by the script). Each test file creates and drops its own database.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      env: { TEST_ENGINE: 'postgres' },
    },
  }),
);
