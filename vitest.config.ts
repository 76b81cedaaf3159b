import { defineConfig } from 'vitest/config';

/**
 * One suite, several set-ups, no copied tests: each project runs the same files with the environment
 * test/helpers/server.ts reads (PIXA_TEST_MODE, PIXA_TEST_DATABASE, PIXA_TEST_STORE).
 * - `embedded`: everything, one in-process server on SQLite and the file store.
 * - `api-pod`: the API cases against five processes (pod mode), on PostgreSQL when its URL is set.
 */
const projects = [
  { name: 'embedded', include: ['test/**/*.test.ts'], env: {} },
  {
    name: 'api-pod',
    include: ['test/api/**/*.test.ts'],
    env: { PIXA_TEST_MODE: 'pod', PIXA_TEST_DATABASE: 'postgres' },
  },
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    projects: projects.map((project) => ({
      extends: true,
      test: {
        name: project.name,
        include: project.include,
        env: project.env,
        // A pod is five Node processes and a migration to start: cases that start one of their own get longer.
        ...(project.env.PIXA_TEST_MODE === 'pod' ? { testTimeout: 180_000, hookTimeout: 300_000 } : {}),
      },
    })),
  },
});
