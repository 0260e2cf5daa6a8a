import { expect, it } from 'vitest';
import { bundleForBrowser, describeNodeImports } from '../../../tools/test-utils/browser-bundle.js';

it('bundles for the browser without a Node built-in', async () => {
  const report = await bundleForBrowser('@ediy/core');
  expect(describeNodeImports(report)).toBe('');
  expect(report.errors).toEqual([]);
  // the bundle holds the package's code, not an empty module
  expect(report.code).toContain('function assertShapes(');
});
