import { expect, it } from 'vitest';
import * as root from '@ediy/backbones';
import * as interop from '@ediy/backbones/interop';
import { bundleForBrowser, describeNodeImports } from '../../../tools/test-utils/browser-bundle.js';

it('still exports every interop function and constant from the root entry, as the same objects', () => {
  const names = Object.keys(interop);
  expect(names).toContain('readSafetensors');
  expect(names).toContain('importTorchvisionWeights');
  for (const name of names) {
    expect(root[name as keyof typeof root], name).toBe(interop[name as keyof typeof interop]);
  }
});

it('bundles @ediy/backbones/interop for the browser without a Node built-in', async () => {
  const report = await bundleForBrowser('@ediy/backbones/interop');
  expect(describeNodeImports(report)).toBe('');
  expect(report.errors).toEqual([]);
  expect(report.code).toContain('function readSafetensors(');
});
