import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // e2e tests spawn the binary (scrypt at N=2^17 uses ~128 MiB per process): two files at a time on 2 cores.
    maxWorkers: 2,
  },
});
