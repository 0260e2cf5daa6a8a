import { expect, it } from 'vitest';
import * as backend from '@ediy/backend';
import * as core from '@ediy/core';

it('re-exports the utilities that moved to @ediy/core, as the same objects', () => {
  for (const name of [
    'Rng',
    'assertShape',
    'assertShapes',
    'assertInRange',
    'assertInteger',
  ] as const) {
    expect(backend[name], name).toBe(core[name]);
  }
  // a stream made through the old import is the same class as the new one's
  expect(new backend.Rng(3)).toBeInstanceOf(core.Rng);
  expect(new backend.Rng(3).next()).toBe(new core.Rng(3).next());
});
