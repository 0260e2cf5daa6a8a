import { rmdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { runReadmeSnippets } from '../../../tools/test-utils/readme-snippets.js';

afterAll(() => {
  // the snippet runner leaves an empty docs/test directory behind
  try {
    rmdirSync(fileURLToPath(new URL('../../../docs/test', import.meta.url)));
  } catch {
    // not empty or already gone: leave it
  }
});

it('runs the snippets of docs/extending.md', async () => {
  const ran = await runReadmeSnippets(
    fileURLToPath(new URL('../../../docs/extending.md', import.meta.url)),
  );
  expect(ran).toBeGreaterThan(0);
});
