import { defineConfig } from 'vitest/config';

// Functional (acceptance) tests: real systemd machines booted on this host, as root.
// One file at a time: two cores, and each file boots its own cluster.
export default defineConfig({
  test: {
    include: ['functional/**/*.test.ts'],
    globalSetup: ['harness/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: ['verbose'],
  },
});
