import { expect, it } from 'vitest';
import { bundleForBrowser, describeNodeImports } from '../../../tools/test-utils/browser-bundle.js';

it('bundles its root entry for the browser without a Node built-in', async () => {
  const report = await bundleForBrowser('@ediy/viewer');
  expect(describeNodeImports(report)).toBe('');
  expect(report.errors).toEqual([]);
  expect(report.code).toContain('function regionPairs(');
});

it('keeps the server out of the root entry: @ediy/viewer/node imports Node built-ins', async () => {
  const report = await bundleForBrowser('@ediy/viewer/node', ['esbuild']);
  expect(report.nodeImports.map((n) => n.specifier)).toContain('node:http');
});
