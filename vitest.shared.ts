import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));

/**
 * Shared vitest settings for every package: `@ediy/<name>` (and a subpath such as
 * `@ediy/<name>/node`) resolves to that package's TypeScript source, so tests never need
 * a prior build.
 */
export function packageTestConfig() {
  return defineConfig({
    resolve: {
      alias: [
        { find: /^@ediy\/([a-z0-9-]+)$/, replacement: `${packagesDir}$1/src/index.ts` },
        { find: /^@ediy\/([a-z0-9-]+)\/([a-z0-9-]+)$/, replacement: `${packagesDir}$1/src/$2.ts` },
      ],
    },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      pool: 'forks',
      fileParallelism: false,
    },
  });
}
