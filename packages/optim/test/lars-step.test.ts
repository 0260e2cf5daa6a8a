import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { larsStep, trustRatio } from '@ediy/optim';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const hyper = { learningRate: 0.1, momentum: 0.9, weightDecay: 0.1, eta: 0.6 };

describe('trustRatio', () => {
  it('is eta * ||w|| / ||u||, and 1 when either norm is 0', () => {
    const w = tf.tensor1d([3, 4]);
    const u = tf.tensor1d([0.9, 1.2]);
    const z = tf.zeros([2]);
    const r = [
      trustRatio(w, u, 0.6),
      trustRatio(z, u, 0.6),
      trustRatio(w, z, 0.6),
      trustRatio(z, z, 0.6),
    ];
    // 0.6 * 5 / 1.5 = 2; ||w|| = 0 -> 1; ||u|| = 0 -> 1; both 0 -> 1
    expect(r.map((t) => t.dataSync()[0])).toEqual([2, 1, 1, 1].map((x) => expect.closeTo(x, 6)));
    tf.dispose([w, u, z, ...r]);
  });
});

describe('larsStep', () => {
  it('returns new w and v worked out by hand, leaving its inputs untouched', () => {
    const w = tf.tensor2d([[3, 4]]);
    const g = tf.tensor2d([[0.6, 0.8]]);
    const v = tf.tensor2d([[1, -1]]);
    const out = larsStep(w, g, v, hyper, false);
    // g' = [0.9, 1.2], trust = 0.6*5/1.5 = 2, g'' = [1.8, 2.4]
    // v' = 0.9*[1, -1] + [1.8, 2.4] = [2.7, 1.5]; w' = [3 - 0.27, 4 - 0.15] = [2.73, 3.85]
    expect(Array.from(out.v.dataSync())).toEqual([2.7, 1.5].map((x) => expect.closeTo(x, 5)));
    expect(Array.from(out.w.dataSync())).toEqual([2.73, 3.85].map((x) => expect.closeTo(x, 5)));
    expect(Array.from(w.dataSync())).toEqual([3, 4]);
    expect(Array.from(v.dataSync())).toEqual([1, -1]);
    // excluded: v' = 0.9*[1, -1] + [0.6, 0.8] = [1.5, -0.1]; w' = [3 - 0.15, 4 + 0.01] = [2.85, 4.01]
    const ex = larsStep(w, g, v, hyper, true);
    expect(Array.from(ex.v.dataSync())).toEqual([1.5, -0.1].map((x) => expect.closeTo(x, 5)));
    expect(Array.from(ex.w.dataSync())).toEqual([2.85, 4.01].map((x) => expect.closeTo(x, 5)));
    tf.dispose([w, g, v, out.w, out.v, ex.w, ex.v]);
  });

  it('allocates nothing beyond the two tensors it returns', () => {
    const w = tf.ones([3, 3]);
    const before = tf.memory().numTensors;
    const out = larsStep(w, w, w, hyper, false);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([w, out.w, out.v]);
  });
});
