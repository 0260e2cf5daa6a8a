import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@ediy/core';
import { expectClose, initBoth, randomValues, runOn } from './kernels-helpers.js';

describe('UnsortedSegmentSum on wasm', () => {
  beforeAll(initBoth);

  it('sums rows by segment id, by hand', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 10, 20, 100, 200, 1000, 2000], [4, 2]);
    const ids = tf.tensor1d([2, 0, 2, -1], 'int32');
    const out = tf.unsortedSegmentSum(x, ids, 3);
    // segment 0: row 1; segment 1: nothing; segment 2: rows 0 and 2; id -1 is dropped
    expect(out.shape).toEqual([3, 2]);
    expect(Array.from(out.dataSync())).toEqual([10, 20, 0, 0, 101, 202]);
    tf.dispose([x, ids, out]);
  });

  it('takes segment ids of any prefix rank, and int32 values', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'int32');
    const ids = tf.tensor2d([1, 0, 1, 1], [2, 2], 'int32');
    const out = tf
      .engine()
      .runKernel('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: 2 }) as tf.Tensor;
    expect(out.dtype).toBe('int32');
    expect(Array.from(out.dataSync())).toEqual([3, 4, 1 + 5 + 7, 2 + 6 + 8]);
    tf.dispose([x, ids, out]);
  });

  it('equals cpu on random data', async () => {
    const rng = new Rng(5);
    const xv = randomValues(rng, [50, 3, 4]);
    const idv = Int32Array.from({ length: 50 }, () => rng.int(7));
    const f = () =>
      tf.unsortedSegmentSum(tf.tensor3d(xv, [50, 3, 4]), tf.tensor1d(idv, 'int32'), 7);
    const [want] = await runOn('cpu', f);
    const [got] = await runOn('wasm', f);
    expectClose(got as Float32Array, want as Float32Array, 1e-5, 'segment sum');
  });

  it('gives tf.gather a gradient on wasm that equals cpu', async () => {
    const rng = new Rng(6);
    const pv = randomValues(rng, [5, 3]);
    const f = () => {
      const params = tf.tensor2d(pv, [5, 3]);
      const indices = tf.tensor1d([4, 0, 4, 2, 4], 'int32');
      const weights = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [5, 3]);
      return tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, indices), weights)))(params);
    };
    const [want] = await runOn('cpu', f);
    const [got] = await runOn('wasm', f);
    expectClose(got as Float32Array, want as Float32Array, 1e-6, 'gather grad');
    // row 4 gathered three times: weights rows 0, 2, 4 summed
    expect(Array.from((got as Float32Array).slice(12, 15))).toEqual([
      1 + 7 + 13,
      2 + 8 + 14,
      3 + 9 + 15,
    ]);
  });

  it('rejects out-of-range ids and mismatched shapes with clear errors', async () => {
    await tf.setBackend('wasm');
    const before = tf.engine().backend.numDataIds();
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    expect(() => tf.unsortedSegmentSum(x, tf.tensor1d([0, 3], 'int32'), 3)).toThrow(
      'UnsortedSegmentSum: segmentIds[1] = 3 is out of range [0, 3)',
    );
    expect(() =>
      tf
        .engine()
        .runKernel(
          'UnsortedSegmentSum',
          { x, segmentIds: tf.tensor1d([0, 1, 1], 'int32') },
          { numSegments: 2 },
        ),
    ).toThrow('segmentIds shape [3] must be a prefix of x shape [2,2]');
    tf.disposeVariables();
    tf.dispose(x);
    expect(tf.engine().backend.numDataIds()).toBeLessThanOrEqual(before + 2);
  });
});
