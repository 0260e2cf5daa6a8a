/**
 * `prefer: 'webgl'` is a browser backend: in Node it fails with an error that says so
 * (its run in a browser is tested by @ediy/viewer's Chromium test, which draws on it).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';

it("refuses 'webgl' in Node, saying it runs in a browser only and what to use instead", async () => {
  const before = tf.getBackend();
  await expect(initBackend({ prefer: 'webgl' })).rejects.toThrow(
    "backend 'webgl' failed to initialise: it runs in a browser only (this is Node; use webgpu, native, wasm or cpu)",
  );
  expect(tf.getBackend()).toBe(before);
});

it("lists 'webgl' among the backends one can ask for", async () => {
  await expect(initBackend({ prefer: 'webgl2' as never })).rejects.toThrow(
    'backend must be one of auto, webgpu, tensorflow, native, webgl, wasm, cpu; got "webgl2"',
  );
});

it("never tries 'webgl' on its own in Node", async () => {
  const info = await initBackend({ prefer: 'auto' });
  expect(info.name).not.toBe('webgl');
  expect(info.warnings.join('\n')).not.toMatch(/webgl/);
});
