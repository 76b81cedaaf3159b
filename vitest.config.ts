import { defineConfig } from 'vitest/config';

/** The release suite: what docs/SECURITY.md says it proves. */
const RELEASE = ['test/security/**/*.test.ts', 'test/faults/**/*.test.ts', 'test/load/**/*.test.ts'];
/**
 * Release files that run once, in `embedded`: they are a matrix of their own (every dialect or store,
 * both modes), or they kill a server process and read its SQLite file and object directory.
 */
const RELEASE_ONCE = [
  'test/faults/crash.test.ts',
  'test/faults/commit-outcome.test.ts',
  'test/faults/event-log.test.ts',
  'test/faults/sweeper-scope.test.ts',
  'test/security/throttle-races.test.ts',
  'test/security/device-cookie.test.ts',
];

// Which database servers this machine has decides whether the MariaDB + Azurite run happens.
const mysqlUrl = process.env.PIXA_TEST_MYSQL_URL;

/**
 * One suite, several set-ups, no copied tests: each project runs the same files with the environment
 * test/helpers/server.ts reads (PIXA_TEST_MODE, PIXA_TEST_DATABASE, PIXA_TEST_STORE).
 * - `embedded`: everything, one in-process server on SQLite and the file store.
 * - `api-pod`: the API cases against five processes (pod mode), on PostgreSQL when its URL is set.
 * - `release-pod`: the security, fault and load suites against a pod, on PostgreSQL when its URL is set.
 * - `release-mariadb-azurite`: the same suites embedded on MariaDB and Azurite, when
 *   PIXA_TEST_MYSQL_URL is set (CI sets it).
 */
const projects = [
  { name: 'embedded', include: ['test/**/*.test.ts'], exclude: [], env: {} },
  {
    name: 'api-pod',
    include: ['test/api/**/*.test.ts'],
    exclude: [],
    env: { PIXA_TEST_MODE: 'pod', PIXA_TEST_DATABASE: 'postgres' },
  },
  {
    name: 'release-pod',
    include: RELEASE,
    exclude: RELEASE_ONCE,
    env: { PIXA_TEST_MODE: 'pod', PIXA_TEST_DATABASE: 'postgres' },
  },
  ...(mysqlUrl
    ? [
        {
          name: 'release-mariadb-azurite',
          include: RELEASE,
          exclude: RELEASE_ONCE,
          env: { PIXA_TEST_DATABASE: 'mysql', PIXA_TEST_STORE: 'azure' },
        },
      ]
    : []),
];
if (!mysqlUrl) {
  console.warn(
    'release-mariadb-azurite skipped: set PIXA_TEST_MYSQL_URL to run the release suite on MariaDB + Azurite',
  );
}

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
        exclude: ['**/node_modules/**', ...project.exclude],
        env: project.env,
        // A pod is five Node processes and a migration to start, MariaDB and Azurite are slower than SQLite
        // and files: cases there get longer (none asserts on time).
        ...(project.name === 'embedded' ? {} : { testTimeout: 180_000, hookTimeout: 300_000 }),
      },
    })),
  },
});
