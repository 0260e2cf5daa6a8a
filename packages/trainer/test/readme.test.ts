import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runReadmeSnippets } from '../../../tools/test-utils/readme-snippets.js';

it('runs the README snippets', async () => {
  const ran = await runReadmeSnippets(fileURLToPath(new URL('../README.md', import.meta.url)));
  expect(ran).toBeGreaterThan(0);
});

it('runs the loop of docs/training-step.md', async () => {
  const ran = await runReadmeSnippets(
    fileURLToPath(new URL('../../../docs/training-step.md', import.meta.url)),
  );
  expect(ran).toBe(1);
});
