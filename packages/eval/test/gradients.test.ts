import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { linearProbe } from '@ediy/eval';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

// This file imports no tfjs-layers itself: loading @ediy/eval must be enough for tf.grad.
it('registers the gradients of tfjs-core ops when loaded', () => {
  expect(typeof linearProbe).toBe('function');
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.matMul(x, x)))(tf.tensor2d([1, 2, 3, 4], [2, 2]));
  expect(Array.from(g.dataSync())).toEqual([7, 11, 9, 13]);
});
