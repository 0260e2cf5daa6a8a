import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@ediy/core';
import { initBoth, randomValues, runOn } from './kernels-helpers.js';

const CASES: Array<{ shape: number[]; reps: number[] }> = [
  { shape: [3], reps: [4] },
  { shape: [2, 3], reps: [1, 1] },
  { shape: [2, 3], reps: [3, 2] },
  { shape: [1, 1, 1, 5], reps: [2, 3, 4, 1] }, // batch-norm gradient: per-channel value to the activation shape
  { shape: [2, 3, 4, 1], reps: [1, 1, 1, 6] },
  { shape: [2, 1, 3, 2, 2], reps: [2, 3, 1, 2, 1] },
  { shape: [2, 3], reps: [0, 2] },
];

describe('Tile on wasm', () => {
  beforeAll(initBoth);

  for (const { shape, reps } of CASES) {
    it(`tiles [${shape.join(',')}] by [${reps.join(',')}] as cpu does`, async () => {
      const rng = new Rng(shape.length * 31 + reps.length);
      const values = randomValues(rng, shape);
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const data =
          dtype === 'float32'
            ? values
            : Int32Array.from(values, (v) =>
                dtype === 'bool' ? Number(v > 0) : Math.round(v * 10),
              );
        const f = () => tf.tile(tf.tensor(data, shape, dtype), reps);
        const [want] = await runOn('cpu', f);
        const [got] = await runOn('wasm', f);
        expect(Array.from(got as Float32Array), dtype).toEqual(Array.from(want as Float32Array));
      }
    });
  }

  it('repeats a vector and a matrix, by hand', async () => {
    await tf.setBackend('wasm');
    const v = tf.tile(tf.tensor1d([1, 2]), [3]);
    const m = tf.tile(tf.tensor2d([1, 2, 3, 4], [2, 2]), [2, 2]);
    expect(Array.from(v.dataSync())).toEqual([1, 2, 1, 2, 1, 2]);
    expect(m.shape).toEqual([4, 4]);
    expect(Array.from(m.dataSync())).toEqual([1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4]);
    tf.dispose([v, m]);
  });

  it('rejects reps of the wrong length', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    expect(() => tf.engine().runKernel('Tile', { x }, { reps: [2] })).toThrow(
      'Tile: reps must be 2 non-negative integers (one per axis of x), got [2]',
    );
    x.dispose();
  });
});
