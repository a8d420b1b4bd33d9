import { defineConfig } from 'vitest/config';

// The load test (200 clients for 20 s against one server) keeps both cores busy: it runs on its own, after the
// rest (`npm test` runs vitest twice), so the timing bounds of the other suites are not measured under its load.
const LOAD_TEST = 'test/remote/load.test.ts';
const loadOnly = process.env.SSRUN_LOAD_TEST === '1';

export default defineConfig({
  test: {
    include: loadOnly ? [LOAD_TEST] : ['test/**/*.test.ts'],
    exclude: loadOnly ? [] : [LOAD_TEST, '**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/pg-setup.ts'],
    // e2e tests spawn the binary (scrypt at N=2^17 uses ~128 MiB per process): two files at a time on 2 cores.
    maxWorkers: 2,
  },
});
