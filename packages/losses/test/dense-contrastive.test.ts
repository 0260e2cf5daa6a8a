import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@ediy/backend';
import { Rng } from '@ediy/core';
import { createRegionLossInputs, denseContrastiveLoss, regionLoss } from '@ediy/losses';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

const S = Math.SQRT1_2;
const zeros = () => tf.zeros([2, 1], 'int32') as tf.Tensor2D;
// B=2 images, 1x1 maps (one region each), tau = 0.5.
// Case A: query image0 (1,0), image1 (0,1); key image0 (1,0), image1 (0,1).
//   image0: q.k+ = 1, q.k-(image1) = 0 -> l = log(e^2 + e^0) - 2 = log(1 + e^-2) = 0.12693; image1 alike.
// Case B: query image0 (1,1), image1 (1,0); key image0 (1,0), image1 (1,1).
//   image0: q.k+ = cos((1,1),(1,0)) = .70711, q.k-(image1, pooled (1,1)) = 1
//   -> l = log(e^(2*.70711) + e^2) - 2*.70711 = 1.02834; image1: q.k+ = .70711, q.k-(image0) = 1 -> same.
const caseA = log1pExp(-2);
const caseB = Math.log(Math.exp(2 * S) + Math.exp(2)) - 2 * S;
function log1pExp(x: number): number {
  return Math.log(1 + Math.exp(x));
}

describe('denseContrastiveLoss (DenseCL-style, in-batch negatives)', () => {
  it('matches the hand-computed InfoNCE values', () => {
    const qa = tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2]);
    const ka = tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2]);
    expect(denseContrastiveLoss(qa, ka, zeros(), 0.5).dataSync()[0]).toBeCloseTo(caseA, 5);
    const qb = tf.tensor4d([1, 1, 1, 0], [2, 1, 1, 2]);
    const kb = tf.tensor4d([1, 0, 1, 1], [2, 1, 1, 2]);
    expect(denseContrastiveLoss(qb, kb, zeros(), 0.5).dataSync()[0]).toBeCloseTo(caseB, 5);
  });

  it('as the registered region loss, averages both directions', () => {
    // view 1 queries = case A's, view 2 queries = case B's; targets: view 2 = case A's keys, view 1 = case B's keys
    const inputs = createRegionLossInputs({
      local: [tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2]), tf.tensor4d([1, 1, 1, 0], [2, 1, 1, 2])],
      localPred: [tf.zeros([2, 1, 1, 2]), tf.zeros([2, 1, 1, 2])],
      targetLocal: [
        tf.tensor4d([1, 0, 1, 1], [2, 1, 1, 2]),
        tf.tensor4d([1, 0, 0, 1], [2, 1, 1, 2]),
      ],
      onlineGlobal: [tf.zeros([2, 2]), tf.zeros([2, 2])],
      targetGlobal: [tf.zeros([2, 2]), tf.zeros([2, 2])],
      teacher: [tf.ones([2, 1, 1, 3]), tf.ones([2, 1, 1, 3])],
      rng: new Rng(0),
    });
    const v = regionLoss('dense-contrastive', inputs, {
      matcher: 'teacher',
      temperature: 0.5,
    }).dataSync()[0];
    expect(v).toBeCloseTo((caseA + caseB) / 2, 5);
  });

  it('falls under gradient steps, and keys get no gradient', () => {
    const q = tf.variable(tf.randomNormal([3, 2, 2, 4], 0, 1, 'float32', 1));
    const k = tf.randomNormal([3, 2, 2, 4], 0, 1, 'float32', 2);
    const m = tf.tensor2d(
      [
        [0, 1, 2, 3],
        [3, 2, 1, 0],
        [1, 1, 2, 2],
      ],
      [3, 4],
      'int32',
    );
    const loss = () => denseContrastiveLoss(q, k, m);
    const before = loss().dataSync()[0] as number;
    const opt = tf.train.sgd(0.2);
    for (let i = 0; i < 5; i++) opt.minimize(loss);
    expect(loss().dataSync()[0]).toBeLessThan(before - 0.1);
    const gk = tf.grad((kk: tf.Tensor) => denseContrastiveLoss(q, kk, m))(k);
    expect(Array.from(gk.dataSync()).every((v) => v === 0)).toBe(true);
    opt.dispose();
    tf.dispose([q, k, m, gk]);
  });

  it('rejects a batch of one and a bad temperature', () => {
    const one = tf.ones([1, 1, 2, 2]);
    expect(() => denseContrastiveLoss(one, one, tf.zeros([1, 2], 'int32') as tf.Tensor2D)).toThrow(
      /at least 2 images .*B=1/,
    );
    const two = tf.ones([2, 1, 1, 2]);
    expect(() => denseContrastiveLoss(two, two, zeros(), 0)).toThrow(
      /temperature must be a finite number > 0, got 0/,
    );
  });
});
