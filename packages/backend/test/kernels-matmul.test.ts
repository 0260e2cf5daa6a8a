import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, useFastTransposedMatMul } from '@ediy/backend';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' });
});

describe('useFastTransposedMatMul', () => {
  it('gives the products of the transposed operands, on values computed by hand', () => {
    useFastTransposedMatMul();
    expect(useFastTransposedMatMul()).toBe(false); // once only
    const a = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]); // 3x2
    const b = tf.tensor2d([
      [1, 0, 2],
      [0, 1, 3],
    ]); // 2x3
    // a^T b^T = [[1,3,5],[2,4,6]] x [[1,0],[0,1],[2,3]] = [[11,18],[14,22]]
    expect(tf.matMul(a, b, true, true).arraySync()).toEqual([
      [11, 18],
      [14, 22],
    ]);
    // a^T a = [[35,44],[44,56]]
    expect(tf.matMul(a, a, true, false).arraySync()).toEqual([
      [35, 44],
      [44, 56],
    ]);
    // b b^T = [[5,6],[6,10]]
    expect(tf.matMul(b, b, false, true).arraySync()).toEqual([
      [5, 6],
      [6, 10],
    ]);
    expect(tf.matMul(a, b).arraySync()).toEqual([
      [1, 2, 8],
      [3, 4, 18],
      [5, 6, 28],
    ]);
  });

  it('matches explicit transposes on batched products and frees its temporaries', () => {
    useFastTransposedMatMul();
    const a = tf.randomNormal([2, 5, 4], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 2);
    const run = () => tf.tidy(() => tf.matMul(a, b, true, false));
    const expected = tf.matMul(tf.transpose(a, [0, 2, 1]), b);
    const got = run();
    expect(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]).toBeLessThan(1e-5);
    got.dispose();
    run().dispose();
    const ids = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) run().dispose();
    expect(tf.backend().numDataIds()).toBe(ids);
  });
});
