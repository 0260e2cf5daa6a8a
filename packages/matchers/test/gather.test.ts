import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { gatherRegions } from '@ediy/matchers';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('gatherRegions', () => {
  it('gathers rows per image like tf.gather with batchDims 1', () => {
    const f = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      [
        [7, 8],
        [9, 10],
        [11, 12],
      ],
    ]);
    const idx = tf.tensor2d(
      [
        [2, 2, 0, 1],
        [1, 0, 0, 2],
      ],
      [2, 4],
      'int32',
    );
    const g = gatherRegions(f, idx);
    expect(g.shape).toEqual([2, 4, 2]);
    expect(g.arraySync()).toEqual([
      [
        [5, 6],
        [5, 6],
        [1, 2],
        [3, 4],
      ],
      [
        [9, 10],
        [7, 8],
        [7, 8],
        [11, 12],
      ],
    ]);
    const ref = tf.gather(f, idx, 1, 1);
    expect(g.arraySync()).toEqual(ref.arraySync());
    tf.dispose([f, idx, g, ref]);
  });

  it('has the gradient of a gather: each source row receives the sum of its picks', () => {
    // indices [2,2,0]: row 0 picked once, row 1 never, row 2 twice.
    // d/dF sum(out * w) with w = [[1,1],[10,10],[100,100]] -> row0: 100, row1: 0, row2: 1+10 = 11
    const f = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    ]);
    const idx = tf.tensor2d([[2, 2, 0]], [1, 3], 'int32');
    const w = tf.tensor3d([
      [
        [1, 1],
        [10, 10],
        [100, 100],
      ],
    ]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(gatherRegions(x as tf.Tensor3D, idx), w)))(f);
    expect(g.arraySync()).toEqual([
      [
        [100, 100],
        [0, 0],
        [11, 11],
      ],
    ]);
    tf.dispose([f, idx, w, g]);
  });

  it('works with a single region', () => {
    const f = tf.tensor3d([[[1, 2]], [[3, 4]]]);
    const idx = tf.zeros([2, 2], 'int32') as tf.Tensor2D;
    const g = gatherRegions(f, idx);
    expect(g.arraySync()).toEqual([
      [
        [1, 2],
        [1, 2],
      ],
      [
        [3, 4],
        [3, 4],
      ],
    ]);
    tf.dispose([f, idx, g]);
  });

  it('rejects out-of-range and non-int indices and mismatched batches', () => {
    const f = tf.ones([2, 3, 2]) as tf.Tensor3D;
    const far = tf.tensor2d(
      [
        [0, 3],
        [1, 1],
      ],
      [2, 2],
      'int32',
    );
    expect(() => gatherRegions(f, far)).toThrow(/indices must lie in \[0, 3\).*from 0 to 3/);
    const neg = tf.tensor2d(
      [
        [0, -1],
        [1, 1],
      ],
      [2, 2],
      'int32',
    );
    expect(() => gatherRegions(f, neg)).toThrow(/from -1 to 1/);
    const flt = tf.tensor2d(
      [
        [0, 1],
        [1, 1],
      ],
      [2, 2],
      'float32',
    );
    expect(() => gatherRegions(f, flt)).toThrow(/indices must be int32, got float32/);
    const batch = tf.tensor2d([[0, 1]], [1, 2], 'int32');
    expect(() => gatherRegions(f, batch)).toThrow(/indices has B=1.*features/);
    tf.dispose([f, far, neg, flt, batch]);
  });

  it('does not leak tensors', () => {
    const f = tf.ones([2, 3, 2]) as tf.Tensor3D;
    const idx = tf.zeros([2, 3], 'int32') as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const g = gatherRegions(f, idx);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([f, idx, g]);
  });
});
